"""Check one diffusers pipeline call as a whole: every argument, the images' modes and sizes, the prompt's length.

`check_pipeline_call(pipeline, arguments)` runs before the pipeline does (helpers.explain wraps `__call__` with it).
It raises for arguments that cannot work, naming the parameter and the fix, and warns, saying what changes, where
diffusers would silently change the learner's input: a size rounded to a multiple of 8, an image stretched to the
model's default size, a CMYK or 16-bit picture, a prompt cut at 77 tokens. It returns the arguments to call with;
the only values it replaces are images it converted to the mode the pipeline needs, which it says, and a step
callback wrapped to say the keys it returns that the pipeline never reads (helpers.callranges).
"""

from __future__ import annotations

import numbers
from collections import OrderedDict

from PIL import Image

from helpers import checks
from helpers.callbatch import check_batch, check_old_callback
from helpers.callranges import check_ranges
from helpers.families import check_families
from helpers.ignored import check_ignored
from helpers.imagecheck import check_images, check_sizes, native_side, scale_factor
from helpers.libgaps import check_library_gaps
from helpers.mixups import check_mixups
from helpers.promptslips import CJK
from helpers.sizeslips import check_even_latents

OUTPUT_TYPES = ("pil", "np", "pt", "latent")
CJK_ADVICE = ("This checkpoint's CLIP text encoder was trained on English captions, so it reads them as rare byte "
              "pieces and the picture will hardly follow them. Write the prompt in English.")


def _warn(message: str) -> None:
    checks.warn_call(message)


def _name(pipeline) -> str:
    return type(pipeline).__name__


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
        # denoising_start= (the SDXL refiner's hand-over) sets where the run starts, and diffusers ignores strength
        starts_late = args.get("denoising_start") is not None
        try:
            checks.check_steps(steps, strength if name == "num_inference_steps" and not starts_late else None)
        except (TypeError, ValueError) as err:
            if name != "num_inference_steps":  # e.g. Kandinsky's prior_num_inference_steps=0: name that one
                raise type(err)(str(err).replace("num_inference_steps", name, 1)) from None
            if isinstance(err, TypeError) or "strength" in args or "×" not in str(err):
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
        if value > 2:
            _warn(f"controlnet_conditioning_scale={value} multiplies the ControlNet's pull {value} times: 1 follows "
                  "the control image fully, and past 2 the picture breaks up. It is a weight, not a percent; try "
                  "0.5–1.0.")
    if isinstance(scale, numbers.Integral) and not isinstance(scale, bool) \
            and getattr(getattr(pipeline, "controlnet", None), "nets", None) is None:
        raise TypeError(f"controlnet_conditioning_scale={scale} is a whole number, and diffusers takes a float for "
                        f"one ControlNet: pass controlnet_conditioning_scale={float(scale)} (1.0 follows the control "
                        "image fully; 0.5–1.0 is usual).")
    if isinstance(scale, (list, tuple)) and getattr(getattr(pipeline, "controlnet", None), "nets", None) is None \
            and getattr(pipeline, "controlnet", None) is not None:
        raise TypeError(f"controlnet_conditioning_scale={list(scale)} is a list, and {type(pipeline).__name__} has one "
                        "ControlNet: it takes one number for every prompt (a list gives one weight per ControlNet "
                        f"of a MultiControlNet). Pass controlnet_conditioning_scale={float(scale[0])}.")
    for name in ("aesthetic_score", "negative_aesthetic_score"):
        if args.get(name) is not None and not 0 <= args[name] <= 10:
            _warn(f"{name}={args[name]} is outside 0–10, the scale of the aesthetic scores SDXL's refiner was "
                  f"trained with (LAION's predictor rates pictures 1–10; diffusers' default is "
                  f"{6.0 if name == 'aesthetic_score' else 2.5}). It is not a percent: try 6 to 7.")
    for name in ("control_guidance_start", "control_guidance_end", "denoising_start", "denoising_end"):
        value = args.get(name)
        for v in value if isinstance(value, (list, tuple)) else [value] if value is not None else []:
            if not 0 <= checks.check_number(name, v) <= 1:
                raise ValueError(_share_message(name, v, args.get("num_inference_steps") or defaults.get(
                    "num_inference_steps") or 50))
    if args.get("noise_level") is not None:
        limit = getattr(getattr(pipeline, "config", None), "max_noise_level", None) or 350
        checks.check_noise_level(args["noise_level"], limit)
    if args.get("num_images_per_prompt") is not None:
        _whole("num_images_per_prompt", args["num_images_per_prompt"])
    for name in ("height", "width"):
        value = args.get(name)
        if value is not None:
            # Kandinsky's MoVQ latents come in 8×8 blocks: sizes are multiples of 64, not 8
            factor = scale_factor(pipeline) ** 2 if hasattr(pipeline, "movq") else scale_factor(pipeline)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
                raise TypeError(f"{name} must be a positive whole number of pixels, got {value!r}. "
                                "Pass arguments by name (height=512) so that a number meant for another argument "
                                "does not land here.")
            if value % factor:
                lo = value - value % factor
                why = ("its latents come in blocks of 64 pixels" if hasattr(pipeline, "movq")
                       else f"the VAE shrinks pictures {factor} times")
                use = (f"Use {lo} or {lo + factor}" if lo
                       else f"Use {factor} at least ({8 * factor} or more gives the model room to draw)")
                raise ValueError(f"{name}={value} is not a multiple of {factor}; {why}. {use}.")
    native = native_side(pipeline)
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
            kind = f"{type(g).__module__}.{type(g).__qualname__}".removeprefix("builtins.")
            raise TypeError(f"generator must be torch's Generator, got {kind}: diffusers draws its noise with torch. "
                            "Seed one: generator=make_generator(seed, device) (helpers.device), or "
                            "torch.Generator().manual_seed(seed).")
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


