"""Values diffusers takes without a word but reads otherwise than meant: out-of-range settings, numpy latents, and a
step callback whose returned keys the pipeline never reads; SDXL's size conditions given as shares, aesthetic scores
a pipeline leaves out, latents beside a control picture of another size, a picture turned with rotate(90);
and (helpers.maskcheck) an inpainting mask too thin for the latent grid, or over a flat fill at strength < 1.

`check_ranges(pipeline, args)` runs inside `helpers.callcheck.check_pipeline_call`, after the other checks; it
raises where the run cannot be right, warns once where it runs but differs from what was meant, and returns the
arguments it replaced (only callback_on_step_end, wrapped so that its first unread key is said).
"""

from __future__ import annotations

import difflib
import functools
import inspect
import re

from PIL import Image

from helpers.callwarning import said_once_for, warn_call
from helpers.maskcheck import check_masks

_READ_KEYS: dict[type, tuple[str, ...]] = {}  # pipeline class -> keys its loop takes back from a callback's dict


def check_guidance_rescale(args: dict) -> None:
    """guidance_rescale is a share in [0, 1]; a bigger one is usually guidance_scale's value (ch. 1)."""
    value = args.get("guidance_rescale")
    if value is None or value <= 1:  # callcheck refuses a negative one
        return
    warn_call(f"guidance_rescale={value} is outside its range, 0–1: it mixes the guided prediction with one "
              "rescaled to the text prediction's spread (0 = off, 1 = fully rescaled), against over-exposure; the "
              "paper it comes from (Common Diffusion Noise Schedules and Sample Steps are Flawed) suggests 0.7. "
              "Past 1 it overshoots and shifts colours and contrast. If you meant how strongly to follow the "
              f"prompt, that is guidance_scale={value}; to rescale, try guidance_rescale=0.7.")


def check_aesthetic_scores(pipeline, args: dict) -> None:
    """The SDXL refiner's aesthetic_score must stay above negative_aesthetic_score, or the two swap roles (ch. 2)."""
    if "aesthetic_score" not in args and "negative_aesthetic_score" not in args:
        return
    if getattr(getattr(pipeline, "config", None), "requires_aesthetics_score", None) is False:
        _ignored_aesthetic_scores(pipeline, args)  # SDXL's base and inpainting leave them out of the conditioning
    if not getattr(getattr(pipeline, "config", None), "requires_aesthetics_score", False):
        return
    try:
        defaults = inspect.signature(type(pipeline).__call__).parameters
        good = args.get("aesthetic_score", defaults["aesthetic_score"].default)
        bad = args.get("negative_aesthetic_score", defaults["negative_aesthetic_score"].default)
    except (KeyError, TypeError, ValueError):
        return  # a pipeline without the refiner's aesthetic conditioning: callnames says the argument is unknown
    if isinstance(good, (int, float)) and isinstance(bad, (int, float)) and good < bad:
        warn_call(f"aesthetic_score={good} is below negative_aesthetic_score={bad}: the refiner conditions the "
                  "prompt's side on the first and the negative side on the second, so guidance now pushes toward "
                  "the lower score, away from the one you wanted. Keep aesthetic_score the higher (defaults 6.0 "
                  "and 2.5).")


def _ignored_aesthetic_scores(pipeline, args: dict) -> None:
    """aesthetic_score= on an SDXL pipeline whose config leaves the scores out of the conditioning."""
    try:
        defaults = inspect.signature(type(pipeline).__call__).parameters
        given = [n for n in ("aesthetic_score", "negative_aesthetic_score")
                 if args.get(n) is not None and args[n] != defaults[n].default]
    except (KeyError, TypeError, ValueError):
        return
    if given:
        said = " and ".join(f"{n}={args[n]}" for n in given)
        warn_call(f"{said} {'are' if len(given) > 1 else 'is'} ignored: {type(pipeline).__name__}'s config has "
                  "requires_aesthetics_score=False, so it leaves the aesthetic scores out of the conditioning; only "
                  "the SDXL refiner (stabilityai/stable-diffusion-xl-refiner-1.0) reads them. Leave "
                  f"{' and '.join(given)} out here.")


