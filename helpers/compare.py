"""Numbers that compare two pictures, for the chapters' check lines (real checkpoints and twins alike)."""

from __future__ import annotations

import numbers

import numpy as np
from PIL import Image

LAYOUT_SIZE = 64  # compare layouts and colours, not fine texture: both pictures are shrunk to 64x64 first


def _not_a_picture(value) -> str:
    """What to pass instead of `value`, read from what it is."""
    kind = type(value).__name__
    if isinstance(value, dict):
        pictures = [k for k, v in value.items() if isinstance(v, Image.Image)]
        if pictures:  # e.g. transformers' depth-estimation pipeline: {"predicted_depth": tensor, "depth": picture}
            return (f"expected a PIL image, got a dict (keys {', '.join(map(repr, value))}); the picture in it is "
                    f"under {pictures[0]!r}: pass result[{pictures[0]!r}] (for the depth estimator: "
                    f"depth_estimator(image)[{pictures[0]!r}]).")
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Image.Image) for v in value):
        return f"expected one PIL image, got a {kind} of {len(value)}; pass one of them, e.g. images[0]."
    if isinstance(getattr(value, "images", None), list):
        return f"expected a PIL image, got the pipeline's whole output ({kind}); pass its first picture: .images[0]."
    return f"expected a PIL image, got {kind}; pass a picture, such as pipeline(...).images[0]."


def _pixels(image: Image.Image, size: tuple[int, int] | None = None) -> np.ndarray:
    if not isinstance(image, Image.Image):
        raise TypeError(_not_a_picture(image))
    image = image.convert("RGB")
    if size is not None and image.size != size:
        image = image.resize(size, Image.BOX)
    return np.asarray(image, dtype=np.float64)


def _check_side(size, name: str, none_ok: bool) -> None:
    """`size` is one side: every other helper's (width, height) pair is a slip that PIL would report as a bare tuple."""
    if size is None and none_ok:
        return
    if isinstance(size, (tuple, list)) and len(size) == 2:
        w, h = size
        fix = f"size={w}" if w == h else f"size={max(w, h)}"
        raise TypeError(f"{name}(..., size=) is one side in pixels (both pictures are shrunk to size x size), not a "
                        f"(width, height) pair: got size={tuple(size)}. Pass {fix}"
                        + (", or size=None to compare at the reference's own size." if none_ok else "."))
    if isinstance(size, bool) or not isinstance(size, numbers.Integral):
        raise TypeError(f"{name}(..., size=) is one side in pixels, a whole number such as size=64; got {size!r}.")
    if size <= 0:
        raise ValueError(f"{name}(..., size={size}) must be above 0: one side in pixels, e.g. size=64.")


def _check_shapes(image, reference, name: str) -> None:
    """Two pictures of very different shapes (a grid against one picture): the number would mean nothing."""
    sizes = [getattr(p, "size", None) for p in (image, reference)]
    if not all(isinstance(s, tuple) and len(s) == 2 and min(s) > 0 for s in sizes):
        return  # not pictures: _pixels says what they are
    (w1, h1), (w2, h2) = sizes
    if max(w1 / h1, w2 / h2) / min(w1 / h1, w2 / h2) > 1.25:
        raise ValueError(f"{name} compares the layout of two pictures, and these have different shapes: {w1}×{h1} "
                         f"against {w2}×{h2}, so one would be squeezed onto the other and the number would mean "
                         "nothing. Compare a picture with a picture made the same way: a captioned_grid holds several "
                         "pictures and a caption strip, so compare the pictures that went into it.")


def psnr(image: Image.Image, reference: Image.Image, *, size: int | None = LAYOUT_SIZE) -> float:
    """Peak signal-to-noise ratio in dB of `image` against `reference`, both shrunk to size x size (ch. 2-5)."""
    _check_side(size, "psnr", none_ok=True)
    _check_shapes(image, reference, "psnr")
    shape = (size, size) if size else reference.size
    err = np.mean((_pixels(image, shape) - _pixels(reference, shape)) ** 2)
    return float("inf") if err == 0 else float(10 * np.log10(255.0**2 / err))


