"""The project's places and switches: its cache and build folders, hub folder names, on/off environment variables."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """Root of the project's own caches: twins and downloaded chapter images (every chapter)."""
    return Path(os.environ.get("TUTORIAL_CACHE", PROJECT_ROOT / ".cache")).resolve()


def build_dir() -> Path:
    """Folder for executed notebooks, reports, screenshots and benchmarks (main job)."""
    return Path(os.environ.get("TUTORIAL_BUILD", PROJECT_ROOT / "build")).resolve()


def repo_folder(repo_id: str) -> str:
    """The folder a hub cache keeps a model repo in: "org/name" -> "models--org--name" (every chapter)."""
    return "models--" + repo_id.replace("/", "--")


ON = ("1", "true", "yes", "on")
OFF = ("", "0", "false", "no", "off")


def env_flag(name: str) -> bool:
    """Read an on/off environment variable: 1/true/yes/on or 0/false/no/off (any case), unset is off (every chapter)."""
    value = os.environ.get(name, "").strip().lower()
    if value in ON:
        return True
    if value in OFF:
        return False
    raise ValueError(f"{name}={os.environ[name]!r} is neither on nor off; set {name}=1 to switch it on, "
                     f"or {name}=0 (or unset it) to switch it off.")
