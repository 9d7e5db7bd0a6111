"""Check a pipeline call's arguments before torch sees them, and say which one is wrong and how to fix it."""

from __future__ import annotations

import math
import numbers

from PIL import Image

from helpers.callwarning import (  # noqa: F401  (re-exported: helpers.checks.CallWarning is the public name)
    CallWarning,
    PromptTruncatedWarning,
    collect_warnings,
    said_once_for,
    warn_call,
)
from helpers.painter_kept import why_all_black
from helpers.pictures import to_rgb


def check_number(name: str, value) -> float:
    """A real, finite number: NaN and inf pass every range check, then break torch or the schedule (ch. 1–5)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        quoted = isinstance(value, str) and value.strip().replace(".", "", 1).isdigit()
        raise TypeError(f"{name} must be a number, got {value!r}."
                        + (f" Leave out the quotes: {name}={value.strip()}." if quoted else ""))
    if not math.isfinite(float(value)):
        raise ValueError(f"{name}={value!r} is not a finite number. Pass an ordinary number; the chapter's cells "
                         f"show typical values of {name}.")
    return float(value)


def check_strength(strength) -> float:
    """strength must lie in [0, 1]: the share of the steps that re-noise the input image (ch. 2)."""
    value = check_number("strength", strength)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"strength={strength} is outside [0, 1]. It is the fraction of the denoising run applied "
                         "to your image: 0 keeps it, 1 replaces it. Pass a value such as 0.75.")
    return value


def check_steps(num_inference_steps, strength=None) -> int:
    """Steps must be a positive int, and steps × strength must leave at least one step (ch. 2)."""
    if isinstance(num_inference_steps, bool) or not isinstance(num_inference_steps, numbers.Integral):
        hint = ""
        if isinstance(num_inference_steps, numbers.Real) and math.isfinite(num_inference_steps):
            hint = (f" Use a whole number such as {max(1, round(num_inference_steps))}, or int(...) around a "
                    "computed value.")
        raise TypeError(f"num_inference_steps must be a whole number of denoising steps, got "
                        f"{num_inference_steps!r}.{hint or ' 20–50 is typical.'}")
    if num_inference_steps < 1:
        raise ValueError(f"num_inference_steps={num_inference_steps} must be at least 1; 20–50 is typical.")
    if strength is not None:
        s = check_strength(strength)
        if int(num_inference_steps * s) < 1:
            need = math.ceil(1 / s) if s > 0 else None
            fix = f"raise num_inference_steps to at least {need} or raise strength" if need else "raise strength"
            raise ValueError(
                f"num_inference_steps={num_inference_steps} × strength={strength} = {num_inference_steps * s:.2f} "
                f"leaves no denoising step to run (img2img runs int(steps × strength) steps). Fix: {fix}."
            )
    return int(num_inference_steps)


def check_guidance(guidance_scale) -> float:
    """guidance_scale must be ≥ 0; values ≤ 1 switch classifier-free guidance off (ch. 1)."""
    value = check_number("guidance_scale", guidance_scale)
    if value < 0:
        raise ValueError(f"guidance_scale={guidance_scale} is negative. Use 0–1 for no guidance, 5–8 as usual, "
                         "10+ for strong prompt adherence.")
    return value


def check_size(width, height, multiple: int = 8) -> tuple[int, int]:
    """width and height must be multiples of 8 (the VAE halves the size three times) (ch. 4)."""
    for name, v in (("width", width), ("height", height)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v <= 0:
            raise TypeError(f"{name} must be a positive whole number of pixels, got {v!r}.")
        if v % multiple:
            lo, hi = v - v % multiple, v - v % multiple + multiple
            use = f"Use {lo} or {hi}" if lo else f"Use {hi} at least (64 or more gives the model room to draw)"
            raise ValueError(f"{name}={v} is not a multiple of {multiple}; the VAE works on {multiple}-pixel blocks. "
                             f"{use}, e.g. {name}={lo or hi}.")
    return int(width), int(height)


def check_noise_level(noise_level, max_noise_level: int = 350) -> int:
    """The x4 upscaler's noise_level must lie in [0, max_noise_level] (ch. 3)."""
    value = check_number("noise_level", noise_level)
    if value != int(value):  # diffusers casts it to a whole number: 0.2 would become 0
        raise ValueError(f"noise_level={noise_level} counts noise steps added to the input (0 to {max_noise_level}, "
                         "default 20); it is not a fraction, and diffusers would cut it to a whole number. Use e.g. "
                         "noise_level=20.")
    if not 0 <= value <= max_noise_level:
        raise ValueError(f"noise_level={noise_level} is outside [0, {max_noise_level}] (this pipeline's "
                         f"max_noise_level). Use the default 20, or up to {max_noise_level} for a blurrier input.")
    return int(value)


