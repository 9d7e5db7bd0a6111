"""Check how a pipeline call's parts fit together: the prompt given twice, generators per picture, clip_skip's depth.

Each check refuses what diffusers would refuse later with a message that names no fix (or an IndexError), and
says the fix in the call's own terms. It runs inside `helpers.callcheck.check_pipeline_call`.
"""

from __future__ import annotations

import inspect
import numbers

from helpers.callcontrol import check_control


def _name(pipeline) -> str:
    return type(pipeline).__name__


def _params(pipeline) -> tuple[str, ...]:
    """The argument names the pipeline's __call__ takes."""
    try:
        return tuple(inspect.signature(type(pipeline).__call__).parameters)
    except (TypeError, ValueError):
        return ()


def pictures_per_call(args: dict) -> int | None:
    """How many pictures a call makes: prompts (or embeddings' batch) × num_images_per_prompt, if known (ch. 1–5)."""
    prompt, embeds = args.get("prompt"), args.get("prompt_embeds")
    if isinstance(prompt, str):
        prompts = 1
    elif isinstance(prompt, (list, tuple)):
        prompts = len(prompt)
    elif prompt is None and getattr(embeds, "ndim", 0) == 3:
        prompts = int(embeds.shape[0])
    else:
        return None
    per = args.get("num_images_per_prompt") or 1
    return prompts * per if isinstance(per, numbers.Integral) else None


def check_prompt_given_once(args: dict) -> None:
    """prompt= and prompt_embeds= are two ways to give one prompt: refuse both at once (ch. 4)."""
    for text, embeds in (("prompt", "prompt_embeds"), ("negative_prompt", "negative_prompt_embeds"),
                         ("prompt_2", "prompt_embeds"), ("negative_prompt_2", "negative_prompt_embeds")):
        if args.get(text) is not None and args.get(embeds) is not None:
            raise ValueError(f"{text}= and {embeds}= were both given. They are two ways to give the same thing: "
                             f"the embeddings are already the encoded {text.replace('_2', '')} (compel's output, "
                             f"say). Keep one: drop {text}=, or drop {embeds}= to let the pipeline encode the text.")


def check_long_embeds(pipeline, args: dict) -> None:
    """Embeddings longer than 77 tokens cannot be matched by a negative the pipeline encodes itself (ch. 4)."""
    # the SDXL refiner has only its second tokenizer
    embeds = args.get("prompt_embeds")
    tokenizer = getattr(pipeline, "tokenizer", None) or getattr(pipeline, "tokenizer_2", None)
    limit = getattr(tokenizer, "model_max_length", None)
    if getattr(embeds, "ndim", 0) != 3 or not isinstance(limit, int) or embeds.shape[1] <= limit:
        return
    guidance = args.get("guidance_scale")
    guidance = 7.5 if guidance is None else guidance
    negative = args.get("negative_prompt")
    zeros = negative is None and getattr(getattr(pipeline, "config", None), "force_zeros_for_empty_prompt", False)
    if args.get("negative_prompt_embeds") is None and guidance > 1 and not zeros:  # SDXL zeroes an empty one
        said = f"negative_prompt={negative!r}" if negative is not None else "the empty negative prompt"
        raise ValueError(
            f"prompt_embeds hold {embeds.shape[1]} tokens (compel with truncate_long_prompts=False), so the "
            f"pipeline would encode {said} to that length too, and its text encoder reads at most {limit}. Encode "
            "the negative with the same compel and pad the two: positive, negative = "
            "compel.pad_conditioning_tensors_to_same_length([prompt_embeds, compel(negative_prompt or '')]), "
            "then pass prompt_embeds=positive, negative_prompt_embeds=negative.")


def check_generator_count(pipeline, args: dict) -> None:
    """A list of generators needs one per picture the call makes (ch. 1)."""
    generator = args.get("generator")
    if not isinstance(generator, (list, tuple)):
        return
    pictures = pictures_per_call(args)
    if pictures is not None and len(generator) != pictures:
        per = args.get("num_images_per_prompt") or 1
        raise ValueError(
            f"generator= is a list of {len(generator)} generator(s), but this call makes {pictures} picture(s) "
            f"({pictures // per} prompt(s) × num_images_per_prompt={per}); a list needs one seeded generator per "
            f"picture: generator=[make_generator(seed + i, device) for i in range({pictures})]. Or pass one "
            "generator for the whole batch.")


