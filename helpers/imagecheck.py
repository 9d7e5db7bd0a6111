"""Check a pipeline call's pictures: their kinds, modes and sizes, and the masks and control images beside them.

Part of the call check (helpers.callcheck runs it): pictures are converted to what the pipeline needs, with a word
where the content changes, and sizes that diffusers would round, stretch or refuse are said before the call runs.
"""

from __future__ import annotations

import math
import os
import re

import numpy as np
from PIL import Image, ImageOps

from helpers import checks
from helpers.callwarning import warn_call as _warn
from helpers.libgaps import swaps_sides
from helpers.pictures import convert_array, each, to_rgb

IMAGE_ARGS = ("image", "init_image", "control_image", "mask_image", "original_image")
# pipelines that work at the UNet's own size unless height/width are passed, whatever the picture's size
DEFAULT_SIZE_INPAINTERS = ("StableDiffusionInpaintPipeline", "StableDiffusionXLInpaintPipeline")


def _name(pipeline) -> str:
    return type(pipeline).__name__


def native_side(pipeline) -> int | None:
    """The side in pixels the pipeline's UNet was trained at, or None for upscalers and unknown ones (ch. 1–5)."""
    unet = getattr(pipeline, "unet", None)
    size = getattr(getattr(unet, "config", None), "sample_size", None)
    return size * scale_factor(pipeline) if isinstance(size, int) and "Upscale" not in _name(pipeline) else None


def scale_factor(pipeline) -> int:
    """Pixels per latent, per side, of the pipeline's autoencoder (8 for SD, SDXL and Kandinsky) (ch. 1–5)."""
    return int(getattr(pipeline, "vae_scale_factor", None) or getattr(pipeline, "movq_scale_factor", None) or 8)


def _to_mask(mask: Image.Image, image) -> Image.Image:
    if mask.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        mask = to_rgb(mask, "mask_image").convert("L")
    alpha = mask.getextrema()[-1] if mask.mode in ("RGBA", "LA") else (255, 255)
    if mask.mode in ("RGB", "RGBA", "P", "CMYK") and alpha[0] == alpha[1]:  # a varying alpha is read, not the colour
        rgb = np.asarray(mask.convert("RGB"), dtype=np.int16)
        coloured = (np.abs(rgb[..., 0] - rgb[..., 1]) + np.abs(rgb[..., 1] - rgb[..., 2]) > 30).mean()
        if coloured > 0.01:
            _warn(f"mask_image is coloured ({coloured:.0%} of it is not grey). Inpainting reads brightness: a "
                  "pixel at or above mid-grey is repainted, so pure red (brightness 76) or blue (29) counts as "
                  "keep. Paint the area to repaint white on black.")
    return checks.check_mask(mask, image if isinstance(image, Image.Image) else None, allow_full=True)


# pictures a pipeline works from, by a word in its class name (the panel asks for them when it is made, too)
NEEDS = (("image", ("Img2Img", "Inpaint", "Upscale", "ControlNet")), ("mask_image", ("Inpaint",)),
         ("control_image", ("ControlNet",)))


def _two_tone(picture: Image.Image) -> bool:
    """True for a black-and-white picture: grey everywhere, with (almost) only the darkest and lightest values."""
    small = np.asarray(picture.convert("RGB").resize((64, 64)), dtype=np.int16)
    if np.abs(small - small[..., :1]).max() > 2:
        return False
    grey = small[..., 0]
    return bool(np.mean((grey < 16) | (grey > 239)) > 0.95 and grey.min() < 16 < 239 < grey.max())


def _check_swapped_mask(kind: str, image, mask) -> None:
    """A black-and-white start picture with a colour photo as its mask: image= and mask_image= swapped (ch. 5)."""
    if "Inpaint" not in kind or not isinstance(image, Image.Image) or not isinstance(mask, Image.Image):
        return
    colour = np.asarray(mask.convert("RGB").resize((64, 64)), dtype=np.int16)
    if _two_tone(image) and np.abs(colour - colour[..., :1]).max() > 40:
        raise ValueError(f"image= is black and white, as a mask is, and mask_image= is a colour picture: they look "
                         f"swapped. {kind} repaints image= where mask_image= is white: pass image=init_image, "
                         "mask_image=mask_image.")


