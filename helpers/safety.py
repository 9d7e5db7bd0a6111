"""Safe loading: safetensors weights by default; pickle (.bin/.ckpt) only when the learner names the repo."""

from __future__ import annotations

import os

PICKLE_SUFFIXES = (".bin", ".ckpt", ".pt", ".pth", ".pkl")


class PickleWeightsError(RuntimeError):
    """Raised for a checkpoint that ships only pickle weights, which can run code when loaded."""


def _cached_files(repo_id: str) -> list[str] | None:
    from helpers.modes import snapshot_path

    snapshot = snapshot_path(repo_id)
    return None if snapshot is None else [str(p.relative_to(snapshot)) for p in snapshot.rglob("*") if p.is_file()]


def weight_files(repo_id: str, files: list[str] | None = None) -> list[str]:
    """The weight files of a repo: from the local hub cache, else from the Hub's file list (ch. 3, 4)."""
    if files is None:
        files = _cached_files(repo_id)
    if files is None and os.environ.get("HF_HUB_OFFLINE", "") not in ("1", "true", "True"):
        from huggingface_hub import HfApi

        files = HfApi().list_repo_files(repo_id)
    return [f for f in files or [] if f.endswith(".safetensors") or f.endswith(PICKLE_SUFFIXES)]


def use_safetensors(repo_id: str, *, allow_pickle: str | None = None, files: list[str] | None = None) -> bool:
    """Value for `use_safetensors=`: True, or False only when allow_pickle names this repo (ch. 3, 4)."""
    weights = weight_files(repo_id, files)
    if not weights or any(f.endswith(".safetensors") for f in weights):
        return True  # safetensors present (or nothing to judge yet): diffusers will refuse pickle for us
    if allow_pickle == repo_id:
        print(f"{repo_id}: loading pickle weights ({', '.join(sorted(weights)[:3])}…) because you opted in by name. "
              "Pickle files can run code when loaded; only do this for repos you trust.")
        return False
    raise PickleWeightsError(
        f"{repo_id} ships only pickle weights ({', '.join(sorted(weights)[:3])}…), and unpickling a file can run "
        "arbitrary code. This tutorial loads safetensors only. If you trust this repo, opt in by naming it: "
        f"use_safetensors(\"{repo_id}\", allow_pickle=\"{repo_id}\")."
    )
