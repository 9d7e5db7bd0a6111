"""Argument names: what a pipeline's `__call__` takes, and where an argument it lacks belongs instead.

`check_names` runs before a call's values are checked (helpers.explain). A name the pipeline does not take is
refused with the fix that fits it: the closest real name for a typo, the pipeline that takes it for an argument of
another pipeline, and the chapter's own way for the slips learners make most.
"""

from __future__ import annotations

import difflib
import re

# diffusers' pipelines swallow these through **kwargs and only print a deprecation note
DEPRECATED_KWARGS = ("callback", "callback_steps")
# arguments a pipeline lacks, and the pipeline family that has them
BELONGS_TO = {"image": "AutoPipelineForImage2Image", "strength": "AutoPipelineForImage2Image",
              "mask_image": "AutoPipelineForInpainting", "control_image": "a ControlNet pipeline"}
# the pipelines this tutorial's chapters use: where an argument another one lacks is looked up
KNOWN = ("StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline", "StableDiffusionInpaintPipeline",
         "StableDiffusionXLPipeline", "StableDiffusionXLImg2ImgPipeline", "StableDiffusionXLInpaintPipeline",
         "StableDiffusionControlNetPipeline", "StableDiffusionControlNetImg2ImgPipeline",
         "KandinskyV22Pipeline", "KandinskyV22Img2ImgPipeline", "KandinskyV22InpaintPipeline",
         "KandinskyV22PriorPipeline", "KandinskyV22Img2ImgCombinedPipeline", "StableDiffusionUpscalePipeline",
         "StableDiffusionLatentUpscalePipeline")


def _name(pipeline) -> str:
    return type(pipeline).__name__


def classes_taking(name: str, classes, method: str = "__call__") -> list[str]:
    """Which of these diffusers classes take `name` in `method` (__call__, or __init__ for schedulers) (ch. 1–5)."""
    import inspect

    import diffusers

    found = []
    for cls_name in classes:
        try:
            if name in inspect.signature(getattr(getattr(diffusers, cls_name), method)).parameters:
                found.append(cls_name)
        except (AttributeError, TypeError, ValueError):
            continue
    return found


def pipelines_taking(name: str) -> list[str]:
    """The chapter pipelines whose `__call__` takes `name`, looked up only when a call gave one it lacks (ch. 1–5)."""
    return classes_taking(name, KNOWN)


def _belongs_elsewhere(pipeline, key: str) -> str | None:
    """The hint for an argument of another pipeline family (image=, strength=, mask_image=, control_image=)."""
    kind = _name(pipeline)
    if key == "strength" and "Upscale" in kind:  # from_pipe cannot make img2img of an upscaler's weights
        more = (" How much it changes the picture is set by noise_level= (default 20): the noise added to the "
                "small picture first." if "noise_level" in _params(pipeline) else "")
        return f"{kind} takes no strength=: an upscaler enlarges the whole picture.{more}"
    if key == "strength" and "Inpaint" in kind:  # from_pipe to img2img would drop the mask (and 9-channel UNets fail)
        return (f"{kind} takes no strength=: it repaints the masked area from noise every time. SD 1.5 and SDXL "
                "inpainting take strength= (chapter 5): AutoPipelineForInpainting.from_pretrained("
                "'stable-diffusion-v1-5/stable-diffusion-inpainting', ...).")
    target = BELONGS_TO[key]
    if not target.startswith("Auto"):
        return f"{kind} takes no {key}=; {target} does (chapter 4)."
    return (f"{kind} takes no {key}=; {target} does. Make one from the loaded weights: "
            f"{target}.from_pipe(pipeline).")


