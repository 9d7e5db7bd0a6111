"""tools.nbval_outputs keeps each cell's printed text, as nbval's kernel ran it, in one file per notebook."""

import subprocess
import sys
from pathlib import Path

import nbformat

from tools.nbval_outputs import output_text

ROOT = Path(__file__).resolve().parent.parent


def test_each_kind_of_output_reads_as_text():
    assert output_text({"output_type": "stream", "name": "stdout", "text": "verdict: OK\n"}) == "verdict: OK\n"
    assert output_text({"output_type": "error", "ename": "ValueError", "evalue": "bad size"}) == \
        "ValueError: bad size\n"
    shown = output_text({"output_type": "display_data", "data": {"text/plain": "<PIL.Image>", "image/png": "..."}})
    assert shown == "<PIL.Image>  [image/png]\n"  # a picture is named, not kept
    assert output_text({"output_type": "display_data", "data": {"application/vnd.jupyter.widget-view+json": {}}}) \
        == "[application/vnd.jupyter.widget-view+json]\n"


def test_a_run_leaves_every_cell_with_its_outcome(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint('verdict: 4 =', 2 + 2)"),
                nbformat.v4.new_code_cell("raise ValueError('size must be a multiple of 8')")]
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="verdict: 4 = 4\n")]
    nb.cells[0].execution_count = 1
    path = tmp_path / "07_demo.ipynb"
    nbformat.write(nb, path)
    folder = tmp_path / "texts"
    run = subprocess.run([sys.executable, "-m", "pytest", "-o", "addopts=", "-p", "no:cacheprovider", "-q",
                          "--nbval-lax", str(path), "-p", "tools.nbval_outputs", "--nbval-outputs", str(folder)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr  # the second cell fails, as written
    text = (folder / "07_demo.txt").read_text()
    assert "[passed] # NBVAL_CHECK_OUTPUT\nverdict: 4 = 4\n" in text
    assert "[failed] raise ValueError" in text and "ValueError: size must be a multiple of 8" in text
