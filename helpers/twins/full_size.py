"""Full-size twins: the real checkpoints' architecture configs (full_size.json), with random weights.

They exist to measure speed and memory, are built only when asked for, and are never committed.
"""

from __future__ import annotations

import json
from pathlib import Path

from helpers.twins.parts import seed_torch

SIZES = ("tiny", "full")
FULL_SIZE_FILE = Path(__file__).with_name("full_size.json")


def full_size_configs() -> dict:
    """The real checkpoints' architecture configs, by repo and component folder, with sources (ch. 1)."""
    data = json.loads(FULL_SIZE_FILE.read_text())
    return {repo: parts for repo, parts in data.items() if not repo.startswith("_")}


def full_size_repos() -> list[str]:
    """Repo ids that have a full-size recipe (ch. 1)."""
    return list(full_size_configs())


def full_component(repo: str, folder: str):
    """A random-weight component with the real checkpoint's exact config from full_size.json (ch. 1)."""
    import diffusers
    import transformers

    entry = full_size_configs()[repo][folder]
    cfg = dict(entry["config"])
    cls_name = entry["class"]
    seed_torch(f"full:{repo}/{folder}")
    if cls_name == "StableDiffusionSafetyChecker":
        from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker

        return StableDiffusionSafetyChecker(transformers.CLIPConfig(**cfg)).eval()
    if entry["library"] == "diffusers":
        cfg.pop("_class_name", None)
        return getattr(diffusers, cls_name).from_config(cfg).eval()
    config_cls = transformers.CLIPVisionConfig if "Vision" in cls_name else transformers.CLIPTextConfig
    return getattr(transformers, cls_name)(config_cls(**cfg)).eval()