def check_clip_skip(pipeline, args: dict) -> None:
    """clip_skip counts text-encoder layers skipped from the end: a whole number below the encoder's depth (ch. 4)."""
    skip = args.get("clip_skip")
    if skip is None:
        return
    if isinstance(skip, bool) or not isinstance(skip, numbers.Integral) or skip < 0:
        raise TypeError(f"clip_skip must be a whole number of layers (0 or more), got {skip!r}. clip_skip=1 uses the "
                        "layer before the last, as A1111's 'Clip skip: 2' does.")
    # SD 1.5 reads hidden state -(clip_skip + 1); SDXL reads -(clip_skip + 2) (its encoders' own offset)
    extra = 1 if getattr(pipeline, "text_encoder_2", None) is not None else 0
    for attribute in ("text_encoder", "text_encoder_2"):
        layers = getattr(getattr(getattr(pipeline, attribute, None), "config", None), "num_hidden_layers", None)
        if isinstance(layers, int) and skip + extra > layers:
            raise ValueError(
                f"clip_skip={skip} skips more layers than {_name(pipeline)}.{attribute} has ({layers}; "
                f"{attribute}.config.num_hidden_layers). clip_skip counts layers from the end: 1 uses the layer "
                f"before the last (A1111's 'Clip skip: 2'), and 1 or 2 are the usual values. Use at most "
                f"{layers - extra}.")


def check_latents_batch(pipeline, args: dict) -> None:
    """Starting latents hold one noise picture per picture the call makes (ch. 1)."""
    latents = args.get("latents")
    pictures = pictures_per_call(args)
    if getattr(latents, "ndim", 0) == 4 and pictures is not None and latents.shape[0] != pictures:
        have = int(latents.shape[0])
        if have < pictures and pictures % have == 0:
            fix = f"latents.repeat({pictures // have}, 1, 1, 1) for the same starts again"
        elif have > pictures:
            fix = f"latents[:{pictures}]"
        else:
            fix = f"{pictures} latents, one per picture"
        per = " (or leave out num_images_per_prompt)" if args.get("num_images_per_prompt") else ""
        raise ValueError(
            f"latents hold {have} starting noise picture(s), but this call makes {pictures}; each picture starts "
            f"from its own. Pass {fix}{per}.")


def check_pooled(pipeline, args: dict) -> None:
    """SDXL's embeddings come in pairs: the per-token ones and the pooled ones (ch. 3–5)."""
    if "pooled_prompt_embeds" not in _params(pipeline):
        return
    for side in ("", "negative_"):
        if args.get(f"{side}prompt_embeds") is not None and args.get(f"{side}pooled_prompt_embeds") is None:
            raise ValueError(
                f"{_name(pipeline)} takes {side}prompt_embeds= only with {side}pooled_prompt_embeds=: SDXL's text "
                "encoder gives both, and the UNet needs both. compel makes both with requires_pooled=True: "
                f"{side}prompt_embeds, {side}pooled_prompt_embeds = compel(text); or let the pipeline encode the "
                "text: pass prompt= instead.")


