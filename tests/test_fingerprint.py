"""Tests for helpers.fingerprint: stable image fingerprints and latent summaries."""

import re

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.fingerprint import fingerprint, latent_summary


def gradient(width=64, height=48):
    x = np.linspace(0, 255, width)
    y = np.linspace(0, 255, height)[:, None]
    rgb = np.stack([np.broadcast_to(x, (height, width)), np.broadcast_to(y, (height, width)),
                    np.full((height, width), 100.0)], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8), "RGB")


def ahash(fp):
    return re.search(r"ahash=([0-9a-f]{16})", fp).group(1)


def test_format():
    fp = fingerprint(gradient())
    assert re.fullmatch(r"64x48 RGB ahash=[0-9a-f]{16} mean=\d+,\d+,\d+", fp)
    assert fp.endswith(",100")


def test_same_image_same_fingerprint():
    assert fingerprint(gradient()) == fingerprint(gradient())


def test_different_image_different_ahash():
    flipped = gradient().transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    assert ahash(fingerprint(flipped)) != ahash(fingerprint(gradient()))


def test_tiny_noise_same_ahash():
    image = gradient()
    noisy = np.asarray(image).astype(np.int16)
    rng = np.random.default_rng(0)
    for _ in range(20):
        y, x, c = rng.integers(0, 48), rng.integers(0, 64), rng.integers(0, 3)
        noisy[y, x, c] += rng.choice([-1, 1])
    noisy_image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")
    assert not np.array_equal(np.asarray(noisy_image), np.asarray(image))
    assert ahash(fingerprint(noisy_image)) == ahash(fingerprint(image))


def test_grayscale_mode_reported():
    fp = fingerprint(gradient().convert("L"))
    assert fp.startswith("64x48 L ")
    assert re.search(r"mean=\d+$", fp)


@pytest.mark.parametrize("thing", [np.zeros((8, 8, 3)), torch.zeros(3, 8, 8), "image.png"])
def test_fingerprint_rejects_non_pil(thing):
    with pytest.raises(TypeError, match="output.images\\[0\\]"):
        fingerprint(thing)


def test_latent_summary():
    assert latent_summary(torch.zeros(1, 4, 64, 64)) == "latents (1, 4, 64, 64) float32"
    assert latent_summary(torch.zeros(2, 4, 8, 8, dtype=torch.float16)) == "latents (2, 4, 8, 8) float16"


def test_latent_summary_rejects_images():
    with pytest.raises(TypeError, match="fingerprint"):
        latent_summary(gradient())
