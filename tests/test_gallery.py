"""The gallery: each chapter a light page in its language, linked to the other edition; both editions print alike."""

import base64
import io

import nbformat
import numpy as np
import pytest
from PIL import Image

from tools import gallery
from tools.run import compare_editions, editions, save_chapter
from tools.samecode import output_differences


def _png(width, height):
    noise = np.random.default_rng(0).integers(0, 255, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).resize((width, height)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _chapter(title="# Chapter 1 · `guidance_scale`", printed="verdict: True\n", png=None):
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint('verdict:', True)")
    code.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    nb.cells = [nbformat.v4.new_markdown_cell(title), code]
    if png:
        figure = nbformat.v4.new_code_cell("captioned_grid(images)")
        figure.outputs = [nbformat.v4.new_output("execute_result", data={"image/png": png, "text/plain": "<PIL>"},
                                                 execution_count=2)]
        nb.cells.append(figure)
    return nb


def test_figures_become_smaller_jpegs_and_the_install_cell_is_named_not_shown():
    nb = _chapter(png=_png(1536, 500))
    nb.cells.insert(1, nbformat.v4.new_code_cell("x = 1\nfrom helpers.hosted import finish_setup\n" + "# pip\n" * 80))
    light = gallery.light(nb, "zh")
    data = light.cells[-1].outputs[0]["data"]
    picture = Image.open(io.BytesIO(base64.b64decode(data["image/jpeg"])))
    assert "image/png" not in data and picture.width == gallery.WIDEST and picture.height == round(500 * 1100 / 1536)
    assert light.cells[1].source == "# Colab 和 Kaggle 的安装单元格：打开笔记本可以读到全文。"
    assert "image/png" in nb.cells[-1].outputs[0]["data"]  # the saved notebook keeps its figure as it was


def test_a_chinese_page_speaks_chinese_and_links_contents_english_and_its_notebook():
    page = gallery.chapter_page(_chapter("# 第1章 · `guidance_scale`"), "01_x", "zh", since=0)
    assert "<html lang='zh-CN'>" in page and "<title>第1章 · guidance_scale</title>" in page
    assert "<a href='index.html'>目录</a><a href='../01_x.html' hreflang='en'>English</a>" in page
    assert "verdict: True" in page and "<a href='01_x.ipynb'>.ipynb</a>" in page
    english = gallery.chapter_page(_chapter(), "01_x", "en", since=0, other_page=False)
    assert "hreflang" not in english and "<a href='index.html'>Contents</a>" in english
    assert "中文: not built yet (python -m tools.run --lang zh)" in english  # where the switch would be


def test_the_contents_say_run_time_failure_and_a_chapter_not_run_this_time(tmp_path):
    save_chapter(_chapter(), "01_a", None, tmp_path, 12.34)
    save_chapter(_chapter(), "02_b", "code cell 3 failed: ValueError: strength=3", tmp_path, 2.0)
    page, notes = gallery.write_edition(tmp_path, "en", since=0)
    text = page.read_text()
    assert notes == [] and "run time: 12.3 s" in text and "not run this time" not in text
    assert "FAILED: code cell 3 failed: ValueError: strength=3" in text and "there is no earlier good run" in text
    later = gallery.write_edition(tmp_path, "zh", since=float("inf"))[0].read_text()
    assert "本次未运行：来自 " in later and "（用时 12.3 秒）" in later and "运行失败：code cell 3" in later


def test_a_good_page_kept_after_a_newer_failure_says_so_and_a_fixed_chapter_leaves_no_failed_page(tmp_path):
    save_chapter(_chapter(), "01_a", None, tmp_path, 1.0)
    save_chapter(_chapter(), "01_a", "code cell 2 failed: OSError: offline", tmp_path, 1.0)
    gallery.write_edition(tmp_path, "en", since=0)
    kept = (tmp_path / "01_a.html").read_text()
    assert "The newest run of this chapter failed: code cell 2 failed: OSError: offline" in kept
    assert "<a href='01_a.failed.html'>the failed run</a>" in kept and (tmp_path / "01_a.failed.html").exists()
    save_chapter(_chapter(), "01_a", None, tmp_path, 1.0)  # it passes again: the failed notebook goes
    gallery.write_edition(tmp_path, "en", since=0)
    assert not (tmp_path / "01_a.failed.html").exists() and "failed" not in (tmp_path / "01_a.html").read_text()
    assert "FAILED" not in (tmp_path / "index.html").read_text()


def test_a_panel_becomes_a_line_of_text_and_its_saved_state_is_left_out():
    nb = _chapter()
    panel = nbformat.v4.new_code_cell("panel")
    panel.outputs = [nbformat.v4.new_output("display_data", data={
        "application/vnd.jupyter.widget-view+json": {"model_id": "x", "version_major": 2, "version_minor": 0},
        "text/plain": "VBox(children=(Textarea(value='a prompt'), Image(value=b'\\x89PNG...')))"})]
    nb.cells.append(panel)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"x": {"png": "A" * 10**6}}}}
    page = gallery.chapter_page(nb, "01_x", "zh", since=0)
    assert len(page) < 200_000 and "VBox(" not in page and "这里是一个交互面板：在Jupyter中打开笔记本即可使用。" in page


