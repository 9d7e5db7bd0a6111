"""What a failed call shows about itself: its arguments' kinds, sizes and dtypes, the pipeline, the loader's inputs.

A note under an error (helpers.notes) names a cause only when these facts confirm it: the words of a library's
message alone are not enough. The pipeline-call wrapper (helpers.explain) attaches a summary of each failed call
to its exception; a failed `from_pretrained` is read from the traceback's frames.
"""

from __future__ import annotations

import os
import types
from dataclasses import dataclass, field

# the arguments whose kind, size and dtype can explain a failure; anything else is left out of the summary
ARGUMENTS = ("prompt", "negative_prompt", "image", "mask_image", "control_image", "latents", "prompt_embeds",
             "negative_prompt_embeds", "num_images_per_prompt", "ip_adapter_image")
PARTS = ("controlnet", "vae", "unet", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler",
         "safety_checker", "feature_extractor", "image_encoder", "transformer", "movq", "prior")
LOADERS = ("from_pretrained", "load_config", "load_textual_inversion", "load_lora_weights", "from_single_file")


@dataclass
class Value:
    """One argument as the note needs it: its kind and, for pictures and tensors, its size and dtype (every chapter)."""

    kind: str  # "str", "list", "pil", "tensor", "ndarray", "number", "none", "other"
    count: int = 1  # how many prompts or pictures it holds (a list's length, a tensor's batch)
    shape: tuple = ()  # a tensor's or array's shape
    size: tuple | None = None  # a PIL picture's (width, height), or a list's common size (None when they differ)
    sizes: tuple = ()  # every picture's (width, height) in a list
    dtype: str = ""  # "float16", "float32", "float64", ... for tensors
    channels: int | None = None  # a picture's bands or a tensor's channel axis


@dataclass
class CallFacts:
    """A failed pipeline call or loader call, summarised (every chapter)."""

    pipeline: str = ""  # the pipeline's class name
    dtype: str = ""  # the pipeline's weights' dtype
    device: str = ""
    text_width: int | None = None  # the text encoder's hidden size (what prompt_embeds must have as last axis)
    unet_dtype: str = ""  # the denoiser's own dtype: latents meet it unconverted
    unet_in: int | None = None  # the denoiser's input channels (9 for an inpainting UNet)
    latent_channels: int | None = None  # the autoencoder's latent channels
    height: int | None = None  # height= and width= as passed (None: the pipeline picks)
    width: int | None = None
    native: int | None = None  # the side the pipeline works at without height/width
    scale: int = 8  # pixels per latent, per side
    args: dict[str, Value] = field(default_factory=dict)
    loader: dict = field(default_factory=dict)  # function, cls, repo, subfolder, variant of a failed loader call


def summarise(value) -> Value:
    """The kind, count, size and dtype of one argument (every chapter)."""
    import numpy as np
    import torch
    from PIL import Image

    if value is None:
        return Value("none", count=0)
    if isinstance(value, str):
        return Value("str")
    if isinstance(value, Image.Image):
        return Value("pil", size=value.size, sizes=(value.size,), channels=len(value.getbands()))
    if isinstance(value, torch.Tensor):
        shape = tuple(value.shape)
        return Value("tensor", count=shape[0] if len(shape) == 4 else 1, shape=shape,
                     dtype=str(value.dtype).replace("torch.", ""),
                     channels=shape[-3] if len(shape) >= 3 else None)
    if isinstance(value, np.ndarray):
        return Value("ndarray", shape=value.shape, dtype=str(value.dtype))
    if isinstance(value, (list, tuple)):
        items = [summarise(v) for v in value]
        sizes = tuple(s for v in items for s in v.sizes)
        same = sizes[0] if sizes and all(s == sizes[0] for s in sizes) else None
        return Value("list", count=len(items), size=same, sizes=sizes,
                     dtype=items[0].dtype if items else "", channels=items[0].channels if items else None)
    if isinstance(value, (int, float)):
        return Value("number")
    return Value("other")


