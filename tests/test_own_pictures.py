"""A learner's own pictures and masks: transparency, editor-exported masks, numpy sizes and layouts (ch. 1, 5)."""

import numpy as np
import pytest
from PIL import Image

from helpers import checks, images
from helpers.pictures import convert_array


def see_through(mode):
    """A 16x16 red square in the middle of a 32x32 transparent picture, in `mode`."""
    rgba = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    rgba.paste((200, 0, 0, 255), (8, 8, 24, 24))
    if mode == "LA":
        return rgba.convert("LA")
    if mode == "P":
        return rgba.convert("P")  # a palette with a transparent entry, as GIFs and small PNGs have
    return rgba


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_a_transparent_logo_loads_on_white_as_the_call_check_puts_it(mode, tmp_path, capsys):
    path = tmp_path / "logo.png"
    see_through(mode).save(path)
    with Image.open(path) as opened:
        assert opened.mode == mode and (mode != "P" or "transparency" in opened.info)
        with pytest.warns(checks.CallWarning, match="has transparency"):
            checked = checks.check_image(opened.copy())
    loaded = images.load_image_file(path)
    assert loaded.getpixel((0, 0)) == (255, 255, 255)  # the background, black before
    assert np.array_equal(np.asarray(loaded), np.asarray(checked))  # one conversion for both
    assert capsys.readouterr().out == f"load_image_file: converted mode {mode} -> RGB (transparent areas made white)\n"


def test_an_la_mask_painted_in_its_alpha_is_read_from_its_alpha():
    la = Image.new("LA", (64, 64), (255, 0))  # an editor's export: every pixel white, the stroke in the alpha
    la.paste((255, 255), (8, 8, 40, 40))
    with pytest.warns(checks.CallWarning, match=r"mask_image: LA mask; using its alpha channel \(opaque = repaint\)"):
        mask = checks.check_mask(la, Image.new("RGB", (64, 64)))
    assert mask.mode == "L" and mask.getpixel((10, 10)) == 255 and mask.getpixel((60, 60)) == 0
    flat = Image.new("LA", (64, 64), (0, 255))  # alpha the same everywhere: the grey channel is the mask
    flat.paste((255, 255), (8, 8, 40, 40))
    with pytest.warns(checks.CallWarning, match="converted mode LA → L"):
        assert checks.check_mask(flat, Image.new("RGB", (64, 64))).getpixel((60, 60)) == 0


def test_a_mask_made_at_numpys_height_width_is_told_the_sides_are_swapped():
    photo = Image.new("RGB", (96, 64))  # width 96, height 64: np.asarray(photo).shape is (64, 96, 3)
    swapped = images.make_mask(np.asarray(photo).shape[:2], box=(8, 8, 40, 40))
    with pytest.raises(ValueError, match=r"mask_image is 64x96 but image is 96x64: its width and height are "
                                         r"swapped.*make_mask\(image.size, \.\.\.\), not with resize") as info:
        checks.check_mask(swapped, photo)
    assert "Fix: mask_image = mask_image.resize" not in str(info.value)
    assert checks.check_mask(images.make_mask(photo.size, box=(8, 8, 40, 40)), photo).size == photo.size
    with pytest.raises(ValueError, match=r"32x32 but image is 96x64; .*mask_image.resize\(image.size\)"):
        checks.check_mask(images.make_mask((32, 32), box=(0, 0, 8, 8)), photo)  # other sizes: as before


def test_make_mask_takes_numpy_integers_and_refuses_fractions_with_the_rounding():
    box = tuple(np.array([22, 10, 40, 30]))  # np.int64 each, as from an array or np.where
    assert np.array_equal(np.asarray(images.make_mask((64, 48), box=box, feather=np.int64(0))),
                          np.asarray(images.make_mask((64, 48), box=(22, 10, 40, 30))))
    with pytest.raises(ValueError, match=r"box=\(22.5, 10, 40, 30\) must be .* in whole pixels; round them first: "
                                         r"box=tuple\(round\(v\) for v in box\)"):
        images.make_mask((64, 48), box=(np.float64(22.5), 10, 40, 30))
    fractions = (np.float64(22.5), 10, 40, 30)
    assert images.make_mask((64, 48), box=tuple(round(v) for v in fractions)).getpixel((30, 20)) == 255


def test_a_channels_first_numpy_picture_is_refused_with_the_transpose():
    first = np.zeros((3, 16, 24), dtype=np.uint8)  # np.asarray(img).transpose(2, 0, 1)
    with pytest.raises(ValueError, match=r"image is a numpy array shaped \(3, 16, 24\), channels first; numpy "
                                         r"pictures are \(H, W, 3\): pass image=image.transpose\(1, 2, 0\)\."):
        convert_array(first, "image")
    with pytest.warns(checks.CallWarning, match="uint8 numpy array"):
        assert convert_array(first.transpose(1, 2, 0), "image").size == (24, 16)  # the fix works
    grey = np.zeros((1, 16, 24), dtype=np.float32)
    with pytest.raises(ValueError, match=r"\(1, 16, 24\), channels first; numpy pictures are \(H, W, 3\): pass "
                                         r"control_image=control_image.transpose\(1, 2, 0\).repeat\(3, axis=2\)\."):
        convert_array(grey, "control_image")
    assert convert_array(grey.transpose(1, 2, 0).repeat(3, axis=2), "control_image").shape == (16, 24, 3)
    mask = np.zeros((1, 16, 24), dtype=np.float32)
    assert convert_array(mask, "mask_image") is mask  # diffusers reads (1, H, W) masks itself