# names other tools and tutorials use for a setting diffusers names otherwise (A1111, ComfyUI, older scripts)
OTHER_NAMES = {
    "steps": "num_inference_steps", "num_steps": "num_inference_steps", "sampling_steps": "num_inference_steps",
    "cfg": "guidance_scale", "cfg_scale": "guidance_scale", "guidance": "guidance_scale",
    "denoise": "strength", "denoising_strength": "strength",
    "batch_size": "num_images_per_prompt", "n_samples": "num_images_per_prompt", "num_images": "num_images_per_prompt",
    "mask": "mask_image", "init_image": "image", "input_image": "image",
    "negative": "negative_prompt", "neg_prompt": "negative_prompt",
    "control": "controlnet_conditioning_scale", "control_scale": "controlnet_conditioning_scale",
    "controlnet_scale": "controlnet_conditioning_scale", "control_weight": "controlnet_conditioning_scale",
    "control_strength": "controlnet_conditioning_scale", "controlnet_strength": "controlnet_conditioning_scale",
    "guidance_start": "control_guidance_start", "guidance_end": "control_guidance_end",
    "ddim_steps": "num_inference_steps", "init_images": "image",
}
# other tools' settings that have no diffusers argument of that meaning: what to do instead
OTHER_WAYS = {
    "image_strength": "is the Stability API's share of the start picture kept, the other way round from strength=: "
                      "strength = 1 - image_strength (image_strength=0.35 is strength=0.65).",
    "ip_adapter_scale": "is set on the pipeline, not per call: pipeline.set_ip_adapter_scale(0.6).",
    "lora_strength": "sets a LoRA's strength, which diffusers takes in cross_attention_kwargs={'scale': 0.5}, "
                     "or once with pipeline.set_adapters(name, adapter_weights=0.5).",
    "latent_image": "holds latents to start from; diffusers takes them in image= of an image-to-image pipeline "
                    "(with strength= as the denoise amount), or in latents= for text-to-image.",
    "noise_seed": "is a seed; pipelines take a seeded generator instead: "
                  "generator=torch.Generator().manual_seed(seed).",
    "inpainting_mask_invert": "inverts the mask; diffusers repaints the mask's white part, so to repaint the rest "
                              "invert it first: "
                              "mask_image = ImageOps.invert(mask_image.convert('L')).",
    "control_mode": "has no diffusers counterpart; the nearest is guess_mode=True, where the ControlNet works "
                    "without the prompt's help.",
    "resize_mode": "has no diffusers counterpart: resize or crop the control picture to the start picture's size "
                   "yourself, control_image = control_image.resize(image.size).",
}


def other_name(key: str, params, value=None) -> str | None:
    """diffusers' name for a setting another tool names `key`, where this pipeline takes it (ch. 1–5)."""
    target = OTHER_NAMES.get(key)
    if target == "image" and "control_image" not in params and "controlnet_conditioning_scale" in params:
        return None  # ControlNet text-to-image: its image= is the control picture, not a start picture
    if target == "controlnet_conditioning_scale" and value is not None and not isinstance(value, (int, float)):
        return None  # control=<a picture>: not the scale
    return target if target in params else None


def _params(pipeline) -> list[str]:
    import inspect

    return [p for p in inspect.signature(type(pipeline).__call__).parameters if p != "self"]


