"""Which notebooks the main job runs, and where it may write: chapters found by number or name, copies of them
left out and said, and the build folder checked before anything runs (tools.run uses these)."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import sys
import tempfile
from pathlib import Path

import nbformat

from helpers.paths import PROJECT_ROOT

# the names copies get: Jupyter's Duplicate and "Make a Copy" (-Copy1), file managers (" copy", " - Copy (2)"),
# browsers that download a file twice (" (1)")
_COPY = re.compile(r"(?i)(-copy\d*| copy( \d+)?| - copy( \(\d+\))?| \(\d+\))$")


def numbered_notebooks(folder: Path | None = None) -> list[Path]:
    """Every NN_name.ipynb in `folder` (notebooks/ by default), chapters and copies alike, in order (main job)."""
    folder = folder or PROJECT_ROOT / "notebooks"
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def is_copy(path: Path) -> bool:
    """True for a notebook with the name of a copy (01_guidance_scale-Copy1.ipynb: Jupyter's Duplicate) (main job)."""
    return bool(_COPY.search(Path(path).stem))


def chapter_notebooks(folder: Path | None = None) -> list[Path]:
    """The numbered chapter notebooks, in order, without copies of them (copies_note names those) (main job)."""
    return [p for p in numbered_notebooks(folder) if not is_copy(p)]


def _shown(path: Path) -> str:
    """`path` as the learner can type it here: relative to the working folder when inside it."""
    path = Path(path).resolve()
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd().resolve()))
    return str(path)


def _and(names) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _by_jupyter(path: Path) -> bool:
    return bool(re.search(r"(?i)-copy\d*$", Path(path).stem))


def _copy_label(path: Path) -> str:
    return "(a copy Jupyter made?)" if _by_jupyter(path) else "(a copy?)"


def copies_note(folder: Path | None = None) -> list[str]:
    """What a run of a whole folder says: the copies it leaves out, and numbers two chapters share (main job).

    Nothing is moved or deleted: the learner's files stay where they are."""
    folder = folder or PROJECT_ROOT / "notebooks"
    lines = []
    for copy in (p for p in numbered_notebooks(folder) if is_copy(p)):
        original = copy.with_name(_COPY.sub("", copy.stem) + ".ipynb")
        of = f" of {original.name}" if original.exists() else ""
        maker = "Jupyter's Duplicate" if _by_jupyter(copy) else "a file manager or a second download"
        lines.append(f"Not run: {copy.name} is by its name a copy{of} ({maker} names copies so), not a chapter; "
                     f"it is left where it is. To run it, name it: python -m tools.run {shlex.quote(_shown(copy))}")
    chapters = chapter_notebooks(folder)
    for number in dict.fromkeys(p.name[:2] for p in chapters):
        sharing = [p.name for p in chapters if p.name[:2] == number]
        if len(sharing) > 1:
            lines.append(f"Note: {_and(sharing)} {'both' if len(sharing) == 2 else 'all'} start with {number}_, so "
                         f"each runs as a chapter. If one is a notebook of your own, move it out of "
                         f"{_shown(folder)}/ to leave it out.")
    return lines


def resolve_notebooks(names, folder: Path | None = None) -> list[Path]:
    """Chapter notebooks from what was typed: paths, bare names or numbers of chapters, or folders (main job).

    Bare names and numbers are looked up in `folder` (notebooks/). A folder runs its chapters, not the copies
    in it (copies_note says so). Raises ValueError naming the argument and the chapters there are, or, for a
    number that two notebooks share (a chapter and a copy of it), naming both.
    """
    folder = folder or PROJECT_ROOT / "notebooks"
    known = numbered_notebooks(folder)
    found = []
    for name in names:
        path = Path(name)
        if path.is_dir():
            inside = chapter_notebooks(path)
            for line in copies_note(path):
                print(line, file=sys.stderr)
            if not inside:
                raise ValueError(f"{name!r} is a folder with no chapter notebooks (NN_name.ipynb) in it.")
            found += inside
            continue
        if path.is_file():
            if path.suffix != ".ipynb":
                raise ValueError(f"{name!r} is not a notebook (.ipynb).")
            found.append(path)
            continue
        stem = path.name.removesuffix(".ipynb")
        matches = [p for p in known if p.stem == stem or p.stem.split("_", 1)[0] == stem.zfill(2)]
        if len(matches) > 1:
            raise ValueError(_ambiguous(name, matches, folder))
        if not matches:
            listed = ", ".join(p.name for p in chapter_notebooks(folder))
            raise ValueError(f"{name!r} is not a chapter notebook here; name one of: {listed} (a number such as 1 "
                             "or a name without its folder also works), or give no name to run them all.")
        found += matches
    resolved = [p.resolve() for p in found]
    unique = list(dict.fromkeys(resolved))  # `notebooks 3` names chapter 3 twice: it runs once
    if len(unique) < len(resolved):
        twice = sorted({p.name for p in resolved if resolved.count(p) > 1})
        print(f"Named more than once, run once: {', '.join(twice)}", file=sys.stderr)
    return unique


