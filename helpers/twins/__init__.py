"""Twins: tiny random-weight stand-ins for the chapter's checkpoints, served from a hub cache of their own."""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from pathlib import Path

from helpers.paths import cache_dir

__all__ = ["twin_cache", "ensure_built", "is_twin"]


def twin_root() -> Path:
    """Folder holding the twin hub cache and its build inputs (ch. 1)."""
    return cache_dir() / "twins"


def twin_cache() -> Path:
    """Path of the twin hub cache; point HF_HUB_CACHE here to load twins (ch. 1)."""
    return twin_root() / "hub"


def _is_complete(hub: Path) -> bool:
    from helpers.twins.build import BUILDER_VERSION

    info = hub / "BUILD_INFO.json"
    if not info.is_file():
        return False
    try:
        return json.loads(info.read_text()).get("builder_version") == BUILDER_VERSION
    except (OSError, ValueError):
        return False


def ensure_built(force: bool = False, log=print) -> Path:
    """Build the twin cache once (atomically, under a lock) and return its path (ch. 1)."""
    from filelock import FileLock

    from helpers.twins.build import BUILDER_VERSION, TwinBuildError, build_cache

    hub = twin_cache()
    if not force and _is_complete(hub):
        return hub
    root = twin_root()
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / ".build.lock")):
        if not force and _is_complete(hub):  # another process finished it while we waited
            return hub
        tmp = root / f"hub.partial-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        start = time.perf_counter()
        log("Building twin models (tiny random weights) into the project's .cache/twins/hub ...")
        try:
            build_cache(tmp, root / "src", log=log)
            seconds = time.perf_counter() - start
            (tmp / "BUILD_INFO.json").write_text(json.dumps(
                {"builder_version": BUILDER_VERSION, "seconds": round(seconds, 1)}, indent=2) + "\n")
        except OSError as err:
            shutil.rmtree(tmp, ignore_errors=True)  # never leave a half-built cache behind
            if err.errno in (errno.ENOSPC, errno.EDQUOT):
                free = shutil.disk_usage(root).free / 2**20
                raise TwinBuildError(
                    f"The disk is full: building the twins needs about 100 MiB in {root}, and {free:.0f} MiB are "
                    "free. Free some space (or set TUTORIAL_CACHE to a folder on a larger disk) and run again."
                ) from err
            raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)  # never leave a half-built cache behind
            raise
        old = root / f"hub.old-{os.getpid()}"
        if hub.exists():
            hub.rename(old)
        tmp.rename(hub)  # the switch is one rename: readers see the old cache or the new one, never half
        shutil.rmtree(old, ignore_errors=True)
        log(f"Twin models built in {seconds:.1f} s.")
    return hub


def is_twin(obj) -> bool:
    """True if a pipeline, model or repo id was loaded from the twin cache (ch. 1)."""
    import huggingface_hub

    repo = obj if isinstance(obj, str) else None
    if repo is None:
        config = getattr(obj, "config", None)
        repo = (getattr(config, "_name_or_path", None) or getattr(obj, "name_or_path", None)
                or (config.get("_name_or_path") if isinstance(config, dict) else None))
    if not repo:
        return False
    if os.path.isdir(repo):  # a component's folder (…/snapshots/<rev>/unet) or the snapshot itself
        folder = Path(repo).resolve()
        return any((p / "twin.json").is_file() for p in (folder, folder.parent))
    found = huggingface_hub.try_to_load_from_cache(repo, "twin.json")
    return isinstance(found, str)
