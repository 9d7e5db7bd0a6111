"""Twins: tiny stand-ins for the chapter's checkpoints, served from a hub cache of their own."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

from helpers.i18n import N_
from helpers.paths import cache_dir

# What the twins are, told the same way wherever a learner meets them (mode line, banner, model cards, README)
WHAT_TWINS_ARE = ("tiny stand-ins whose UNets learned from 13 sample photos for a few minutes each: they show "
                  "what a pipeline does to a picture, they know only six words (as colour casts), and only the real "
                  "checkpoints draw the lesson's pictures")
TWIN_BANNER = N_("TWIN MODELS — tiny stand-ins taught on 13 sample photos: they show what the pipeline does to a "
                  "picture, and know only six words, as colour casts")

__all__ = ["WHAT_TWINS_ARE", "TWIN_BANNER", "twin_cache", "ensure_built", "verify", "is_twin"]


class TwinBuildError(RuntimeError):
    """Raised when the twin cache cannot be built; the message says what to do."""


def twin_root() -> Path:
    """Folder holding the twin hub cache and its build inputs (ch. 1)."""
    return cache_dir() / "twins"


def twin_cache() -> Path:
    """Path of the twin hub cache; point HF_HUB_CACHE here to load twins (ch. 1)."""
    return twin_root() / "hub"


INFO = "BUILD_INFO.json"
MARKER = "twin.json"  # in every twin's snapshot: what is_twin() looks for
REPAIR = "python -m helpers.twins build"
LEFTOVERS = ("hub.partial-*", "hub.old-*")  # folders of a build that was killed before it could tidy up
LOCK_NAME = ".build.lock"


def _sha256(path: Path) -> str:
    # sha256 over blake2b: with the SHA extensions of current CPUs it hashes about twice as fast
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _file_table(hub: Path) -> dict[str, list]:
    """Relative path -> [size, sha256] of every file in `hub` (symlinks followed), as BUILD_INFO records it."""
    table, seen = {}, {}
    for p in sorted(hub.rglob("*")):
        rel = p.relative_to(hub).as_posix()
        if p.is_file() and rel != INFO:
            st = p.stat()
            if (st.st_dev, st.st_ino) not in seen:  # hard-linked copies (dedupe) are hashed once
                seen[st.st_dev, st.st_ino] = _sha256(p)
            table[rel] = [st.st_size, seen[st.st_dev, st.st_ino]]
    return table


def _label(rel: str) -> str:
    # "models--org--name/snapshots/<rev>/unet/x" -> "org/name: unet/x", as the learner names repos and files
    parts = rel.split("/")
    if len(parts) < 2 or not parts[0].startswith("models--"):
        return rel
    rest = parts[3:] if parts[1] == "snapshots" and len(parts) > 3 else parts[1:]
    return f"{'/'.join(parts[0].split('--', 2)[1:])}: {'/'.join(rest)}"


def verify(hub: Path) -> list[str]:
    """Check a twin cache against the file table its build recorded; return the problems, [] if sound (ch. 1)."""
    from helpers.twins.build import BUILDER_VERSION

    try:
        info = json.loads((Path(hub) / INFO).read_text())
    except FileNotFoundError:
        return [f"{INFO}: missing (the twin cache in {hub} is not built, or its build did not finish)"]
    except (OSError, ValueError) as err:
        return [f"{INFO}: unreadable ({err})"]
    if info.get("builder_version") != BUILDER_VERSION:
        return [f"{INFO}: built by twin builder version {info.get('builder_version')}, this code builds "
                f"version {BUILDER_VERSION}"]
    if not isinstance(info.get("files"), dict):  # written before caches were checked: nothing to check against
        return [f"{INFO}: no file table (the cache was built before twin caches were checked)"]
    problems, seen = [], {}
    for rel, (size, digest) in info["files"].items():
        path = Path(hub) / rel
        if not path.is_file():
            problems.append(f"{_label(rel)}: missing")
            continue
        st = path.stat()
        if st.st_size != size:  # a truncated or half-written file: no need to hash it
            problems.append(f"{_label(rel)}: {st.st_size} bytes, expected {size}")
            continue
        try:
            if (st.st_dev, st.st_ino) not in seen:
                seen[st.st_dev, st.st_ino] = _sha256(path)
        except OSError as err:
            problems.append(f"{_label(rel)}: unreadable ({err.strerror})")
            continue
        if seen[st.st_dev, st.st_ino] != digest:
            problems.append(f"{_label(rel)}: contents changed (same size, different sha256)")
    return problems


def _summary(problems: list[str], first: int = 3) -> str:
    more = f"; and {len(problems) - first} more" if len(problems) > first else ""
    return f"{len(problems)} problem{'s' * (len(problems) > 1)}: {'; '.join(problems[:first])}{more}"


def _leftovers(root: Path, patterns) -> list[Path]:
    return sorted(p for pattern in patterns for p in root.glob(pattern))


def remove_leftovers(root: Path, patterns, log) -> None:
    """Delete what a killed build left in `root`; hold the build lock, so each such folder is a dead build's (ch. 1)."""
    gone = _leftovers(root, patterns)
    for p in gone:
        shutil.rmtree(p, ignore_errors=True)
    if gone:
        log(f"Removed what an interrupted twin build left behind in {root}: {', '.join(p.name for p in gone)}")


