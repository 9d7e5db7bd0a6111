"""Tests for helpers.grid: captioned grids on top of diffusers' make_image_grid, and the twin banner."""

import os
import warnings

import numpy as np
import pytest
from diffusers.utils import make_image_grid
from PIL import Image

from helpers import captions
from helpers import grid as grid_module
from helpers.captions import CJK_FONT_PACKAGE, MissingFontWarning, find_cjk_font
from helpers.grid import captioned_grid, true_size_row


def tiles(n=4, size=(64, 48)):
    return [Image.new("RGB", size, (40 * i, 100, 200)) for i in range(n)]


def test_no_captions_equals_make_image_grid(monkeypatch):
    monkeypatch.delenv("TUTORIAL_MODE_ACTIVE", raising=False)
    ours = captioned_grid(tiles(4), rows=2, cols=2)
    theirs = make_image_grid(tiles(4), rows=2, cols=2)
    assert np.array_equal(np.asarray(ours), np.asarray(theirs))


def test_default_layout_is_one_row(monkeypatch):
    monkeypatch.delenv("TUTORIAL_MODE_ACTIVE", raising=False)
    assert captioned_grid(tiles(3)).size == (3 * 64, 48)


def test_captions_add_a_strip_per_row(monkeypatch):
    monkeypatch.delenv("TUTORIAL_MODE_ACTIVE", raising=False)
    grid = captioned_grid(tiles(4), ["a", "b", "c", "d"], rows=2, cols=2)
    assert grid.width == 2 * 64
    strip = (grid.height - 2 * 48) / 2
    assert strip == int(strip) and strip > 0
    under_first_tile = np.asarray(grid)[48:48 + int(strip), :64]
    assert (under_first_tile < 128).any()  # the caption text is drawn in dark ink
    assert np.array_equal(np.asarray(grid)[:48, :64], np.asarray(tiles(4)[0]))


def test_images_resized_to_first(monkeypatch):
    monkeypatch.delenv("TUTORIAL_MODE_ACTIVE", raising=False)
    mixed = [Image.new("RGB", (64, 48)), Image.new("RGB", (128, 128)), Image.new("L", (10, 10))]
    grid = captioned_grid(mixed)
    assert grid.size == (3 * 64, 48)
    assert grid.mode == "RGB"


def test_title_adds_height(monkeypatch):
    monkeypatch.delenv("TUTORIAL_MODE_ACTIVE", raising=False)
    plain = captioned_grid(tiles(2), ["x", "y"])
    titled = captioned_grid(tiles(2), ["x", "y"], title="strength 0.3 vs 0.8")
    assert titled.width == plain.width
    assert titled.height > plain.height


def test_twin_banner_is_red_on_top(monkeypatch):
    monkeypatch.delenv("TUTORIAL_MODE_ACTIVE", raising=False)
    plain = captioned_grid(tiles(2))
    twin = captioned_grid(tiles(2), twin=True)
    top = np.asarray(twin)[:3].reshape(-1, 3)
    assert twin.height > plain.height
    assert (top[:, 0] > 180).all() and (top[:, 1] < 40).all()
    assert not np.array_equal(np.asarray(plain)[:3], np.asarray(twin)[:3])


def test_twin_follows_env(monkeypatch):
    monkeypatch.setenv("TUTORIAL_MODE_ACTIVE", "twins")
    assert captioned_grid(tiles(2)).height > 48
    assert captioned_grid(tiles(2), twin=False).height == 48
    monkeypatch.setenv("TUTORIAL_MODE_ACTIVE", "real")
    assert captioned_grid(tiles(2)).height == 48


def test_mismatched_captions():
    with pytest.raises(ValueError, match="captions has 2 captions but there are 3 images"):
        captioned_grid(tiles(3), ["a", "b"])


def test_single_string_caption():
    with pytest.raises(ValueError, match="a single string"):
        captioned_grid(tiles(1), "a")


@pytest.mark.parametrize(("rows", "cols"), [(2, 2), (2, None), (None, 4), (0, 3)])
def test_bad_layout(rows, cols):
    with pytest.raises(ValueError, match="rows=|cols="):
        captioned_grid(tiles(3), rows=rows, cols=cols)


def test_rows_only_infers_cols(monkeypatch):
    monkeypatch.delenv("TUTORIAL_MODE_ACTIVE", raising=False)
    assert captioned_grid(tiles(4), rows=2).size == (2 * 64, 2 * 48)


@pytest.mark.parametrize("bad", [Image.new("RGB", (4, 4)), [], [np.zeros((4, 4, 3))]])
def test_rejects_non_pil(bad):
    with pytest.raises(TypeError, match="images"):
        captioned_grid(bad)


