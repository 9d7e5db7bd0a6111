"""What the twins teach: each lesson's mechanism shows in their pictures (helpers/twins/targets.py).

The default run measures every target on the built twin cache, as `python -m helpers.twins.targets` does
for the published table; only the img2img sweep (27 runs) uses 256 px pictures and 10 steps to save time.
`--retrain-twins` (tests/retrain) retrains every UNet from train.py's seeded recipes (about 45 minutes on 2 cores)
and checks the targets on the result.
"""

import pytest

from helpers.images import load_chapter_image
from helpers.twins import targets


def _failed(rows):
    return "\n".join(str(r) for r in rows if not r.ok)


@pytest.fixture(scope="module")
def astronaut():
    return load_chapter_image("img2img-init", size=(512, 512), offline=True)


def test_vae_round_trips_are_recognisable_at_512():
    rows = targets.vae_rows(targets.held_out(512))
    assert len(rows) == 12 and all(r.ok for r in rows), _failed(rows)


def test_img2img_keeps_less_of_the_start_at_higher_strength(astronaut):
    rows = targets.img2img_rows(astronaut.resize((256, 256)), steps=10)
    assert len(rows) == 9 and all(r.ok for r in rows), _failed(rows)


def test_inpainting_changes_the_masked_area_most():
    cat = load_chapter_image("inpaint", size=(512, 512), offline=True)
    mask = load_chapter_image("inpaint_mask", size=(512, 512), offline=True).convert("L")
    rows = targets.inpaint_rows(cat, mask)
    assert len(rows) == 3 and all(r.ok for r in rows), _failed(rows)


def test_latents_carry_the_picture_down_a_chain(astronaut):
    rows = targets.chain_rows(astronaut)
    assert len(rows) == 3 and all(r.ok for r in rows), _failed(rows)


def test_upscalers_return_the_picture_larger(astronaut):
    rows = targets.upscale_rows(astronaut)
    assert len(rows) == 2 and all(r.ok for r in rows), _failed(rows)


def test_the_twin_description_counts_the_training_photos():
    from helpers.twins import TWIN_BANNER, WHAT_TWINS_ARE
    from helpers.twins.train import HELD_OUT, TRAIN_PHOTOS

    assert f"{len(TRAIN_PHOTOS)} sample photos" in WHAT_TWINS_ARE
    assert f"{len(TRAIN_PHOTOS)} sample photos" in TWIN_BANNER
    assert not set(TRAIN_PHOTOS) & set(HELD_OUT), "a photo that measures the twins must not teach them"
