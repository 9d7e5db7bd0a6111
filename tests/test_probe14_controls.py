"""From the fourteenth probe: the panel's controls, the step preview, the painter, true_size_row and the sweep's
command line, where a slip was refused with the wrong fix or went through silently."""

import os

import pytest
from conftest import checked_pipes, raised
from PIL import Image


@pytest.fixture(scope="module")
def pipes():
    yield from checked_pipes()


@pytest.fixture
def panel(pipes, tmp_path):
    from helpers.panel import Panel, Slider

    made = Panel(pipes["img2img"], prompt="a cat", num_inference_steps=2, seed=3,
                 extras=[Slider("strength", 0.5, 0.0, 1.0, step=0.05)],
                 fixed={"image": Image.new("RGB", (64, 64), (90, 120, 60))}, save_dir=tmp_path / "panel")
    assert made.generate(wait=True)
    return made


# P1: Slider written as (name, low, high, value)
def test_a_slider_written_low_high_value_is_told_slider_s_order():
    from helpers.panel import Slider

    err = raised(lambda: Slider("strength", 0.0, 1.0, 0.6, step=0.05))
    assert "low=1.0 must be below high=0.6" in str(err)
    assert "Slider's order is (name, value, low, high): Slider('strength', 0.6, 0.0, 1.0, step=0.05)" in str(err)
    fixed = Slider("strength", 0.6, 0.0, 1.0, step=0.05)  # the fix it names is a working slider
    assert (fixed.value, fixed.low, fixed.high) == (0.6, 0.0, 1.0)
    # the swap the old message led to, (low, value, high), is told the order too: no circle
    err = raised(lambda: Slider("strength", 0.0, 0.6, 1.0))
    assert "Slider('strength', 0.6, 0.0, 1.0)" in str(err)
    # low above high with a value that fits no reading gets no order advice
    assert "order" not in str(raised(lambda: Slider("weight", 3.0, 2.0, 1.0)))


# P6: a step larger than the range
def test_a_step_wider_than_the_slider_is_refused_with_a_step_that_fits():
    from helpers.panel import Slider

    err = raised(lambda: Slider("strength", 0.75, 0.0, 1.0, step=5))
    assert isinstance(err, ValueError) and "step=5 is larger than the slider's whole range, 0.0 to 1.0" in str(err)
    assert "e.g. step=0.05" in str(err)
    assert Slider("strength", 0.75, 0.0, 1.0, step=0.05).step == 0.05  # the fix works
    assert "e.g. step=1." in str(raised(lambda: Slider("count", 3, 1, 40, step=100)))  # a whole-number slider
    assert "must be above 0" in str(raised(lambda: Slider("strength", 0.75, 0.0, 1.0, step=0)))
    assert Slider("strength", 0.75, 0.0, 1.0, step=1.0).step == 1.0  # the whole range is still a step


# P8: a Choice option that is a function of one argument
def test_a_choice_function_that_needs_an_argument_is_told_to_drop_it():
    from helpers.panel import Choice

    mask = Image.new("L", (64, 64))
    err = raised(lambda: Choice("mask_image", {"painted": lambda m: mask}))
    assert isinstance(err, TypeError) and "option 'painted' is a function that needs m" in str(err)
    assert "{'painted': lambda: painter.mask}" in str(err) and "make_mask" not in str(err)
    good = Choice("mask_image", {"painted": lambda: mask})  # the fix: called with no arguments at each run
    assert good._argument("painted") is mask
    Choice("callback_on_step_end", {"peek": lambda pipe, step, t, kw: kw})  # a callback is passed on as it is


# P9: preview.timeline(5.0)
def test_timeline_steps_must_be_a_whole_number(pipes):
    from helpers.preview import StepPreview

    with StepPreview(pipes["t2i"], size=16) as preview:
        pipes["t2i"]("a cat", num_inference_steps=3, height=64, width=64, callback_on_step_end=preview)
    err = raised(lambda: preview.timeline(5.0))
    assert isinstance(err, TypeError) and "steps=5.0" in str(err) and "preview.timeline(5)" in str(err)
    assert isinstance(raised(lambda: preview.timeline(0)), ValueError)
    assert len(preview.timeline(2)) == 3  # the fix works


