"""An inpainting mask as the pipeline reads it: strokes too thin for the latent grid, a flat area under strength < 1.

Part of the call check (helpers.callranges runs `check_masks` before the pictures are converted): diffusers binarizes
the mask at mid-grey, brings it to the run's size and shrinks it to the latent grid by keeping every 8th pixel
(torch.nn.functional.interpolate, nearest), so a thinner stroke can fall between the kept rows; and at strength < 1
the masked area starts from the picture itself, so a flat fill (an outpainting canvas) shows through.
"""

from __future__ import annotations

import inspect

import numpy as np
from PIL import Image

from helpers.callwarning import warn_call
from helpers.imagecheck import DEFAULT_SIZE_INPAINTERS, scale_factor

_STRENGTH: dict = {}  # pipeline class -> the default of its strength= (None where it has none)


def _mask_l(mask: Image.Image) -> Image.Image | None:
    """The mask as diffusers' mask processor reads it (grayscale), or None for one the picture check converts itself."""
    if mask.mode == "L":
        return mask
    return mask.convert("L") if mask.mode in ("1", "RGB", "P") else None  # RGBA, 16-bit: helpers.imagecheck's part


def _run_size(pipeline, args: dict, mask: Image.Image, factor: int) -> tuple[int, int]:
    """(width, height) the pipeline brings the mask to: height=/width=, the model's size, or the picture's."""
    height, width = args.get("height"), args.get("width")
    if type(pipeline).__name__ in DEFAULT_SIZE_INPAINTERS:  # SD and SDXL inpainting: the UNet's size unless given
        side = getattr(getattr(getattr(pipeline, "unet", None), "config", None), "sample_size", None)
        side = side * factor if isinstance(side, int) else None
        height, width = height or side or mask.height, width or side or mask.width
    height, width = height or mask.height, width or mask.width
    return width - width % factor, height - height % factor


def _pixels(picture: Image.Image) -> np.ndarray:
    """The picture's bytes as an (H, W) or (H, W, bands) array (np.asarray on a PIL picture is ten times slower)."""
    bands = len(picture.getbands())
    array = np.frombuffer(picture.tobytes(), np.uint8).reshape(picture.height, picture.width, bands)
    return array[:, :, 0] if bands == 1 else array


