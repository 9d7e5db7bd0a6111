"""The twins' hand-set VAE codec: a faithful, linear colour-average round trip at the real latent shapes."""

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.compare import psnr
from helpers.images import load_chapter_image
from helpers.twins import parts
from helpers.twins.codec import round_trip

VAES = {
    "sd15": (lambda: parts.vae("sd15-vae"), 8),
    "sdxl": (lambda: parts.vae("sdxl-vae", scaling_factor=0.13025, force_upcast=True), 8),
    "x4": (lambda: parts.vae("x4-vae", blocks=3, scaling_factor=0.08333), 4),
    "movq": (parts.movq, 8),
}


@pytest.mark.parametrize("name", list(VAES))
def test_round_trip_keeps_the_real_latent_shape_and_the_picture(name):
    # the 512 px PSNR targets on held-out photos are in test_teaching_twins.py; this is the quick version
    make, factor = VAES[name]
    photo = load_chapter_image("img2img-init", size=(128, 128), offline=True)
    z, back = round_trip(make(), photo)
    assert tuple(z.shape) == (1, 4, 128 // factor, 128 // factor)
    assert psnr(back, photo, size=32) >= 18  # a 16 x 16 latent holds less of a 128 px photo than 64 x 64 of 512


@pytest.mark.parametrize("name", list(VAES))
def test_flat_colours_come_back_exactly(name):
    # the group norms must not remove brightness: a flat picture keeps its colour, whatever the colour
    for colour in [(0, 0, 0), (250, 30, 120), (128, 128, 128)]:
        _, back = round_trip(VAES[name][0](), Image.new("RGB", (64, 64), colour))
        centre = np.asarray(back, dtype=int)[16:48, 16:48]
        assert np.abs(centre - colour).max() <= 1, (name, colour)


def test_scaled_latents_spread_about_one_like_the_real_ones():
    photo = load_chapter_image("img2img-init", size=(512, 512), offline=True)
    for make, _ in VAES.values():
        vae = make()
        z, _ = round_trip(vae, photo)
        scale = getattr(vae.config, "scaling_factor", 1.0) if not hasattr(vae, "quantize") else 1.0
        assert 0.3 < float((z * scale).std()) < 3.0


def test_samples_equal_the_mean():
    # img2img draws a sample from the latent distribution: it must not add noise of its own
    vae = parts.vae("sd15-vae")
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    dist = vae.encode(x).latent_dist
    assert torch.allclose(dist.sample(torch.Generator().manual_seed(0)), dist.mean, atol=1e-5)