def _upscaler_size(kind: str, factor: int, given: dict) -> str:
    """The ×2/×4 upscalers make a picture `factor` times their input: the size is set by what goes in."""
    height, width = given.get("height"), given.get("width")
    sides = [v for v in (width, height) if isinstance(v, int) and not isinstance(v, bool) and v > 0]
    w, h = (width, height) if len(sides) == 2 else (sides[0], sides[0]) if sides else (128 * factor // 2,) * 2
    iw, ih = w // factor, h // factor
    text = (f"{kind} makes a picture {factor} times the size of image=, so it takes no height= or width=: for a "
            f"{w}x{h} result pass a {iw}x{ih} picture, image = image.resize(({iw}, {ih}))")
    if factor == 2:  # the x2 upscaler also takes latents, which have no resize
        text += (f", or the latents of a {iw}x{ih} picture ({ih // 8}x{iw // 8} cells): make the first stage's "
                 f"picture at height={ih}, width={iw}")
    return text + "."


def hint_for(pipeline, params: list[str], key: str, given: dict | None = None) -> str:
    """What to do about an argument name the pipeline does not take (ch. 1–5)."""
    kind = _name(pipeline)
    factor = {"StableDiffusionLatentUpscalePipeline": 2, "StableDiffusionUpscalePipeline": 4}.get(kind)
    if key in ("height", "width") and factor:
        return _upscaler_size(kind, factor, given or {})
    if key in ("seconds", "pipeline", "seed") and given is not None and "seconds" in given:
        return ("seconds= and pipeline= are what Save PNG records beside the settings (the run's time and the "
                "pipeline's class), not arguments. Drop them, and turn seed into a generator: settings = "
                "{k: v for k, v in saved.items() if k not in ('seconds', 'pipeline', 'seed')}, then "
                "pipeline(**settings, generator=make_generator(saved['seed'], device)).")
    if key == "seed":
        return "Pipelines take a seeded generator instead: generator=torch.Generator().manual_seed(seed)."
    value = (given or {}).get(key)
    if other_name(key, params, value):
        return f"diffusers names this setting {other_name(key, params, value)}=: pass that instead of {key}=."
    if key in OTHER_WAYS:
        return f"{key}= {OTHER_WAYS[key]}"
    target = OTHER_NAMES.get(key)
    takers = [n for n in pipelines_taking(target) if n != kind] if target and target not in params else []
    if takers:  # another tool's name for a setting this pipeline lacks: say so, not "check the spelling"
        named = ", ".join(takers[:3]) + (" and others" if len(takers) > 3 else "")
        return (f"{key}= is other tools' name for {target}=, which {named} take; {kind} has no such setting"
                + (" (it has no ControlNet: chapter 4 loads one with StableDiffusionControlNetImg2ImgPipeline)"
                   if "controlnet" in target else "") + ", so leave it out.")
    if key == "image_guidance_scale":  # InstructPix2Pix's: not a stronger guidance_scale
        return (f"image_guidance_scale= is InstructPix2Pix's weight on its start picture; {kind} has none. Here "
                "how much of the start picture is kept is set by strength= (lower keeps more), and guidance_scale= "
                "weighs the prompt.")
    if key == "mask_blur" and "mask_image" in params:  # A1111's; diffusers blurs the mask before the call
        return ("diffusers does not blur the mask in the call, and Stable Diffusion's inpainting pipelines cut the "
                "mask at 0.5 (their mask processor binarizes it), so a blurred mask only moves the edge a little. "
                "To soften the seam, blend the result into the start picture through a blurred mask after the "
                "call (from PIL import ImageFilter): soft = mask_image.convert('L').resize(result.size)"
                ".filter(ImageFilter.GaussianBlur(8)); Image.composite(result, start.resize(result.size), soft).")
    if key in ("inpaint_full_res", "only_masked", "inpaint_only_masked") and "padding_mask_crop" in params:
        return ("A1111's 'inpaint only masked' is padding_mask_crop= in diffusers: the margin in pixels kept "
                "around the mask's box, which is cut out, repainted at full size and pasted back, e.g. "
                "padding_mask_crop=32.")
    if key in ("scheduler", "sampler", "sampler_name"):
        return ("a scheduler is set on the pipeline before the call, not passed to it: pipeline.scheduler = "
                "DDIMScheduler.from_config(pipeline.scheduler.config) (any scheduler class), then call as before.")
    if key in ("torch_dtype", "dtype", "variant", "use_safetensors"):
        return f"{key}= belongs to from_pretrained(...), where the weights are loaded, not to the call."
    if key in ("height", "width") and "image" in params:
        return (f"{kind} takes its size from image=; resize the picture instead: "
                "image = image.resize((width, height)), both multiples of 8.")
    if key == "control_image" and "ControlNet" in kind and "image" in params:
        return (f"{kind} (text-to-image) takes its control picture as image=; control_image= belongs "
                "to the img2img and inpainting ControlNet pipelines. Pass image=depth_image.")
    if key in ("callback_on_step_end", "callback_on_step_end_tensor_inputs") and "callback" in params:
        return (f"{kind} has only the older per-step hook: callback=f, callback_steps=1, where f takes "
                "(step, timestep, latents) (chapter 3's peek_latents).")
    if key in ("prompt", "negative_prompt") and "image_embeds" in params:
        return (f"{kind} is Kandinsky 2.2's decoder alone: it takes image_embeds from the prior, not "
                "text. Load the combined pipeline, which runs the prior and the decoder: AutoPipelineForImage2Image"
                ".from_pretrained('kandinsky-community/kandinsky-2-2-decoder') (chapter 3).")
    if key in ("image_embeds", "negative_image_embeds") and hasattr(pipeline, "decoder_pipe"):
        return (f"{kind} runs its own prior from prompt=, so it takes no {key}=. To give the prior's embeddings "
                f"yourself, call its decoder alone: pipeline.decoder_pipe(image_embeds=..., "
                "negative_image_embeds=..., ...) (the same weights).")
    if key == "lora_scale" and "cross_attention_kwargs" in params:  # older tutorials' name; diffusers reads it here
        return ("a LoRA's strength goes in cross_attention_kwargs={'scale': 0.5} (what this pipeline reads as "
                "its LoRA scale), or set it once with pipeline.set_adapters(name, adapter_weights=0.5).")
    if key in BELONGS_TO:
        return _belongs_elsewhere(pipeline, key)
    others = [n for n in pipelines_taking(key) if n != kind]
    if others:
        named = ", ".join(others[:3]) + (" and others" if len(others) > 3 else "")
        return (f"{key}= is an argument of {named}, not of {kind}: this pipeline has no such setting, so leave it "
                "out.")
    close = difflib.get_close_matches(key, params, n=1, cutoff=0.6)
    if close:  # a typo, or another tool's setting with a similar name: the second gets no false promise
        return (f"Did you mean {close[0]}=? If {key} is a setting of another tool or pipeline, {kind} has no such "
                "setting.")
    return (f"{kind} has no {key}= and no argument with a similar name. If it is another tool's setting, diffusers "
            "does it another way or not at all; this pipeline's own arguments are listed by "
            "help(type(pipeline).__call__).")


def check_names(pipeline, signature, given: dict) -> None:
    """Refuse argument names a pipeline's `__call__` does not take, with the fix that fits the name (ch. 1–5)."""
    params = [p for p in signature.parameters if p != "self"]
    takes_extra = any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())
    for key in given:
        if key in params or key in DEPRECATED_KWARGS:
            continue
        extra = " It would be ignored without a word (the pipeline takes **kwargs)." if takes_extra else ""
        hint = hint_for(pipeline, params, key, given)
        raise TypeError(f"{_name(pipeline)}() got an unexpected argument {key}=.{extra} {hint}")


