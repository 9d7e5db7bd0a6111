"""From a twentieth probe: the sweep's command line (T2 --seeds 0,1,2, T4 --seeds=0 42, T6 --size 64x64) and
nbclean on a learner's own notebook (T9: the pictures the learner made are kept in a dated copy, and counted)."""

import re
from pathlib import Path

import nbformat
import pytest

from tools import nbclean, sweep


def refused(argv, capsys) -> str:
    with pytest.raises(SystemExit) as stop:
        sweep._arguments(argv)
    assert stop.value.code == 2
    return capsys.readouterr().err


# T2: argparse's "invalid int value: '0,1,2'"
@pytest.mark.parametrize("argv, said", [
    (["--seeds", "0,1,2"], "'0,1,2' has a comma: --seeds takes whole numbers separated by spaces: --seeds 0 1 2"),
    (["--seeds", "3;4"], "--seeds takes whole numbers separated by spaces: --seeds 3 4"),
    (["--seeds", "0.5"], "'0.5' is not a whole number: --seeds takes whole numbers from 0, separated by spaces"),
    (["--seeds", "-1"], "-1 is not a seed: seeds are whole numbers from 0 to 2**63 - 1"),
    (["--guidance", "1,5,10"], "--guidance takes numbers separated by spaces: --guidance 1 5 10"),
    (["--guidance", "7,5"], "for two values, separate them with a space (--guidance 7 5); for one, write the decimal "
                            "with a point (--guidance 7.5)"),
])
def test_values_joined_by_commas_are_told_to_take_spaces(argv, said, capsys):
    err = refused(argv, capsys)
    assert said in err and "invalid int value" not in err, err


# T6: --size 64x64, the W×H habit of other front ends
@pytest.mark.parametrize("value, said", [
    ("64x64", "'64x64' gives two sides, but --size is one side in pixels (the grid's tiles are square): --size 64"),
    ("256×256", "--size is one side in pixels (the grid's tiles are square): --size 256"),
    ("512x768", "'512x768' gives two different sides, but the grid's tiles are square and --size is their one side "
                "in pixels: --size 512 or --size 768 (for another shape, call run_sweep from Python)"),
    ("big", "'big' is not a whole number: --size is one side in pixels"),
])
def test_a_width_by_height_size_is_told_the_tiles_are_square(value, said, capsys):
    err = refused(["--size", value], capsys)
    assert said in err and "invalid int value" not in err, err


def test_whole_numbers_still_pass():
    _, args = sweep._arguments(["--seeds", "0", "42", "--size", "64", "--guidance", "7.5"])
    assert args.seeds == [0, 42] and args.size == 64 and args.guidance == [7.5]


# T4: --seeds=0 42 gave "unrecognized arguments: 42" and a paragraph about --prompt and --model
@pytest.mark.parametrize("argv, said, command", [
    (["--seeds=0", "42"], "with '=' only the first value belongs to --seeds; write --seeds 0 42",
     "python -m tools.sweep --seeds 0 42"),
    (["--seed=0", "42", "--steps", "5"], "with '=' only the first value belongs to --seeds; write --seeds 0 42",
     "python -m tools.sweep --seeds 0 42 --steps 5"),
    (["--guidance=5", "7.5"], "with '=' only the first value belongs to --guidance; write --guidance 5 7.5",
     "python -m tools.sweep --guidance 5 7.5"),
])
def test_values_after_an_equals_sign_are_told_to_follow_a_space(argv, said, command, capsys):
    err = refused(argv, capsys)
    assert said in err and err.rstrip().endswith(command), err
    assert "unrecognized arguments" not in err and "--prompt" not in err


def test_the_paragraph_about_prompts_stays_for_real_unknown_options(capsys):
    err = refused(["--seeds=0", "42", "--prompt", "a castle"], capsys)
    assert "write --seeds 0 42. That is: python -m tools.sweep --seeds 0 42\n" in err
    assert "unrecognized arguments: --prompt a castle. The command renders chapter 1's prompt" in err
    assert "unrecognized arguments: castle. The command renders" in refused(["castle"], capsys)


# T9: nbclean on a learner's executed notebook removed its pictures in place, with no copy and no count
def _run_notebook(pictures=3):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})
    cell = nbformat.v4.new_code_cell("pipeline(prompt).images[0]", execution_count=1)
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="512x512 RGB\n")] + [
        nbformat.v4.new_output("display_data", data={"image/png": "iVBORw0KGgo=", "text/plain": "<PIL.Image>"})
        for _ in range(pictures)]
    nb.cells = [cell]
    return nb


def _pictures(path: Path) -> int:
    return path.read_text().count('"image/png"')