def check_callback(args: dict) -> None:
    """callback_on_step_end is called as f(pipeline, step, timestep, callback_kwargs) (ch. 1–5)."""
    callback = args.get("callback_on_step_end")
    if isinstance(callback, (list, tuple)):
        objects = all(hasattr(c, "tensor_inputs") for c in callback)  # diffusers' PipelineCallback objects
        raise TypeError(f"callback_on_step_end takes one callback, got a {type(callback).__name__} of "
                        f"{len(callback)}. " + (
                            "diffusers joins callback objects into one: "
                            "callback_on_step_end=MultiPipelineCallbacks([...]) (from diffusers.callbacks)."
                            if objects else
                            "To run two functions, write one that calls both and returns callback_kwargs: "
                            "def both(pipe, step, timestep, kw): return second(pipe, step, timestep, "
                            "first(pipe, step, timestep, kw))."))
    if isinstance(callback, type):  # the class itself, e.g. StepPreview, where an object of it goes
        raise TypeError(f"callback_on_step_end is the class {callback.__name__}, not a callback made from it. Make "
                        f"one first and pass that: preview = {callback.__name__}(pipeline), then "
                        "pipeline(..., callback_on_step_end=preview).")
    if callback is None or not callable(callback) or hasattr(callback, "tensor_inputs"):  # a PipelineCallback
        return
    try:
        signature = inspect.signature(callback)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(None, 0, 0, {})
    except TypeError:
        owner = getattr(callback, "__self__", None)
        if type(owner).__name__ == "StepPreview":  # preview.attach, preview.close, ...: a method, not the preview
            raise TypeError(f"callback_on_step_end=preview.{callback.__name__} passes one of the preview's "
                            "methods; the preview itself is the step callback: callback_on_step_end=preview.") from None
        try:
            signature.bind(0, 0, None)
            older = " That is the older callback= form (f(step, timestep, latents));"
        except TypeError:
            older = ""
        raise TypeError(f"callback_on_step_end is called as f(pipeline, step, timestep, callback_kwargs) and must "
                        f"return callback_kwargs; yours takes {signature}.{older} Write it with these four "
                        "parameters and read callback_kwargs['latents'].") from None


def check_old_callback(pipeline, callback, steps) -> None:
    """callback=, the older per-step hook f(step, timestep, latents), given what it cannot call (ch. 1, 3)."""
    if callback is None or not callable(callback):
        return
    kind, params = _name(pipeline), _params(pipeline)
    newer = "callback_on_step_end" in params
    is_preview = type(callback).__name__ == "StepPreview"
    try:
        inspect.signature(callback).bind(0, 0, None)
        fits = not is_preview
    except (TypeError, ValueError):
        fits = False
    if not fits:
        shown = "StepPreview" if is_preview else f"yours takes {_signature(callback)}"
        raise TypeError(f"callback= is the older per-step hook, called as f(step, timestep, latents); {shown}. " + (
            "That is a callback_on_step_end, called as f(pipeline, step, timestep, callback_kwargs): pass "
            f"callback_on_step_end={'preview' if is_preview else 'your_function'} instead of callback=."
            if newer else f"{kind} has only this older hook (no callback_on_step_end"
            + (", so a StepPreview cannot watch it" if is_preview else "")
            + "): write a function of those three parameters, and pass callback_steps=1."))
    if steps is None and newer:  # diffusers 0.42 computes i % callback_steps with the deprecated callback
        raise TypeError("callback= (the older hook, deprecated here) needs callback_steps= beside it, e.g. "
                        "callback_steps=1, or diffusers stops with `int % NoneType`. Better, use the newer hook: "
                        "callback_on_step_end=f, with f(pipeline, step, timestep, callback_kwargs) returning "
                        "callback_kwargs.")


def _signature(function) -> str:
    try:
        return str(inspect.signature(function))
    except (TypeError, ValueError):
        return "other parameters"


def check_text_where_embeds_go(pipeline, args: dict) -> None:
    """Text given to Kandinsky 2.2's decoder alone, which takes the prior's image_embeds (ch. 3)."""
    given = args.get("image_embeds")
    if given == "image_embeds" or args.get("negative_image_embeds") == "negative_image_embeds":
        raise TypeError("image_embeds holds the text 'image_embeds': a, b = prior_pipe(prompt) unpacks the prior's "
                        "output by its field names, not its tensors. Unpack its tuple: image_embeds, "
                        "negative_image_embeds = prior_pipe(prompt).to_tuple().")
    if isinstance(given, str) or (isinstance(given, list) and given and isinstance(given[0], str)):
        raise TypeError(f"{_name(pipeline)} is Kandinsky 2.2's decoder alone: its first argument is image_embeds from "
                        "the prior, not text. Load the combined pipeline, which runs the prior and the decoder: "
                        "AutoPipelineForImage2Image.from_pretrained('kandinsky-community/kandinsky-2-2-decoder') "
                        "(chapter 3).")


