"""The main job runs every notebook, names a failing cell, and keeps going."""

import nbformat

from helpers.run import chapter_notebooks, run_all


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_failing_notebook_is_named_and_others_still_run(tmp_path, capsys):
    bad = _notebook(tmp_path / "01_bad.ipynb", "x = 1", "raise ValueError('strength=3 is outside [0, 1]')")
    good = _notebook(tmp_path / "02_good.ipynb",
                     "from PIL import Image\nImage.new('RGB', (8, 8), 'red')")
    failed = run_all([bad, good], out=tmp_path / "build", timeout=60)
    assert failed == 1
    err = capsys.readouterr().err
    assert "01_bad.ipynb: FAILED (code cell 2 failed: ValueError: strength=3 is outside [0, 1])" in err
    assert "02_good.ipynb: ok" in err
    page = (tmp_path / "build" / "index.html").read_text()
    assert "FAILED" in page and page.count("data:image/png;base64,") == 1
    assert (tmp_path / "build" / "02_good.ipynb").exists()


def test_chapter_notebooks_are_numbered_and_sorted():
    names = [p.name for p in chapter_notebooks()]
    assert names and names == sorted(names)
    assert names[0] == "01_guidance_scale.ipynb"