def check_images(pipeline, args: dict) -> dict:
    """Check and convert image arguments; return the replacements to call with (ch. 2–5)."""
    import torch

    kind = _name(pipeline)
    for name, needed in NEEDS[:2]:  # control_image: helpers.callcontrol.check_control says it first, with the fix
        missing = args.get(name) is None  # img2img, inpainting and the upscalers never run without their picture
        if missing and name in args and any(k in kind for k in needed if k != "ControlNet") \
                and args.get("latents") is None:  # passed, but the variable holds None
            raise TypeError(f"{name}= was passed, but it is None: the variable holds no picture. One common way to "
                            "get None: PIL's thumbnail() and paste() change a picture in place and return None, so "
                            "`picture = picture.thumbnail((512, 512))` leaves None; write "
                            "picture.thumbnail((512, 512)) on a line of its own. Check the cell that made it.")
        if missing and any(k in kind for k in needed if k != "ControlNet") and args.get("latents") is None:
            raise TypeError(f"{kind} needs {name}=: the " + ("start picture" if name == "image" else
                            "mask (white = repaint)") + f" it works from. Pass {name}=... (a PIL image).")
    _check_swapped_mask(kind, args.get("image"), args.get("mask_image"))
    new = {}
    for name in IMAGE_ARGS:
        value = args.get(name)
        if value is None:
            continue
        if isinstance(value, tuple) and len(value) > 1:  # diffusers' preprocess takes a list, and no tuple
            raise TypeError(f"{name} is a tuple of {len(value)}; diffusers takes several pictures as a list: "
                            f"{name}=list(that_tuple), or {name}=[a, b].")
        if isinstance(value, (list, tuple)) and not value:
            raise TypeError(f"{name} is an empty list: pass a picture, e.g. {name}=output.images[0].")
        if isinstance(value, (list, tuple)) and len(value) > 1 and all(
                isinstance(t, torch.Tensor) and t.ndim == 3 and t.shape[0] in (4, 16) for t in value):
            raise ValueError(f"{name} is a list of {len(value)} 3-D latent tensors; a pipeline takes latents as one "
                             f"4-D batch (B, C, H, W): pass {name}=torch.stack(that_list).")
        items = []
        for item in each(value):
            if isinstance(item, (bytes, bytearray)):  # e.g. open(path, "rb").read(): a file's bytes, not its name
                raise TypeError(f"{name} holds {len(item):,} bytes of a file's contents, not a picture. Open them "
                                f"as one: import io; from PIL import Image; "
                                f"{name} = Image.open(io.BytesIO(data)).convert('RGB')"
                                + (" (the mask painter's mask is painter.mask, a picture already)."
                                   if name == "mask_image" else "."))
            text = str(item) if isinstance(item, str) else ""
            if text and " " in text.strip() and not re.search(r"[/\\]|\.\w{2,5}\s*$", text) \
                    and not os.path.exists(os.path.expanduser(text)):
                raise TypeError(f"{name} holds the text {text[:60]!r}, which reads like a prompt, not a picture or a "
                                "path: after prompt, a pipeline's next argument by position is not negative_prompt. "
                                f"Pass the text by name, pipeline(prompt, negative_prompt=..., {name}=picture).")
            if isinstance(item, str) or hasattr(item, "__fspath__"):
                raise TypeError(f"{name} is a path or URL ({str(item)[:60]!r}), not a picture. Open it first: "
                                f"from helpers.images import load_image_file; {name} = load_image_file({str(item)!r}).")
            item = convert_array(item, name)
            if isinstance(item, Image.Image) and item.__dict__.get("fp", 1) is None and item.__dict__.get("tile") \
                    and item.__dict__.get("_im", 1) is None:  # opened lazily, then its file closed unread
                raise ValueError(f"{name} was opened with `with Image.open(...) as picture:` and its file closed "
                                 "before the pixels were read. Read them inside the block: picture = "
                                 "Image.open(path); picture.load() (or .copy()), or use helpers.images."
                                 "load_image_file(path).")
            if isinstance(item, torch.Tensor) and item.ndim == 3 and item.shape[0] in (4, 16):
                checks.check_latent_batch(item, name)
            if name == "control_image" and isinstance(item, torch.Tensor) and item.ndim == 4 \
                    and item.shape[1] in (4, 16) and "control" in kind.lower():  # latents, e.g. output_type='latent'
                raise ValueError(f"control_image is a tensor of latents {tuple(item.shape)}; the ControlNet reads a "
                                 "picture with 3 channels, the map it follows (chapter 4: the depth map). Pass "
                                 "control_image=depth_image, a PIL picture.")
            if name == "control_image" and isinstance(item, torch.Tensor) and item.ndim in (3, 4) \
                    and item.shape[-3] == 1:  # a one-channel depth map: the ControlNet's first layer takes RGB
                raise ValueError(f"control_image is a one-channel tensor {tuple(item.shape)}, and a ControlNet "
                                 "takes 3 channels, as a picture has. Repeat the channel: control_image = "
                                 "t.repeat(1, 3, 1, 1) (for a 4-D t), or pass the map as a picture: "
                                 "depth.convert('RGB').")
            from helpers.chain import check_latents_compatible, latents_mark

            source = latents_mark(item) if isinstance(item, torch.Tensor) else None  # latents from a checked call
            in_channels = getattr(getattr(getattr(pipeline, "unet", None), "config", None), "in_channels", None)
            # SDXL's inpainting class takes latents on a 4-channel UNet (the refiner's hand-over); others mask pixels
            pixels_only = "Inpaint" in _name(pipeline) and ("XL" not in _name(pipeline) or in_channels == 9)
            if name == "image" and isinstance(item, torch.Tensor) and item.ndim == 4 and item.shape[1] in (4, 16) \
                    and pixels_only:
                raise ValueError(f"image is a tensor of latents {tuple(item.shape)}, but {_name(pipeline)} masks the "
                                 "picture in pixels, so it needs a picture. Ask the pipeline before for one: "
                                 "output_type='pil' (the default), then image=output.images[0].")
            if source is not None and name == "image":
                check_latents_compatible(source, pipeline)
            elif name == "image" and isinstance(item, torch.Tensor) and item.ndim == 4 and item.shape[1] in (4, 16):
                # a copy (.clone(), torch.cat, .to(dtype), arithmetic) is a new tensor: the mark stays behind
                _warn(f"image is a tensor of latents {tuple(item.shape)} with no note of the pipeline that made it "
                      "(.clone(), torch.cat, a dtype change or arithmetic make a new tensor without one), so "
                      f"whether it fits {_name(pipeline)}'s VAE cannot be checked here. Check it yourself: "
                      "helpers.chain.check_latents_compatible(the pipeline that made them, this pipeline) says "
                      "whether both share one latent space; the latents must also stay as that pipeline handed "
                      "them (already multiplied by vae.config.scaling_factor: scale them only to decode by hand).")
            if isinstance(item, Image.Image) and item.getexif().get(0x0112, 1) not in (1, None):
                # a phone photo opened with Image.open: the pixels are stored sideways, the EXIF tag turns them
                _warn(f"{name} carries an EXIF rotation (orientation {item.getexif()[0x0112]}) that Image.open does "
                      "not apply; turned it upright with PIL.ImageOps.exif_transpose, as a photo viewer shows it.")
                item = ImageOps.exif_transpose(item)
                item.info["turned upright"] = True  # a mask made at the stored size is then said to be the cause
            if isinstance(item, Image.Image):
                image = new.get("image", args.get("image"))  # the picture as it will be used (EXIF turn applied)
                item = _to_mask(item, image) if name == "mask_image" else checks.check_image(item, name)
            elif isinstance(getattr(item, "image", None), Image.Image):  # a panel Result: a picture and its settings
                raise TypeError(f"{name} is a panel {type(item).__name__}, a picture with the settings that made it; "
                                f"its picture is .image: {name}=panel.results[0].image.")
            elif hasattr(item, "images"):  # a whole pipeline output
                raise TypeError(f"{name} is a {type(item).__name__} (a pipeline's whole output). Pass its picture: "
                                f"{name}=output.images[0].")
            elif isinstance(item, dict):  # a transformers pipeline's result, e.g. the depth estimator's
                keys = ", ".join(map(repr, list(item)[:6]))
                raise TypeError(f"{name} is a dict (keys {keys}), not a picture: pick the picture out of it"
                                + (", e.g. result['depth'].convert('RGB')." if "depth" in item else "."))
            elif not isinstance(item, (torch.Tensor, np.ndarray)):
                raise TypeError(f"{name} must be a PIL image (or a tensor of latents between pipelines), got "
                                f"{type(item).__name__}. Load pictures with diffusers.utils.load_image.")
            items.append(item)
        sizes = {i.size for i in items if isinstance(i, Image.Image)}
        if len(sizes) > 1:  # diffusers resizes each to the first one's size, stretching the others
            _warn(f"{name} is a list of pictures of {len(sizes)} different sizes "
                  f"({', '.join(f'{w}x{h}' for w, h in sorted(sizes))}); each is resized to one working size, so "
                  "the others are stretched. Resize or crop them to one size first.")
        for i in each(value):
            frames = getattr(i, "n_frames", 1) if isinstance(i, Image.Image) else 1
            if frames > 1:
                _warn(f"{name} is an animated picture of {frames} frames; only the frame it shows now (frame "
                      f"{i.tell() + 1}) is used. Pick one with picture.seek(n) before passing it.")
        converted = items if isinstance(value, (list, tuple)) else items[0]
        if any(a is not b for a, b in zip(items, each(value), strict=True)):
            new[name] = converted
    return new


