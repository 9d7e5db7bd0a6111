"""Make executed notebooks fit to commit: drop pictures and volatile metadata, keep the text outputs.

    python -m tools.nbclean notebooks/06_name.ipynb            # clean a notebook that was run in Jupyter
    python -m tools.nbclean --execute notebooks/06_name.ipynb  # run it top to bottom on the twins, then clean

The committed outputs are the twins' (nbval compares them in CI), so --execute always runs on the twins.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import nbformat

from tools.run import execute as run_notebook
from tools.written import write_atomic

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
    """Clean the given notebooks in place, after running them on the twins with --execute (maintainer tool)."""
    parser = argparse.ArgumentParser(prog="python -m tools.nbclean", description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--execute", action="store_true", help="run each notebook on the twins first")
    parser.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default 600)")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if not path.is_file():
            parser.error(f"{path} is not a notebook file; name notebooks such as notebooks/06_name.ipynb")
        try:
            nb = execute(path, args.timeout) if args.execute else nbformat.read(path, as_version=4)
        except RuntimeError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        write_atomic(path, lambda f, nb=nb: nbformat.write(clean(nb), f))  # a kill mid-write leaves the old file
        print(f"{'ran and ' if args.execute else ''}cleaned {path.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
