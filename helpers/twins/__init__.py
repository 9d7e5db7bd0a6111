"""Twins: tiny random-weight stand-ins for the chapter's checkpoints, served from a hub cache of their own."""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from pathlib import Path

from helpers.paths import cache_dir

__all__ = ["twin_cache", "ensure_built", "full_twin_cache", "ensure_full_built", "is_twin"]


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


def full_twin_cache() -> Path:
    """Path of the full-size twin hub cache (real architectures, random weights) (ch. 1)."""
    return twin_root() / "full" / "hub"


def _full_repo_done(hub: Path, repo: str) -> bool:
    from helpers.twins.build import FULL_BUILDER_VERSION, MARKER, commit_hash

    org, name = repo.split("/")
    marker = hub / f"models--{org}--{name}" / "snapshots" / commit_hash(repo, "full") / MARKER
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return info.get("builder_version") == FULL_BUILDER_VERSION and info.get("size") == "full"


def full_size_bytes(repo: str) -> int:
    """Disk bytes a full-size twin takes: fp32 weights, plus fp16 copies where the real repo has them (ch. 1)."""
    from helpers.manifests import has_fp16_files
    from helpers.twins.build import full_size_configs

    params = sum(part["params"] for part in full_size_configs()[repo].values())
    return params * (4 + (2 if has_fp16_files(repo) else 0))


def ensure_full_built(repos=None, log=print) -> Path:
    """Build full-size twins of `repos` (default: all with a recipe) once, each atomically; return the cache (ch. 1)."""
    from filelock import FileLock

    from helpers.twins.build import TwinBuildError, build_cache, full_size_repos

    known = full_size_repos()
    repos = list(repos) if repos else known
    for repo in repos:
        if repo not in known:
            raise ValueError(f"{repo!r} has no full-size recipe; choose from: {', '.join(known)}.")
    hub = full_twin_cache()
    hub.mkdir(parents=True, exist_ok=True)
    root = hub.parent
    with FileLock(str(root / ".build.lock")):
        todo = [r for r in repos if not _full_repo_done(hub, r)]
        need = sum(full_size_bytes(r) for r in todo)
        free = shutil.disk_usage(root).free
        if need > free:
            raise TwinBuildError(
                f"Full-size twins of {len(todo)} repos need about {need / 1e9:.1f} GB in {root}, and "
                f"{free / 1e9:.1f} GB are free. Build fewer (e.g. --only stable-diffusion-v1-5/stable-diffusion-v1-5) "
                "or set TUTORIAL_CACHE to a folder on a larger disk."
            )
        for repo in todo:
            start = time.perf_counter()
            log(f"Building the full-size twin of {repo} (random weights, {full_size_bytes(repo) / 1e9:.1f} GB) ...")
            tmp = root / f"build.partial-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            try:
                build_cache(tmp, twin_root() / "src", repos=[repo], log=lambda m: None, size="full")
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)  # never leave a half-built repo behind
                raise
            org, name = repo.split("/")
            folder = f"models--{org}--{name}"
            shutil.rmtree(hub / folder, ignore_errors=True)
            (tmp / folder).rename(hub / folder)  # one rename: the repo is there whole or not at all
            shutil.rmtree(tmp, ignore_errors=True)
            log(f"  done in {time.perf_counter() - start:.1f} s")
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
