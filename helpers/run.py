"""The main job: execute every chapter notebook headless and collect their figures into build/."""

from __future__ import annotations

import base64
import html
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from tqdm import tqdm

from helpers.paths import PROJECT_ROOT, build_dir


def chapter_notebooks(folder: Path | None = None) -> list[Path]:
    """The numbered chapter notebooks, in order (main job)."""
    folder = folder or PROJECT_ROOT / "notebooks"
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def _failed_cell(nb) -> tuple[int, str]:
    """Index and error line of the first cell whose outputs hold an error."""
    code_index = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        code_index += 1
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return code_index, f"{out.get('ename')}: {out.get('evalue')}"
    return -1, "unknown error"


def execute(path: Path, timeout: int = 600, kernel: str = "python3"):
    """Run one notebook top to bottom in a fresh kernel; return (notebook, error or None, seconds) (main job)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    error = None
    try:
        client.execute()
    except CellExecutionError:
        index, line = _failed_cell(nb)
        error = f"code cell {index} failed: {line}"
    except Exception as exc:  # a kernel that dies or times out must not stop the other chapters
        error = f"{type(exc).__name__}: {exc}"
    return nb, error, time.perf_counter() - start


def figures(nb) -> list[str]:
    """Base64 PNGs shown by a notebook, in order (main job)."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            png = out.get("data", {}).get("image/png")
            if png:
                found.append(png if isinstance(png, str) else base64.b64encode(png).decode())
    return found


def _first_stream_line(nb) -> str:
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "stream" and out.get("text", "").startswith("Models:"):
                return out["text"].splitlines()[0]
    return ""


def write_report(results, out: Path) -> Path:
    """One HTML page with every chapter's figures, its run time and status (main job)."""
    parts = ["<!doctype html><meta charset='utf-8'><title>diffusers img2img chapters</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}img{max-width:100%;margin:6px 0}"
             ".fail{color:#b00}.mode{background:#fee;padding:4px}</style>",
             "<h1>diffusers image-to-image: chapter figures</h1>"]
    for name, nb, error, seconds in results:
        parts.append(f"<h2>{html.escape(name)}</h2><p>{seconds:.1f} s</p>")
        mode = _first_stream_line(nb)
        if mode:
            parts.append(f"<p class='mode'>{html.escape(mode)}</p>")
        if error:
            parts.append(f"<p class='fail'>FAILED: {html.escape(error)}</p>")
        for png in figures(nb):
            parts.append(f"<img src='data:image/png;base64,{png}'>")
    page = out / "index.html"
    page.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return page


def run_all(notebooks=None, out: Path | None = None, timeout: int = 600) -> int:
    """Execute the chapters, write build/<name>.ipynb and build/index.html, return the number that failed (main job)."""
    out = out or build_dir()
    out.mkdir(parents=True, exist_ok=True)
    notebooks = [Path(p) for p in (notebooks or chapter_notebooks())]
    if not notebooks:
        raise FileNotFoundError("No chapter notebooks (NN_name.ipynb) found to run.")
    results, failed = [], 0
    bar = tqdm(notebooks, desc="chapters", unit="nb", file=sys.stderr)
    for path in bar:
        bar.set_postfix_str(path.name)
        nb, error, seconds = execute(path, timeout=timeout)
        nbformat.write(nb, out / path.name)
        results.append((path.stem, nb, error, seconds))
        status = f"FAILED ({error})" if error else "ok"
        tqdm.write(f"{path.name}: {status} in {seconds:.1f} s", file=sys.stderr)
        failed += bool(error)
    page = write_report(results, out)
    rel = os.path.relpath(page, Path.cwd())
    print(f"{len(notebooks) - failed} of {len(notebooks)} chapters ran; figures: {rel}")
    return failed
