"""From a twentieth probe: the panel's results emptied, its sliders' ends moved from Python, a height slider's step,
and the mask painter chained, read too early, and made again over its strokes."""

import io
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import checked_pipes, raised, said
from IPython.core.formatters import DisplayFormatter
from PIL import Image
from traitlets import TraitError

import helpers.painter
from helpers.i18n import set_language
from helpers.images import make_mask
from helpers.painter import MaskPainter
from helpers.panel import Panel, Slider

START = Image.new("RGB", (64, 64), (120, 80, 40))
BOX = make_mask((64, 64), box=(8, 8, 40, 40))


@pytest.fixture(scope="module")
def pipes():
    from diffusers import StableDiffusionInpaintPipeline

    # the twin's 4-channel UNet in the inpainting class: the mask check is the point
    yield from checked_pipes(inpaint=lambda t2i: StableDiffusionInpaintPipeline(**t2i.components))


@pytest.fixture(autouse=True)
def _own_painters(painters_of_this_test_only):
    """Each test starts with no open painter and an empty helpers.painter.earlier (tests/conftest.py)."""


def small_panel(pipes, **more):
    return Panel(pipes["img2img"], prompt="a house", num_inference_steps=1, preview=False,
                 extras=[Slider("strength", 1.0, 0.0, 1.0)], fixed={"image": START}, **more)


def shown(value) -> str:
    """What a notebook shows for `value` as a cell's last line (IPython's plain-text display)."""
    return DisplayFormatter().format(value)[0]["text/plain"]


@pytest.fixture
def cell(monkeypatch):
    """Run code as a notebook cell would, in a stand-in shell: IPython stores the cell's text before it runs."""
    import IPython

    shell = type("Shell", (), {"user_ns": {"MaskPainter": MaskPainter, "START": START, "BOX": BOX, "Image": Image}})()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)

    def run(code: str):
        shell.user_ns.setdefault("_ih", [""]).append(code)
        exec(code, shell.user_ns)  # noqa: S102 - the test's own cell text
        return shell.user_ns

    return run


def stroke(painter, box=(10, 10, 30, 40)):
    """What painter.js sends after a stroke: the painted alpha as grey, opaque, as a memoryview."""
    grey = np.asarray(make_mask(painter.size, box=box))
    buffer = io.BytesIO()
    Image.fromarray(np.dstack([grey, grey, grey, np.full_like(grey, 255)]), "RGBA").save(buffer, format="PNG")
    painter.set_state({"mask_png": memoryview(buffer.getvalue())})


def same(a, b) -> bool:
    return np.array_equal(np.asarray(a.convert("RGB")), np.asarray(b.convert("RGB")))


# ---------------------------------------------------------------- W6: panel.results.clear(), then Save PNG

def test_after_results_clear_save_keeps_the_picture_on_screen_and_the_strip_empties(pipes, tmp_path):
    panel = small_panel(pipes, save_dir=tmp_path)
    panel.generate(wait=True)
    panel.seed.value = 1
    on_screen = panel.generate(wait=True)
    assert len(panel.history.children) == 1
    words = said(panel.results.clear)  # "to free memory"
    assert "let go of 1 picture(s) never saved (seed 0)" in words and "Save PNG (panel.save()) still saves it" in words
    assert len(panel.results) == 0 and panel.history.children == ()  # the strip shows panel.results
    path = panel.save()  # was "Nothing to save yet: press Generate first", with the picture on screen
    assert same(Image.open(path), on_screen.image) and "saved" in panel.status.value
    err = raised(lambda: panel.results[0])
    assert isinstance(err, IndexError) and "it was emptied (panel.results.clear()?)" in str(err)
    assert "panel.results.shown" in str(err) and panel.results.shown is on_screen
    assert said(panel.results.clear) == ""  # nothing unsaved left to say


def test_save_says_why_the_list_is_empty_and_its_fix_works(pipes, tmp_path):
    panel = small_panel(pipes, save_dir=tmp_path)
    assert str(raised(panel.save)) == "Nothing to save yet: press Generate first."
    before = panel.generate(wait=True).image
    panel.results = []  # another list in its place
    err = raised(panel.save)
    assert isinstance(err, RuntimeError) and "panel has run 1 time(s): another list was put in its place" in str(err)
    assert "the same settings and seed make the same picture" in str(err)
    panel.generate(wait=True)  # the fix: Generate again, then Save
    assert same(Image.open(panel.save()), before)
    failing = small_panel(pipes, save_dir=tmp_path)
    failing.fixed["image"] = Image.new("RGB", (4, 4))  # refused by the call check, inside the run
    assert isinstance(raised(lambda: failing.generate(wait=True)), ValueError) and failing.runs == 1
    assert "has run 1 time(s) and made no picture (each run failed or was stopped" in str(raised(failing.save))


