"""Pictures as diffusers needs them: any PIL mode to RGB, arrays of 0-255 values to PIL, said when it changes."""

from __future__ import annotations

import numpy as np
from PIL import Image

from helpers.callwarning import warn_call as _warn

HIGH_BIT = ("I;16", "I;16B", "I;16L", "I", "F")  # 16-bit, 32-bit and float pictures, e.g. depth maps


def stretch_to_8bit(image: Image.Image) -> tuple[Image.Image, float, float]:
    """A 16-bit, 32-bit or float picture as 8-bit grey, its own value range stretched to 0–255 (ch. 1–5)."""
    values = np.nan_to_num(np.asarray(image, dtype=np.float64))
    low, high = float(values.min()), float(values.max())
    if high > low:  # a plain convert("RGB") clips every value above 255 to white; keep the picture's own range
        values = (values - low) * (255.0 / (high - low))
    elif image.mode.startswith("I;16"):  # one flat value: keep its brightness
        values = values / 257.0
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8)), low, high


def _see_through(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)


def flatten(image: Image.Image) -> tuple[Image.Image, str]:
    """Any PIL mode as RGB, and what that changed in a few words ("" where nothing is lost) (ch. 1–5)."""
    if image.mode == "RGB":
        return image, ""
    if image.mode in HIGH_BIT:
        grey, low, high = stretch_to_8bit(image)
        return grey.convert("RGB"), f"values {low:g}–{high:g} stretched to 0–255"
    if _see_through(image):
        rgba = image.convert("RGBA")
        if rgba.getextrema()[3][0] == 255:  # fully opaque, as most screenshots and edited PNGs are
            return rgba.convert("RGB"), ""  # dropping an alpha of 255 everywhere loses nothing
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB"), "transparent areas made white"
    return image.convert("RGB"), ""


def to_rgb(image: Image.Image, name: str) -> Image.Image:
    """Convert any PIL mode to RGB the way a learner means it, warning when the content changes (ch. 2–5)."""
    mode = image.mode
    if mode in HIGH_BIT:
        grey, low, high = stretch_to_8bit(image)
        _warn(f"{name} is a {mode} image (values {low:g}–{high:g}, e.g. a 16-bit depth map); scaled that range "
              "to 0–255 and made it RGB. A plain .convert('RGB') would clip everything above 255 to white.")
        return grey.convert("RGB")
    rgb, change = flatten(image)  # the same conversion as helpers.images.load_image_file's
    if change:
        _warn(f"{name} has transparency ({mode}); put it on white and made it RGB. Transparent areas would "
              "otherwise take whatever colour is stored under them.")
    elif mode not in ("RGB", "L") and not _see_through(image):
        _warn(f"{name} is a {mode} image; converted it to RGB. diffusers reads the channels as they are stored, so "
              + ("a 4-channel CMYK picture would be taken for latents (64 px in, 512 px out)."
                 if mode == "CMYK" else "it would otherwise not be read as colours."))
    return rgb