def test_long_caption_wraps(monkeypatch):
    monkeypatch.delenv("TUTORIAL_MODE_ACTIVE", raising=False)
    short = captioned_grid(tiles(1, (128, 128)), ["short"])
    long = captioned_grid(tiles(1, (128, 128)), ["a much longer caption that cannot fit on one line of the tile"])
    assert long.width == short.width == 128
    assert long.height > short.height


# --- captions in any script: Chinese through a CJK font, boxes plus one warning without it -------------------


@pytest.fixture
def cjk_font():
    """The CJK font captions use; CI installs it (.ci/run), elsewhere its absence skips."""
    path = find_cjk_font()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"no CJK font found; .ci/run installs {CJK_FONT_PACKAGE}")
        pytest.skip(f"no CJK font here: apt-get install -y {CJK_FONT_PACKAGE}")
    return path


def caption_strip(text, **kwargs):
    """The caption strip under one 128x96 tile, as an array."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingFontWarning)
        return np.asarray(captioned_grid(tiles(1, (128, 96)), [text], twin=False, **kwargs))[96:]


def test_chinese_caption_draws_glyphs_not_boxes(cjk_font, monkeypatch):
    cat, astronaut = caption_strip("猫"), caption_strip("宇航员")
    assert (cat < 128).any() and (astronaut < 128).any()
    assert not np.array_equal(cat, caption_strip("宇"))  # two characters, two different glyphs
    assert cat.shape == astronaut.shape
    monkeypatch.setattr(captions, "find_cjk_font", lambda: None)
    tofu = caption_strip("猫")
    assert np.array_equal(tofu, caption_strip("宇"))  # without the font every character is the same box
    assert not np.array_equal(cat, tofu)


def test_chinese_title_and_mixed_captions_keep_tiles_aligned(cjk_font):
    captions = ["猫", "cat", "宇航员 astronaut", "d"]
    grid = np.asarray(captioned_grid(tiles(4), captions, rows=2, cols=2, twin=False))
    strip = (grid.shape[0] - 2 * 48) // 2
    assert strip > 0 and grid.shape[0] == 2 * (48 + strip)  # one font for all captions: equal strips
    assert np.array_equal(grid[48 + strip:96 + strip, :64], np.asarray(tiles(4)[2]))
    assert (grid[48:48 + strip, :64] < 128).any() and (grid[96 + strip:, :64] < 128).any()
    titled = np.asarray(captioned_grid(tiles(4), captions, rows=2, cols=2, title="图生图", twin=False))
    assert titled.shape[0] > grid.shape[0]
    assert (titled[: titled.shape[0] - grid.shape[0]] < 128).any()  # the title is drawn


def test_long_chinese_caption_wraps_between_characters(cjk_font):
    text = "一只戴着宇航员头盔的猫在月球上骑马，背景是地球"
    font = captions._truetype(cjk_font, 14)
    lines = captions.wrap(text, font, 100)
    assert len(lines) > 1 and "".join(lines) == text
    assert all(font.getlength(line) <= 100 for line in lines)
    assert not any(line.startswith("，") for line in lines)
    short = captioned_grid(tiles(1, (128, 128)), ["猫"])
    long = captioned_grid(tiles(1, (128, 128)), [text])
    assert long.width == short.width and long.height > short.height


def test_without_a_cjk_font_warns_once_per_call_and_still_draws(monkeypatch):
    """One MissingFontWarning per captioned_grid call, however many captions and the title need the font."""
    monkeypatch.setattr(captions, "find_cjk_font", lambda: None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        grid = captioned_grid(tiles(2), ["猫", "宇航员"], title="图生图")
        assert isinstance(grid, Image.Image) and grid.width == 2 * 64 and grid.height > 48
        captioned_grid(tiles(2), ["猫", "x"])
    found = [w for w in caught if issubclass(w.category, MissingFontWarning)]
    assert len(found) == 2, [str(w.message) for w in caught]
    message = str(found[0].message)
    assert f"apt-get install -y {CJK_FONT_PACKAGE}" in message
    assert "猫" in message and "图" in message
    assert found[0].filename == __file__  # it points at the caller's line


def test_ascii_captions_stay_silent_and_never_look_for_a_font(monkeypatch):
    def no_search():
        raise AssertionError("ASCII text must not look for a CJK font")

    monkeypatch.setattr(captions, "find_cjk_font", no_search)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        captioned_grid(tiles(2), ["seed 0 · guidance 7.5", "start — image"], title="a – b", twin=True)
    assert not caught


def test_dashes_the_bundled_font_lacks_draw_as_ascii(monkeypatch):
    monkeypatch.delenv("TUTORIAL_MODE_ACTIVE", raising=False)
    assert np.array_equal(caption_strip("a — b – c"), caption_strip("a - b - c"))


def test_finder_skips_fonts_without_chinese(monkeypatch):
    matplotlib = pytest.importorskip("matplotlib")
    dejavu = os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "DejaVuSans.ttf")
    monkeypatch.setattr(captions, "_found", [])
    monkeypatch.setattr(captions, "_candidates", lambda: ["/no/such/font.ttc", dejavu])
    assert find_cjk_font() is None
    with pytest.warns(MissingFontWarning, match=CJK_FONT_PACKAGE):
        captioned_grid(tiles(1), ["猫"])


def test_emoji_are_named_once_with_what_to_do_not_with_the_cjk_font(monkeypatch):
    monkeypatch.setattr(captions, "find_cjk_font", lambda: None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        captioned_grid(tiles(2), ["cat 🐱", "dog 🐶"], title="pets ❤️", twin=False)
    (found,) = [str(w.message) for w in caught if issubclass(w.category, MissingFontWarning)]
    assert found == ("captioned_grid: the font used for captions and titles has no glyph for '🐱🐶❤', so those "
                     "characters are drawn as boxes. Leave them out, or write them in words.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        captioned_grid(tiles(2), ["猫 🐱", "x"], twin=False)  # both kinds: still one warning, each with its fix
    (found,) = [str(w.message) for w in caught if issubclass(w.category, MissingFontWarning)]
    assert "glyphs for '猫' was found" in found and CJK_FONT_PACKAGE in found and "glyph for '🐱'" in found


def test_emoji_the_cjk_font_lacks_are_named_too(cjk_font):
    with pytest.warns(MissingFontWarning, match="no glyph for '🐱'") as caught:
        captioned_grid(tiles(1), ["猫 🐱"], twin=False)
    assert CJK_FONT_PACKAGE not in str(caught[0].message)  # the font is there: installing it changes nothing


def test_a_16_bit_depth_tile_is_stretched_not_white(monkeypatch):
    monkeypatch.delenv("TUTORIAL_MODE_ACTIVE", raising=False)
    depth = Image.fromarray(np.linspace(300, 20000, 64 * 48).astype(np.uint16).reshape(48, 64))
    assert depth.mode == "I;16" and (np.asarray(depth.convert("RGB")) == 255).mean() > 0.95  # the old tile
    from helpers.checks import CallWarning

    with pytest.warns(CallWarning, match=r"images\[1\] \(I;16, values 300–20000\) holds 16-bit .* stretched"):
        tile = np.asarray(captioned_grid([tiles(1)[0], depth]))[:, 64:]
    assert tile.min() == 0 and tile.max() == 255 and 100 < tile.mean() < 155


def test_true_size_row_keeps_each_picture_s_size_bottom_aligned(monkeypatch):
    monkeypatch.delenv("TUTORIAL_MODE_ACTIVE", raising=False)
    small, large = Image.new("RGB", (200, 100), (255, 0, 0)), Image.new("RGB", (400, 300), (0, 0, 255))
    row = np.asarray(true_size_row([small, large], ["small", "large"]))
    assert row.shape[1] == 200 + 2 * grid_module.PAD + 400  # 1:1: the row fits in max_width
    assert (row[100:300, :200] == (255, 0, 0)).all(axis=-1).sum() == 200 * 100  # drawn at the bottom, full size
    assert (row[:200, :200] == (255, 0, 0)).all(axis=-1).sum() == 0  # grey above the shorter picture
    assert (row[:300, -400:] == (0, 0, 255)).all()
    assert row.shape[0] > 300 and (row[300:, :200] < 128).any()  # a caption under the pictures


def test_true_size_row_shrinks_all_by_one_simple_ratio(monkeypatch):
    monkeypatch.delenv("TUTORIAL_MODE_ACTIVE", raising=False)
    pictures = [Image.new("RGB", (s, s), "white") for s in (512, 1024, 1536)]
    row = true_size_row(pictures, max_width=2048)  # 3072 px and gaps: 1:2
    assert row.size == ((256 + 512 + 768) + 4 * grid_module.PAD, 768)
    assert true_size_row(pictures, scale=0.25).size == (grid_module.MIN_COLUMN + 256 + 384 + 4 * grid_module.PAD,
                                                        384)
    with pytest.raises(ValueError, match="scale"):
        true_size_row(pictures, scale=0)
    with pytest.raises(ValueError, match="captions"):
        true_size_row(pictures, ["one"])
    with pytest.raises(ValueError, match=r"max_width=0 must be a whole number of pixels above 0"):
        true_size_row(pictures, max_width=0)