def bind_hint(pipeline, error: TypeError) -> str:
    """The fix to add to Python's own message when a call's arguments do not bind (ch. 1–5)."""
    import re

    missing = re.search(r"missing a required argument: '(\w+)'", str(error))
    if missing and missing.group(1) in ("image_embeds", "negative_image_embeds"):
        return (f"{_name(pipeline)} needs both of the prior's embeddings; the prior returns them together: "
                "prior_output = prior(prompt); pipeline(image_embeds=prior_output.image_embeds, "
                "negative_image_embeds=prior_output.negative_image_embeds, ...).")
    if missing:
        return f"Pass {missing.group(1)}=... by name."
    twice = re.search(r"multiple values for argument '(\w+)'", str(error))
    if twice:
        name, caller = twice.group(1), _calling_function()
        if caller:  # the chapter's refine(**kwargs) passes prompt by position itself
            return (f"{name} reached the pipeline twice: {caller}() passes one by position, and {name}=... came in "
                    f"as well, through its keyword arguments. Give it once: set the {name} that {caller}() reads "
                    f"before calling it ({name} = \"...\"), or leave {name}= out of the call.")
        return (f"{name} was given twice: once by position (a value in its place) and once as {name}=.... Give it "
                "once.")
    return "Pass arguments by name, e.g. pipeline(prompt, guidance_scale=7.5)."


def _calling_function() -> str | None:
    """The name of the learner's function that called the pipeline, or None for a call made in the cell itself."""
    import sys

    frame = sys._getframe(1)
    while frame is not None and re.search(r"[/\\](helpers|diffusers|torch)[/\\]", frame.f_code.co_filename):
        frame = frame.f_back
    if frame is None or frame.f_code.co_name.startswith("<"):
        return None
    return frame.f_code.co_name
