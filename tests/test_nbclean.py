"""nbclean strips pictures and run metadata but keeps the text outputs nbval compares; helpers.paths: folders, flags."""

import os

import nbformat
import pytest

from helpers import paths
from tools.nbclean import clean, main


def _executed_notebook():
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("image", execution_count=1)
    cell.metadata["execution"] = {"iopub.execute_input": "2026-01-01T00:00:00Z"}
    cell.metadata["tags"] = ["keep-me"]
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="512x512 RGB ahash=00ff\n"),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<PIL.Image>"}),
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo="}),
    ]
    nb.cells = [cell]
    nb.metadata.update({"kernelspec": {"name": "python3"}, "widgets": {"state": {}},
                        "language_info": {"name": "python", "version": "3.11.7"}})
    return nb


def test_clean_drops_pictures_and_volatile_metadata_keeps_text():
    nb = clean(_executed_notebook())
    outs = nb.cells[0].outputs
    assert len(outs) == 2  # the picture-only output is gone
    assert outs[0]["text"].startswith("512x512") and outs[1]["data"] == {"text/plain": "<PIL.Image>"}
    assert set(nb.metadata) == {"kernelspec", "language_info"} and "version" not in nb.metadata["language_info"]
    assert dict(nb.cells[0].metadata) == {"tags": ["keep-me"]}
    assert nb.cells[0].execution_count == 1


def test_main_cleans_in_place(tmp_path, capsys):
    path = tmp_path / "01_x.ipynb"
    nbformat.write(_executed_notebook(), path)
    assert main([str(path)]) == 0
    assert "image/png" not in path.read_text() and "cleaned 01_x.ipynb" in capsys.readouterr().out


def test_execute_runs_on_the_twins_and_keeps_only_text(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TUTORIAL_MODELS", "hub")  # the committed outputs are the twins' whatever the shell says
    path = tmp_path / "06_x.ipynb"
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell("import os; print(os.environ['TUTORIAL_MODELS'], os.getcwd())"),
                nbformat.v4.new_code_cell("from PIL import Image; Image.new('RGB', (8, 8))")]
    nbformat.write(nb, path)
    assert main(["--execute", str(path)]) == 0
    ran = nbformat.read(path, as_version=4)
    assert ran.cells[0].outputs[0]["text"] == f"twins {tmp_path}\n"
    assert ran.cells[1].outputs[0]["data"] == {"text/plain": "<PIL.Image.Image image mode=RGB size=8x8>"}
    assert "ran and cleaned 06_x.ipynb" in capsys.readouterr().out
    assert os.environ["TUTORIAL_MODELS"] == "hub"


def test_a_failing_cell_leaves_the_notebook_as_it_was(tmp_path, capsys):
    path = tmp_path / "06_x.ipynb"
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nb.cells = [nbformat.v4.new_code_cell("print('fine')"), nbformat.v4.new_code_cell("1 / 0")]
    nbformat.write(nb, path)
    before = path.read_text()
    assert main(["--execute", str(path)]) == 1
    assert "06_x.ipynb: code cell 2 failed" in capsys.readouterr().err and path.read_text() == before


def test_cache_and_build_folders_follow_their_variables(monkeypatch, tmp_path):
    monkeypatch.delenv("TUTORIAL_CACHE", raising=False)
    assert paths.cache_dir() == (paths.PROJECT_ROOT / ".cache").resolve()
    monkeypatch.setenv("TUTORIAL_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("TUTORIAL_BUILD", str(tmp_path / "b"))
    assert paths.cache_dir() == (tmp_path / "c").resolve() and paths.build_dir() == (tmp_path / "b").resolve()


@pytest.mark.parametrize(("value", "on"), [("1", True), ("TRUE", True), (" yes ", True), ("on", True), ("0", False),
                                           ("false", False), ("No", False), ("off", False), ("", False)])
def test_env_flag_reads_the_usual_words(monkeypatch, value, on):
    monkeypatch.setenv("TUTORIAL_OFFLINE", value)
    assert paths.env_flag("TUTORIAL_OFFLINE") is on


def test_env_flag_is_off_when_unset_and_refuses_other_words(monkeypatch):
    monkeypatch.delenv("TUTORIAL_OFFLINE", raising=False)
    assert paths.env_flag("TUTORIAL_OFFLINE") is False
    monkeypatch.setenv("TUTORIAL_OFFLINE", "maybe")
    with pytest.raises(ValueError, match=r"TUTORIAL_OFFLINE='maybe' is neither on nor off; set TUTORIAL_OFFLINE=1"):
        paths.env_flag("TUTORIAL_OFFLINE")


def test_repo_folder_is_the_hub_cache_name():
    assert paths.repo_folder("stable-diffusion-v1-5/stable-diffusion-v1-5") == (
        "models--stable-diffusion-v1-5--stable-diffusion-v1-5")