def _share_message(name: str, v, steps) -> str:
    """The message for a share of the run given outside [0, 1]: both likely meanings, each with its value."""
    text = f"{name}={v} must lie in [0, 1]: a share of the denoising run (0.0 is its first step, 1.0 its end)."
    if v <= 1:
        return text
    readings = []
    if float(v).is_integer() and v <= steps:
        readings.append(f"step {v:g} of this call's {steps} steps: {name}={v / steps:g}")
    if v <= 100:
        readings.append(f"{v:g} percent: {name}={v / 100:g}")
    return text + (" If you meant " + "; if you meant ".join(readings) + "." if readings else "")


def _is_picture(value) -> bool:
    import numpy as np
    from PIL import Image

    return isinstance(value, (Image.Image, np.ndarray))


def _picture_in_text_slot(pipeline, name: str, picture) -> str:
    """The message for a picture given where a prompt goes, naming the call's order of parameters."""
    import inspect

    order = [p for p in inspect.signature(type(pipeline).__call__).parameters if p != "self"]
    where = order.index(name) + 1 if name in order else None
    targets = [n for n in ("image", "mask_image", "control_image") if n in order]
    fix = f"pass it by name: {targets[0]}=picture" if targets else "this pipeline takes no start picture"
    place = (f"{type(pipeline).__name__}'s parameter number {where} is {name} "
             f"({', '.join(order[:where])}, ...), so a picture given in that place lands there"
             if where else f"{name} is a prompt")
    size = f" {picture.size[0]}x{picture.size[1]}" if isinstance(getattr(picture, "size", None), tuple) else ""
    return f"{name} got a picture ({type(picture).__name__}{size}), not text: {place}. Pictures go by name; {fix}."


