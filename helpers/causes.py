"""Causes confirmed from the failed call: a note for a loosely worded error only when the call's facts show its cause.

Each function takes the error and its CallFacts (helpers.callfacts) and returns (what it means, how to fix it), or
None when the facts do not confirm a cause. helpers.notes shows None as no note at all: a note that names the
wrong cause sends the learner the wrong way, which is worse than none.
"""

from __future__ import annotations

import difflib
import re

from helpers.callfacts import CallFacts, Value

FLOATS = ("float16", "bfloat16", "float32", "float64")
PICTURES = ("image", "mask_image", "control_image")


def _tensors_off_dtype(facts: CallFacts) -> list[tuple[str, Value]]:
    """Tensor arguments whose float dtype differs from the pipeline's weights."""
    return [(name, v) for name, v in facts.args.items()
            if v.kind in ("tensor", "list") and v.dtype in FLOATS and facts.dtype in FLOATS and v.dtype != facts.dtype]


def dtype_mismatch(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """Two dtypes met: a tensor argument in another dtype than the weights, or fp16 weights on a CPU (every chapter)."""
    text = str(exc)
    if facts is not None and facts.pipeline:
        off = _tensors_off_dtype(facts)
        if off:
            listed = ", ".join(f"{name} is {v.dtype}" for name, v in off)
            return (f"{listed}, but the pipeline's weights are {facts.dtype}: tensors you pass must be in their dtype.",
                    f"convert it: {off[0][0]}={off[0][0]}.to(pipeline.dtype), or make it with dtype=pipeline.dtype "
                    "(torch.randn(..., dtype=pipeline.dtype)).")
        if facts.dtype in ("float16", "bfloat16") and facts.device.startswith("cpu"):
            return ("the pipeline's weights are float16 on the CPU, which most CPUs cannot compute.",
                    "load with dtype=pick_dtype(device) (fp16 only on CUDA), then fit_to_machine(pipeline, device).")
        return None
    # no call facts (the error came from your own code on a model): only a message that names both dtypes says it
    if re.search(r"Double", text) and re.search(r"Float|Half", text):
        return ("a float64 (double) tensor met float32 or float16 weights: NumPy arrays become float64 by default.",
                "convert it with .to(model.dtype) (or torch.from_numpy(array).float()) before passing it.")
    if re.search(r"not implemented for 'Half'|c10::Half|\bHalf\b.*\b(Float|float)\b|\b(Float|float)\b.*\bHalf\b", text):
        return ("half precision (float16) met float32, or float16 ran on a device that cannot compute it (most CPUs).",
                "load with dtype=pick_dtype(device) (fp16 only on CUDA), and pass images as PIL pictures rather than "
                "tensors.")
    return None


def prompt_types(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """prompt and negative_prompt of different kinds: a list of prompts with one negative string (every chapter)."""
    if facts is None or not facts.args:
        return None
    prompt, negative = facts.args.get("prompt"), facts.args.get("negative_prompt")
    if prompt is None or negative is None or prompt.kind == negative.kind:
        return None
    many = prompt if prompt.kind == "list" else negative
    return (f"prompt and negative_prompt must both be one string or both be lists: here one is a list of {many.count}."
            , f"pass a list as long as the other, e.g. negative_prompt=[negative_prompt] * {many.count}.")


def _count(v: Value | None) -> int | None:
    if v is None or v.kind in ("none", "number", "other"):
        return None
    return v.count


def sizes_dont_fit(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """Inputs that do not fit: picture or batch sizes, embedding width, latent axes, mask channels (every chapter)."""
    if facts is None or not facts.args:
        return None
    args = facts.args
    shown = {name: args[name] for name in PICTURES if name in args and args[name].kind in ("pil", "list", "tensor")}
    for name, v in shown.items():
        if v.kind == "list" and v.sizes and v.size is None:
            return (f"{name} is a list of pictures of different sizes: {', '.join(f'{w}x{h}' for w, h in v.sizes)}.",
                    "resize them to one size (multiples of 8): [p.resize((512, 512)) for p in pictures].")
    sizes = {name: v.size for name, v in shown.items() if v.size is not None}
    if len(set(sizes.values())) > 1:
        return ("the pictures differ in size: " + ", ".join(f"{n} {w}x{h}" for n, (w, h) in sizes.items()) + ".",
                "resize them to one size (multiples of 8), e.g. mask_image = mask_image.resize(image.size).")
    prompts = _count(args.get("prompt")) or _count(args.get("prompt_embeds"))
    counts = {name: _count(v) for name, v in shown.items() if _count(v)}
    if len(set(counts.values())) > 1:
        listed = ", ".join(f"{n} holds {c}" for n, c in counts.items())
        return (f"the batch sizes differ: {listed} picture(s); each picture needs its own mask and control image.",
                "give every list the same length, e.g. mask_image=[mask] * len(images), or one picture each.")
    pictures = max(counts.values(), default=None)
    if prompts and pictures and prompts != pictures:
        return (f"prompt holds {prompts} prompts and the pictures {pictures}: this pipeline pairs them one to one.",
                f"pass one prompt (a string), or {prompts} pictures: image=[image] * {prompts}.")
    embeds = args.get("prompt_embeds")
    if embeds is not None and embeds.kind == "tensor" and facts.text_width and embeds.shape[-1] != facts.text_width:
        return (f"prompt_embeds are {embeds.shape[-1]} wide, and this pipeline's text encoder makes "
                f"{facts.text_width}-wide ones: they come from another model's text encoder.",
                "make them with this pipeline's own encoder: compel built on pipeline.tokenizer and "
                "pipeline.text_encoder, or pipeline.encode_prompt(...).")
    latents = args.get("latents")
    if latents is not None and latents.kind == "tensor" and len(latents.shape) != 4:
        return (f"latents have {len(latents.shape)} axes {latents.shape}; pipelines take 4: (batch, channels, "
                "height / 8, width / 8).", "add the batch axis: latents=latents[None] (or latents.unsqueeze(0)).")
    mask = args.get("mask_image")
    if mask is not None and mask.kind == "tensor" and mask.channels not in (None, 1):
        return (f"mask_image is a tensor with {mask.channels} channels; a mask has one (white = repaint).",
                "keep one channel: mask_image=mask_image[:, :1], or pass a PIL picture in mode 'L'.")
    return None


def _folders(repo: str) -> list[str] | None:
    from helpers.manifests import component_folders, recorded_repos

    return component_folders(repo) if repo in recorded_repos() else None


def _folder_for(class_name: str, folders: list[str]) -> str | None:
    """The folder a model class lives in, by the names diffusers gives them (AutoencoderKL -> vae)."""
    wanted = {"Autoencoder": ("vae",), "VQModel": ("movq", "vae"), "UNet": ("unet",), "ControlNet": ("controlnet",),
              "CLIPTextModelWithProjection": ("text_encoder_2", "text_encoder"), "CLIPTextModel": ("text_encoder",),
              "SafetyChecker": ("safety_checker",), "Prior": ("prior",), "CLIPVision": ("image_encoder",)}
    for key, names in wanted.items():
        if key in class_name:
            return next((n for n in names if n in folders), None)
    return None


def missing_file(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A loader found no such file: which loader, class, repo, subfolder and variant it was given (every chapter)."""
    from helpers.checkpoints import CHECKPOINTS
    from helpers.modes import active_mode, hub_offline

    loader = facts.loader if facts is not None else {}
    repo, cls = loader.get("repo"), loader.get("cls")
    if not repo:
        return None
    offline = hub_offline() or active_mode() == "twins"
    if loader.get("function") == "load_textual_inversion":
        if offline:
            return (f"textual-inversion embeddings come from the Hub, and this session is offline (twins or "
                    f"HF_HUB_OFFLINE): {repo} is not on this machine.",
                    "connect once with TUTORIAL_MODELS=hub to download it; the twins hold no embeddings.")
        return None
    folders = _folders(repo)
    if folders is None and active_mode() == "twins":
        return (f"{repo} has no twin: the offline twins exist only for the chapter's checkpoints.",
                "use one of the chapter's ids (helpers.checkpoints.CHECKPOINTS), or load the real weights: "
                "`%env TUTORIAL_MODELS=hub` with internet, then restart the kernel.")
    from diffusers import DiffusionPipeline, ModelMixin, SchedulerMixin
    from transformers import PreTrainedModel

    subfolder = loader.get("subfolder")
    if isinstance(cls, type) and issubclass(cls, SchedulerMixin) and not subfolder:
        return (f"a scheduler's settings sit in the repo's scheduler/ folder, and {cls.__name__}.from_pretrained "
                "looked at the top of the repo.",
                f"{cls.__name__}.from_config(pipeline.scheduler.config) keeps the model's own betas (the book's way); "
                f"from a repo: {cls.__name__}.from_pretrained(repo_id, subfolder='scheduler').")
    single = folders is not None and folders == [""]
    model = isinstance(cls, type) and issubclass(cls, (ModelMixin, PreTrainedModel))
    if model and folders and not single and subfolder not in folders:
        near = difflib.get_close_matches(str(subfolder or ""), folders, n=1) if subfolder else []
        given = f"subfolder={subfolder!r} is not one" if subfolder else "no subfolder= was given"
        folder = near[0] if near else _folder_for(cls.__name__, folders)
        fix = f"{cls.__name__}.from_pretrained(repo_id, subfolder='{folder}')" if folder else \
            f"subfolder= the folder that holds this model (one of {', '.join(folders)})"
        return (f"{repo} keeps each model in its own folder ({', '.join(folders)}), and {given}.", f"pass {fix}.")
    pipeline = isinstance(cls, type) and (issubclass(cls, DiffusionPipeline) or cls.__name__.startswith("AutoPipeline"))
    if pipeline and single and repo in CHECKPOINTS:
        return (f"{repo} is a single model ({CHECKPOINTS[repo].pipeline}), not a pipeline.",
                f"load it with {CHECKPOINTS[repo].pipeline}.from_pretrained and pass it to the pipeline "
                "(controlnet=... for a ControlNet).")
    variant = loader.get("variant")
    if variant and variant in str(exc):
        return (f"you asked for variant='{variant}' files, but this repo ships none for some of its parts.",
                "drop variant= and pass **load_args(repo_id) (from helpers.loading), which reads the repo's files and "
                "chooses.")
    return None


NOT_DOWNLOADED = ("the weights are not (all) on this machine and could not be downloaded (no internet, or "
                  "HF_HUB_OFFLINE is set).",
                  "connect once to download them, or run on the offline twins: `%env TUTORIAL_MODELS=twins`, then "
                  "restart the kernel and run from the top. Twins already in use? Their cache is damaged: "
                  "`python -m helpers.twins build`.")


def not_downloaded(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """Offline and not cached, unless the loader's repo is on this machine: then it is another cause (every chapter)."""
    from helpers.modes import active_hub_cache, is_cached

    repo = (facts.loader.get("repo") if facts is not None else None) or None
    if repo and is_cached(repo, active_hub_cache()):  # the repo is here: a file it lacks, or a class that does not fit
        return None
    return NOT_DOWNLOADED