def latent_grid(picture: Image.Image, factor: int) -> np.ndarray:
    """The pixels interpolate(nearest) keeps for the latent grid: every factor-th from the top left (ch. 5)."""
    size = (picture.width // factor, picture.height // factor)
    offset = 0.5 - factor / 2  # PIL samples at pixel centres: (x + 0.5) * factor + offset = factor * x + 0.5
    return _pixels(picture.transform(size, Image.Transform.AFFINE, (factor, 0, offset, 0, factor, offset),
                                     Image.Resampling.NEAREST))


def _touched(white: np.ndarray, factor: int) -> int:
    """How many factor×factor cells hold a white pixel (a max over the rows, then the columns, of each cell)."""
    rows = white[0::factor]
    for k in range(1, factor):
        rows = rows | white[k::factor]
    rows = rows.reshape(rows.shape[0], -1, factor)
    cells = rows[:, :, 0]
    for k in range(1, factor):
        cells = cells | rows[:, :, k]
    return int(np.count_nonzero(cells))


def check_thin_mask(pipeline, args: dict, mask: Image.Image) -> None:
    """Strokes thinner than a latent cell, which the pipeline's latent-sized mask loses (ch. 5)."""
    if args.get("padding_mask_crop") is not None:
        return  # the crop around the mask is enlarged to the run's size first: strokes grow with it
    factor = scale_factor(pipeline)
    width, height = _run_size(pipeline, args, mask, factor)
    if width < factor or height < factor:
        return
    if mask.size != (width, height):  # diffusers resizes with Lanczos; nearest is 15 times cheaper and near enough
        mask = mask.resize((width, height), Image.Resampling.NEAREST)
    box = mask.getbbox()
    if box is None:
        return  # an empty mask: the picture check says so
    kept = int(np.count_nonzero(latent_grid(mask, factor) >= 128))  # VaeImageProcessor.binarize: value / 255 >= 0.5
    left, top, right, bottom = box
    cells = (-(-right // factor) - left // factor) * (-(-bottom // factor) - top // factor)
    if kept * 4 >= cells:
        return  # a filled shape keeps most of the cells of its bounding box: the usual masks end here
    white = _pixels(mask) >= 128
    touched = _touched(white, factor)
    if touched and kept * 4 < touched:
        share = "none" if not kept else f"only {kept}"
        warn_call(f"mask_image's white strokes are thinner than one latent cell ({factor}×{factor} pixels): "
                  f"{type(pipeline).__name__} shrinks the mask to its {width // factor}×{height // factor} latent "
                  f"grid by keeping every {factor}th pixel, and {share} of the {touched} cells the strokes touch "
                  "are marked there, so the model repaints little or nothing of them. Widen the mask first: from "
                  "PIL import ImageFilter; mask_image = mask_image.filter(ImageFilter.MaxFilter(9)).")


def _strength(pipeline, args: dict):
    strength = args.get("strength")
    if strength is None:
        cls = type(pipeline)
        if cls not in _STRENGTH:
            try:
                parameter = inspect.signature(cls.__call__).parameters.get("strength")
            except (TypeError, ValueError):
                parameter = None
            _STRENGTH[cls] = parameter.default if parameter is not None else None
        strength = _STRENGTH[cls]
    return strength if isinstance(strength, (int, float)) and not isinstance(strength, bool) else None


def check_flat_fill(pipeline, args: dict, mask: Image.Image) -> None:
    """A masked area of one flat colour (an outpainting canvas) inpainted at strength < 1 stays near it (ch. 5)."""
    image, strength = args.get("image"), _strength(pipeline, args)
    # SDXL inpainting's default strength, 0.9999, starts from noise all but in name
    if strength is None or strength >= 0.99 or not isinstance(image, Image.Image) or image.size != mask.size \
            or image.mode not in ("RGB", "RGBA", "L"):
        return
    factor = scale_factor(pipeline)
    under = latent_grid(mask, factor) >= 128  # a sample per latent cell: cheap, and enough to see a flat fill
    if np.count_nonzero(under) < 16:
        return
    pixels = latent_grid(image, factor)[under].reshape(int(np.count_nonzero(under)), -1)
    pixels = pixels[:, :3].astype(np.float32)
    if pixels.std(axis=0).max() >= 2:
        return  # the masked area has texture: a photo, or a blurred copy of the edge
    mean = tuple(int(round(v)) for v in pixels.mean(axis=0))
    what = "black" if max(mean) < 16 else "white" if min(mean) > 240 else f"the colour {mean}"
    warn_call(f"the area mask_image marks is flat {what} in image=, and strength={strength} is below 1: "
              f"{type(pipeline).__name__} starts that area from the picture with noise added only {strength:.0%} of "
              "the way through the schedule, so part of the flat fill stays in the starting latents and the new "
              "content comes out close to it" + (" (on a black canvas, dark)" if what == "black" else "") + ". For "
              "outpainting or filling a blank area, use strength=1.0, which starts the masked area from pure noise.")


def check_masks(pipeline, args: dict) -> None:
    """Every check of this module, for pipelines that read mask_image= with diffusers' mask processor (ch. 5)."""
    mask = args.get("mask_image")
    if not isinstance(mask, Image.Image) or getattr(pipeline, "mask_processor", None) is None:
        return
    image = args.get("image")
    if isinstance(image, Image.Image) and image.size != mask.size:
        return  # refused by the picture check, which names both sizes
    mask = _mask_l(mask)
    if mask is None:
        return
    check_thin_mask(pipeline, args, mask)
    if "Inpaint" in type(pipeline).__name__:
        check_flat_fill(pipeline, args, mask)