def _target_size(pipeline, args: dict, signature, image: Image.Image):
    """The (width, height) the pipeline will work at for this PIL `image`, and why."""
    factor = scale_factor(pipeline)
    name = _name(pipeline)
    height, width = args.get("height"), args.get("width")
    if "height" in signature.parameters and (height is None or width is None):
        default = signature.parameters["height"].default
        if isinstance(default, int):  # Kandinsky 2.2: 512×512 whatever the picture
            height, width = height or default, width or signature.parameters["width"].default
            reason = f"{name} works at {width}×{height} unless you pass height= and width="
        elif name in DEFAULT_SIZE_INPAINTERS:  # SD and SDXL inpainting: the UNet's own size, not the picture's
            side = pipeline.unet.config.sample_size * factor
            height, width = height or side, width or side
            reason = f"{name} works at {width}×{height} (the model's default) unless you pass height= and width="
        else:
            height, width = height or image.height, width or image.width
            reason = None
    elif height is None:
        height, width = image.height, image.width
        reason = None
    else:
        reason = f"height={height} and width={width} were passed"
    if hasattr(pipeline, "movq"):  # Kandinsky rounds the latent size up to whole 8×8 blocks of latents
        block = factor * factor
        rounded = (math.ceil(width / block) * block, math.ceil(height / block) * block)
    else:
        rounded = (width - width % factor, height - height % factor)
    if reason is None and rounded != (width, height):
        reason = f"{name} rounds sizes to a multiple of {factor * factor if hasattr(pipeline, 'movq') else factor}"
    return rounded, reason


