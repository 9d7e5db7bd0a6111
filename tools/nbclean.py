"""Make executed notebooks fit to commit: drop pictures and volatile metadata, keep the text outputs.

    python -m tools.nbclean notebooks/06_name.ipynb            # clean a notebook that was run in Jupyter
    python -m tools.nbclean --execute notebooks/06_name.ipynb  # run it top to bottom on the twins, then clean

The committed outputs are the twins' (nbval compares them in CI), so --execute always runs on the twins.
It says how many pictures it removed. Before pictures go, the notebook is kept as it was beside it, as
name.before-clean-<date>.ipynb: the committed chapters hold none, so a picture there is a run someone made. With
--execute the text outputs are replaced too, and kept the same way, except those of a chapter this checkout tracks
(NN_name.ipynb in notebooks/ or notebooks/zh/, in git), which running it makes again.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat

from helpers.paths import PROJECT_ROOT
from tools.chapters import is_copy
from tools.run import execute as run_notebook
from tools.written import keep_copy, write_atomic

PICTURES = ("image/png", "image/jpeg", "image/svg+xml", "application/vnd.jupyter.widget-view+json")


def clean(nb):
    """Strip image data (it differs by weights and device) and run metadata; text stays for nbval (main job)."""
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in ("kernelspec", "language_info")}
    nb.metadata.get("language_info", {}).pop("version", None)
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data is not None:
                for key in PICTURES:
                    data.pop(key, None)
                if not data:
                    continue
            out.pop("metadata", None) if out.get("output_type") == "stream" else out.__setitem__("metadata", {})
            kept.append(out)
        cell.outputs = kept
    return nb


def project_chapter(path: Path) -> bool:
    """True for a chapter of this project: NN_name.ipynb in notebooks/ or notebooks/zh/, in git (maintainer tool).

    A learner's 06_my_experiments.ipynb beside the chapters has the name but not the history: it is not one."""
    import fnmatch
    import subprocess

    path = Path(path).resolve()
    folders = {(PROJECT_ROOT / "notebooks").resolve(), (PROJECT_ROOT / "notebooks" / "zh").resolve()}
    if path.parent not in folders or not fnmatch.fnmatch(path.name, "[0-9][0-9]_*.ipynb") or is_copy(path):
        return False
    try:
        listed = subprocess.run(["git", "ls-files", "--error-unmatch", str(path)], cwd=PROJECT_ROOT,
                                capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False  # no git: nothing proves it is the project's, so it is kept like a learner's
    return listed.returncode == 0


def count_outputs(nb) -> tuple[int, int, int]:
    """(outputs, pictures, widget views) in a notebook's code cells, the pictures clean takes (maintainer tool)."""
    outputs = pictures = widgets = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = out.get("data") or {}
            outputs += 1
            pictures += any(key.startswith("image/") for key in data)
            widgets += PICTURES[-1] in data
    return outputs, pictures, widgets


def _many(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _what(pictures: int, widgets: int) -> str:
    return _many(pictures, "picture") + (f" and {_many(widgets, 'widget view')}" if widgets else "")


def _kept_at(copy: Path) -> str:
    """Where the copy is, as the learner can type it here."""
    try:
        return str(copy.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(copy.resolve())


def execute(path: Path, timeout: int = 600) -> nbformat.NotebookNode:
    """Run a notebook top to bottom on the twins, as the main job does; raise naming a failed cell (maintainer tool)."""
    env_before = os.environ.get("TUTORIAL_MODELS")
    os.environ["TUTORIAL_MODELS"] = "twins"  # the kernel inherits it: committed outputs are always the twins'
    try:
        nb, error, _seconds = run_notebook(path, timeout)
    finally:
        if env_before is None:
            os.environ.pop("TUTORIAL_MODELS", None)
        else:
            os.environ["TUTORIAL_MODELS"] = env_before
    if error:
        raise RuntimeError(f"{path.name}: {error}. The notebook was left as it was; fix the cell and run again.")
    return nb


def main(argv=None) -> int:
    """Clean the given notebooks in place, after running them on the twins with --execute (maintainer tool).

    A notebook is kept as it was beside it before pictures (or a learner's outputs) go; every notebook's line says
    how many pictures were removed and where the copy is."""
    parser = argparse.ArgumentParser(prog="python -m tools.nbclean", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--execute", action="store_true", help="run each notebook on the twins first")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default 600)")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if not path.is_file():
            parser.error(f"{path} is not a notebook file; name notebooks such as notebooks/06_name.ipynb")
        before = nbformat.read(path, as_version=4)
        try:
            nb = execute(path, args.timeout) if args.execute else before
        except RuntimeError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        outputs, pictures, widgets = count_outputs(before)
        _, made, made_widgets = count_outputs(nb)  # what clean removes from the notebook written
        # what would go that no one can make again: pictures always (the committed chapters hold none), and with
        # --execute every output, except a tracked chapter's text outputs, which its run makes again
        lost = outputs if args.execute and not project_chapter(path) else pictures + widgets
        copy = keep_copy(path, "before-clean") if lost else None
        write_atomic(path, lambda f, nb=nb: nbformat.write(clean(nb), f))  # a kill mid-write leaves the old file
        if args.execute:
            said = (f"ran and cleaned {path.name} on the twins: removed the run's {_what(made, made_widgets)}; "
                    + (f"the {_many(outputs, 'output')} it had before ({_what(pictures, widgets)}) were replaced"
                       if outputs else "it had no outputs before"))
        else:
            said = f"cleaned {path.name}: removed {_what(pictures, widgets)}" + (
                " (the text outputs stay)" if lost else " (it had none)")
        if copy is not None:
            said += f"; the notebook as it was is kept at {_kept_at(copy)}"
        print(said)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