SIZE_CONDITIONS = ("crops_coords_top_left", "negative_crops_coords_top_left", "original_size",
                   "negative_original_size", "target_size", "negative_target_size")


def check_size_conditions(pipeline, args: dict) -> None:
    """SDXL's crops_coords_top_left, original_size and target_size count pixels; 0.5 is not half the picture (ch. 2)."""
    for name in SIZE_CONDITIONS:
        value = args.get(name)
        if not isinstance(value, (tuple, list)) or len(value) != 2 \
                or not any(isinstance(v, float) and 0 < v < 1 for v in value):
            continue
        image = args.get("image")
        side = getattr(getattr(getattr(pipeline, "unet", None), "config", None), "sample_size", 128) \
            * int(getattr(pipeline, "vae_scale_factor", None) or 8)
        h, w = (image.height, image.width) if isinstance(image, Image.Image) else \
            (args.get("height") or side, args.get("width") or side)
        pixels = f"({round(value[0] * h)}, {round(value[1] * w)})"
        if "crops" in name:
            warn_call(f"{name}={tuple(value)} counts pixels, not shares of the picture, so it is under one pixel: "
                      "almost (0, 0), the default, which asks for an uncropped look. For those shares of a "
                      f"{w}×{h} picture, give pixels (top, left): {name}={pixels}.")
        else:
            warn_call(f"{name}={tuple(value)} counts pixels (height, width), not shares of the picture, so it tells "
                      f"SDXL of a picture under one pixel. For those shares of a {w}×{h} picture, give pixels: "
                      f"{name}={pixels}.")


def check_latents_control_size(pipeline, args: dict) -> None:
    """Latents as image= beside a control picture of another size than they decode to (ch. 3–4)."""
    import torch

    image, control = args.get("image"), args.get("control_image")
    channels = getattr(getattr(getattr(pipeline, "vae", None), "config", None), "latent_channels", 4)
    if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[1] != channels or control is None:
        return
    scale = int(getattr(pipeline, "vae_scale_factor", None) or 8)
    made = (image.shape[3] * scale, image.shape[2] * scale)  # (width, height), as PIL gives sizes
    height, width = args.get("height"), args.get("width")
    for picture in control if isinstance(control, (list, tuple)) else [control]:
        if not isinstance(picture, Image.Image):
            continue
        size = (width, height) if height and width else (picture.width - picture.width % scale,
                                                         picture.height - picture.height % scale)
        if size == made:
            continue
        w, h = made
        start = f"image= holds latents {tuple(image.shape)}, which decode to {w}×{h}, "
        if height and width:
            raise ValueError(start + f"but height={height}, width={width} bring control_image to {width}×{height}, "
                             "and the latents keep their size: the ControlNet's features would not fit the UNet's. "
                             f"Pass height={h}, width={w}, or leave both out.")
        raise ValueError(start + f"and control_image is {picture.width}×{picture.height}: the ControlNet's features "
                         "would not fit the UNet's (diffusers would stop deep inside ControlNetModel with a tensor "
                         f"size mismatch). Resize the control picture to match: control_image = "
                         f"control_image.resize(({w}, {h})).")


def _all_black(picture: Image.Image, box: tuple) -> bool:
    """True where every pixel in box is exactly 0 in R, G and B (the alpha, if any, is not read)."""
    extrema = picture.crop(box).getextrema()
    return all(e == (0, 0) for e in (extrema[:3] if isinstance(extrema[0], tuple) else [extrema]))


def _black(pixel) -> bool:
    return all(v == 0 for v in (pixel[:3] if isinstance(pixel, tuple) else (pixel,)))


