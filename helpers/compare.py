"""Numbers that compare two pictures, for the chapters' check lines (real checkpoints and twins alike)."""

from __future__ import annotations

import numpy as np
from PIL import Image

LAYOUT_SIZE = 64  # compare layouts and colours, not fine texture: both pictures are shrunk to 64x64 first


def _pixels(image: Image.Image, size: tuple[int, int] | None = None) -> np.ndarray:
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a PIL image, got {type(image).__name__}; pass pipeline(...).images[0].")
    image = image.convert("RGB")
    if size is not None and image.size != size:
        image = image.resize(size, Image.BOX)
    return np.asarray(image, dtype=np.float64)


def psnr(image: Image.Image, reference: Image.Image, *, size: int | None = LAYOUT_SIZE) -> float:
    """Peak signal-to-noise ratio in dB of `image` against `reference`, both shrunk to size x size (ch. 2-5)."""
    shape = (size, size) if size else reference.size
    err = np.mean((_pixels(image, shape) - _pixels(reference, shape)) ** 2)
    return float("inf") if err == 0 else float(10 * np.log10(255.0**2 / err))


def correlation(image: Image.Image, reference: Image.Image, *, size: int = LAYOUT_SIZE) -> float:
    """Pearson correlation of the two pictures' brightness, both shrunk to size x size: 1 = same layout (ch. 3)."""
    a = _pixels(image, (size, size)).mean(axis=2).ravel()
    b = _pixels(reference, (size, size)).mean(axis=2).ravel()
    if a.std() == 0 or b.std() == 0:
        return 0.0  # a flat picture has no layout to share
    return float(np.corrcoef(a, b)[0, 1])


def change_inside_outside(before: Image.Image, after: Image.Image, mask: Image.Image) -> tuple[float, float]:
    """Mean absolute change (0-255) inside and outside the white part of `mask`, at the mask's size (ch. 5)."""
    size = mask.size
    change = np.abs(_pixels(after, size) - _pixels(before, size)).mean(axis=2)
    inside = np.asarray(mask.convert("L"), dtype=np.float64) >= 128
    if inside.all() or not inside.any():
        raise ValueError("mask must have both white (repaint) and black (keep) pixels to compare the two parts.")
    return float(change[inside].mean()), float(change[~inside].mean())


def falls_strictly(values) -> bool:
    """True when every value is smaller than the one before it (ch. 2, 3)."""
    values = list(values)
    return all(b < a for a, b in zip(values, values[1:], strict=False))


def greenness(image: Image.Image) -> float:
    """How green a picture is on average: minus the CIELAB a* of its pixels (above 0 green, below 0 red) (ch. 2, 4)."""
    from skimage.color import rgb2lab

    return -float(rgb2lab(np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0)[..., 1].mean())
