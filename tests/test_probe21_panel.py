"""From a twenty-first probe: the painter's Clear and invert over strokes, a panel's encode replaced or redefined,
and the painter handed to PIL in place of its mask."""

import io
from pathlib import Path

import numpy as np
import pytest
from conftest import checked_pipes, raised, said
from PIL import Image

import helpers.painter
from helpers.i18n import set_language
from helpers.images import make_mask
from helpers.painter import MaskPainter
from helpers.panel import Panel, Slider

START = Image.new("RGB", (64, 64), (120, 80, 40))
BOX = make_mask((64, 64), box=(8, 8, 40, 40))
CLEARED = ("cleared a painted mask (14.6 % painted), kept in helpers.painter.earlier[0]: "
           "painter.set_mask(helpers.painter.earlier[0]) brings it back")


@pytest.fixture(scope="module")
def pipes():
    yield from checked_pipes()


@pytest.fixture(autouse=True)
def _own_painters(painters_of_this_test_only):
    """Each test starts with no open painter and an empty helpers.painter.earlier (tests/conftest.py)."""


def png(grey: np.ndarray) -> memoryview:
    """What painter.js sends: the painted alpha as grey, opaque, as a memoryview."""
    buffer = io.BytesIO()
    Image.fromarray(np.dstack([grey, grey, grey, np.full_like(grey, 255)]), "RGBA").save(buffer, format="PNG")
    return memoryview(buffer.getvalue())


def stroke(painter, box=(10, 10, 30, 40)):
    painter.set_state({"mask_png": png(np.asarray(make_mask(painter.size, box=box)))})


def browser_clear(painter):
    """The Clear button: painter.js empties the canvas and sends it, all black."""
    painter.set_state({"mask_png": png(np.zeros(painter.size[::-1], np.uint8))})


def same(a, b) -> bool:
    return np.array_equal(np.asarray(a.convert("L")), np.asarray(b.convert("L")))


# ---------------------------------------------------------------- P3: Clear after painting

def test_clear_from_python_or_the_button_keeps_the_strokes_and_says_how_to_get_them_back(capsys):
    painter = MaskPainter(START, brush=12)
    stroke(painter)
    strokes = painter.mask
    painter.clear()
    assert painter.painted == 0.0 and painter.note == CLEARED
    assert capsys.readouterr().out == f"MaskPainter: {CLEARED}\n"
    painter.set_mask(helpers.painter.earlier[0])  # the fix, as said
    assert same(painter.mask, strokes)
    stroke(painter, box=(0, 0, 32, 32))  # painted again, then the button
    browser_clear(painter)
    assert painter.painted == 0.0 and len(helpers.painter.earlier) == 2
    assert painter.note == CLEARED.replace("14.6", "25.0")
    painter.set_mask(helpers.painter.earlier[0])
    assert painter.painted == 0.25
    js = Path(helpers.painter.__file__).with_name("painter.js").read_text()  # the button sends the empty canvas
    assert 'clear.addEventListener("click", () => {\n    ctx.clearRect(0, 0, w, h);\n    send();' in js


def test_a_mask_from_python_is_not_kept_on_clear_and_set_mask_over_strokes_keeps_them(capsys):
    painter = MaskPainter(START).set_mask(BOX)  # the chapter's mask: the book's, not the learner's
    painter.clear()
    browser_clear(painter)
    assert helpers.painter.earlier == [] and painter.note == "" and capsys.readouterr().out == ""
    stroke(painter)
    painter.set_mask(BOX)
    line = ("set_mask replaced a painted mask (14.6 % painted), kept in helpers.painter.earlier[0]: "
            "painter.set_mask(helpers.painter.earlier[0]) brings it back")
    assert painter.note == line and capsys.readouterr().out == f"MaskPainter: {line}\n"
    painter.set_mask(helpers.painter.earlier[0])  # the fix; the book's mask is not kept in its place
    assert painter.painted == pytest.approx(0.146, abs=1e-3) and len(helpers.painter.earlier) == 1


def test_cleared_is_said_in_the_chapter_s_language():
    painter = MaskPainter(START)
    stroke(painter)
    try:
        set_language("zh")
        painter.clear()
    finally:
        set_language("en")
    assert painter.note == ("清除了一个画好的遮罩（已画 14.6 %），已保存在 helpers.painter.earlier[0] 中："
                            "painter.set_mask(helpers.painter.earlier[0]) 可以把它恢复")


# ---------------------------------------------------------------- P4b: invert() in a cell run again