def check_image(image, name: str = "image") -> Image.Image:
    """Return `image` as RGB: CMYK, palette, alpha, 16-bit and float converted right, with a warning (ch. 2–5)."""
    if not isinstance(image, Image.Image):
        raise TypeError(f"{name} must be a PIL image (load it with helpers.images.load_image_file), "
                        f"got {type(image).__name__}.")
    return to_rgb(image, name)  # one conversion for direct calls and for checked pipeline calls


def check_mask(mask_image, image=None, *, allow_full: bool = False) -> Image.Image:
    """Return a grayscale mask (white = repaint), refusing size mismatches and empty or all-white masks (ch. 5)."""
    if not isinstance(mask_image, Image.Image):
        raise TypeError(f"mask_image must be a PIL image, got {type(mask_image).__name__}; "
                        "make one with helpers.images.make_mask.")
    if image is not None and isinstance(image, Image.Image) and mask_image.size != image.size:
        (w, h), (iw, ih) = mask_image.size, image.size
        if (w, h) == (ih, iw) and image.info.get("turned upright"):  # a phone photo's EXIF turn, applied just now
            raise ValueError(f"mask_image is {w}x{h} but image is {iw}x{ih}: the photo carries an EXIF rotation and "
                             "was turned upright for this call, while the mask was made at its stored, sideways "
                             "size. Turn the photo upright first and make the mask on that: photo = "
                             "ImageOps.exif_transpose(photo), then make_mask(photo.size, ...) or MaskPainter(photo), "
                             "and pass image=photo.")
        if (w, h) == (ih, iw):  # numpy's (height, width) where PIL takes (width, height): resizing would stretch it
            raise ValueError(f"mask_image is {w}x{h} but image is {iw}x{ih}: its width and height are swapped, as "
                             "when a numpy shape (height, width) is passed where PIL takes a size (width, height). "
                             "Fix: make it at the picture's own size, make_mask(image.size, ...), not with resize, "
                             "which would stretch the masked area out of place.")
        raise ValueError(f"mask_image is {w}x{h} but image is {iw}x{ih}; they must match pixel for pixel. "
                         f"Fix: mask_image = mask_image.resize(image.size).")
    erased = False  # a picture with a hole erased, told apart below
    if mask_image.mode != "L":
        alpha = mask_image.getextrema()[-1] if mask_image.mode in ("RGBA", "LA") else (255, 255)
        if alpha[0] < alpha[1]:  # an editor's export: the painted area is in the alpha channel
            mode, picture, mask_image = mask_image.mode, mask_image, mask_image.getchannel("A")
            opaque = sum(mask_image.histogram()[128:]) / max(1, mask_image.width * mask_image.height)
            erased = opaque > 0.5 and _photo_under(picture, mask_image)
            if erased:  # a picture with a hole erased: OpenAI's image edits change the transparent part
                warn_call(f"mask_image: {mode} mask read by its alpha channel, where opaque = repaint: "
                          f"{opaque:.0%} of it is opaque and would be repainted, keeping only its transparent part. "
                          "A picture with the area to change erased to transparent is OpenAI's image-edit "
                          "convention, the other way round. To change the transparent part: mask_image = "
                          "PIL.ImageOps.invert(mask_image.getchannel('A')).")
            else:
                warn_call(f"mask_image: {mode} mask; using its alpha channel (opaque = repaint)")
        else:
            warn_call(f"mask_image: converted mode {mask_image.mode} → L (white = repaint, black = keep)")
            mask_image = mask_image.convert("L")
    hist = mask_image.histogram()
    total = max(1, sum(hist))
    white = sum(hist[128:]) / total
    if white == 0:
        brightest = max(i for i, n in enumerate(hist) if n)
        if brightest == 1:  # a 0/1 mask, as numpy or a segmentation model gives it: inverting it repaints everything
            raise ValueError("mask_image holds only 0 and 1, and masks run from 0 (keep) to 255 (repaint): 1 reads as "
                             "black, so nothing would be repainted. Fix: mask_image = mask_image.point(lambda v: v * "
                             "255).")
        if brightest > 1:  # a soft grey brush
            raise ValueError(f"mask_image is grey at most ({brightest} of 255): the inpainting pipelines cut masks "
                             "at 0.5, repainting only pixels of 128 or more, so nothing would be repainted. Paint the "
                             "area white; or harden it at half its brightest, which keeps the shape: mask_image = "
                             f"mask_image.convert('L').point(lambda v: 255 if v >= {max(1, brightest // 2)} else 0). "
                             "A mask from make_mask with a smaller feather= stays white in the middle.")
        painter = why_all_black(mask_image)  # a painter's mask read before painting: painting more cannot help
        if painter:
            raise ValueError(f"mask_image is all black: nothing would be repainted. {painter} Read it after "
                             "painting, in the call itself: mask_image=painter.mask.")
        raise ValueError("mask_image is all black: nothing would be repainted. Paint the area to change in white "
                         "(255), e.g. with helpers.images.make_mask(image.size, box=(left, top, right, bottom)).")
    grey = sum(hist[1:128]) / total
    if grey > 0.05:  # soft edges are fine; a grey brush stroke is kept, not repainted
        warn_call(f"mask_image: {grey:.0%} of it is grey below 128, and the inpainting pipelines keep those pixels "
                  "(they cut masks at 0.5): only the white part is repainted. Paint with white for the area to change.")
    if white == 1 and not allow_full:
        raise ValueError("mask_image is all white: the whole image would be repainted, which is plain img2img. "
                         "Mark only the area to change in white, or pass allow_full=True if you mean it.")
    if white > 0.8 and not erased:  # a mask drawn around the subject to keep, with its colours the wrong way round
        warn_call(f"mask_image: {white:.0%} of the image is white (to be repainted); if you meant the opposite, "
              "invert it: mask_image = PIL.ImageOps.invert(mask_image.convert('L'))")
    return mask_image


