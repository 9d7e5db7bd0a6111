"""Which cheap decoder turns a step's latents into a small picture, for the step preview (helpers.preview).

The family's tiny autoencoder (`madebyollin/taesd`, `madebyollin/taesdxl`) where it can be loaded, the pipeline's
own where it already decodes with one, or else a linear latent-to-RGB map fitted once to the pipeline's own VAE.
"""

from __future__ import annotations

import contextlib
import io

import numpy as np
from PIL import Image

from helpers.i18n import _

TINY = {"SD 1.x/2.x": "madebyollin/taesd", "SDXL": "madebyollin/taesdxl"}  # helpers.families.TINY_VAES, by family
_TINY_LOADED: dict = {}  # repo id -> AutoencoderTiny, loaded once per kernel


def preview_decoder(pipeline):
    """(decode, note): a cheap latents -> pictures function for `pipeline`, or (None, why not) (ch. 1–5)."""
    from helpers.families import VAE_SCALING, unet_family

    vae = getattr(pipeline, "vae", None)
    if vae is None or getattr(pipeline, "unet", None) is None:
        return None, _("no step preview: this pipeline has no VAE and UNet of the Stable Diffusion kind (Kandinsky "
                       "2.2's MoVQ latents have no tiny decoder); the finished picture still shows")
    if type(pipeline).__name__ == "StableDiffusionLatentUpscalePipeline":  # its UNet is preconditioned otherwise
        return None, _("no step preview: the ×2 latent upscaler's UNet predicts in its own scaled form, which this "
                       "estimate does not read; the finished picture still shows")
    if type(pipeline).__name__ == "StableDiffusionUpscalePipeline":  # keeps its guidance scale to its call
        return None, _("no step preview: the ×4 upscaler does not keep its guidance scale where a step callback "
                       "can read it, so its steps cannot be guided here; the finished picture still shows")
    if type(vae).__name__ == "AutoencoderTiny":  # the speed trick: the pipeline decodes with a tiny VAE already
        return tiny_decoder(vae), _("preview decoded by the pipeline's own tiny autoencoder")
    scaling = float(getattr(vae.config, "scaling_factor", 1.0) or 1.0)
    family = unet_family(pipeline) if VAE_SCALING.get(scaling) else None
    if family in TINY:
        tiny = _tiny(TINY[family], vae)
        if tiny is not None:
            return tiny_decoder(tiny), _("preview decoded by {repo}").format(repo=TINY[family])
    factor = 2 ** (len(vae.config.block_out_channels) - 1)  # pixels per latent cell, as diffusers computes it
    return _linear_decode(vae, scaling, factor), _("preview decoded by a linear map fitted to the pipeline's own VAE")


def _tiny(repo: str, vae):
    """The tiny autoencoder, from the cache the chapter's weights come from, or None where it cannot be loaded."""
    import torch

    if repo not in _TINY_LOADED:
        from diffusers import AutoencoderTiny

        from helpers.loading import load_args

        try:
            with contextlib.redirect_stdout(io.StringIO()):  # load_args explains its choice; not here
                _TINY_LOADED[repo] = AutoencoderTiny.from_pretrained(repo, **load_args(repo)).eval()
        except Exception:  # noqa: BLE001 - offline without it, or no Hub: the linear map serves instead
            _TINY_LOADED[repo] = None
    tiny = _TINY_LOADED[repo]
    if tiny is not None:
        device = next(vae.parameters()).device
        dtype = torch.float16 if device.type == "cuda" else torch.float32
        tiny.to(device=device, dtype=dtype)
    return tiny


def tiny_decoder(tiny):
    """latents -> pixels in [-1, 1] through a tiny autoencoder (AutoencoderTiny), without gradients (ch. 1–5)."""
    def decode(latents):
        import torch

        with torch.no_grad():
            parameter = next(tiny.parameters())
            pixels = tiny.decode(latents.to(parameter.device, parameter.dtype)).sample
        return pixels.float().clamp(-1, 1)
    return decode


def _linear_decode(vae, scaling: float, factor: int = 8):
    """Fit RGB = A @ latent + b on a chart of coloured blocks encoded by `vae`; decode with that map."""
    import torch

    rng = np.random.default_rng(0)
    chart = np.kron(rng.integers(0, 256, (16, 16, 3)), np.ones((factor, factor, 1))).astype(np.float32)
    parameter = next(vae.parameters())
    x = torch.from_numpy(chart / 127.5 - 1).permute(2, 0, 1)[None].to(parameter.device, parameter.dtype)
    with torch.no_grad():
        z = vae.encode(x).latent_dist.mean.float().cpu() * scaling  # (1, C, 16, 16)
    cells = z[0].reshape(z.shape[1], -1).T.numpy()  # one row per 8 px block
    rgb = chart[::factor, ::factor].reshape(-1, 3) / 127.5 - 1
    solution, *_ = np.linalg.lstsq(np.c_[cells, np.ones(len(cells))], rgb, rcond=None)
    weight = torch.from_numpy(solution[:-1].T.astype(np.float32))
    bias = torch.from_numpy(solution[-1].astype(np.float32))

    def decode(latents):
        pixels = torch.einsum("oc,bchw->bohw", weight, latents.float().cpu()) + bias[None, :, None, None]
        return torch.nn.functional.interpolate(pixels, scale_factor=factor, mode="bilinear").clamp(-1, 1)
    return decode


def to_picture(pixels, size: int) -> Image.Image:
    """The first picture of a (B, 3, H, W) batch in [-1, 1], shrunk to fit size x size (ch. 1–5)."""
    array = ((pixels[0].permute(1, 2, 0).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
    picture = Image.fromarray(array)
    picture.thumbnail((size, size))
    return picture
