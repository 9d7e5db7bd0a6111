"""Files the main job owns in build/: written atomically, and never written over when the learner changed them.

Each file the job writes has its SHA-256 on record in build/.written/. A file found where the job would write
that is not byte for byte what the job wrote last is the learner's: it is moved aside under a dated name, and
the place is said. keep_copy keeps a learner's file as it was under such a name before a tool changes it (nbclean).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import nbformat

PAGE_TITLE = "diffusers img2img chapters"  # the <title> of the English contents page, in every version of the job


def write_atomic(target: Path, write) -> None:
    """Call write(file) on a temporary file beside `target`, then move it over `target` in one step (main job)."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")  # same folder: os.replace is then atomic
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, target)
    except BaseException:  # an error or Ctrl-C mid-write: the old file stays, the half-written one goes
        tmp.unlink(missing_ok=True)
        raise


def record(path: Path) -> Path:
    """Where the hash of a file the job wrote is kept (main job)."""
    return path.parent / ".written" / f"{path.name}.sha256"


def ours(path: Path) -> bool:
    """True when `path` is byte for byte the file this job wrote there last, by its hash on record (main job)."""
    import hashlib

    try:
        return record(path).read_text().strip() == hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return False


def old_page(path: Path) -> bool:
    """True for the job's own index.html from a version that kept no record of it, by its title (main job)."""
    try:
        return path.name == "index.html" and f"<title>{PAGE_TITLE}</title>" in path.read_text()[:400]
    except (OSError, UnicodeDecodeError):
        return False


def keep_copy(path: Path, word: str) -> Path:
    """Copy `path` beside itself under a dated name before a tool changes it, and return the copy (maintainer tool).

    my_run.ipynb is kept as my_run.<word>-<date>.ipynb; a numbered name (01_x.ipynb) as <word>-<date>-01_x.ipynb,
    which the chapter lists (tools.chapters) never take for a chapter. An existing name gets -2, -3, ..."""
    import re
    import shutil

    stamp = f"{word}-{time.strftime('%Y%m%d-%H%M%S')}"
    numbered = re.match(r"[0-9][0-9]_", path.name)
    base = path.with_name(f"{stamp}-{path.name}" if numbered else f"{path.stem}.{stamp}{path.suffix}")
    copy, n = base, 1
    while copy.exists():
        n += 1
        copy = base.with_name(f"{base.stem}-{n}{base.suffix}")
    shutil.copy2(path, copy)  # its bytes and times as they were
    return copy


def write_ours(path: Path, nb) -> str:
    """Write a file the job owns; one the job did not write is moved aside, and the note says where (main job)."""
    import hashlib

    note = ""
    if path.exists() and not ours(path) and not old_page(path):  # the learner's own: never replaced or deleted
        aside = path.with_name(f"{path.stem}.edited-{time.strftime('%Y%m%d-%H%M%S')}{path.suffix}")
        path.rename(aside)
        note = f"; {path.name} had changes the job did not make: moved to {aside.resolve()}"
    write_atomic(path, nb if callable(nb) else lambda f: nbformat.write(nb, f))
    record(path).parent.mkdir(exist_ok=True)
    record(path).write_text(hashlib.sha256(path.read_bytes()).hexdigest() + "\n")
    return note
