"""Short, stable text summaries of images and latents, so notebook regression checks compare text, not pixels."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageStat


def fingerprint(image) -> str:
    """Return "WxH MODE ahash=<16 hex> mean=r,g,b" for a PIL image; tiny noise leaves it unchanged (ch. 1)."""
    if not isinstance(image, Image.Image):
        raise TypeError(
            f"fingerprint needs a PIL image, got {type(image).__name__}; pass output.images[0], a PIL image; "
            "for latents use latent_summary."
        )
    thumb = image.convert("L").resize((8, 8), Image.BOX)
    values = np.asarray(thumb, dtype=np.float64).ravel()
    bits = 0
    for bit in values > values.mean():
        bits = (bits << 1) | int(bit)
    means = ",".join(str(round(m)) for m in ImageStat.Stat(image).mean)
    return f"{image.width}x{image.height} {image.mode} ahash={bits:016x} mean={means}"


def latent_summary(latents) -> str:
    """Return "latents (1, 4, 64, 64) float32": the shape and dtype of a latent tensor, no values (ch. 3)."""
    import torch

    if not isinstance(latents, torch.Tensor):
        raise TypeError(
            f"latents must be a torch.Tensor (e.g. from output_type='latent'), got {type(latents).__name__}; "
            "for images use fingerprint."
        )
    dtype = str(latents.dtype).replace("torch.", "")
    return f"latents {tuple(latents.shape)} {dtype}"
