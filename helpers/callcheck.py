"""Check one diffusers pipeline call as a whole: every argument, the images' modes and sizes, the prompt's length.

`check_pipeline_call(pipeline, arguments)` runs before the pipeline does (helpers.explain wraps `__call__` with it).
It raises for arguments that cannot work, naming the parameter and the fix, and warns, saying what changes, where
diffusers would silently change the learner's input: a size rounded to a multiple of 8, an image stretched to the
model's default size, a CMYK or 16-bit picture, a prompt cut at 77 tokens. It returns the arguments to call with;
the only values it replaces are images it converted to the mode the pipeline needs, and it says so.
"""

from __future__ import annotations

import difflib
import math
import numbers
import re
from collections import OrderedDict

import numpy as np
from PIL import Image, ImageOps

from helpers import checks

IMAGE_ARGS = ("image", "init_image", "control_image", "mask_image", "original_image")
# diffusers' pipelines swallow these through **kwargs and only print a deprecation note
DEPRECATED_KWARGS = ("callback", "callback_steps")
OUTPUT_TYPES = ("pil", "np", "pt", "latent")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")  # ideographs, kana, hangul
# pipelines that work at the UNet's own size unless height/width are passed, whatever the picture's size
DEFAULT_SIZE_INPAINTERS = ("StableDiffusionInpaintPipeline", "StableDiffusionXLInpaintPipeline")
# arguments a pipeline lacks, and the pipeline family that has them
BELONGS_TO = {"image": "AutoPipelineForImage2Image", "strength": "AutoPipelineForImage2Image",
              "mask_image": "AutoPipelineForInpainting", "control_image": "a ControlNet pipeline"}


def _warn(message: str) -> None:
    checks.warn_call(message)


def _name(pipeline) -> str:
    return type(pipeline).__name__


# ------------------------------------------------------------------ argument names


def check_names(pipeline, signature, given: dict) -> None:
    """Refuse argument names a pipeline's `__call__` does not take, with the closest real one (ch. 1–5)."""
    params = [p for p in signature.parameters if p != "self"]
    takes_extra = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    for key in given:
        if key in params or key in DEPRECATED_KWARGS:
            continue
        close = difflib.get_close_matches(key, params, n=1, cutoff=0.6)
        hint = f"Did you mean {close[0]}=?" if close else "Check the spelling against help(type(pipeline).__call__)."
        if key in ("height", "width") and "image" in params:
            hint = (f"{_name(pipeline)} takes its size from image=; resize the picture instead: "
                    "image = image.resize((width, height)), both multiples of 8.")
        if key in BELONGS_TO:
            hint = (f"{_name(pipeline)} takes no {key}=; {BELONGS_TO[key]} does. Make one from the loaded weights: "
                    f"{BELONGS_TO[key]}.from_pipe(pipeline)." if BELONGS_TO[key].startswith("Auto") else
                    f"{_name(pipeline)} takes no {key}=; {BELONGS_TO[key]} does (chapter 4).")
        extra = " It would be ignored without a word (the pipeline takes **kwargs)." if takes_extra else ""
        if key == "seed":
            hint = "Pipelines take a seeded generator instead: generator=torch.Generator().manual_seed(seed)."
        elif key in ("torch_dtype", "dtype", "variant", "use_safetensors"):
            hint = f"{key}= belongs to from_pretrained(...), where the weights are loaded, not to the call."
        raise TypeError(f"{_name(pipeline)}() got an unexpected argument {key}=.{extra} {hint}")


# ------------------------------------------------------------------ numbers


