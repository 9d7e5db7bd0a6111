"""Sizes a pipeline reads otherwise than the call seems to give them: each said once, as a CallWarning.

Part of the call check (helpers.mixups runs it): `height=` without `width=` (or the reverse) on SD's text-to-image
pipeline, which then makes its default size, and SDXL's `original_size=` / `target_size=` given as PIL's
`picture.size`, (width, height), where diffusers reads (height, width).
"""

from __future__ import annotations

import inspect

from PIL import Image

from helpers.callwarning import warn_call

_RESETS_BOTH: dict = {}  # pipeline class -> its __call__ drops height= and width= when either is missing


def _resets_both(pipeline) -> bool:
    """Read once per class from diffusers 0.42's StableDiffusionPipeline.__call__: "if not height or not width:"."""
    cls = type(pipeline)
    if cls not in _RESETS_BOTH:
        try:
            source = inspect.getsource(cls.__call__)
        except (OSError, TypeError):
            source = ""
        _RESETS_BOTH[cls] = "if not height or not width:" in source
    return _RESETS_BOTH[cls]


def check_half_size(pipeline, args: dict) -> None:
    """height= without width= (or the reverse) on SD's text-to-image, which then makes its default size (ch. 1)."""
    height, width = args.get("height"), args.get("width")
    if (height is None) == (width is None) or not _resets_both(pipeline):
        return
    config = getattr(getattr(pipeline, "unet", None), "config", None)
    side = getattr(config, "sample_size", None)
    scale = int(getattr(pipeline, "vae_scale_factor", None) or 8)
    if not isinstance(side, int):
        return
    default = side * scale
    given, missing = ("height", "width") if width is None else ("width", "height")
    value = args[given]
    if value == default:  # the size asked for is the one it makes
        return
    both = f"height={value}, width={default}" if given == "height" else f"height={default}, width={value}"
    warn_call(f"{given}={value} without {missing}= is ignored: {type(pipeline).__name__} falls back to its default "
              f"size, {default}×{default}, for both when either is missing. Pass both: {both}.")


SIZE_NAMES = ("original_size", "target_size", "negative_original_size", "negative_target_size")


def check_size_order(pipeline, args: dict) -> None:
    """SDXL's original_size / target_size given as PIL's (width, height) of a picture that is not square (ch. 2)."""
    given = [n for n in SIZE_NAMES if isinstance(args.get(n), (tuple, list)) and len(args[n]) == 2]
    if not given:
        return
    image = args.get("image")
    image = image[0] if isinstance(image, (list, tuple)) and image else image
    if isinstance(image, Image.Image):
        (width, height), what = image.size, "image.size, which is"
    elif isinstance(args.get("height"), int) and isinstance(args.get("width"), int):
        width, height = args["width"], args["height"]
        what = f"width={width}, height={height} in PIL's order,"
    else:
        return
    if width == height:
        return
    # the refiner (requires_aesthetics_score) conditions on original_size and the aesthetic scores, not target_size
    aesthetic = bool(getattr(getattr(pipeline, "config", None), "requires_aesthetics_score", False))
    swapped = [n for n in given if tuple(args[n]) == (width, height) and not (aesthetic and "target" in n)]
    if swapped:
        names, are = " and ".join(swapped), "are" if len(swapped) > 1 else "is"
        fix = ", ".join(f"{n}=({height}, {width})" for n in swapped)
        warn_call(f"{names} {are} (height, width), as diffusers reads SDXL's size conditioning; ({width}, {height}) "
                  f"is {what} (width, height), so SDXL is told the picture is {width} high and {height} "
                  f"wide. Pass {fix}, or leave {'them' if len(swapped) > 1 else 'it'} out (diffusers then uses the "
                  "(height, width) of the picture it makes).")


def check_even_latents(pipeline, args: dict) -> None:
    """Refuse odd latent sides for the ×2 latent upscaler, whose UNet halves and doubles them (ch. 3)."""
    import torch

    if type(pipeline).__name__ != "StableDiffusionLatentUpscalePipeline":
        return
    image = args.get("image")
    if isinstance(image, (list, tuple)) and len(image) == 1:
        image = image[0]
    if isinstance(image, torch.Tensor) and image.ndim == 4 and image.shape[1] == 4:
        h, w = int(image.shape[-2]), int(image.shape[-1])
        what = f"latents of {w}×{h}, from a {8 * w}×{8 * h} picture"
    elif isinstance(image, Image.Image):
        w, h = image.width // 8, image.height // 8
        what = f"a {image.width}×{image.height} picture, {w}×{h} latents"
    else:
        return
    if w % 2 == 0 and h % 2 == 0:
        return
    near = sorted({16 * (8 * s // 16) + extra for s in (w, h) for extra in (0, 16)})
    raise ValueError(f"the ×2 latent upscaler got {what}: its UNet halves the latents and doubles them back, so "
                     "their sides must be even, and the pictures behind them a multiple of 16 px (a multiple of 8 "
                     f"is not enough here). Make the chain's picture a multiple of 16, such as "
                     f"{' or '.join(map(str, [n for n in near if n > 0][:2]))} px, and run the stage before again.")
