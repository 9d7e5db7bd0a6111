"""Where the project keeps its caches and build outputs (all inside the project)."""

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