def correlation(image: Image.Image, reference: Image.Image, *, size: int = LAYOUT_SIZE) -> float:
    """Pearson correlation of the two pictures' brightness, both shrunk to size x size: 1 = same layout (ch. 3)."""
    _check_side(size, "correlation", none_ok=False)
    _check_shapes(image, reference, "correlation")
    a = _pixels(image, (size, size)).mean(axis=2).ravel()
    b = _pixels(reference, (size, size)).mean(axis=2).ravel()
    if a.std() == 0 or b.std() == 0:
        return 0.0  # a flat picture has no layout to share
    return float(np.corrcoef(a, b)[0, 1])


def change_inside_outside(before: Image.Image, after: Image.Image, mask: Image.Image) -> tuple[float, float]:
    """Mean absolute change (0-255) inside and outside the white part of `mask`, at the mask's size (ch. 5)."""
    from helpers.images import check_not_a_photo

    for name, value in (("before", before), ("after", after), ("mask", mask)):
        if not isinstance(value, Image.Image):
            raise TypeError(f"change_inside_outside({name}=) must be a PIL image, got {type(value).__name__}.")
    if _colour(mask) and min(_colour(before), _colour(after)) == 0.0:  # a grey picture among the first two
        raise ValueError("change_inside_outside takes (before, after, mask) in that order, and the third is a colour "
                         "picture while one of the first two is grey: the mask is in the wrong place. Call "
                         "change_inside_outside(start_picture, result, mask).")
    check_not_a_photo(mask, "change_inside_outside(mask=)")
    size = mask.size
    change = np.abs(_pixels(after, size) - _pixels(before, size)).mean(axis=2)
    inside = np.asarray(mask.convert("L"), dtype=np.float64) >= 128
    if inside.all() or not inside.any():
        raise ValueError("mask must have both white (repaint) and black (keep) pixels to compare the two parts.")
    return float(change[inside].mean()), float(change[~inside].mean())


def _colour(picture: Image.Image) -> float:
    """How far a picture's pixels are from grey on average (0 for a mask or any grey picture)."""
    if picture.mode not in ("RGB", "RGBA"):
        return 0.0
    rgb = np.asarray(picture.convert("RGB").resize((64, 64)), dtype=np.int16)
    return float(np.abs(rgb - rgb.mean(axis=2, keepdims=True)).mean())


def falls_strictly(values) -> bool:
    """True when every value is smaller than the one before it (ch. 2, 3)."""
    if isinstance(values, dict):  # iterating a dict gives its keys: the verdict would be about the keys
        raise TypeError("falls_strictly got a dict, and a dict gives its keys when read in order, so it would compare "
                        f"the keys ({', '.join(map(repr, list(values)[:4]))}{', …' if len(values) > 4 else ''}), not "
                        "the values. Pass the values: falls_strictly(d.values()) (in the order they were put in), "
                        "or in the order you mean: falls_strictly(d[k] for k in sorted(d)).")
    if isinstance(values, (set, frozenset)):
        raise TypeError("falls_strictly got a set, which has no order; pass a list or tuple in the order you mean.")
    once = iter(values) is values  # a generator or iterator: read once, then empty
    values = list(values)
    if len(values) < 2:  # all() of nothing is True: the verdict would hold for any values at all
        raise ValueError(f"falls_strictly got {len(values)} value{'s' if len(values) != 1 else ''}, and it needs two "
                         "or more to say whether they fall. " + (
                             "It got a generator, which gives its values once: if it was read before (by list(...), "
                             "print or a loop), it is empty now, so make a list and use that twice, dbs = "
                             "[psnr(...) for ...]; if not, the series it reads is empty." if once and not values
                             else "Pass every value of the series, in order."))
    return all(b < a for a, b in zip(values, values[1:], strict=False))


def greenness(image: Image.Image) -> float:
    """How green a picture is on average: minus the CIELAB a* of its pixels (above 0 green, below 0 red) (ch. 2, 4)."""
    from skimage.color import rgb2lab

    if not hasattr(image, "convert"):
        raise TypeError(f"greenness takes one picture, got a {type(image).__name__}: for several, "
                        "[greenness(picture) for picture in pictures].")
    return -float(rgb2lab(np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0)[..., 1].mean())