def check_rotated_canvas(args: dict) -> None:
    """A start picture turned with rotate(90), which keeps the canvas: black bands at two sides (ch. 1–5)."""
    image = args.get("image")
    if args.get("mask_image") is not None:  # outpainting puts a picture on a wider black canvas, on purpose
        return
    if not isinstance(image, Image.Image) or image.mode not in ("RGB", "RGBA", "L") or image.width == image.height:
        return
    w, h = image.size
    band = abs(w - h) // 2
    if band < 0.1 * max(w, h) or not _black(image.getpixel((0, 0))) or not _black(image.getpixel((w - 1, h - 1))):
        return  # a picture without black corners (nearly every photo) costs two getpixel calls
    if w > h:  # rotate(90) leaves black columns left and right, and the content (h wide) touches top and bottom
        bands, inner = [(0, 0, band, h), (w - band, 0, w, h)], [(band + 1, 0, band + 2, h), (w - band - 2, 0,
                                                                                         w - band - 1, h)]
    else:
        bands, inner = [(0, 0, w, band), (0, h - band, w, h)], [(0, band + 1, w, band + 2), (0, h - band - 2, w,
                                                                                         h - band - 1)]
    if all(_all_black(image, b) for b in bands) and not any(_all_black(image, b) for b in inner):
        sides = "left and right" if w > h else "top and bottom"
        warn_call(f"image has pure black bands {band} px wide at its {sides}, around a {min(w, h)}×{min(w, h)} "
                  f"middle: what picture.rotate(90) leaves on a {w}×{h} picture, since it keeps the canvas (the "
                  "photo's ends are cut off, and the bands are drawn into the result). To turn a picture, use "
                  "picture.transpose(Image.Transpose.ROTATE_90), or picture.rotate(90, expand=True). If the bands "
                  "are there on purpose, nothing is wrong.")


def check_lora_scale(pipeline, args: dict) -> None:
    """cross_attention_kwargs={'scale': ...} is a LoRA's strength: with no LoRA loaded it changes nothing (ch. 3)."""
    extra = args.get("cross_attention_kwargs")
    if not isinstance(extra, dict) or "scale" not in extra or extra["scale"] == 1.0:
        return
    models = [getattr(pipeline, n, None) for n in ("unet", "transformer", "text_encoder", "text_encoder_2")]
    models = [m for m in models if hasattr(m, "named_modules")]  # a LoRA may sit in the text encoder alone
    if not models:
        return
    if not any("lora" in name for model in models for name, _ in model.named_modules()):
        warn_call(f"cross_attention_kwargs={{'scale': {extra['scale']}}} sets a LoRA's strength, and no LoRA is "
                  "loaded into this pipeline, so it changes nothing. Load one first: "
                  "pipeline.load_lora_weights(path_or_repo_id).")


def check_eta(pipeline, args: dict) -> None:
    """eta, DDIM's share of fresh noise per step, must lie in [0, 1] (ch. 1)."""
    eta, scheduler = args.get("eta"), getattr(pipeline, "scheduler", None)
    if eta is None or 0 <= eta <= 1 or "DDIM" not in type(scheduler).__name__:
        return  # helpers.ignored says when the scheduler has no eta; callcheck refuses a negative one
    if "eta" not in inspect.signature(scheduler.step).parameters:
        return
    raise ValueError(f"eta={eta} is outside [0, 1]. {type(scheduler).__name__} weighs the fresh noise of each step "
                     "by eta: 0 is DDIM (deterministic: one seed gives one picture), 1 is DDPM (fully stochastic). "
                     "Above 1 a step asks for more noise than the schedule has left, the square root of a negative "
                     "number, so the latents become NaN and the picture black. Pass eta=0.0 or up to eta=1.0.")


def check_numpy_latents(pipeline, args: dict) -> None:
    """Latents saved with numpy come back as an array, which diffusers reads as pictures (ch. 3)."""
    import numpy as np

    image = args.get("image")
    channels = getattr(getattr(getattr(pipeline, "vae", None), "config", None), "latent_channels", 4)
    if not isinstance(image, np.ndarray) or image.ndim != 4 or not np.issubdtype(image.dtype, np.floating) \
            or image.shape[1] != channels or image.shape[-1] in (1, 3, 4):
        return
    b, c, h, w = image.shape
    raise TypeError(f"image is a numpy array shaped {image.shape}: latents ({c} channels of {h}x{w} cells), but "
                    "diffusers reads a numpy image as pictures shaped (batch, height, width, channels), so it would "
                    f"take {c} rows of {h} pixels. Pass the torch tensor itself (the latents a pipeline returned "
                    "with output_type='latent'), or image=torch.from_numpy(array) if they came from numpy "
                    "(np.load).")


