"""Chapter 4's depth twins read and follow depth (tools/train_control.py): measured on scenes they never saw.

Small sizes keep it fast; `python -m tools.train_control measure` measures the same targets at the chapter's 512 px.
"""

import pytest

from helpers.images import load_chapter_image
from tools import train_control as tc

SIZE = 256


@pytest.fixture(scope="module")
def estimator():
    return tc.load_depth()


@pytest.fixture(scope="module")
def start():
    return load_chapter_image("img2img-init", size=(SIZE, SIZE), offline=True)


@pytest.fixture(scope="module")
def control():
    return load_chapter_image("control", size=(SIZE, SIZE), offline=True)


def test_depth_twin_reads_depth_from_unseen_scenes(estimator):
    got = tc.depth_scores(estimator, range(tc.HELD_OUT_SEED, tc.HELD_OUT_SEED + 3), SIZE)
    assert got["spearman"] >= tc.DEPTH_SPEARMAN, got
    assert got["grid"] <= tc.GRID_ENERGY, got
    assert got["frame"] <= tc.FRAME_DROP, got


def test_depth_twin_map_of_the_start_photo_is_smooth_and_unframed(estimator, start):
    assert tc.grid_energy(estimator, start) <= tc.GRID_ENERGY
    assert tc.frame_drop(estimator(start)["depth"]) <= tc.FRAME_DROP


def test_control_stand_in_is_a_depth_map_near_bright():
    import numpy as np

    from helpers.twins.scenes import render

    image = load_chapter_image("control", offline=True)
    grey = np.asarray(image.convert("L"), dtype=np.float64)
    assert np.array_equal(grey, np.asarray(image)[..., 0])  # grey, in all three channels
    _, truth = render(2_000_001, *grey.shape)
    assert np.corrcoef(grey.ravel(), truth.ravel())[0, 1] > 0.99
    assert grey[-8:].mean() > 200 and grey[:8].mean() < 50  # the ground at the bottom is near, the sky far


def test_controlnet_twin_follows_another_scenes_depth_map(estimator, start, control):
    from helpers.compare import correlation

    pipe = tc.load_control()
    follows = correlation(estimator(tc.controlled(pipe, start, control, steps=10))["depth"], control)
    ignored = correlation(estimator(tc.controlled(pipe, start, control, steps=10, controlnet_conditioning_scale=0.0))
                          ["depth"], control)
    assert follows >= tc.CONTROL_CORRELATION and follows - ignored >= tc.CONTROL_GAIN, (follows, ignored)
    picture = tc.controlled(pipe, start, estimator(start)["depth"].convert("RGB"), steps=10)
    assert correlation(picture, start) >= 0.5  # the start's own map keeps its picture, not noise
    assert tc.grain(picture) <= 2 * tc.grain(start)