def test_invert_says_what_it_did_each_time_and_inverted_strokes_are_still_kept_on_clear(capsys):
    painter = MaskPainter(START)
    stroke(painter, box=(0, 0, 32, 32))
    assert painter.invert().painted == 0.75  # the cell run once
    line = "inverted: 25.0 % → 75.0 % painted (invert() flips the mask each time it runs: run it once)"
    assert painter.note == line and capsys.readouterr().out == f"MaskPainter: {line}\n"
    painter.invert()  # the cell run again: said again, the other way
    assert painter.note == "inverted: 75.0 % → 25.0 % painted (invert() flips the mask each time it runs: run it " \
                           "once)"
    painter.invert().clear()  # the learner's strokes, inverted, are still the learner's
    assert len(helpers.painter.earlier) == 1 and helpers.painter.earlier[0].getpixel((50, 50)) == 255
    capsys.readouterr()
    zh = MaskPainter(START)
    try:
        set_language("zh")
        zh.invert()
    finally:
        set_language("en")
    assert capsys.readouterr().out.startswith("MaskPainter: inverted: 0.0 % → 100.0 % painted (invert()")  # English
    assert zh.note == "已反转遮罩：已画 0.0 % → 100.0 %（invert() 每运行一次就把遮罩翻转一次：只运行一次）"


# ---------------------------------------------------------------- B9: the painter given to PIL

def test_the_painter_given_where_a_picture_goes_names_painter_mask_and_the_fix_works():
    painter = MaskPainter(START).set_mask(BOX)

    def overlay(image, mask):  # chapter 5's own
        red = Image.new("RGB", image.size, (255, 0, 0))
        return Image.blend(image, Image.composite(red, image, mask), 0.5)

    err = raised(lambda: overlay(START, painter))
    assert isinstance(err, AttributeError)
    assert str(err).startswith("a MaskPainter is the painting widget, not a picture, and this code asked it for .")
    assert "The painted mask is painter.mask: e.g. overlay(photo, painter.mask)." in str(err)
    assert overlay(START, painter.mask).size == (64, 64)  # the fix, as said
    assert "asked it for .convert" in str(raised(lambda: painter.convert("L")))
    for name in ("_repr_png_", "_ipython_display_", "__array_interface__", "_im"):  # probed by IPython, numpy
        assert str(raised(lambda n=name: getattr(painter, n))) == f"'MaskPainter' object has no attribute {name!r}"
    assert not hasattr(painter, "_repr_png_") and not hasattr(painter, "getbbox")
    assert painter.size == (64, 64) and callable(painter.save)  # the painter's own, as before


# ---------------------------------------------------------------- P2: encode replaced or redefined

def encode_returning(word, calls):
    def encode(prompt, negative_prompt, params):
        calls.append(word)
        return {"prompt": f"{prompt}, {word}", "negative_prompt": negative_prompt}
    return encode


def test_setting_panel_encode_drops_the_cached_embeddings(pipes):
    calls = []
    panel = Panel(pipes["img2img"], prompt="a house", num_inference_steps=1, preview=False,
                  extras=[Slider("strength", 1.0, 0.0, 1.0)], fixed={"image": START},
                  encode=encode_returning("old", calls))
    panel.generate(wait=True)
    panel.encode = encode_returning("new", calls)  # the same prompt on screen
    panel.generate(wait=True)
    assert calls == ["old", "new"] and panel.own_encode
    panel.encode = None  # the pipeline's own encoder, as Panel(encode=None)
    assert not panel.own_encode and panel.encoded == {} and callable(panel.encode)
    err = raised(lambda: setattr(panel, "encode", lambda prompt: {}))
    assert "encode= is called as encode(prompt, negative_prompt, extras)" in str(err)


def test_a_cell_that_redefines_a_panel_s_encode_is_told_once_and_the_fix_works(pipes):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from helpers import explain

    shell = InteractiveShell.instance()
    shell.user_ns.update(Panel=Panel, Slider=Slider, START=START, img2img=pipes["img2img"], calls=[])
    explain.enable(shell)
    try:
        shell.run_cell("def encode(prompt, negative_prompt, params):\n    calls.append('old')\n"
                       "    return {'prompt': prompt + ', jungle', 'negative_prompt': negative_prompt}")
        shell.run_cell("pe = Panel(img2img, prompt='a house', num_inference_steps=1, preview=False, "
                       "extras=[Slider('strength', 1.0, 0.0, 1.0)], fixed={'image': START}, encode=encode)\n"
                       "pe.generate(wait=True)")
        edited = ("def encode(prompt, negative_prompt, params):\n    calls.append('new')\n"
                  "    return {'prompt': prompt + ', sunset', 'negative_prompt': negative_prompt}")
        with capture_output():
            line = said(lambda: shell.run_cell(edited), only_call_warnings=True)
        assert line == ("the panel made earlier, pe, still calls the encode it was given; give it the new one: "
                        "pe.encode = encode (that also drops its cached embeddings)")
        with capture_output():
            assert said(lambda: shell.run_cell("x = 1"), only_call_warnings=True) == ""  # said once
            fix = said(lambda: shell.run_cell("pe.encode = encode\npe.generate(wait=True)"))  # the fix, as said
        assert "still calls" not in fix and shell.user_ns["calls"] == ["old", "new"]
        explain.disable(shell)
        assert all(h.__name__ != "_post_run_cell" for h in shell.events.callbacks["post_run_cell"])
    finally:
        explain.disable(shell)
        InteractiveShell.clear_instance()
        explain.enable()  # the module's other tests run with the checks on
