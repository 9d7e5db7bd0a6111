"""helpers.compare: the numbers behind the chapters' check lines."""

import numpy as np
import pytest
from PIL import Image

from helpers.compare import change_inside_outside, correlation, falls_strictly, psnr


def _gradient(size=64, flip=False):
    ramp = np.tile(np.linspace(0, 255, size), (size, 1))
    if flip:
        ramp = ramp[:, ::-1]
    return Image.fromarray(np.stack([ramp] * 3, -1).astype(np.uint8))


def test_psnr_is_infinite_for_the_same_picture_and_falls_with_the_error():
    image = _gradient()
    assert psnr(image, image) == float("inf")
    slightly = Image.fromarray(np.clip(np.asarray(image, dtype=int) + 4, 0, 255).astype(np.uint8))
    much = Image.fromarray(np.clip(np.asarray(image, dtype=int) + 40, 0, 255).astype(np.uint8))
    assert psnr(slightly, image) > 30 > psnr(much, image) > 10


def test_psnr_compares_layouts_at_64_pixels_unless_told_otherwise():
    image = _gradient(256)
    checker = np.indices((256, 256)).sum(0) % 2 * 60 - 30  # fine texture a 64x64 box average removes
    textured = Image.fromarray(np.clip(np.asarray(image, dtype=int) + checker[..., None], 0, 255).astype(np.uint8))
    assert psnr(textured, image) > 30
    assert psnr(textured, image, size=None) < 20


def test_correlation_tells_the_same_layout_from_its_mirror():
    assert correlation(_gradient(), _gradient()) == pytest.approx(1.0, abs=1e-3)
    assert correlation(_gradient(flip=True), _gradient()) == pytest.approx(-1.0, abs=1e-3)
    assert correlation(Image.new("RGB", (64, 64), "grey"), _gradient()) == 0.0


def test_change_inside_outside_splits_at_the_pipelines_threshold():
    before = Image.new("RGB", (8, 8), (100, 100, 100))
    after = before.copy()
    after.paste((160, 100, 100), (0, 0, 4, 8))  # left half changed by 60 in one channel: 20 on average
    mask = Image.new("L", (8, 8), 0)
    mask.paste(200, (0, 0, 4, 8))
    assert change_inside_outside(before, after, mask) == (20.0, 0.0)
    with pytest.raises(ValueError, match="both white"):
        change_inside_outside(before, after, Image.new("L", (8, 8), 255))


def test_falls_strictly_needs_every_step_down():
    assert falls_strictly([3, 2, 1])
    assert not falls_strictly([3, 3, 1])
    assert not falls_strictly([1, 2])


def test_a_wrong_type_names_what_to_pass():
    with pytest.raises(TypeError, match=r"images\[0\]"):
        psnr(np.zeros((4, 4, 3)), _gradient())


def test_greenness_is_positive_for_green_and_negative_for_red():
    from helpers.compare import greenness

    green, red, grey = (Image.new("RGB", (8, 8), c) for c in ((40, 160, 60), (200, 40, 40), (128, 128, 128)))
    assert greenness(green) > 40 and greenness(red) < -40 and abs(greenness(grey)) < 1


def test_a_depth_result_a_list_or_a_whole_output_is_told_what_to_pass():
    from types import SimpleNamespace

    picture = Image.new("RGB", (8, 8))
    depth = {"predicted_depth": np.zeros((8, 8)), "depth": picture}  # what transformers' depth pipeline returns
    with pytest.raises(TypeError, match=r"pass result\['depth'\].*depth_estimator\(image\)\['depth'\]"):
        correlation(depth, picture)
    with pytest.raises(TypeError, match=r"a list of 2; pass one of them"):
        psnr([picture, picture], picture)
    with pytest.raises(TypeError, match=r"whole output \(SimpleNamespace\); pass its first picture: .images\[0\]"):
        correlation(picture, SimpleNamespace(images=[picture]))