def call_facts(pipeline, arguments: dict) -> CallFacts:
    """A failed pipeline call: the pipeline's dtype and device, and its telling arguments (every chapter)."""
    def config(name, key):
        return getattr(getattr(getattr(pipeline, name, None), "config", None), key, None)

    unet = getattr(pipeline, "unet", None)
    params = next(unet.parameters(), None) if hasattr(unet, "parameters") else None
    scale = int(getattr(pipeline, "vae_scale_factor", None) or 8)
    sample = config("unet", "sample_size")
    whole = [v for v in (arguments.get("height"), arguments.get("width")) if isinstance(v, int)]
    return CallFacts(
        pipeline=type(pipeline).__name__,
        dtype=str(getattr(pipeline, "dtype", "")).replace("torch.", ""),
        device=str(getattr(pipeline, "device", "")),
        text_width=config("text_encoder", "hidden_size"),
        unet_dtype=str(params.dtype).replace("torch.", "") if params is not None else "",
        unet_in=config("unet", "in_channels"),
        latent_channels=config("vae", "latent_channels"),
        height=arguments.get("height") if len(whole) == 2 else None,
        width=arguments.get("width") if len(whole) == 2 else None,
        native=sample * scale if isinstance(sample, int) else None,
        scale=scale,
        args={name: summarise(arguments[name]) for name in ARGUMENTS if name in arguments},
    )


def _loader_frame(exc: BaseException) -> dict:
    """The innermost loader frame's own inputs (class, repo, subfolder, variant), read from the traceback."""
    found = {}
    tb = exc.__traceback__
    while tb is not None:
        frame: types.FrameType = tb.tb_frame
        if frame.f_code.co_name in LOADERS:
            local = frame.f_locals
            cls = local.get("cls") or type(local.get("self", None))
            names = ("pretrained_model_name_or_path", "pretrained_model_or_path", "pretrained_model_link_or_path",
                     "pretrained_model_name_or_path_or_dict")
            # only a repo id or a folder: a state dict or a tensor passed there is not a place to look in
            repo = next((os.fspath(local[n]) for n in names if isinstance(local.get(n), (str, os.PathLike))), None)
            kwargs = local.get("kwargs") or {}
            found = {"function": frame.f_code.co_name, "cls": cls if isinstance(cls, type) else None, "repo": repo,
                     "subfolder": local.get("subfolder", kwargs.get("subfolder") if isinstance(kwargs, dict) else None),
                     "variant": local.get("variant", kwargs.get("variant") if isinstance(kwargs, dict) else None),
                     "revision": local.get("revision", kwargs.get("revision") if isinstance(kwargs, dict) else None),
                     "cache_dir": local.get("cache_dir", kwargs.get("cache_dir") if isinstance(kwargs, dict)
                                            else None),
                     "force_download": local.get("force_download", kwargs.get("force_download")
                                                 if isinstance(kwargs, dict) else None),
                     # parts passed as text (controlnet="lllyasviel/..."): from_pretrained takes loaded models there
                     "named_parts": sorted(k for k, v in (kwargs.items() if isinstance(kwargs, dict) else ())
                                           if isinstance(v, str) and k in PARTS)}
            if found["function"] != "load_config":  # the outermost loader the learner called says the most
                break
        tb = tb.tb_next
    return found


def facts_for(exc: BaseException) -> CallFacts | None:
    """The facts of the call that raised `exc` or an error it caused, or None when nothing is known (every chapter)."""
    seen, link = [], exc
    while link is not None and link not in seen and len(seen) < 5:
        seen.append(link)
        facts = getattr(link, "_tutorial_call", None)
        if isinstance(facts, CallFacts):
            return facts
        link = link.__cause__ or link.__context__
    loader = _loader_frame(exc)
    return CallFacts(loader=loader) if loader else None


def remember(exc: BaseException, pipeline, arguments: dict) -> None:
    """Attach the failed call's facts to its exception, for the note under it (every chapter)."""
    if getattr(exc, "_tutorial_call", None) is None:
        try:
            exc._tutorial_call = call_facts(pipeline, arguments)
        except Exception:  # noqa: BLE001 - the facts are a help; the learner's own error must come through unchanged
            pass


def is_local(repo: str) -> bool:
    """True for a folder or file on this machine rather than a Hub id (every chapter)."""
    return repo.startswith((".", "/", "~")) or os.path.exists(repo)


def repo_pipeline_class(source) -> str | None:
    """The pipeline class a repo's model_index.json names, read offline, or None where there is none (every chapter)."""
    if not isinstance(source, str) or not source:
        return None
    try:
        from diffusers import DiffusionPipeline

        return DiffusionPipeline.load_config(source, local_files_only=True).get("_class_name")
    except Exception:  # noqa: BLE001 - no model_index.json here: nothing can be said about the class
        return None