# ---------------------------------------------------------------- W1: a slider's end moved from Python

def test_a_new_max_or_min_that_would_move_the_value_is_refused_and_its_fix_works(pipes):
    panel = small_panel(pipes, guidance_scale=7.5)
    guidance = panel.controls["guidance_scale"]
    err = raised(lambda: setattr(guidance, "max", 5))
    assert isinstance(err, TraitError) and str(err) == (
        "guidance_scale=7.5 is above the new max 5.0: ipywidgets would move it to 5.0 without a word, and the runs "
        "would use 5.0. Set the value first, then the max: panel.controls['guidance_scale'].value = 5.0, then "
        "panel.controls['guidance_scale'].max = 5.0.")
    assert (guidance.value, guidance.max) == (7.5, 20.0)  # nothing moved
    guidance.value = 5.0  # the fix, as said
    guidance.max = 5.0
    assert (guidance.value, guidance.max) == (5.0, 5.0)
    assert panel.generate(wait=True).params["guidance_scale"] == 5.0
    steps = panel.controls["num_inference_steps"]
    assert "num_inference_steps=1 is below the new min 3" in str(raised(lambda: setattr(steps, "min", 3)))
    assert steps.value == 1
    guidance.max = 12  # a wider end moves nothing: allowed as before
    assert "is below the slider's other end" in str(raised(lambda: setattr(guidance, "max", -1)))


# ---------------------------------------------------------------- W5: a height slider with step=100

def test_a_height_slider_off_the_8_pixel_grid_is_refused_naming_step(pipes):
    err = raised(lambda: Panel(pipes["t2i"], prompt="a house", extras=[Slider("height", 64, 32, 128, step=20)]))
    assert isinstance(err, ValueError) and "image.resize" not in str(err)
    assert "Slider('height', 64, 32, 128, step=20) lets the slider land on height=52" in str(err)
    assert "give it step=8 or a multiple of 8" in str(err)
    fix = re.search(r"e\.g\. (Slider\(.*\))\.$", str(err)).group(1)
    assert fix == "Slider('height', 64, 32, 128, step=16)"
    panel = Panel(pipes["t2i"], prompt="a house", num_inference_steps=1, preview=False,
                  extras=[eval(fix), Slider("width", 64, 32, 128, step=32)])  # the fix, as written
    panel.controls["height"].value = 48
    assert panel.generate(wait=True).image.size == (64, 48)
    assert "lets the slider land on width=33," in str(raised(lambda: Panel(pipes["t2i"], prompt="a house",
                                                             extras=[Slider("width", 64, 32, 128)])))
    err = raised(lambda: setattr(panel.controls["height"], "value", 52))  # set from Python off the grid
    assert "height=52 is not a multiple of 8" in str(err) and "e.g. height=48." in str(err)
    assert "image.resize" not in str(err)


# ---------------------------------------------------------------- K3: a chained set_mask

def test_set_mask_clear_invert_and_on_change_return_the_painter_to_chain():
    painter = MaskPainter(START, brush=12).set_mask(BOX)  # was None: no painter shown, then 'NoneType' ...
    assert isinstance(painter, MaskPainter) and painter.painted > 0
    assert shown(painter).startswith("MaskPainter(picture 64x64, brush=12, painted ")  # the cell shows it
    assert painter.invert() is painter and painter.clear() is painter and painter.painted == 0.0
    assert painter.on_change(lambda mask: None) is painter and painter.set_mask(None) is painter
    assert "returns the painter" in MaskPainter.set_mask.__doc__


# ---------------------------------------------------------------- K4: painter.mask read before painting

def test_a_painter_mask_read_before_painting_is_said_at_the_call_and_its_fix_works(pipes):
    inpaint = pipes["inpaint"]
    painter = MaskPainter(START, brush=12)
    painted = painter.mask  # in the painter's own cell, before any stroke
    err = raised(lambda: inpaint("a house", image=START, mask_image=painted, num_inference_steps=1))
    assert "It is a MaskPainter's mask from before anything was painted, and its painter still holds nothing " \
           "painted: paint the area to repaint on it first" in str(err)
    stroke(painter)  # then the learner paints
    call = lambda mask: inpaint("a house", image=START, mask_image=mask, num_inference_steps=1,  # noqa: E731
                                height=64, width=64)
    err = raised(lambda: call(painted))
    assert isinstance(err, ValueError) and str(err).startswith("mask_image is all black: nothing would be repainted.")
    assert "It is painter.mask as read before the painting the painter holds now (14.6% painted)" in str(err)
    assert "painting later does not change it. Read it after painting, in the call itself: " \
           "mask_image=painter.mask." in str(err)
    assert "make_mask" not in str(err)  # the advice that led nowhere
    assert call(painter.mask).images[0].size == (64, 64)  # the fix, as said
    err = raised(lambda: Panel(inpaint, prompt="x", fixed={"image": START, "mask_image": painted}))
    assert "read before the painting the painter holds now" in str(err) and "lambda: painter.mask" in str(err)
    black = str(raised(lambda: call(Image.new("L", (64, 64), 0))))  # any other black mask: as before
    assert "Paint the area to change in white (255), e.g. with helpers.images.make_mask" in black