def test_a_learners_notebook_is_kept_before_its_pictures_go(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    nbformat.write(_run_notebook(), tmp_path / "my_run.ipynb")
    assert nbclean.main(["my_run.ipynb"]) == 0
    out = capsys.readouterr().out
    kept = list(tmp_path.glob("my_run.before-clean-*.ipynb"))
    assert len(kept) == 1 and _pictures(kept[0]) == 3 and _pictures(tmp_path / "my_run.ipynb") == 0
    assert re.fullmatch(r"my_run\.before-clean-\d{8}-\d{6}\.ipynb", kept[0].name)
    assert ("cleaned my_run.ipynb: removed 3 pictures (the text outputs stay); the notebook as it was is kept at "
            f"{kept[0].name}\n") == out
    assert nbclean.main(["my_run.ipynb"]) == 0  # nothing more to remove: no second copy
    assert capsys.readouterr().out == "cleaned my_run.ipynb: removed 0 pictures (it had none)\n"
    assert len(list(tmp_path.glob("*before-clean*"))) == 1


def test_a_numbered_copy_is_kept_under_a_name_the_chapter_lists_skip(tmp_path, capsys):
    path = tmp_path / "01_guidance_scale-Copy1.ipynb"
    nbformat.write(_run_notebook(1), path)
    assert nbclean.main([str(path)]) == 0
    kept = list(tmp_path.glob("before-clean-*-01_guidance_scale-Copy1.ipynb"))
    assert len(kept) == 1 and _pictures(kept[0]) == 1
    assert f"removed 1 picture (the text outputs stay); the notebook as it was is kept at {kept[0]}" in (
        capsys.readouterr().out)


def test_execute_keeps_the_learners_outputs_before_replacing_them(tmp_path, capsys, monkeypatch):
    path = tmp_path / "ch1_mine.ipynb"
    nbformat.write(_run_notebook(), path)
    monkeypatch.setattr(nbclean, "execute", lambda p, timeout: _run_notebook(1))  # a twins run, without a kernel
    assert nbclean.main(["--execute", str(path)]) == 0
    kept = list(tmp_path.glob("ch1_mine.before-clean-*.ipynb"))
    assert len(kept) == 1 and _pictures(kept[0]) == 3 and _pictures(path) == 0
    assert (f"ran and cleaned ch1_mine.ipynb on the twins: removed the run's 1 picture; the 4 outputs it had before "
            f"(3 pictures) were replaced; the notebook as it was is kept at {kept[0]}") in capsys.readouterr().out


def test_a_tracked_chapters_text_outputs_go_without_a_copy_and_any_pictures_with_one(tmp_path, capsys, monkeypatch):
    import subprocess

    monkeypatch.setattr(nbclean, "PROJECT_ROOT", tmp_path)
    (tmp_path / "notebooks" / "zh").mkdir(parents=True)
    chapters = [tmp_path / "notebooks" / "06_x.ipynb", tmp_path / "notebooks" / "zh" / "06_x.ipynb"]
    for path in chapters:
        nbformat.write(_run_notebook(0), path)  # committed as chapters are: text outputs, no pictures
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "notebooks"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "chapters"], cwd=tmp_path, check=True)
    mine = tmp_path / "notebooks" / "07_my_experiments.ipynb"  # a chapter's name, but the learner's own file
    nbformat.write(_run_notebook(0), mine)
    assert [nbclean.project_chapter(p) for p in (*chapters, mine)] == [True, True, False]
    monkeypatch.setattr(nbclean, "execute", lambda p, timeout: _run_notebook(1))  # a twins run, without a kernel
    assert nbclean.main(["--execute", *map(str, chapters)]) == 0  # the maintainer's run: made again, no copies
    assert sorted(p.name for p in tmp_path.rglob("*.ipynb")) == ["06_x.ipynb", "06_x.ipynb", "07_my_experiments.ipynb"]
    assert nbclean.main(["--execute", str(mine)]) == 0  # the learner's text outputs: kept
    assert len(list((tmp_path / "notebooks").glob("before-clean-*-07_my_experiments.ipynb"))) == 1
    nbformat.write(_run_notebook(2), chapters[0])  # a chapter run in Jupyter: its pictures are someone's run
    assert nbclean.main([str(chapters[0])]) == 0
    kept = list((tmp_path / "notebooks").glob("before-clean-*-06_x.ipynb"))
    assert len(kept) == 1 and _pictures(kept[0]) == 2 and _pictures(chapters[0]) == 0
    assert "cleaned 06_x.ipynb: removed 2 pictures (the text outputs stay); the notebook as it was is kept at" \
        in capsys.readouterr().out


def test_which_notebooks_are_the_projects_chapters():
    root = nbclean.PROJECT_ROOT / "notebooks"
    assert nbclean.project_chapter(root / "01_guidance_scale.ipynb")
    assert nbclean.project_chapter(root / "zh" / "05_inpainting.ipynb")
    assert not nbclean.project_chapter(root / "01_guidance_scale-Copy1.ipynb")  # Jupyter's Duplicate: a learner's
    assert not nbclean.project_chapter(root / "my_run.ipynb")
    assert not nbclean.project_chapter(root / "06_my_experiments.ipynb")  # not in git: a learner's
    assert not nbclean.project_chapter(root.parent / "build" / "01_guidance_scale.ipynb")


def test_a_size_off_the_8_pixel_grid_is_refused_before_anything_loads(capsys):
    assert "100 is not a multiple of 8, and the VAE works on 8-pixel blocks: --size 96 or --size 104" in refused(
        ["--size", "100"], capsys)
    assert "--size is one side of the tiles in pixels, a multiple of 8" in refused(["--size", "0"], capsys)