def _photo_under(picture: Image.Image, alpha: Image.Image) -> bool:
    """Whether the opaque part of an RGBA mask is a photo (many tones), not a brush's one colour."""
    import numpy as np

    grey = np.asarray(picture.convert("L"), dtype=np.float32)[np.asarray(alpha) >= 128]
    return grey.size > 0 and float(grey.std()) > 20


def check_prompt_length(tokenizer, prompt: str, name: str = "prompt") -> int:
    """Count a prompt's tokens and warn, showing the dropped words, when it exceeds the 77-token window (ch. 4)."""
    limit = tokenizer.model_max_length
    ids = tokenizer(prompt, truncation=False).input_ids
    if len(ids) > limit:
        kept = tokenizer.decode(ids[1:limit - 1])
        dropped = tokenizer.decode(ids[limit - 1:-1])
        warn_call(
            f"{name} has {len(ids)} tokens but the text encoder reads {limit}; these words are ignored: "
            f"'{dropped}'. Shorten the prompt and put what matters first. (For Stable Diffusion pipelines, "
            "compel can encode it whole: Compel(..., truncate_long_prompts=False), then prompt_embeds=, chapter 4.) "
            f"Kept: '{kept[:60]}…'", PromptTruncatedWarning)
    return len(ids)


def check_embeds(prompt_embeds, negative_prompt_embeds) -> None:
    """prompt_embeds and negative_prompt_embeds must be (batch, tokens, width) and agree in shape (ch. 4)."""
    for name, embeds in (("prompt_embeds", prompt_embeds), ("negative_prompt_embeds", negative_prompt_embeds)):
        if isinstance(embeds, (list, tuple)):  # the pipelines take one tensor, never a list
            if embeds and all(isinstance(e, (int, str)) or not getattr(e, "is_floating_point", lambda: True)()
                              for e in embeds):
                raise TypeError(
                    f"{name} is a {type(embeds).__name__} of {len(embeds)} items holding token ids, not a tensor of "
                    "embeddings (batch, tokens, width), as compel(prompt, 'words') returns them: compel's second "
                    "parameter is return_tokenization, not a negative prompt, so it gave (embeddings, tokens). "
                    "Encode each prompt on its own: prompt_embeds = compel(prompt); negative_prompt_embeds = "
                    "compel(negative_prompt).")
            return  # a tuple of embeddings (encode_prompt's whole answer): helpers.callbatch says how to unpack it
        if embeds is not None and hasattr(embeds, "is_floating_point") and not embeds.is_floating_point():
            raise TypeError(f"{name} is a tensor of whole numbers {tuple(embeds.shape)}: token ids from the "
                            "tokenizer, not embeddings. Embeddings are the text encoder's output, (batch, tokens, "
                            "width) floats: pipeline.encode_prompt(text, ...) gives them for any SD or SDXL pipeline "
                            "(for SD 1.x also pipeline.text_encoder(ids.to(pipeline.device))[0]); or leave the "
                            "encoding to the pipeline with prompt=text (compel(text) for weighted prompts).")
        if embeds is not None and getattr(embeds, "ndim", 3) == 2:
            raise ValueError(f"{name} has shape {tuple(embeds.shape)}: one prompt without its batch axis. Pipelines "
                             f"take (batch, tokens, width); pass {name}={name}[None].")
        if embeds is not None and getattr(embeds, "ndim", 3) > 3:  # e.g. a [None] or torch.stack too many
            shape = tuple(embeds.shape)
            fix = (f"drop the extra axis: {name}={name}.squeeze({shape.index(1)})" if 1 in shape[:2] else
                   "make it (batch, tokens, width) again")
            raise ValueError(f"{name} has {len(shape)} axes {shape}, and embeddings are (batch, tokens, width), 3 "
                             f"axes: {fix} (a [None] or torch.stack too many adds one).")
    if negative_prompt_embeds is None or tuple(prompt_embeds.shape) == tuple(negative_prompt_embeds.shape):
        return
    p, n = tuple(prompt_embeds.shape), tuple(negative_prompt_embeds.shape)
    if p[0] != n[0]:  # the batch: one negative for each prompt
        raise ValueError(
            f"prompt_embeds {p} holds {p[0]} prompt(s) but negative_prompt_embeds {n} holds {n[0]}: each prompt needs "
            f"its own negative. Encode as many negatives as prompts, e.g. compel([negative] * {p[0]}), or repeat "
            f"the one you have: negative_prompt_embeds.expand({p[0]}, -1, -1)" + (
                " (and if the token counts differ too, pad them afterwards with "
                "compel.pad_conditioning_tensors_to_same_length)." if p[1] != n[1] else "."))
    if p[1] != n[1]:  # tokens: more 77-token chunks on one side
        raise ValueError(
            f"prompt_embeds {p} and negative_prompt_embeds {n} differ in token count ({p[1]} against {n[1]}): "
            "compel's .and() or a prompt longer than 77 tokens made more chunks on one side. "
            "Fix: compel.pad_conditioning_tensors_to_same_length([prompt_embeds, negative_prompt_embeds]).")
    raise ValueError(
        f"prompt_embeds {p} and negative_prompt_embeds {n} differ in width ({p[-1]} against {n[-1]}): they came "
        "from different text encoders. Encode both with the same Compel (or the same pipeline.encode_prompt).")