# ---------------------------------------------------------------- K5: the painter cell run again

def test_a_painter_made_again_keeps_the_strokes_of_the_one_before_and_says_how_to_get_them_back(pipes, capsys, cell):
    first = cell("painter = MaskPainter(START, brush=12)")["painter"]
    stroke(first)
    strokes = first.mask
    painter = cell("painter = MaskPainter(START, brush=20)")["painter"]  # the cell run again, to change the brush
    line = ("the painter made before held a painted mask (14.6 % painted), kept in helpers.painter.earlier[0] "
            "(newest first, at most 5): painter.set_mask(helpers.painter.earlier[0]) brings it back; to change only "
            "the brush, painter.brush = 20")
    assert painter.note == line and capsys.readouterr().out == f"MaskPainter: {line}\n"
    assert len(helpers.painter.earlier) == 1 and same(helpers.painter.earlier[0], strokes)
    err = str(raised(lambda: pipes["inpaint"]("a house", image=START, mask_image=painter.mask, num_inference_steps=1)))
    assert "its painter still holds nothing painted" in err  # the panel's lambda: painter.mask, of the new painter
    assert "A painter made before held a painted mask: painter.set_mask(helpers.painter.earlier[0]) brings it " \
           "back." in err
    painter.set_mask(helpers.painter.earlier[0])  # the fix, as said
    assert same(painter.mask, strokes)
    painter.brush = 60  # changes the brush in place: the browser redraws its slider on change:brush
    assert painter.brush == 60 and painter.get_state()["brush"] == 60
    js = Path(helpers.painter.__file__).with_name("painter.js").read_text()
    assert 'model.on("change:brush change:eraser", showTools)' in js and "slider.max = Math.max(" in js
    assert "change:note" in js and "tutorial-mask-note" in js
    stroke(painter)
    cell("painter = MaskPainter(START)")  # run again: the same strokes are not kept twice
    assert len(helpers.painter.earlier) == 1


def test_a_painter_whose_mask_came_only_from_python_or_that_stays_keeps_nothing_and_says_nothing(capsys, cell):
    chapter_cell = "painter = MaskPainter(START, brush=40)\npainter.set_mask(BOX)"  # the chapter's: the book's mask
    first = cell(chapter_cell)["painter"]
    again = cell(chapter_cell)["painter"]
    assert again is not first and again.note == "" and capsys.readouterr().out == "" and helpers.painter.earlier == []
    stroke(again)
    beside = cell("second = MaskPainter(START)")["second"]  # a second painter beside it: nothing is replaced
    assert beside.note == "" and capsys.readouterr().out == "" and helpers.painter.earlier == []
    assert MaskPainter(START).note == ""  # made outside a cell (a script): replaces nothing


def test_the_kept_strokes_are_said_in_the_chapter_s_language_and_for_another_picture(capsys, cell):
    other = cell("painter = MaskPainter(Image.new('RGB', (32, 48)), brush=8)")["painter"]
    stroke(other, box=(0, 0, 16, 24))
    try:
        set_language("zh")
        painter = cell("painter = MaskPainter(START, brush=12)")["painter"]  # the cell edited to another picture
    finally:
        set_language("en")
    assert painter.note.startswith("之前创建的 MaskPainter 上有一幅 32x48 图像上画好的遮罩（已画 25.0 %）")
    assert "MaskPainter(那幅图像, mask=helpers.painter.earlier[0])" in painter.note
    out = capsys.readouterr().out  # the printed line stays English, as printed lines do in both editions
    assert out.startswith("MaskPainter: the painter made before held a painted mask of a 32x48 picture (25.0 %")
    assert "MaskPainter(that picture, mask=helpers.painter.earlier[0]) brings it back" in out
    restored = MaskPainter(Image.new("RGB", (32, 48)), mask=helpers.painter.earlier[0])  # that fix, as said
    assert restored.painted == 0.25


def test_results_emptied_while_a_run_shows_its_picture_still_ends_done(pipes):
    panel = small_panel(pipes)
    show = panel._show

    def show_then_clear(result):  # the learner's results.clear() lands between the picture and the run's end
        note = show(result)
        panel.results.clear()
        return note

    panel._show = show_then_clear
    made = panel.generate(wait=True)
    assert made is not None and made.image.size == (64, 64)
    assert panel.status.value.startswith("done in")
