"""From a twenty-fourth probe: a panel's widget replaced by a number (F1), painter.mask = box_mask (F3) and a
drawing app's names on the painter, painter.undo() (F4).

The panels wrap stand-in pipelines (tests/test_probe23_panel.py), so no weights are loaded.
"""

import ipywidgets as W
import pytest
from conftest import raised
from PIL import Image
from test_probe23_panel import BOX, START, inpaint_panel

import helpers.painter
from helpers.images import make_mask
from helpers.painter import MaskPainter


@pytest.fixture(autouse=True)
def _own_painters(painters_of_this_test_only):
    """Each test starts with no open painter (tests/conftest.py)."""


# ---------------------------------------------------------------- F1: panel.history = 3

def test_replacing_the_history_strip_with_a_number_is_refused_with_history_size():
    panel = inpaint_panel()
    strip = panel.history
    err = raised(lambda: setattr(panel, "history", 3))
    assert isinstance(err, TypeError)
    assert str(err) == ("panel.history is one of the panel's widgets (History, shown in panel.widget and used by "
                        "every run): assigning 3 would replace it with an int, and the next Generate would fail. The "
                        "widget is kept as it was. The number of pictures the history keeps is panel.history_size = 3 "
                        "(read at each run), or Panel(..., history=3) when the panel is made.")
    assert panel.history is strip
    panel.history_size = 3  # the form it names works: the history keeps 3
    for seed in range(4):
        panel.seed.value = seed
        panel.generate(wait=True)
    assert len(panel.results) == 3 and len(panel.history.children) == 2  # the newest is shown above the strip


def test_any_widget_replaced_by_a_non_widget_is_refused():
    panel = inpaint_panel()
    err = raised(lambda: setattr(panel, "status", "done"))
    assert isinstance(err, TypeError) and str(err).startswith("panel.status is one of the panel's widgets (HTML, shown")
    err = raised(lambda: setattr(panel, "generate_button", None))
    assert "To run from code: panel.generate()" in str(err)
    panel.caption = W.HTML("mine")  # a widget for a widget is the learner's choice
    assert panel.caption.value == "mine"


# ---------------------------------------------------------------- F3: painter.mask = box_mask

def test_setting_the_painted_mask_is_told_set_mask_with_the_learners_name():
    painter = MaskPainter(START)
    box_mask = make_mask((64, 64), box=(8, 8, 40, 40))
    err = raised(lambda: setattr(painter, "mask", box_mask))
    assert isinstance(err, AttributeError)
    assert str(err).startswith("painter.mask is read-only: it is the mask painted so far, read from the strokes each "
                               "time. To give the painter a mask: painter.set_mask(box_mask) (white = repaint;")
    assert "no setter" not in str(err)
    assert painter.set_mask(box_mask).painted == pytest.approx(32 * 32 / 64 ** 2)  # the form it names works


@pytest.mark.parametrize("name, says", [
    ("size", "painter.size is read-only: it is the picture's (width, height)"),
    ("painted", "painter.painted is read-only: it is the share of the picture painted"),
])
def test_the_painters_other_read_only_properties_say_what_they_are(name, says):
    err = raised(lambda: setattr(MaskPainter(START), name, 1))
    assert isinstance(err, AttributeError) and str(err).startswith(says) and "no setter" not in str(err)


# ---------------------------------------------------------------- F4: painter.undo() and other drawing apps' names

def test_undo_is_told_the_eraser_clear_and_earlier():
    painter = MaskPainter(START)
    err = raised(lambda: painter.undo())
    assert isinstance(err, AttributeError)
    assert str(err) == ("MaskPainter has no undo: it keeps one mask, not a list of strokes. To take back a stroke, "
                        "switch on the eraser, painter.eraser = True (or the Eraser button), and paint over the "
                        "strokes to remove; painter.eraser = False goes back to the brush; painter.clear() (or Clear) "
                        "removes every stroke. A mask that Clear, painter.clear() or set_mask replaced is kept: "
                        "painter.set_mask(helpers.painter.earlier[0]) brings back the newest (earlier holds at most "
                        "5).")


def test_what_undo_names_brings_a_replaced_mask_back():
    painter = MaskPainter(START)
    painter.mask_png = helpers.painter._png(BOX)  # strokes from the browser
    painter.set_mask(make_mask((64, 64), box=(0, 0, 8, 8)))  # replaced: kept in earlier
    painter.set_mask(helpers.painter.earlier[0])
    assert painter.painted == pytest.approx(32 * 32 / 64 ** 2)
    painter.eraser = True  # the eraser the message names is a setting the painter has
    assert painter.eraser is True


@pytest.mark.parametrize("name, says", [
    ("redo", "MaskPainter has no redo: it keeps one mask"),
    ("brush_size", "MaskPainter has no attribute 'brush_size'. The brush width is painter.brush, in picture pixels "
                   "(now 32): e.g. painter.brush = 64"),
    ("color", "MaskPainter has no attribute 'color'. It paints one thing, the area to repaint"),
    ("fill", "MaskPainter has no fill: painter.set_mask(Image.new('L', painter.size, 255)) paints all of the picture"),
    ("clear_all", "MaskPainter has no attribute 'clear_all'. painter.clear() removes every stroke"),
    ("erase", "MaskPainter has no attribute 'erase'. To erase, switch on the eraser, painter.eraser = True"),
    ("brsh", "MaskPainter has no attribute 'brsh'. Did you mean painter.brush? What a painter has: painter.brush, "
             "painter.eraser, painter.mask,"),
    ("invrt", "Did you mean painter.invert()?"),
    ("mask_image", "MaskPainter has no attribute 'mask_image': the painted mask is painter.mask"),  # as before
    ("getextrema", "a MaskPainter is the painting widget, not a picture"),  # PIL's names: as before
])
def test_a_drawing_apps_names_are_told_what_the_painter_has(name, says):
    err = raised(lambda: getattr(MaskPainter(START), name))
    assert isinstance(err, AttributeError) and says in str(err), str(err)


def test_private_names_keep_pythons_message():
    painter = MaskPainter(Image.new("RGB", (32, 32)))
    assert not hasattr(painter, "_repr_nothing_")
    assert str(raised(lambda: painter._nothing)) == "'MaskPainter' object has no attribute '_nothing'"