def convert_array(value, name: str):
    """A numpy or torch picture as diffusers reads it: 0-255 values made a PIL image or refused (ch. 2–5)."""
    import torch

    if isinstance(value, np.ndarray) and value.ndim == 3 and value.shape[0] in (1, 3, 4) \
            and value.shape[-1] not in (1, 3, 4) and name != "mask_image":  # diffusers reads (1, H, W) masks
        grey = value.shape[0] == 1  # one channel: made three, as the VAE and the ControlNet read three
        raise ValueError(f"{name} is a numpy array shaped {value.shape}, channels first; numpy pictures are (H, W, "
                         f"{4 if value.shape[0] == 4 else 3}): pass {name}={name}.transpose(1, 2, 0)"
                         + (".repeat(3, axis=2)." if grey else "."))
    if isinstance(value, np.ndarray) and value.ndim == 4 and value.shape[-1] in (1, 3, 4) and value.size \
            and (value.dtype == np.uint8 or (np.issubdtype(value.dtype, np.floating) and np.nanmax(value) > 1.5)):
        raise ValueError(f"{name} is a numpy batch of pictures {value.shape} with values up to {np.nanmax(value):.0f}; "
                         "diffusers reads numpy pictures as floats in [0, 1], so these would come out white. Pass "
                         f"{name}={name}.astype('float32') / 255, or a list of PIL pictures: "
                         f"[Image.fromarray(a) for a in {name}].")
    if isinstance(value, np.ndarray) and value.ndim in (2, 3) and (value.ndim == 2 or value.shape[-1] in (1, 3, 4)):
        if value.dtype == bool:  # a boolean mask: True = repaint
            _warn(f"{name} is a boolean numpy array; made it a black-and-white picture (True = white).")
            return Image.fromarray(value.astype(np.uint8) * 255)
        if value.dtype == np.uint8:
            _warn(f"{name} is a uint8 numpy array; diffusers reads numpy pictures as floats in [0, 1], so 0–255 "
                  "values would blow out. Converted it with PIL.Image.fromarray.")
            return Image.fromarray(value if value.ndim == 2 or value.shape[-1] != 1 else value[..., 0])
        if np.issubdtype(value.dtype, np.integer) and value.size:  # e.g. int32 from Image.convert("I"), 16-bit PNGs
            top = int(value.max())
            if value.min() < 0 or top > 65535:
                raise ValueError(f"{name} is a numpy array of {value.dtype} with values {value.min()}–{top}, which "
                                 "is no picture's range. Pictures are 0–255 (uint8): scale it there first.")
            sixteen = top > 255
            _warn(f"{name} is a numpy array of {value.dtype}; diffusers reads numpy pictures as floats in [0, 1]. "
                  + ("Its values go past 255, so it was read as 16-bit and scaled to 0–255"
                     if sixteen else "Made it 0–255 (uint8)") + " and a PIL image.")
            small = np.rint(value / 257.0) if sixteen else value
            small = small.astype(np.uint8)
            return Image.fromarray(small if small.ndim == 2 or small.shape[-1] != 1 else small[..., 0])
        if np.issubdtype(value.dtype, np.floating) and value.ndim == 3 and value.shape[-1] == 4:
            _warn(f"{name} is a float numpy array with 4 channels (RGBA, as plt.imread returns PNGs); diffusers "
                  "would take 4 channels for latents. Made it an RGB picture, dropping the alpha channel.")
            scale = 1 if np.nanmax(value) > 1.5 else 255
            return Image.fromarray(np.clip(np.rint(value[..., :3] * scale), 0, 255).astype(np.uint8))
        if np.issubdtype(value.dtype, np.floating) and np.nanmax(value) > 1.5:
            _warn(f"{name} is a float numpy array with values up to {np.nanmax(value):.0f}; diffusers expects "
                  "[0, 1]. Treated it as 0–255 and made it a PIL image.")
            return Image.fromarray(np.clip(np.rint(value), 0, 255).astype(np.uint8).squeeze())
    if isinstance(value, torch.Tensor) and value.dtype == torch.bool and (value.ndim == 2 or (
            value.ndim == 3 and value.shape[0] == 1)):
        _warn(f"{name} is a boolean tensor; made it a black-and-white picture (True = white).")
        return Image.fromarray(value.squeeze().cpu().numpy().astype(np.uint8) * 255)
    if isinstance(value, torch.Tensor) and value.ndim in (3, 4) and value.shape[-1] in (1, 3, 4) \
            and value.shape[-3] not in (1, 3, 4, 16):  # (H, W, C): the layout of numpy and PIL, not of torch
        order = "permute(2, 0, 1)[None]" if value.ndim == 3 else "permute(0, 3, 1, 2)"
        raise ValueError(f"{name} is a tensor of shape {tuple(value.shape)}: channels last, as numpy and PIL keep "
                         f"pictures. diffusers reads tensors channels first, (B, C, H, W). Pass {name}={name}."
                         f"{order}, or a PIL image.")
    if isinstance(value, torch.Tensor) and value.ndim in (3, 4) and value.shape[-3] in (1, 3):
        if value.dtype == torch.uint8 or (value.is_floating_point() and float(value.max()) > 1.5):
            raise ValueError(f"{name} is a tensor of pixel values up to {float(value.max()):.0f}; diffusers reads "
                             "picture tensors as floats in [0, 1] (shape (B, 3, H, W)). Pass "
                             f"{name}={name}.float() / 255, or a PIL image.")
    return value


def each(value):
    """One argument's pictures as a list: a list as it is, anything else as a list of one (ch. 2–5)."""
    return list(value) if isinstance(value, (list, tuple)) else [value]
