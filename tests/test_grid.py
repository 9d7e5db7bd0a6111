"""Tests for helpers.grid: captioned grids on top of diffusers' make_image_grid, and the twin banner."""

import numpy as np
import pytest
from diffusers.utils import make_image_grid
from PIL import Image

from helpers.grid import captioned_grid


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