def test_both_editions_must_print_the_same_text_cell_for_cell(tmp_path, capsys):
    english, chinese = tmp_path / "en", tmp_path / "zh"
    english.mkdir(), chinese.mkdir()
    save_chapter(_chapter(), "01_a", None, english, 1.0)
    save_chapter(_chapter("# 第1章"), "01_a", None, chinese, 1.0)
    assert compare_editions(english, chinese, ["01_a"]) == 0
    assert "both editions printed the same text" in capsys.readouterr().out
    save_chapter(_chapter("# 第1章", printed="结论: True\n"), "01_a", None, chinese, 1.0)
    assert compare_editions(english, chinese, ["01_a"]) == 1
    assert "code cell 1: English printed 'verdict: True', Chinese '结论: True'" in \
        capsys.readouterr().out
    ignored = _chapter(printed="took 1.2 s\n")
    ignored.cells[1].source = "# NBVAL_IGNORE_OUTPUT\nprint(time)"
    slower = _chapter(printed="took 3.4 s\n")
    slower.cells[1].source = ignored.cells[1].source
    assert output_differences(ignored, slower) == []  # what nbval does not compare, nor does this


def test_a_chapter_runs_in_both_editions_by_default_or_in_the_one_asked_for(tmp_path, monkeypatch):
    from helpers.paths import PROJECT_ROOT

    monkeypatch.setenv("TUTORIAL_BUILD", str(tmp_path))
    first = PROJECT_ROOT / "notebooks" / "01_guidance_scale.ipynb"
    chinese = PROJECT_ROOT / "notebooks" / "zh" / first.name
    assert editions([first]) == [("en", [first], tmp_path), ("zh", [chinese], tmp_path / "zh")]
    assert editions([first], "zh") == [("zh", [chinese], tmp_path / "zh")]
    assert editions([chinese], "en") == [("en", [first], tmp_path)]  # named in Chinese, asked for in English
    mine = tmp_path / "06_mine.ipynb"
    nbformat.write(_chapter(), mine)
    assert editions([mine]) == [("en", [mine], tmp_path)]  # a chapter of the learner's own: no Chinese edition
    with pytest.raises(ValueError, match="none of the chapters named has a Chinese edition; run them with"):
        editions([mine], "zh")


def test_the_main_job_links_both_editions_and_fails_when_they_print_differently(tmp_path, monkeypatch, capsys):
    from helpers.paths import PROJECT_ROOT
    from tools import run

    monkeypatch.setenv("TUTORIAL_BUILD", str(tmp_path))
    monkeypatch.setenv("TUTORIAL_MODELS", "twins")
    printed = {"en": "verdict: True\n", "zh": "verdict: True\n"}

    def fake_run_all(chapters, out, timeout, lang, since):  # what a run leaves: notebooks, then the pages
        out.mkdir(parents=True, exist_ok=True)
        for path in chapters:
            save_chapter(_chapter(printed=printed[lang]), path.stem, None, out, 1.0)
        gallery.write_edition(out, lang, since)
        return 0

    monkeypatch.setattr(run, "run_all", fake_run_all)
    assert run.main(["1"]) == 0
    english = (tmp_path / "01_guidance_scale.html").read_text()
    assert "<a href='zh/01_guidance_scale.html' hreflang='zh'>中文</a>" in english  # written again after zh ran
    assert "<a href='zh/index.html' hreflang='zh'>中文</a>" in (tmp_path / "index.html").read_text()
    assert "both editions printed the same text in every compared cell (1 chapter(s))" in capsys.readouterr().out
    printed["zh"] = "结论: True\n"
    assert run.main(["1"]) == 1
    assert "correct translations/zh_CN/01_guidance_scale.po" in capsys.readouterr().out
    assert (PROJECT_ROOT / "notebooks" / "zh" / "01_guidance_scale.ipynb").exists()


def test_prints_of_one_cell_read_as_one_block():
    nb = _chapter()
    nb.cells[1].outputs.append(nbformat.v4.new_output("stream", name="stdout", text="second line\n"))
    light = gallery.light(nb)
    assert [o["text"] for o in light.cells[1].outputs] == ["verdict: True\nsecond line\n"]
    assert len(nb.cells[1].outputs) == 2  # the notebook itself is left as it ran


def test_editions_that_ran_different_code_are_not_blamed_on_the_chinese_cells(tmp_path, capsys, monkeypatch):
    from tools import run

    assert run.chinese_is_built_from_english("01_guidance_scale")  # the committed editions agree
    english, chinese = tmp_path / "en", tmp_path / "zh"
    english.mkdir(), chinese.mkdir()
    save_chapter(_chapter(printed="verdict: True\n"), "01_a", None, english, 1.0)
    save_chapter(_chapter("# 第1章", printed="verdict: False\n"), "01_a", None, chinese, 1.0)
    monkeypatch.setattr(run, "chinese_is_built_from_english", lambda name: False)  # e.g. a learner edited 01_a
    assert compare_editions(english, chinese, ["01_a"]) == 0
    out = capsys.readouterr().out
    assert "ran different code" in out and "--lang en" in out and "does more than" not in out
    assert "printed the same text" not in out
