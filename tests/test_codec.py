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


# ---------------------------------------------------------------- the tiny autoencoders (TAESD), set by hand

TINY = {"madebyollin/taesd": VAES["sd15"][0], "madebyollin/taesdxl": VAES["sdxl"][0]}


def _photo(name: str) -> torch.Tensor:
    """A held-out scikit-image photo at 256 x 256, in [-1, 1]."""
    from skimage import data

    image = Image.fromarray(getattr(data, name)()).convert("RGB").resize((256, 256), Image.LANCZOS)
    return torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1)[None] / 127.5 - 1


def _picture(y: torch.Tensor) -> Image.Image:
    return Image.fromarray(((y[0].clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy())


@pytest.mark.parametrize("repo", list(TINY))
def test_tiny_vae_decodes_the_scaled_latents_as_its_family_vae_does(repo):
    from helpers.twins.recipes import build_tiny_vae

    vae, tiny = TINY[repo](), build_tiny_vae(repo)
    with torch.no_grad():
        scaled = vae.encode(_photo("astronaut")).latent_dist.mean * vae.config.scaling_factor
        want = _picture(vae.decode(scaled / vae.config.scaling_factor).sample)
        got = _picture(tiny.decode(scaled).sample)
    # 54.3 dB measured; seeded random weights gave 5.7 (taesd) and 6.4 (taesdxl), and DecoderTiny's tanh clamp
    # left alone gives 30.7
    assert psnr(got, want, size=None) >= 45


def test_tiny_vae_undoes_its_decoder_clamp_over_the_latent_range():
    from helpers.twins.recipes import build_tiny_vae

    tiny, vae = build_tiny_vae("madebyollin/taesd"), VAES["sd15"][0]()
    z = torch.linspace(-4, 4, 17)[:, None, None, None].expand(17, 4, 8, 8).clone()
    with torch.no_grad():
        got = tiny.decode(z).sample[:, :, 24:40, 24:40]
        want = vae.decode(z / vae.config.scaling_factor).sample[:, :, 24:40, 24:40]
    # luma is a quarter of latents 0 + 3, so the curve's 0.018 shows as <= 0.009
    assert float((got - want).abs().max()) <= 0.01


def test_tiny_vae_round_trip_keeps_the_photo_as_the_vae_does():
    from helpers.twins.recipes import build_tiny_vae

    x, tiny, vae = _photo("chelsea"), build_tiny_vae("madebyollin/taesd"), VAES["sd15"][0]()
    with torch.no_grad():
        back = _picture(tiny.decode(tiny.encode(x).latents).sample)
        vae_back = _picture(vae.decode(vae.encode(x).latent_dist.mean).sample)
    photo = _picture(x)
    # both 25.5 dB measured: the same codec, cell averages over 8 x 8 pixels
    assert psnr(back, photo, size=None) >= 20
    assert abs(psnr(back, photo, size=None) - psnr(vae_back, photo, size=None)) <= 0.1


def test_tiny_vae_encodes_the_vae_latents_times_scaling_factor():
    from helpers.twins.recipes import build_tiny_vae

    x, tiny, vae = _photo("coffee"), build_tiny_vae("madebyollin/taesd"), VAES["sd15"][0]()
    with torch.no_grad():
        got = tiny.encode(x).latents
        want = vae.encode(x).latent_dist.mean * vae.config.scaling_factor
    assert got.shape == want.shape == (1, 4, 32, 32)
    assert float((got - want).abs().max()) <= 1e-3  # 1.1e-4 measured: the VAE's group norms are exact to 2e-4
    assert np.corrcoef(got.flatten(), want.flatten())[0, 1] >= 0.999