def check_sizes(pipeline, args: dict, signature) -> None:
    """Warn when a picture will be resized, and refuse pictures that cannot be combined (ch. 2–5)."""
    if "Upscale" in _name(pipeline):  # the upscalers take any size and return 2× or 4× of it
        times = 2 if "Latent" in _name(pipeline) else 4
        image = args.get("image")
        factor = scale_factor(pipeline)
        if isinstance(image, Image.Image) and (image.width % factor or image.height % factor):
            w, h = image.width - image.width % factor, image.height - image.height % factor
            _warn(f"image is {image.width}×{image.height}; {_name(pipeline)} rounds it down to {w}×{h} (multiples "
                  f"of {factor}), so the result is {w * times}×{h * times}. Crop it to {w}×{h} first to choose "
                  "what is cut.")
        if isinstance(image, Image.Image) and max(image.size) > 512:
            _warn(f"image is {image.width}×{image.height}: {_name(pipeline)} will make it "
                  f"{image.width * times}×{image.height * times}, {times * times}× the pixels, which takes long "
                  "and much memory (chapter 3's table). Upscale a smaller picture, or crop first.")
        return
    image, control = args.get("image"), args.get("control_image")
    if isinstance(image, Image.Image) and isinstance(control, Image.Image) and args.get("height") is None \
            and control.size != image.size and "control_image" in signature.parameters:
        raise ValueError(
            f"control_image is {control.width}×{control.height} but image is {image.width}×{image.height}. "
            f"Without height= and width=, {_name(pipeline)} prepares each at its own size, and the ControlNet's "
            "features then do not fit the UNet's. Resize one to the other: "
            "control_image = control_image.resize(image.size).")
    if isinstance(control, Image.Image):
        grey = np.asarray(control.convert("L"))
        white = float((grey == 255).mean())  # an edge map is mostly black on purpose; a clipped depth map is white
        net = str(getattr(getattr(getattr(pipeline, "controlnet", None), "config", None), "_name_or_path", ""))
        if grey.max() <= 16:  # e.g. a raw predicted_depth (a few units) cast straight to uint8
            _warn(f"control_image is almost black (values {grey.min()}–{grey.max()} of 255), so the ControlNet sees "
                  "next to no shape. A map of small numbers cast straight to uint8 looks so: scale it first, "
                  "array / array.max() * 255, before .astype('uint8')" + (
                      ", or use the depth estimator's picture, result['depth'].convert('RGB')."
                      if "depth" in net.lower() else "."))
        elif white > 0.97 or grey.min() == grey.max():
            flat = f"{max(white, 1.0 if grey.min() == grey.max() else 0):.0%} one flat value"
            _warn(f"control_image is {flat}: it carries almost no shape. " + (
                "A 16-bit depth map opened with load_image or .convert('RGB') is clipped to white; open it with "
                "helpers.images.load_image_file, which keeps its range." if white > 0.97 else
                f"Every pixel is {grey.min()}: check how the map was made (chapter 4: "
                "depth_estimator(picture)['depth'])."))
    for name in ("image", "control_image"):
        value = args.get(name)
        if not isinstance(value, Image.Image):
            continue
        if min(value.size) < 8:  # under one latent cell: diffusers would make a picture of no pixels
            raise ValueError(f"{name} is {value.width}×{value.height} pixels, smaller than one 8×8 block of the "
                             "autoencoder, so nothing of it would reach the model. Enlarge it first, e.g. "
                             f"{name} = {name}.resize((512, 512)) (the model draws best near its own size).")
        (w, h), reason = _target_size(pipeline, args, signature, value)
        native = native_side(pipeline)
        if native and max(w, h) > 2 * native and not args.get("height"):
            _warn(f"{name} is {value.width}×{value.height}, more than twice the {native}×{native} "
                  f"{_name(pipeline)} was trained at: every step takes about {(max(w, h) / native) ** 2:.0f}× as "
                  f"long, and the model tends to repeat the subject. Shrink it first, e.g. "
                  f"{name}.thumbnail(({native}, {native})) on a line of its own (it changes the picture in place and "
                  "returns None).")
        if (w, h) == value.size or reason is None:
            continue
        if name == "image" and args.get("padding_mask_crop") is not None:
            continue  # only the crop around the mask is run at that size, and pasted back into the picture as it is
        stretch = abs(w / h - value.width / value.height) > 0.02 * (w / h)
        step = scale_factor(pipeline) ** 2 if hasattr(pipeline, "movq") else 8  # Kandinsky: whole 64-px blocks
        fix_w, fix_h = (max(step, round(value.width / step) * step), max(step, round(value.height / step) * step))
        if "height" in signature.parameters and not args.get("height"):
            fix = f"pass height={fix_h}, width={fix_w}" + (
                f" and resize it to match: {name} = {name}.resize(({fix_w}, {fix_h}))"
                if (fix_w, fix_h) != value.size else "")
        elif args.get("height") and not args.get("width") and "width" in signature.parameters:
            # one side asked for, the other the model's default: the learner meant the picture's own, most likely
            fix = f"pass width= too, e.g. height={args['height']}, width={fix_w} (the picture's own width)"
        elif args.get("height"):  # the size was asked for: the picture is brought to it
            fix = f"crop or resize it to {w}×{h} yourself first, e.g. {name}.resize(({w}, {h}))"
        else:
            fix = f"resize or crop it to a multiple of {step} yourself first, e.g. {name}.resize(({fix_w}, {fix_h}))"
        becomes = "the result will be" if name == "image" else "it is resized to"
        if name == "image" and swaps_sides(pipeline):  # diffusers 0.42: see helpers.libgaps, which says so too
            w, h = h, w
        _warn(f"{name} is {value.width}×{value.height}, but {reason}: {becomes} {w}×{h}"
              + (", stretched out of shape" if stretch else "") + f". To control it, {fix}.")


# ------------------------------------------------------------------ all together