def _whole(name: str, value, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a whole number, got {value!r}. Pass an int (e.g. {name}=1).")
    if value < low:
        raise ValueError(f"{name}={value} must be at least {low}.")
    return int(value)


def _steps_limit(pipeline, name: str, steps: int) -> None:
    """A step count beyond the noise levels the scheduler was trained with only repeats levels."""
    scheduler = getattr(pipeline, name.replace("num_inference_steps", "scheduler"), None)
    limit = getattr(getattr(scheduler, "config", None), "num_train_timesteps", None)
    if isinstance(limit, int) and steps > limit:
        raise ValueError(
            f"{name}={steps} is more than the {limit} noise levels this model was trained on "
            f"({type(scheduler).__name__}.config.num_train_timesteps); steps past that repeat levels and "
            f"only cost time. Use at most {limit}; 20–50 is typical.")


def check_numbers(pipeline, args: dict, defaults: dict | None = None) -> None:
    """Check the numeric arguments: finite, in range, whole where they count steps or images (ch. 1–5)."""
    defaults = defaults or {}
    strength = args.get("strength", defaults.get("strength"))
    if strength is not None:
        checks.check_strength(strength)
    for name in [n for n in args if n.endswith("num_inference_steps")] + ["num_inference_steps"]:
        steps = args.get(name, defaults.get(name))
        if steps is None:
            continue
        try:
            checks.check_steps(steps, strength if name == "num_inference_steps" else None)
        except ValueError as err:
            if "strength" in args or name != "num_inference_steps" or "×" not in str(err):
                raise
            raise ValueError(f"{err} (strength={strength} is {_name(pipeline)}'s default: you did not pass one)") \
                from None
        _steps_limit(pipeline, name, steps)
    for name in ("guidance_scale", "image_guidance_scale", "eta", "guidance_rescale", "aesthetic_score",
                 "negative_aesthetic_score", "prior_guidance_scale"):
        if args.get(name) is not None:
            value = checks.check_number(name, args[name])
            if value < 0 and name != "aesthetic_score":
                raise ValueError(f"{name}={args[name]} is negative; use 0 or more (see the chapter's examples).")
    if args.get("guidance_scale") is not None:
        checks.check_guidance(args["guidance_scale"])
        if args["guidance_scale"] > 30:
            _warn(f"guidance_scale={args['guidance_scale']} is far above the usual 5–8: colours saturate and the "
                  "picture falls apart long before 30. Try 7.5, or up to 12 for a strong pull towards the prompt.")
    if args.get("prompt_embeds") is not None:
        checks.check_embeds(args["prompt_embeds"], args.get("negative_prompt_embeds"))
    scale = args.get("controlnet_conditioning_scale")
    for value in scale if isinstance(scale, (list, tuple)) else [scale] if scale is not None else []:
        if checks.check_number("controlnet_conditioning_scale", value) < 0:
            raise ValueError(f"controlnet_conditioning_scale={value} is negative. 0 switches the ControlNet off, "
                             "1 follows the control image fully; try 0.5–1.0.")
    for name in ("control_guidance_start", "control_guidance_end"):
        value = args.get(name)
        for v in value if isinstance(value, (list, tuple)) else [value] if value is not None else []:
            if not 0 <= checks.check_number(name, v) <= 1:
                raise ValueError(f"{name}={v} must lie in [0, 1]: a share of the denoising run.")
    if args.get("noise_level") is not None:
        limit = getattr(getattr(pipeline, "config", None), "max_noise_level", None) or 350
        checks.check_noise_level(args["noise_level"], limit)
    if args.get("num_images_per_prompt") is not None:
        _whole("num_images_per_prompt", args["num_images_per_prompt"])
    for name in ("height", "width"):
        value = args.get(name)
        if value is not None:
            # Kandinsky's MoVQ latents come in 8×8 blocks: sizes are multiples of 64, not 8
            factor = _scale_factor(pipeline) ** 2 if hasattr(pipeline, "movq") else _scale_factor(pipeline)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
                raise TypeError(f"{name} must be a positive whole number of pixels, got {value!r}. "
                                "Pass arguments by name (height=512) so that a number meant for another argument "
                                "does not land here.")
            if value % factor:
                lo = value - value % factor
                why = ("its latents come in blocks of 64 pixels" if hasattr(pipeline, "movq")
                       else f"the VAE shrinks pictures {factor} times")
                raise ValueError(f"{name}={value} is not a multiple of {factor}; {why}. "
                                 f"Use {lo or factor} or {lo + factor}.")
    native = _native_side(pipeline)
    if native and max(args.get("height") or 0, args.get("width") or 0) > 2 * native:
        _warn(f"height={args.get('height')}, width={args.get('width')} is more than twice the {native}×{native} "
              f"{_name(pipeline)} was trained at: it takes (side ratio)² as long and tends to repeat the subject. "
              f"Generate near {native} and upscale (chapter 3).")
    output_type = args.get("output_type")
    if output_type is not None and output_type not in OUTPUT_TYPES:
        raise ValueError(f"output_type={output_type!r} is not one of {', '.join(map(repr, OUTPUT_TYPES))}. "
                         "'pil' gives pictures; 'latent' passes latents on to another pipeline (chapter 3).")


def check_generator(pipeline, generator) -> None:
    """A generator must be a torch.Generator (or a list of them) on the CPU or the pipeline's device (ch. 1)."""
    import torch

    if generator is None:
        return
    for g in generator if isinstance(generator, (list, tuple)) else [generator]:
        if isinstance(g, numbers.Integral):
            raise TypeError(f"generator={g!r} is a number, not a torch.Generator. Seed one: "
                            f"generator=torch.Generator().manual_seed({g}) (or helpers.device.make_generator).")
        if not isinstance(g, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(g).__name__}.")
        _check_reuse(g)
        try:  # with CPU offload the weights wait on the CPU, yet the steps run on the GPU: ask where they run
            device = pipeline._execution_device
        except Exception:  # noqa: BLE001  (a pipeline without the property: fall back to where its weights are)
            device = getattr(pipeline, "device", None)
        if g.device.type != "cpu" and device is not None and g.device.type != torch.device(device).type:
            raise ValueError(f"generator lives on {g.device.type} but the pipeline runs on {device}. Make it with "
                             f"torch.Generator('{torch.device(device).type}') or on the CPU, which works everywhere.")


def check_dtype(pipeline) -> None:
    """Half precision on a CPU is slow or unsupported: say so once (ch. 1)."""
    import torch

    try:
        device, dtype = torch.device(pipeline._execution_device), pipeline.dtype
    except Exception:  # noqa: BLE001  (a pipeline without the properties)
        return
    if device.type == "cpu" and dtype in (torch.float16, torch.bfloat16):
        _warn(f"the pipeline's weights are {str(dtype).replace('torch.', '')} on the CPU, which most CPUs compute "
              "slowly or not at all. Load with dtype=pick_dtype(device) (fp16 only on CUDA).")


# id(generator) -> (generator, its state right after the call that used it). The generator itself is kept, so
# its id cannot be reused by another; torch before 2.13 cannot make weak references to generators. The newest
# 64 are enough for any notebook.
_USED: OrderedDict = OrderedDict()


def note_generator_use(generator) -> None:
    """Remember each generator's state after a call, to notice it coming back unseeded (ch. 1)."""
    for g in generator if isinstance(generator, (list, tuple)) else [generator]:
        if hasattr(g, "get_state"):
            _USED[id(g)] = (g, g.get_state())
            _USED.move_to_end(id(g))
            while len(_USED) > 64:
                _USED.popitem(last=False)


def _check_reuse(generator) -> None:
    import torch

    for g in generator if isinstance(generator, (list, tuple)) else [generator]:
        same, state = _USED.get(id(g), (None, None))
        if same is g and torch.equal(state, g.get_state()):
            _warn(f"generator was used by an earlier call and not seeded again, so this call starts from different "
                  f"noise than seed {g.initial_seed()} does. That is fine for variety; to compare settings, give each "
                  "call a fresh one: generator=make_generator(seed, device).")


# ------------------------------------------------------------------ prompts


def check_prompts(pipeline, args: dict) -> None:
    """Prompts must be text; say when a prompt is cut at 77 tokens or is not in English (ch. 1–5)."""
    for name in ("prompt", "negative_prompt", "prompt_2", "negative_prompt_2"):
        value = args.get(name)
        if value is None:
            continue
        texts = value if isinstance(value, (list, tuple)) else [value]
        for text in texts:
            if not isinstance(text, str):
                raise TypeError(f"{name} must be text (a str, or a list of str), got {type(text).__name__} "
                                f"{text!r}. Put the words in quotes: {name}=\"...\".")
            if CJK.search(text):
                _warn(f"{name} contains Chinese, Japanese or Korean characters. This checkpoint's CLIP text encoder "
                      "was trained on English captions, so it reads them as rare byte pieces and the picture "
                      "will hardly follow them. Write the prompt in English.")
            tokenizer = next((t for t in (getattr(pipeline, n, None) for n in ("tokenizer", "tokenizer_2",
                              "prior_tokenizer")) if t is not None), None)  # the SDXL refiner has only the 2nd
            if tokenizer is not None and name in ("prompt", "negative_prompt"):
                checks.check_prompt_length(tokenizer, text, name)
    guidance = args.get("guidance_scale")
    if args.get("negative_prompt") and guidance is not None and guidance <= 1:
        _warn(f"negative_prompt is ignored: guidance_scale={guidance} ≤ 1 switches classifier-free guidance off, "
              "and the negative prompt only acts through it. Raise guidance_scale (7.5 is usual) to use it.")


# ------------------------------------------------------------------ images


def _native_side(pipeline) -> int | None:
    unet = getattr(pipeline, "unet", None)
    size = getattr(getattr(unet, "config", None), "sample_size", None)
    return size * _scale_factor(pipeline) if isinstance(size, int) and "Upscale" not in _name(pipeline) else None


def _scale_factor(pipeline) -> int:
    return int(getattr(pipeline, "vae_scale_factor", None) or getattr(pipeline, "movq_scale_factor", None) or 8)


def to_rgb(image: Image.Image, name: str) -> Image.Image:
    """Convert any PIL mode to RGB the way a learner means it, warning when the content changes (ch. 2–5)."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        # a plain convert("RGB") clips every value above 255 to white; keep the picture's own range instead
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
        _warn(f"{name} is a {mode} image (values {low:g}–{high:g}, e.g. a 16-bit depth map); scaled that range "
              "to 0–255 and made it RGB. A plain .convert('RGB') would clip everything above 255 to white.")
        return Image.fromarray(np.rint(scaled).astype(np.uint8), mode="L").convert("RGB")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        if rgba.getextrema()[3][0] == 255:  # fully opaque, as most screenshots and edited PNGs are
            return rgba.convert("RGB")  # dropping an alpha of 255 everywhere loses nothing
        _warn(f"{name} has transparency ({mode}); put it on white and made it RGB. Transparent areas would "
              "otherwise take whatever colour is stored under them.")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode == "L":
        return image.convert("RGB")  # grey to RGB loses nothing
    _warn(f"{name} is a {mode} image; converted it to RGB. diffusers reads the channels as they are stored, so "
          + ("a 4-channel CMYK picture would be taken for latents (64 px in, 512 px out)."
             if mode == "CMYK" else "it would otherwise not be read as colours."))
    return image.convert("RGB")


def _to_mask(mask: Image.Image, image) -> Image.Image:
    if mask.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        mask = to_rgb(mask, "mask_image").convert("L")
    if mask.mode in ("RGB", "RGBA", "P", "CMYK"):
        rgb = np.asarray(mask.convert("RGB"), dtype=np.int16)
        coloured = (np.abs(rgb[..., 0] - rgb[..., 1]) + np.abs(rgb[..., 1] - rgb[..., 2]) > 30).mean()
        if coloured > 0.01:
            _warn(f"mask_image is coloured ({coloured:.0%} of it is not grey). Inpainting reads brightness: a "
                  "pixel at or above mid-grey is repainted, so pure red (brightness 76) or blue (29) counts as "
                  "keep. Paint the area to repaint white on black.")
    return checks.check_mask(mask, image if isinstance(image, Image.Image) else None, allow_full=True)


def _convert_array(value, name: str):
    """Pictures as arrays: diffusers reads numpy and torch pictures as floats in [0, 1], so 0-255 values blow out."""
    import torch

    if isinstance(value, np.ndarray) and value.ndim in (2, 3) and (value.ndim == 2 or value.shape[-1] in (1, 3, 4)):
        if value.dtype == bool:  # a boolean mask: True = repaint
            _warn(f"{name} is a boolean numpy array; made it a black-and-white picture (True = white).")
            return Image.fromarray(value.astype(np.uint8) * 255)
        if value.dtype == np.uint8:
            _warn(f"{name} is a uint8 numpy array; diffusers reads numpy pictures as floats in [0, 1], so 0–255 "
                  "values would blow out. Converted it with PIL.Image.fromarray.")
            return Image.fromarray(value if value.ndim == 2 or value.shape[-1] != 1 else value[..., 0])
        if np.issubdtype(value.dtype, np.floating) and np.nanmax(value) > 1.5:
            _warn(f"{name} is a float numpy array with values up to {np.nanmax(value):.0f}; diffusers expects "
                  "[0, 1]. Treated it as 0–255 and made it a PIL image.")
            return Image.fromarray(np.clip(np.rint(value), 0, 255).astype(np.uint8).squeeze())
    if isinstance(value, torch.Tensor) and value.ndim in (3, 4) and value.shape[-3] in (1, 3):
        if value.dtype == torch.uint8 or (value.is_floating_point() and float(value.max()) > 1.5):
            raise ValueError(f"{name} is a tensor of pixel values up to {float(value.max()):.0f}; diffusers reads "
                             "picture tensors as floats in [0, 1] (shape (B, 3, H, W)). Pass "
                             f"{name}={name}.float() / 255, or a PIL image.")
    return value


def _each(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def check_images(pipeline, args: dict) -> dict:
    """Check and convert image arguments; return the replacements to call with (ch. 2–5)."""
    import torch

    kind = _name(pipeline)
    for name, needed in (("image", ("Img2Img", "Inpaint", "Upscale")), ("mask_image", ("Inpaint",))):
        if name in args and args[name] is None and any(k in kind for k in needed) and args.get("latents") is None:
            raise TypeError(f"{kind} needs {name}=: the " + ("start picture" if name == "image" else
                            "mask (white = repaint)") + f" it works from. Pass {name}=... (a PIL image).")
    new = {}
    for name in IMAGE_ARGS:
        value = args.get(name)
        if value is None:
            continue
        if isinstance(value, (list, tuple)) and not value:
            raise TypeError(f"{name} is an empty list: pass a picture, e.g. {name}=output.images[0].")
        items = []
        for item in _each(value):
            if isinstance(item, (str, bytes)) or hasattr(item, "__fspath__"):
                raise TypeError(f"{name} is a path or URL ({str(item)[:60]!r}), not a picture. Open it first: "
                                f"from diffusers.utils import load_image; {name} = load_image(...).")
            item = _convert_array(item, name)
            if isinstance(item, torch.Tensor) and item.ndim == 3 and item.shape[0] in (4, 16):
                checks.check_latent_batch(item, name)
            source = getattr(item, "_tutorial_latent_space", None)  # latents from a checked call
            if source is not None and name == "image":
                from helpers.chain import check_latents_compatible

                check_latents_compatible(source, pipeline)
            if isinstance(item, Image.Image) and item.getexif().get(0x0112, 1) not in (1, None):
                # a phone photo opened with Image.open: the pixels are stored sideways, the EXIF tag turns them
                _warn(f"{name} carries an EXIF rotation (orientation {item.getexif()[0x0112]}) that Image.open does "
                      "not apply; turned it upright with PIL.ImageOps.exif_transpose, as a photo viewer shows it.")
                item = ImageOps.exif_transpose(item)
            if isinstance(item, Image.Image):
                item = _to_mask(item, args.get("image")) if name == "mask_image" else checks.check_image(item, name)
            elif hasattr(item, "images"):  # a whole pipeline output
                raise TypeError(f"{name} is a {type(item).__name__} (a pipeline's whole output). Pass its picture: "
                                f"{name}=output.images[0].")
            elif not isinstance(item, (torch.Tensor, np.ndarray)):
                raise TypeError(f"{name} must be a PIL image (or a tensor of latents between pipelines), got "
                                f"{type(item).__name__}. Load pictures with diffusers.utils.load_image.")
            items.append(item)
        converted = items if isinstance(value, (list, tuple)) else items[0]
        if any(a is not b for a, b in zip(items, _each(value), strict=True)):
            new[name] = converted
    return new


def _target_size(pipeline, args: dict, signature, image: Image.Image):
    """The (width, height) the pipeline will work at for this PIL `image`, and why."""
    factor = _scale_factor(pipeline)
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
        factor = _scale_factor(pipeline)
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
        if white > 0.97 or grey.min() == grey.max():
            _warn(f"control_image is {max(white, 1.0 if grey.min() == grey.max() else 0):.0%} one flat value: it "
                  "carries almost no shape. A 16-bit depth "
                  "map opened with load_image or .convert('RGB') is clipped to white; open it with "
                  "helpers.images.load_image_file, which keeps its range.")
    for name in ("image", "control_image"):
        value = args.get(name)
        if not isinstance(value, Image.Image):
            continue
        (w, h), reason = _target_size(pipeline, args, signature, value)
        native = _native_side(pipeline)
        if native and max(w, h) > 2 * native and not args.get("height"):
            _warn(f"{name} is {value.width}×{value.height}, more than twice the {native}×{native} "
                  f"{_name(pipeline)} was trained at: every step takes about {(max(w, h) / native) ** 2:.0f}× as "
                  f"long, and the model tends to repeat the subject. Shrink it first, e.g. "
                  f"{name}.thumbnail(({native}, {native})).")
        if (w, h) == value.size or reason is None:
            continue
        stretch = abs(w / h - value.width / value.height) > 0.02 * (w / h)
        step = _scale_factor(pipeline) ** 2 if hasattr(pipeline, "movq") else 8  # Kandinsky: whole 64-px blocks
        fix_w, fix_h = (max(step, round(value.width / step) * step), max(step, round(value.height / step) * step))
        if "height" in signature.parameters and not args.get("height"):
            fix = f"pass height={fix_h}, width={fix_w}" + (
                f" and resize it to match: {name} = {name}.resize(({fix_w}, {fix_h}))"
                if (fix_w, fix_h) != value.size else "")
        elif args.get("height"):  # the size was asked for: the picture is brought to it
            fix = f"crop or resize it to {w}×{h} yourself first, e.g. {name}.resize(({w}, {h}))"
        else:
            fix = f"resize or crop it to a multiple of {step} yourself first, e.g. {name}.resize(({fix_w}, {fix_h}))"
        becomes = "the result will be" if name == "image" else "it is resized to"
        _warn(f"{name} is {value.width}×{value.height}, but {reason}: {becomes} {w}×{h}"
              + (", stretched out of shape" if stretch else "") + f". To control it, {fix}.")


# ------------------------------------------------------------------ all together


def check_pipeline_call(pipeline, signature, arguments: dict) -> dict:
    """Check a bound pipeline call (numbers, prompts, images, sizes); return the arguments it replaced (ch. 1–5)."""
    # the caller checked the names (check_names); here the values, with **kwargs leftovers set aside
    var_kw = [p.name for p in signature.parameters.values() if p.kind is p.VAR_KEYWORD]
    args = {k: v for k, v in arguments.items() if k != "self" and k not in var_kw}
    defaults = {n: p.default for n, p in signature.parameters.items() if p.default is not p.empty}
    with checks.said_once_for(pipeline):
        check_numbers(pipeline, args, defaults)
        check_generator(pipeline, args.get("generator"))
        check_dtype(pipeline)
        check_prompts(pipeline, args)
        replaced = check_images(pipeline, args)
        args.update(replaced)
        if args.get("mask_image") is not None and isinstance(args.get("image"), Image.Image) \
                and isinstance(args["mask_image"], Image.Image) and args["mask_image"].size != args["image"].size:
            checks.check_mask(args["mask_image"], args["image"])  # raises: sizes must match
        check_sizes(pipeline, args, signature)
    return replaced