def check_kandinsky_negatives(pipeline, args: dict) -> None:
    """Kandinsky 2.2's prior needs as many negatives as prompts (ch. 3).

    Its combined pipelines join prompt and negative into one list before encoding, so a list of negatives for one
    prompt, or one negative for a list of prompts, fails inside with batch sizes the learner never passed.
    """
    if not _name(pipeline).startswith("Kandinsky"):
        return
    prompt, negative = args.get("prompt"), args.get("negative_prompt")
    if not isinstance(prompt, (str, list, tuple)) or not isinstance(negative, (str, list, tuple)):
        return
    prompts = 1 if isinstance(prompt, str) else len(prompt)
    negatives = 1 if isinstance(negative, str) else len(negative)
    if prompts == negatives:  # one with one runs whether each is a str or a list of one
        return
    if isinstance(prompt, str):
        fix = (f"one negative as one text, its words joined by commas: negative_prompt={', '.join(negative)!r}; "
               f"or, for {negatives} pictures, prompt=[prompt] * {negatives}")
    else:
        fix = f"negative_prompt=[{negative!r}] * {prompts}" if isinstance(negative, str) else (
            f"as many negatives as prompts ({prompts})")
    raise ValueError(f"{_name(pipeline)} got {prompts} prompt(s) and negative_prompt={negative!r}: Kandinsky 2.2's "
                     f"prior needs as many negatives as prompts. Pass {fix}.")


def check_embeds_given_whole(pipeline, args: dict) -> None:
    """encode_prompt's or the prior's whole output as embeddings, an IP-Adapter picture with none loaded (ch. 3, 4)."""
    for name in ("image_embeds", "negative_image_embeds"):
        if hasattr(args.get(name), "image_embeds"):  # KandinskyPriorPipelineOutput
            raise TypeError(f"{name} is the prior's whole output ({type(args[name]).__name__}); the decoder takes "
                            "its two tensors: image_embeds=prior_output.image_embeds, "
                            "negative_image_embeds=prior_output.negative_image_embeds.")
    for name in ("prompt_embeds", "negative_prompt_embeds"):
        if isinstance(args.get(name), (tuple, list)):
            raise TypeError(f"{name} is a {type(args[name]).__name__} of {len(args[name])}, and it takes one "
                            "tensor. Pairs such as pipeline.encode_prompt(...)'s (prompt_embeds, "
                            "negative_prompt_embeds) or compel.pad_conditioning_tensors_to_same_length([prompt_embeds, "
                            "negative_prompt_embeds]) are unpacked first: prompt_embeds, negative_prompt_embeds = "
                            "... (the first to prompt_embeds=, the second to negative_prompt_embeds=).")
    for name in ("prompt_embeds", "negative_prompt_embeds"):
        given = args.get(name)
        if given is not None and not isinstance(given, (tuple, list)) and not hasattr(given, "shape"):
            parsed = type(given).__module__.startswith("compel")  # e.g. compel.parse_prompt_string's Conjunction
            raise TypeError(f"{name} is a {type(given).__name__}, not a tensor of embeddings" + (
                ": compel.parse_prompt_string only parses the text. Make the tensor with compel itself: "
                f"{name} = compel(prompt) (or compel.build_conditioning_tensor_for_conjunction(parsed))."
                if parsed else ". Pass the tensor an encoder made, e.g. compel(prompt) or "
                "pipeline.encode_prompt(...)[0]."))
    unet = getattr(pipeline, "unet", None)
    if args.get("ip_adapter_image") is not None and unet is not None \
            and getattr(unet, "encoder_hid_proj", None) is None:
        raise ValueError("ip_adapter_image= needs an IP-Adapter loaded into the pipeline, and none is: load one "
                         "first with pipeline.load_ip_adapter(repo_id, subfolder=..., weight_name=...) (diffusers' "
                         "IP-Adapter guide names them), or leave ip_adapter_image= out.")