# P13: a brush wider than the picture
def test_a_brush_wider_than_the_picture_is_refused():
    from helpers.painter import MaskPainter

    picture = Image.new("RGB", (256, 192))
    err = raised(lambda: MaskPainter(picture, brush=600))
    assert isinstance(err, ValueError) and "brush=600 is wider than the 256x192 picture" in str(err)
    assert "e.g. brush=32" in str(err)
    painter = MaskPainter(picture, brush=32)
    err = raised(lambda: setattr(painter, "brush", 600))
    assert "brush=600 is wider" in str(err) and painter.brush == 32
    painter.brush = 256  # the picture's own width is still a brush
    assert MaskPainter(Image.new("RGB", (8, 8))).brush == 32  # the default stays on a tiny picture


# P18 and S2: saving into a folder
def test_panel_save_into_a_folder_saves_inside_it_and_never_over_a_file(panel, tmp_path, capsys):
    folder = tmp_path / "saved"
    folder.mkdir()
    first = panel.save(path=str(folder) + "/")
    assert first.parent == folder and first.suffix == ".png" and "seed3" in first.name
    assert not (tmp_path / "saved.png").exists()  # not beside the folder
    assert f"is a folder: saved the picture inside it as {first.resolve()}" in capsys.readouterr().out
    second = panel.save(path=folder, overwrite=True)  # an existing folder without the slash: inside it too
    assert second != first and second.parent == folder and first.exists()
    assert "parameters" in Image.open(second).info  # the same PNG as Save writes
    err = raised(lambda: panel.save(path=tmp_path / "shots"))  # not a folder yet, no extension: both ways named
    assert "path='" + str(tmp_path / "shots.png") + "'" in str(err) and str(tmp_path / "shots") + "/'" in str(err)


def test_result_save_into_a_folder_saves_inside_it(panel, tmp_path):
    folder = tmp_path / "keep"
    folder.mkdir()
    mine = folder / "mine.png"
    mine.write_bytes(b"the learner's own")
    result = panel.results[0]
    path = result.save(folder)
    assert path.parent == folder and path.name != "mine.png" and mine.read_bytes() == b"the learner's own"
    assert Image.open(path).size == (64, 64) and result.saved
    again = result.save(str(folder) + os.sep)
    assert again != path and again.exists() and path.exists()
    assert "end a folder's name with /" in str(raised(lambda: result.save(tmp_path / "shots")))


# K12: scale=50 meant as percent
def test_true_size_row_refuses_a_scale_that_makes_a_huge_picture():
    from helpers.grid import true_size_row

    pictures = [Image.new("RGB", (64, 64)), Image.new("RGB", (256, 256))]
    err = raised(lambda: true_size_row(pictures, captions=["64", "256"], scale=50))
    assert isinstance(err, ValueError) and "scale=50 draws each picture 50 times its size" in str(err)
    assert "scale=0.5 for 50 %" in str(err) and "over max_width=2048" in str(err)
    assert true_size_row(pictures, captions=["64", "256"], scale=0.5).width < 400  # the fix works
    assert "percent" not in str(raised(lambda: true_size_row(pictures, scale=8)))
    assert true_size_row(pictures, scale=8, max_width=3000).width > 2048  # asked for: drawn


# T1, T2, T3, T6: the sweep's command line
@pytest.mark.parametrize("argv, words", [
    (["--prompt", "a castle at sunset"], ["unrecognized arguments: --prompt a castle at sunset",
                                          "chapter 1's prompt", "run_sweep", "render"]),
    (["--model", "stabilityai/stable-diffusion-xl-refiner-1.0"], ["--model", "SD 1.5", "run_sweep"]),
    (["--guidance", "-1", "5"], ["argument --guidance: -1 is not a guidance scale", "1 or less switches guidance"]),
    (["--guidance", "inf"], ["argument --guidance: inf"]),
    (["--seeds", "0", "0"], ["--seeds gives 0 more than once", "--seeds 0 1"]),
    (["--guidance", "5", "5.0", "7"], ["--guidance gives 5 more than once", "--guidance 5 7"]),
])
def test_sweep_slips_are_usage_errors_before_anything_loads(argv, words, tmp_path, capsys, monkeypatch):
    from tools import sweep

    monkeypatch.setattr("helpers.use_models", lambda **kw: pytest.fail("it loaded before refusing"))
    with pytest.raises(SystemExit) as stop:
        sweep.main([*argv, "--out", str(tmp_path / "grid.png")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert all(w in err for w in words), err
    assert not (tmp_path / "grid.png").exists()


def test_sweep_help_says_what_it_renders(capsys):
    from tools import sweep

    with pytest.raises(SystemExit):
        sweep.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "chapter 1's prompt" in out and "SD 1.5" in out and "run_sweep" in out
