"""What the twins teach: each lesson's mechanism shows in their pictures (tools/twin_targets.py).

The default run measures here what no chapter measures: the VAE round trips on three held-out photos, and
img2img's strength sweep for three seeds (at 256 px and 10 steps, 27 runs). The other targets are each asserted
once per run by a chapter's `# NBVAL_CHECK_OUTPUT` verdict, at the same threshold as the targets table:
inpainting's change concentrating inside the mask (ch. 5, 3x), the latent chain keeping its layout (ch. 3,
correlation 0.5) and the upscalers returning their input larger (ch. 3, 18 dB). `python -m tools.twin_targets`
measures every target for the published table, and `--retrain-twins` (tests/retrain) retrains every UNet from the
seeded recipes (about an hour on 2 cores) and checks all targets on the result.
"""

import pytest

from helpers.images import load_chapter_image
from tools import twin_targets as targets


def _failed(rows):
    return "\n".join(str(r) for r in rows if not r.ok)


@pytest.fixture(scope="module")
def astronaut():
    return load_chapter_image("img2img-init", size=(512, 512), offline=True)


def test_vae_round_trips_are_recognisable_at_512():
    rows = targets.vae_rows(targets.held_out(512))
    assert len(rows) == 12 and all(r.ok for r in rows), _failed(rows)


def test_img2img_keeps_less_of_the_start_at_higher_strength(astronaut):
    rows = targets.img2img_rows(astronaut.resize((256, 256)), steps=6)  # 1, 3 and 4 of the 6 steps run
    assert len(rows) == 9 and all(r.ok for r in rows), _failed(rows)


def test_the_twin_description_counts_the_training_photos():
    from helpers.twins import TWIN_BANNER, WHAT_TWINS_ARE
    from tools.train_twins import HELD_OUT, TRAIN_PHOTOS

    assert f"{len(TRAIN_PHOTOS)} sample photos" in WHAT_TWINS_ARE
    assert f"{len(TRAIN_PHOTOS)} sample photos" in TWIN_BANNER
    assert not set(TRAIN_PHOTOS) & set(HELD_OUT), "a photo that measures the twins must not teach them"