# arguments diffusers 0.42 computes with at once, so None (meant as "the default") fails deep inside the call
NONE_FAILS = ("strength", "guidance_scale", "num_inference_steps", "num_images_per_prompt", "noise_level",
              "controlnet_conditioning_scale", "aesthetic_score", "negative_aesthetic_score", "prior_guidance_scale")


def check_kinds(pipeline, args: dict) -> None:
    """True/False where a number goes, one number where a (height, width) pair goes (ch. 1–5)."""
    import inspect

    try:
        defaults = {n: p.default for n, p in inspect.signature(type(pipeline).__call__).parameters.items()}
    except (TypeError, ValueError):
        return
    for name, value in args.items():
        default = defaults.get(name)
        refuses_none = name in NONE_FAILS and not (name == "num_inference_steps" and (
            args.get("timesteps") is not None or args.get("sigmas") is not None))  # a list of steps sets the count
        if value is None and refuses_none and isinstance(default, (int, float)) and not isinstance(default, bool):
            raise TypeError(f"{name}=None: diffusers takes no None here to mean its default; leave {name}= out to "
                            f"get the default ({default}), or pass a number.")
        numeric = name in ("padding_mask_crop", "strength", "guidance_scale", "num_inference_steps", "noise_level") \
            or (isinstance(default, (int, float)) and not isinstance(default, bool))
        if isinstance(value, bool) and numeric:
            raise TypeError(f"{name}={value} is True/False, and {name} takes a number, so Python would read it as "
                            f"{int(value)}. " + ("padding_mask_crop is the margin in pixels kept around the mask, "
                                                 "e.g. padding_mask_crop=32; leave it out for no crop."
                                                 if name == "padding_mask_crop" else f"Pass a number: {name}=..."))
        if isinstance(default, bool) and isinstance(value, str):  # guess_mode="no": any word would read as True
            raise TypeError(f"{name}={value!r} is text, and {name} takes True or False; Python reads any non-empty "
                            f"text as True. Pass {name}=True or {name}=False.")
        if name == "padding_mask_crop" and isinstance(value, float) and not value.is_integer():
            raise TypeError(f"padding_mask_crop={value} is a fraction, and padding_mask_crop counts pixels: the "
                            "margin kept around the mask's box, e.g. padding_mask_crop=32 (leave it out for no crop).")
        if name == "padding_mask_crop" and isinstance(value, (tuple, list)):  # mask.getbbox(): the box itself
            raise TypeError(f"padding_mask_crop={tuple(value)!r} is a box, and padding_mask_crop is one number: the "
                            "margin in pixels kept around the mask's white area, whose box the call finds itself. "
                            "Pass a margin, e.g. padding_mask_crop=32 (leave it out for no crop).")
        if name == "padding_mask_crop" and value == 0 and not isinstance(value, bool):
            from helpers.callwarning import warn_call

            warn_call("padding_mask_crop=0 still crops: the call repaints the mask's own box at full size and pastes "
                      "it back, with no margin around it. To switch the crop off, leave padding_mask_crop out (None).")
        if name in ("original_size", "target_size", "crops_coords_top_left", "negative_original_size",
                    "negative_target_size", "negative_crops_coords_top_left") and isinstance(value, (int, float)):
            raise TypeError(f"{name}={value!r} is one number, and SDXL reads {name} as a (height, width) pair: "
                            f"{name}=({value}, {value}).")


def check_batch(pipeline, args: dict) -> None:
    """Every check of this module, in the order a learner's call meets them (ch. 1–5)."""
    check_kinds(pipeline, args)
    check_embeds_given_whole(pipeline, args)
    check_text_where_embeds_go(pipeline, args)
    check_kandinsky_negatives(pipeline, args)
    check_control(pipeline, args)
    check_latents_batch(pipeline, args)
    check_pooled(pipeline, args)
    check_callback(args)
    check_prompt_given_once(args)
    check_long_embeds(pipeline, args)
    check_generator_count(pipeline, args)
    check_clip_skip(pipeline, args)