def check_prompts(pipeline, args: dict) -> None:
    """Prompts must be text; say when a prompt is cut at 77 tokens or is not in English (ch. 1–5)."""
    for name in ("prompt", "negative_prompt", "prompt_2", "negative_prompt_2"):
        value = args.get(name)
        if value is None:
            continue
        texts = value if isinstance(value, (list, tuple)) else [value]
        for text in texts:
            if not isinstance(text, str):
                if hasattr(text, "shape"):  # compel's output, or another encoder's: embeddings have their own name
                    embeds = "negative_prompt_embeds" if name.startswith("negative") else "prompt_embeds"
                    raise TypeError(f"{name} is a tensor {tuple(text.shape)}: prompt embeddings (compel's output) "
                                    f"go in {embeds}=, not {name}=.")
                if _is_picture(text):  # e.g. SD img2img's order, pipeline(prompt, image), on the SDXL refiner
                    raise TypeError(_picture_in_text_slot(pipeline, name, text))
                raise TypeError(f"{name} must be text (a str, or a list of str), got {type(text).__name__} "
                                f"{text!r}. Put the words in quotes: {name}=\"...\".")
            if CJK.search(text):
                _warn(f"{name} contains Chinese, Japanese or Korean characters. {CJK_ADVICE}")
            tokenizer = next((t for t in (getattr(pipeline, n, None) for n in ("tokenizer", "tokenizer_2",
                              "prior_tokenizer")) if t is not None), None)  # the SDXL refiner has only the 2nd
            if tokenizer is not None and name in ("prompt", "negative_prompt"):
                checks.check_prompt_length(tokenizer, text, name)
    prompt = args.get("prompt")
    if isinstance(prompt, list) and len(prompt) >= 4 and all(isinstance(t, str) for t in prompt) \
            and any(len(t.split()) <= 1 for t in prompt) and any(len(t.split()) >= 3 for t in prompt):
        # a subject and its loose keywords, as prompt.split(", ") gives them: perhaps meant as one prompt
        _warn(f"prompt is a list of {len(prompt)} texts, which diffusers reads as {len(prompt)} prompts: "
              f"{len(prompt)} pictures, each drawn from its own text alone ({prompt[-1]!r} by itself). For one "
              "picture with all these words, pass one string: prompt=', '.join(that_list); for a batch, nothing "
              "is wrong.")
    guidance = args.get("guidance_scale")
    if args.get("negative_prompt") and guidance is not None and guidance <= 1:
        _warn(f"negative_prompt is ignored: guidance_scale={guidance} ≤ 1 switches classifier-free guidance off, "
              "and the negative prompt only acts through it. Raise guidance_scale (7.5 is usual) to use it.")


# ------------------------------------------------------------------ images


def check_pipeline_call(pipeline, signature, arguments: dict) -> dict:
    """Check a bound pipeline call (numbers, prompts, images, sizes); return the arguments it replaced (ch. 1–5)."""
    # the caller checked the names (helpers.callnames.check_names); here the values, with **kwargs leftovers set aside
    var_kw = [p.name for p in signature.parameters.values() if p.kind is p.VAR_KEYWORD]
    args = {k: v for k, v in arguments.items() if k != "self" and k not in var_kw}
    extra = arguments.get(var_kw[0]) if var_kw else None
    extra = extra if isinstance(extra, dict) else {}
    check_old_callback(pipeline, args.get("callback", extra.get("callback")),
                       args.get("callback_steps", extra.get("callback_steps")))
    defaults = {n: p.default for n, p in signature.parameters.items() if p.default is not p.empty}
    with checks.said_once_for(pipeline):
        check_numbers(pipeline, args, defaults)
        check_generator(pipeline, args.get("generator"))
        check_dtype(pipeline)
        check_prompts(pipeline, args)
        check_families(pipeline)
        check_batch(pipeline, args)
        check_library_gaps(pipeline, args)
        check_ignored(pipeline, args, defaults)
        check_mixups(pipeline, args)
        ranged = check_ranges(pipeline, args)  # before check_images, which would read numpy latents as pictures
        replaced = {**check_images(pipeline, args), **ranged}
        args.update(replaced)
        if args.get("mask_image") is not None and isinstance(args.get("image"), Image.Image) \
                and isinstance(args["mask_image"], Image.Image) and args["mask_image"].size != args["image"].size:
            checks.check_mask(args["mask_image"], args["image"])  # raises: sizes must match
        check_sizes(pipeline, args, signature)
        check_even_latents(pipeline, args)
    return replaced