def _read_keys(pipeline) -> tuple[str, ...]:
    """The keys the pipeline's loop pops from the dict a step callback returns, read from its own source."""
    cls = type(pipeline)
    if cls not in _READ_KEYS:
        try:
            source = inspect.getsource(cls.__call__)
        except (OSError, TypeError):
            source = ""
        _READ_KEYS[cls] = tuple(dict.fromkeys(re.findall(r"callback_outputs\.pop\(\s*[\"'](\w+)[\"']", source)))
    return _READ_KEYS[cls]


def wrap_callback(pipeline, args: dict) -> dict:
    """Say once when a step callback returns keys the pipeline never reads, e.g. "latent" (ch. 1–3)."""
    callback = args.get("callback_on_step_end")
    read = _read_keys(pipeline)
    if callback is None or not callable(callback) or hasattr(callback, "tensor_inputs") or not read \
            or getattr(callback, "_tutorial_wrapped", False):
        return {}
    given = list(args.get("callback_on_step_end_tensor_inputs") or ["latents"])
    said = []

    @functools.wraps(callback, updated=())  # a callable object's own attributes stay on it
    def checked(pipe, step, timestep, callback_kwargs):
        __tracebackhide__ = True  # IPython: an error in the learner's callback is shown in the learner's code
        given_keys = set(callback_kwargs)  # read before the callback can change the dict it was handed
        result = callback(pipe, step, timestep, callback_kwargs)
        # only new keys: one the pipeline handed over but does not take back (e.g. a mask) was not the learner's
        unread = [k for k in result if k not in read and k not in given_keys] \
            if isinstance(result, dict) and not said else []
        if unread:
            said.append(unread)
            close = {k: difflib.get_close_matches(k, read, n=1, cutoff=0.6) for k in unread}
            hints = "; ".join(f"did you mean {m[0]!r} for {k!r}?" for k, m in close.items() if m)
            with said_once_for(pipeline):
                warn_call(f"callback_on_step_end returned {', '.join(map(repr, unread))}, which "
                          f"{type(pipeline).__name__} never reads: it takes back only {', '.join(map(repr, read))} "
                          "from the dict, so this change is dropped. " + (hints[0].upper() + hints[1:] + " "
                                                                           if hints else "")
                          + f"The dict the callback is given holds callback_on_step_end_tensor_inputs ({given}); "
                          "change an entry and return that dict: callback_kwargs['latents'] = ...; "
                          "return callback_kwargs.")
        return result

    checked._tutorial_wrapped = True
    return {"callback_on_step_end": checked}


def check_painter_given(args: dict) -> None:
    """The mask painter itself where its mask goes: image=, mask_image= or control_image= (ch. 5)."""
    for name in ("mask_image", "image", "control_image"):
        if type(args.get(name)).__name__ == "MaskPainter":
            fix = "painter.mask" if name == "mask_image" else "painter.image (the picture it shows)"
            raise TypeError(f"{name}= is the MaskPainter widget, not a picture: pass {name}={fix}. painter.mask is "
                            "the painted mask as a picture, white where you painted.")


def check_ranges(pipeline, args: dict) -> dict:
    """Every check of this module; return the arguments it replaced (ch. 1–5)."""
    check_painter_given(args)
    check_guidance_rescale(args)
    check_aesthetic_scores(pipeline, args)
    check_lora_scale(pipeline, args)
    check_eta(pipeline, args)
    check_numpy_latents(pipeline, args)
    check_size_conditions(pipeline, args)
    check_latents_control_size(pipeline, args)
    check_rotated_canvas(args)
    check_masks(pipeline, args)  # helpers.maskcheck: thin strokes, a flat fill
    return wrap_callback(pipeline, args)
