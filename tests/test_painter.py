"""The mask painter without a browser: the browser's PNGs are made here with PIL and handed over as it would.

What painter.js sends in `mask_png`: an opaque RGBA PNG the picture's size, the painted layer's alpha written as
grey (white = painted, grey on antialiased edges, black = keep). It arrives through ipywidgets' set_state as a
memoryview, the way a comm message delivers it.
"""

import io
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers.i18n import set_language
from helpers.images import make_mask
from helpers.painter import MaskPainter

ROOT = Path(__file__).resolve().parent.parent
SIZE = (96, 64)


def png(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def unpng(data):
    return Image.open(io.BytesIO(data))


def browser_stroke(size=SIZE):
    """What painter.js sends after one stroke: a white disc with antialiased grey rims, on black, RGBA opaque."""
    grey = np.zeros((size[1], size[0]), np.uint8)
    grey[10:30, 20:60] = 255  # painted: 20 x 40 = 800 pixels
    grey[9, 20:60] = 127  # an antialiased rim just under half: keep
    grey[30, 20:60] = 128  # and one at half: painted (40 more)
    grey[31, 20:60] = 40
    rgba = np.dstack([grey, grey, grey, np.full_like(grey, 255)])
    return png(Image.fromarray(rgba, "RGBA"))


def send_from_browser(painter, data):
    painter.set_state({"mask_png": memoryview(data)})


@pytest.fixture
def picture():
    return Image.new("RGB", SIZE, (40, 90, 160))


@pytest.fixture
def painter(picture):
    return MaskPainter(picture, brush=12)


def test_nothing_painted_is_an_all_black_mask_of_the_picture_s_size(painter):
    assert painter.mask.mode == "L" and painter.mask.size == SIZE
    assert painter.mask.getextrema() == (0, 0)
    assert painter.painted == 0.0


def test_the_picture_goes_to_the_browser_at_its_own_size(picture):
    big = Image.new("RGB", (700, 300), (1, 2, 3))  # shown scaled down by CSS, never resized here
    sent = unpng(MaskPainter(big)._picture_png)
    assert sent.size == (700, 300) and sent.getpixel((5, 5)) == (1, 2, 3)
    cmyk = unpng(MaskPainter(picture.convert("CMYK"))._picture_png)
    assert cmyk.mode == "RGB" and cmyk.size == SIZE


def test_a_stroke_from_the_browser_becomes_a_pure_black_and_white_mask(painter):
    send_from_browser(painter, browser_stroke())
    mask = painter.mask
    values = np.asarray(mask)
    assert mask.mode == "L" and mask.size == SIZE
    assert set(np.unique(values)) == {0, 255}  # the grey rims are gone
    assert values[9, 30] == 0 and values[30, 30] == 255 and values[31, 30] == 0  # thresholded at 128
    assert np.count_nonzero(values) == 840
    assert painter.painted == pytest.approx(840 / (96 * 64))


def test_a_transparent_canvas_reads_as_laid_on_black(painter):
    # the painted layer itself (alpha = paint) would read the same as the opaque white-on-black export
    rgba = np.zeros((SIZE[1], SIZE[0], 4), np.uint8)
    rgba[..., :3] = 255
    rgba[:, :48, 3] = 200  # mostly opaque white: painted
    rgba[:, 48:60, 3] = 100  # faint: keep
    send_from_browser(painter, png(Image.fromarray(rgba, "RGBA")))
    values = np.asarray(painter.mask)
    assert (values[:, :48] == 255).all() and (values[:, 48:] == 0).all()
    assert painter.painted == pytest.approx(0.5)


def test_a_mask_of_another_size_from_the_browser_is_refused(painter):
    send_from_browser(painter, png(Image.new("L", (10, 10), 255)))
    with pytest.raises(ValueError, match=r"10x10 mask but the picture is 96x64.*painter\.set_mask\(mask\)"):
        _ = painter.mask


def test_clear_empties_the_mask_here_and_in_the_browser(painter):
    send_from_browser(painter, browser_stroke())
    assert painter.painted > 0
    painter.clear()
    assert painter.painted == 0.0 and painter.mask.getextrema() == (0, 0)
    state = painter.get_state()["mask_png"]  # what the browser is sent
    assert unpng(bytes(state)).size == SIZE and unpng(bytes(state)).getextrema() == (0, 0)


def test_invert_swaps_painted_and_kept_here_and_in_the_browser(painter):
    send_from_browser(painter, browser_stroke())
    before = np.asarray(painter.mask)
    painter.invert()
    after = np.asarray(painter.mask)
    assert (after == 255 - before).all()
    assert painter.painted == pytest.approx(1 - 840 / (96 * 64))
    assert (np.asarray(unpng(bytes(painter.get_state()["mask_png"])).convert("L")) == after).all()
    painter.invert()
    assert (np.asarray(painter.mask) == before).all()


def test_invert_of_nothing_painted_repaints_everything(painter):
    painter.invert()
    assert painter.painted == 1.0


def test_set_mask_starts_from_a_ready_made_mask_and_binarizes_it(painter):
    ready = make_mask(SIZE, box=(0, 0, 48, 64), feather=6)  # a feathered edge has greys
    painter.set_mask(ready)
    values = np.asarray(painter.mask)
    assert set(np.unique(values)) == {0, 255}
    assert (values == np.where(np.asarray(ready) >= 128, 255, 0)).all()
    sent = np.asarray(unpng(bytes(painter.get_state()["mask_png"])).convert("L"))
    assert (sent == values).all()
    painter.set_mask(Image.new("RGB", SIZE, (255, 255, 255)))  # any mode, e.g. a mask loaded from a file
    assert painter.painted == 1.0


def test_set_mask_refuses_a_mask_of_another_size_and_says_how_to_fix_it(painter):
    with pytest.raises(ValueError, match=r"mask= is 512x512 but the picture is 96x64.*mask\.resize\(\(96, 64\), "
                                         r"Image\.NEAREST\)"):
        painter.set_mask(make_mask((512, 512), box=(0, 0, 10, 10)))
    with pytest.raises(TypeError, match=r"mask= must be a PIL image.*Image\.fromarray"):
        painter.set_mask(np.zeros((64, 96), np.uint8))
    assert painter.painted == 0.0


def test_on_change_is_called_with_the_new_mask_after_each_stroke_and_each_method(painter):
    seen = []
    painter.on_change(lambda mask: seen.append(np.count_nonzero(np.asarray(mask))))
    send_from_browser(painter, browser_stroke())
    painter.invert()
    painter.clear()
    assert seen == [840, 96 * 64 - 840, 0]
    with pytest.raises(TypeError, match="on_change takes a function"):
        painter.on_change("print")


@pytest.mark.parametrize("image, fix", [("start.png", r"load_image_file\(path\)"),
                                        (np.zeros((8, 8, 3), np.uint8), r"Image\.fromarray\(array\)")])
def test_an_image_that_is_not_a_pil_image_is_refused_with_the_fix(image, fix):
    with pytest.raises(TypeError, match=rf"image= must be a PIL image, got a (str|ndarray)\..*{fix}"):
        MaskPainter(image)


@pytest.mark.parametrize("brush", [0, -5])
def test_a_brush_of_no_width_is_refused(picture, brush):
    with pytest.raises(ValueError, match=rf"brush={brush} is no width.*brush=32"):
        MaskPainter(picture, brush=brush)


def test_brush_can_be_changed_but_never_to_no_width(painter):
    painter.brush = 40
    assert painter.get_state()["brush"] == 40
    with pytest.raises(ValueError, match=r"brush=0 is no width"):
        painter.brush = 0
    with pytest.raises(TypeError, match=r"brush=2\.5 must be a whole number"):
        MaskPainter(Image.new("RGB", (8, 8)), brush=2.5)


def test_the_labels_drawn_in_the_browser_follow_the_chapter_s_language(picture):
    assert MaskPainter(picture).labels["eraser"] == "Eraser"
    try:
        set_language("zh")
        labels = MaskPainter(picture).labels
    finally:
        set_language("en")
    assert [labels[k] for k in ("brush", "eraser", "clear", "invert")] == ["画笔", "橡皮擦", "清除", "反转"]
    assert labels["painted"].replace("{percent}", "12.5") == "已画遮罩：12.5 %"


def test_the_browser_side_ships_with_the_package_and_paints_with_the_pointer():
    js = (ROOT / "helpers" / "painter.js").read_text()
    assert MaskPainter(Image.new("RGB", (8, 8)))._esm == js  # what anywidget sends: the file beside the module
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "painter.js" in package_data["helpers"]
    for needed in ("tutorial-mask-canvas", "setPointerCapture", '"pointerup"', "destination-out", "export default"):
        assert needed in js, needed
    move = js.split("function move(", 1)[1].split("\n  }\n", 1)[0]
    assert "send(" not in move and "save_changes" not in move  # the kernel hears of a stroke at its end only
    synced = {name for name in MaskPainter.class_trait_names() if MaskPainter.class_traits()[name].metadata.get("sync")}
    assert {"mask_png", "brush", "eraser", "labels", "_picture_png"} <= synced


def test_another_picture_needs_another_painter():
    painter = MaskPainter(Image.new("RGB", (64, 48)))
    with pytest.raises(AttributeError, match=r"make a new painter, painter = MaskPainter\(picture\)"):
        painter.image = Image.new("RGB", (32, 32))
    assert painter.size == (64, 48) and painter.mask.size == (64, 48)  # left as it was