def _ambiguous(name: str, matches, folder: Path) -> str:
    """The usage error for a number (or name) that several notebooks answer to: it names them all."""
    matches = sorted(matches, key=lambda p: (is_copy(p), p.name))  # the chapter first, then its copies
    listed = _and(f"{p.name} {_copy_label(p)}" if is_copy(p) else p.name for p in matches)
    copies = sum(is_copy(p) for p in matches)
    if copies and copies == len(matches) - 1:
        other = "the copy" if copies == 1 else "the copies"
    else:
        other = "the one that is not a chapter" if len(matches) == 2 else "those that are not chapters"
    return (f"{name!r} matches {len(matches)} notebooks: {listed}. Name one of them in full (python -m tools.run "
            f"{shlex.quote(matches[0].name)}), or move {other} out of {_shown(folder)}/.")


def check_build_folder(notebooks, out: Path) -> None:
    """Refuse, before anything runs, a build folder the job cannot write, or the chapters' own folder (main job).

    A missing folder is created; a small temporary file of the job's own is written in it and removed again.
    Nothing else there is touched. In the chapters' folder their executed copies would land on them."""
    out = Path(out)
    sources = {Path(p).resolve().parent for p in notebooks}
    if out.resolve() in sources:
        raise ValueError(f"TUTORIAL_BUILD={os.environ.get('TUTORIAL_BUILD', str(out))!r} is the folder the chapters "
                         "themselves are in, so their executed copies would be written over them. Unset "
                         "TUTORIAL_BUILD (outputs go to build/), or point it at a folder of its own.")
    existed = out.is_dir()
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-check-", suffix=".tmp") as probe:
            probe.write(b"the main job checks that it can write here")
            probe.flush()
    except OSError as err:
        raise ValueError(_unwritable(out, existed, err)) from None


def _unwritable(out: Path, existed: bool, err: OSError) -> str:
    """The usage error for a build folder the job cannot create or write in: the variable, the folder, the fix."""
    what = "written in" if existed else "created"
    reason = err.strerror or type(err).__name__
    if os.environ.get("TUTORIAL_BUILD", "").strip():
        return (f"TUTORIAL_BUILD={os.environ['TUTORIAL_BUILD']!r}: the folder {out} cannot be {what} ({reason}). "
                "Nothing ran. Point TUTORIAL_BUILD at a folder you can write to (it is created if missing), or "
                "unset it to write to build/.")
    return (f"build/ ({out}), where the job writes, cannot be {what} ({reason}). Nothing ran. Make "
            f"{out if existed else out.parent} writable for you, or set TUTORIAL_BUILD to a folder you can write "
            "to, e.g. TUTORIAL_BUILD=~/tutorial-build python -m tools.run")


def check_readable(notebooks) -> None:
    """Refuse, before anything runs, a notebook that is not valid notebook JSON, naming it (main job)."""
    for path in notebooks:
        try:
            nbformat.read(path, as_version=4)
        except Exception as err:  # noqa: BLE001 - JSON, schema or encoding: each is a damaged file here
            reason = str(err).strip().splitlines()[0][:160] if str(err).strip() else type(err).__name__
            chinese = Path(path).parent.name == "zh"  # built from a catalogue, never edited by hand
            fix = ("rebuild the Chinese chapters with python -m tools.translate build" if chinese else
                   f"restore a chapter with git checkout -- notebooks/{Path(path).name}")
            raise ValueError(f"{'zh/' if chinese else ''}{Path(path).name} cannot be read as a notebook ({reason}). "
                             f"Nothing ran. Open it in Jupyter to see what is wrong, or {fix}; leave it out to run "
                             "the others.") from None
