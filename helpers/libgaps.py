"""Calls that stop inside diffusers because of the transformers release beside it: refused first, with a way around.

transformers 5.6 flattened `CLIPTextModel` (its `embeddings`, `encoder` and `final_layer_norm` moved up from
`.text_model`); diffusers 0.42 still reads `text_encoder.text_model` in two places of the SD 1.x/2.x pipelines
(diffusers issue #14124). Each check below looks at the loaded objects themselves, so it goes quiet as soon as a
release of either library closes the gap.
"""

from __future__ import annotations

import functools
import inspect


def flattened(text_encoder) -> bool:
    """Whether a CLIPTextModel has transformers 5.6's layout: no .text_model, its parts on the model (ch. 4)."""
    return (text_encoder is not None and not hasattr(text_encoder, "text_model")
            and hasattr(text_encoder, "final_layer_norm"))


@functools.cache
def _source_has(cls, method: str, text: str) -> bool:
    """Whether this pipeline class's `method` source holds `text` (read once per class, method and text)."""
    try:
        return text in inspect.getsource(getattr(cls, method))
    except (AttributeError, OSError, TypeError):
        return False


def _encode_prompt_has(cls, text: str) -> bool:
    return _source_has(cls, "encode_prompt", text)


def _peft_backend() -> bool:
    from diffusers.utils import USE_PEFT_BACKEND

    return bool(USE_PEFT_BACKEND)


def swaps_sides(pipeline) -> bool:
    """Whether this Kandinsky 2.2 img2img pipeline swaps height and width, as diffusers 0.42 does (ch. 3)."""
    # diffusers 0.42, pipeline_kandinsky2_2_img2img.py: preprocess(i, width, height) for preprocess(image, height,
    # width); the combined pipeline hands the picture to its decoder
    decoder = getattr(pipeline, "decoder_pipe", pipeline)
    swapped = "preprocess(i, width, height)"
    return "Img2Img" in type(decoder).__name__ and _source_has(type(decoder), "__call__", swapped)


def check_library_gaps(pipeline, args: dict) -> None:
    """Refuse clip_skip, and a LoRA scale without peft, where diffusers would stop with an AttributeError (ch. 4)."""
    height, width = args.get("height"), args.get("width")
    if isinstance(height, int) and isinstance(width, int) and height != width and swaps_sides(pipeline):
        from helpers.callwarning import warn_call

        warn_call(f"diffusers 0.42's Kandinsky 2.2 image-to-image passes height and width to its resize the other way "
                  f"round, so height={height}, width={width} gives a picture {width} tall and {height} wide. For "
                  f"{width}×{height} (width × height), pass them swapped: height={width}, width={height}.")
    _check_one_negative_for_embeds(pipeline, args)
    encoder = getattr(pipeline, "text_encoder", None)
    if not flattened(encoder):
        return
    cls = type(pipeline)
    if args.get("clip_skip") is not None and args.get("prompt_embeds") is None \
            and _encode_prompt_has(cls, "text_encoder.text_model"):
        skip = args["clip_skip"]
        raise RuntimeError(
            f"clip_skip={skip} cannot run with these library versions: {type(pipeline).__name__}.encode_prompt "
            "reads text_encoder.text_model, which CLIPTextModel no longer has since transformers 5.6 (diffusers "
            "issue #14124), so the call would stop with an AttributeError. Make the same embeddings yourself and "
            "pass them instead of prompt= and clip_skip=:\n"
            "    tokens = pipeline.tokenizer(prompt, padding='max_length', truncation=True, return_tensors='pt',\n"
            "                                max_length=pipeline.tokenizer.model_max_length)\n"
            "    with torch.no_grad():\n"
            "        out = pipeline.text_encoder(tokens.input_ids.to(pipeline.device), output_hidden_states=True)\n"
            f"        prompt_embeds = pipeline.text_encoder.final_layer_norm(out.hidden_states[-({skip} + 1)])\n"
            "    pipeline(prompt_embeds=prompt_embeds, ...)")
    kwargs = args.get("cross_attention_kwargs")
    scale = kwargs.get("scale") if isinstance(kwargs, dict) else None
    if scale is not None and _encode_prompt_has(cls, "adjust_lora_scale_text_encoder") and not _peft_backend():
        raise RuntimeError(
            f"cross_attention_kwargs={{'scale': {scale}}} sets a LoRA's strength, and without the peft package "
            "diffusers takes an old path that reads text_encoder.text_model, gone from CLIPTextModel since "
            "transformers 5.6 (diffusers issue #14124). LoRA needs peft anyway: pip install peft, then restart "
            "the kernel.")


def _check_one_negative_for_embeds(pipeline, args: dict) -> None:
    """prompt_embeds for several prompts with one negative string, where encode_prompt makes one negative (ch. 4)."""
    embeds, negative = args.get("prompt_embeds"), args.get("negative_prompt")
    if args.get("prompt") is not None or not isinstance(negative, str) \
            or args.get("negative_prompt_embeds") is not None:
        return
    count = embeds.shape[0] if getattr(embeds, "ndim", 0) == 3 else 1
    guidance = args.get("guidance_scale")
    if count < 2 or (isinstance(guidance, (int, float)) and guidance <= 1):  # no negative is made without guidance
        return
    # diffusers 0.42, pipeline_stable_diffusion.py encode_prompt: a negative string becomes [negative_prompt], one
    # row, whatever the batch; SDXL's repeats it batch_size times and needs no word
    if _encode_prompt_has(type(pipeline), "uncond_tokens = [negative_prompt]"):
        raise ValueError(f"prompt_embeds holds {count} prompts and negative_prompt={negative!r} is one string: "
                         f"{type(pipeline).__name__} makes one negative from a string, not one per prompt, and "
                         f"the two batches do not fit. Pass negative_prompt=[{negative!r}] * {count}, or "
                         f"negative_prompt_embeds with {count} rows (e.g. compel([...]) of {count} negatives).")