def _build(hub: Path, log) -> None:
    """Build a fresh cache next to `hub`, record its file table, and switch it in with one rename."""
    from helpers.twins.build import BUILDER_VERSION, build_cache

    root = hub.parent
    tmp = root / f"hub.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    start = time.perf_counter()
    log(f"Building twin models (tiny, seeded stand-ins) into {hub} ...")
    try:
        build_cache(tmp, root / "src", log=log)
        seconds = time.perf_counter() - start
        info = {"builder_version": BUILDER_VERSION, "seconds": round(seconds, 1),
                "files": _file_table(tmp)}  # path -> [size, sha256]: what verify() checks on every start
        (tmp / INFO).write_text(json.dumps(info, indent=1) + "\n")
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


class _waiting_lock:
    """The build lock, waited for out loud: a build stopped with Ctrl-Z would otherwise hang every notebook."""

    def __init__(self, path: Path, log, patience: float = 600.0, every: float = 10.0):
        from filelock import FileLock

        self.lock, self.path, self.log, self.patience, self.every = FileLock(str(path)), path, log, patience, every

    def __enter__(self):
        from filelock import Timeout


        waited = 0.0
        while True:
            try:
                self.lock.acquire(timeout=self.every)
                return self
            except Timeout:
                waited += self.every
                if waited >= self.patience:
                    raise TwinBuildError(
                        f"Another twin build has held {self.path} for {waited:.0f} s. If none is running (one stopped "
                        "with Ctrl-Z, or a machine that went to sleep), end it, or delete that lock file, then run "
                        f"again; `{REPAIR}` rebuilds.") from None
                self.log(f"Waiting for another twin build to finish (lock {self.path}, {waited:.0f} s so far) ...")

    def __exit__(self, *exc):
        self.lock.release()
        return False


def ensure_built(force: bool = False, log=print) -> Path:
    """Build the twin cache once (atomically, under a lock), repair it if damaged, and return its path (ch. 1)."""
    from filelock import FileLock, Timeout


    hub, root = twin_cache(), twin_root()
    if not force and not verify(hub):
        if _leftovers(root, LEFTOVERS):  # one glob: cheap enough for every start
            try:  # a short wait: if another process holds the lock, it is building and its folder is no leftover
                with FileLock(str(root / LOCK_NAME), timeout=0.5):
                    remove_leftovers(root, LEFTOVERS, log)
            except Timeout:
                pass
        return hub
    try:
        root.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as err:
        raise TwinBuildError(f"The twin cache folder {root} cannot be made: {err.strerror} ({err.filename}). "
                             "TUTORIAL_CACHE must name a folder, or be unset for the default place "
                             "(helpers.paths.places() says where that is).") from None
    with _waiting_lock(root / LOCK_NAME, log):
        remove_leftovers(root, LEFTOVERS, log)
        problems = [] if force else verify(hub)  # again: another process may have rebuilt it while we waited
        if not force and not problems:
            return hub
        if hub.exists() and problems:
            log(f"The twin cache in {hub} fails its check ({_summary(problems)}); rebuilding it.")
        try:
            _build(hub, log)
        except Exception as err:
            if not (hub.exists() and problems):
                raise  # a first build or a forced one: its own error says what went wrong
            raise TwinBuildError(f"Repairing the twin cache in {hub} failed: {str(err).rstrip('.')}. Fix that, "
                                 f"then rebuild it with: {REPAIR}") from err
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
        return any((p / MARKER).is_file() for p in (folder, folder.parent))
    found = huggingface_hub.try_to_load_from_cache(repo, MARKER)
    return isinstance(found, str)