def check_latent_batch(image, name: str = "image") -> None:
    """Latents passed between pipelines must be a 4-D batch (B, C, H, W), not `.images[0]` (ch. 3)."""
    import torch

    if isinstance(image, torch.Tensor) and image.ndim == 3:
        raise ValueError(f"{name} is a 3-D tensor {tuple(image.shape)}: one latent without its batch axis. "
                         "Pass output.images (shape (1, C, H, W)) instead of output.images[0], "
                         "or image[None].")


def check_call(**kwargs) -> dict:
    """Check whichever of the common pipeline arguments are present; return them unchanged (ch. 1–5)."""
    if "strength" in kwargs:
        check_strength(kwargs["strength"])
    if "num_inference_steps" in kwargs:
        check_steps(kwargs["num_inference_steps"], kwargs.get("strength"))
    if "guidance_scale" in kwargs:
        check_guidance(kwargs["guidance_scale"])
    if "noise_level" in kwargs:
        check_noise_level(kwargs["noise_level"])
    if kwargs.get("width") is not None or kwargs.get("height") is not None:
        check_size(kwargs.get("width") or 8, kwargs.get("height") or 8)
    if kwargs.get("mask_image") is not None:
        check_mask(kwargs["mask_image"], kwargs.get("image"))
    if kwargs.get("prompt_embeds") is not None:
        check_embeds(kwargs["prompt_embeds"], kwargs.get("negative_prompt_embeds"))
    return kwargs
