"""Causes confirmed from the failed call: a note for a loosely worded error only when the call's facts show its cause.

Each function takes the error and its CallFacts (helpers.callfacts) and returns (what it means, how to fix it), or
None when the facts do not confirm a cause. helpers.notes shows None as no note at all, and looks no further: a
note that names the wrong cause sends the learner the wrong way, which is worse than none.
"""

from __future__ import annotations

import difflib
import os
import re
import traceback

from helpers.callfacts import CallFacts, Value, is_local, repo_pipeline_class

# the names torch gives dtypes in its messages
TORCH_NAMES = {"Double": "float64", "Float": "float32", "Half": "float16", "BFloat16": "bfloat16"}
# the folder each model class sits in inside a pipeline repo, as diffusers names them
FOLDERS = {"UNet2DConditionModel": ("unet",), "AutoencoderKL": ("vae",), "VQModel": ("movq",),
           "CLIPTextModel": ("text_encoder",), "CLIPTextModelWithProjection": ("text_encoder_2", "text_encoder"),
           "StableDiffusionSafetyChecker": ("safety_checker",), "PriorTransformer": ("prior",),
           "CLIPVisionModelWithProjection": ("image_encoder",)}


def dtype_mismatch(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """Two dtypes met: latents in another dtype than the UNet, or fp16 weights on a CPU (every chapter)."""
    text = str(exc)
    named = {TORCH_NAMES[n] for n in re.findall(r"\b(Double|Float|Half|BFloat16)\b", text)}
    if facts is not None and facts.pipeline:
        latents = facts.args.get("latents")
        # latents are the one input diffusers does not cast (pictures and prompt_embeds are converted for you)
        if latents is not None and latents.kind == "tensor" and latents.dtype != facts.unet_dtype and \
                (not named or latents.dtype in named):
            return (f"latents are {latents.dtype}, but the UNet's weights are {facts.unet_dtype}: diffusers casts "
                    "pictures and prompt embeddings for you, but not latents you pass.",
                    "make them in the pipeline's dtype: latents=latents.to(pipeline.dtype), or "
                    "torch.randn(..., dtype=pipeline.dtype).")
        if facts.dtype in ("float16", "bfloat16") and facts.device.startswith("cpu") and \
                re.search(r"not implemented for '(Half|BFloat16)'", text):
            return ("the pipeline's weights are float16 on the CPU, which most CPUs cannot compute.",
                    "load with dtype=pick_dtype(device) (fp16 only on CUDA), then fit_to_machine(pipeline, device).")
    # the message alone, where it names the dtypes that met
    if "float64" in named and ({"float32", "float16"} & named):
        return ("a float64 (double) tensor met float32 or float16 weights: NumPy arrays become float64 by default.",
                "convert it with .to(model.dtype) (or torch.from_numpy(array).float()) before passing it.")
    if re.search(r"not implemented for 'Half'|c10::Half", text) or {"float16", "float32"} <= named:
        return ("half precision (float16) met float32 (a model or tensor in the other dtype), or float16 ran on a "
                "device that cannot compute it (most CPUs).",
                "load the whole pipeline in one dtype, dtype=pick_dtype(device) (fp16 only on CUDA), and do not "
                "cast single models with .half(); pass pictures as PIL images rather than tensors.")
    return None


def prompt_types(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """prompt and negative_prompt of different kinds: a list of prompts with one negative string (every chapter)."""
    if facts is None or not facts.args:
        return None
    prompt, negative = facts.args.get("prompt"), facts.args.get("negative_prompt")
    if prompt is None or negative is None or {prompt.kind, negative.kind} != {"str", "list"}:
        return None
    if prompt.kind == "list":
        return (f"prompt is a list of {prompt.count} and negative_prompt one string: they must both be strings or "
                "both be lists.", f"pass negative_prompt=[negative_prompt] * {prompt.count}.")
    return (f"prompt is one string and negative_prompt a list of {negative.count}: they must both be strings or both "
            "be lists.", f"pass prompt=[prompt] * {negative.count}, or negative_prompt as one string.")


def _count(v: Value | None) -> int | None:
    if v is None or v.kind not in ("str", "list", "pil", "tensor", "ndarray"):
        return None
    return v.count


def _latents_problem(facts: CallFacts) -> tuple[str, str] | None:
    latents = facts.args.get("latents")
    if latents is None or latents.kind != "tensor":
        return None
    shape = latents.shape
    if len(shape) != 4:
        return (f"latents have {len(shape)} axes {shape}; pipelines take 4: (batch, channels, height / 8, "
                "width / 8).", "add the batch axis: latents=latents[None] (or latents.unsqueeze(0)).")
    if facts.latent_channels and shape[1] != facts.latent_channels:
        return (f"latents have {shape[1]} channels, and this pipeline's VAE works with {facts.latent_channels}.",
                f"make them with {facts.latent_channels} channels: torch.randn(1, {facts.latent_channels}, "
                "height // 8, width // 8).")
    side = (facts.height, facts.width) if facts.height else (facts.native, facts.native) if facts.native else None
    if side and (shape[2] * facts.scale, shape[3] * facts.scale) != side:
        return (f"latents are {shape[2]}×{shape[3]}, which is {shape[2] * facts.scale}×{shape[3] * facts.scale} "
                f"pixels, and the pipeline works at {side[0]}×{side[1]}"
                f"{'' if facts.height else ' (its own size: no height= or width= was passed)'}.",
                f"pass height={shape[2] * facts.scale}, width={shape[3] * facts.scale}, or make latents of "
                f"{side[0] // facts.scale}×{side[1] // facts.scale}.")
    prompts = _count(facts.args.get("prompt")) or _count(facts.args.get("prompt_embeds"))
    if prompts and shape[0] != prompts:
        return (f"latents hold a batch of {shape[0]} and the prompts {prompts}: each image starts from its own "
                "latents.", f"make latents with a batch of {prompts}, or pass {shape[0]} prompts.")
    return None


def sizes_dont_fit(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """Inputs that do not fit: embedding width, latents, UNet channels, batch or picture sizes (every chapter)."""
    if facts is None or not facts.pipeline:
        return None
    args = facts.args
    embeds = args.get("prompt_embeds")
    if embeds is not None and embeds.kind == "tensor" and facts.text_width and embeds.shape[-1] != facts.text_width:
        return (f"prompt_embeds are {embeds.shape[-1]} wide, and this pipeline's text encoder makes "
                f"{facts.text_width}-wide ones: they come from another model's text encoder.",
                "make them with this pipeline's own encoder: compel built on pipeline.tokenizer and "
                "pipeline.text_encoder, or pipeline.encode_prompt(...).")
    found = _latents_problem(facts)
    if found:
        return found
    inpainting = "Inpaint" in facts.pipeline
    if facts.unet_in == 9 and not inpainting:
        return (f"this pipeline's UNet takes 9 input channels: it is an inpainting UNet, and {facts.pipeline} feeds "
                "it 4.", "load the checkpoint with AutoPipelineForInpainting and pass image= and mask_image=.")
    mask = args.get("mask_image")
    if mask is not None and mask.kind == "tensor" and mask.channels not in (None, 1):
        index = "[:, :1]" if len(mask.shape) == 4 else "[:1]"
        return (f"mask_image is a tensor with {mask.channels} channels {mask.shape}; a mask has one (white = repaint).",
                f"keep one channel: mask_image=mask_image{index}, or pass a PIL picture in mode 'L'.")
    for name in ("image", "control_image"):
        v = args.get(name)
        if v is not None and v.kind == "list" and v.sizes and v.size is None:
            return (f"{name} is a list of pictures of different sizes: {', '.join(f'{w}x{h}' for w, h in v.sizes)}.",
                    "resize them to one size (multiples of 8): [p.resize((512, 512)) for p in pictures].")
    pictures = _count(args.get("image"))
    prompts = _count(args.get("prompt")) or _count(args.get("prompt_embeds"))
    masks = _count(mask) if mask is not None and mask.kind != "none" else None
    if pictures and masks and masks > 1 and masks != pictures:
        return (f"image holds {pictures} and mask_image {masks}: one mask serves every picture, or each picture "
                "needs its own.", "pass one mask, or as many masks as pictures.")
    image = args.get("image")
    what = "latents" if image is not None and image.kind == "tensor" and image.channels in (4, 16) else "pictures"
    if pictures and prompts and pictures > 1 and pictures != prompts:
        said = "one prompt" if prompts == 1 else f"{prompts} prompts"
        return (f"image holds {pictures} {what} and there is {said}: each of them needs its own prompt.",
                f"pass {pictures} prompts (a list of {pictures} strings), or as many {what} as prompts.")
    if pictures and prompts and prompts != pictures and "Upscale" in facts.pipeline:
        return (f"prompt holds {prompts} prompts and image {pictures}: {facts.pipeline} does not repeat a picture "
                "for each prompt.", f"pass one prompt (a string), or {prompts} pictures (a list of {prompts}).")
    return None


def _no_twin(repo: str) -> tuple[str, str]:
    """A repo the offline twins do not hold, in twins mode: one wording wherever the loader stopped."""
    return (f"{repo} has no twin: the offline twins exist only for the chapter's checkpoints.",
            "use one of the chapter's ids (helpers.checkpoints.CHECKPOINTS), or load the real weights: "
            "`%env TUTORIAL_MODELS=hub` with internet, then restart the kernel.")


def _variant_note(variant: str | None) -> tuple[str, str]:
    label = f"variant='{variant}'" if variant else "a variant="
    # the variant came from the learner's own variant=, or from **load_args of another repo's id
    return (f"the load asked for {label} files, but this repo ships none for some of its parts.",
            "pass **load_args(repo_id) with the same repo id as from_pretrained's (load_args of another repo brings "
            "that repo's variant=), and no variant= of your own: it reads this repo's files and chooses.")


def _folder_for(class_name: str, folders: list[str]) -> str | None:
    """The folder a model class lives in inside a pipeline repo, when the repo has one for it."""
    return next((n for n in FOLDERS.get(class_name, ()) if n in folders), None)


def _folders(repo: str) -> list[str] | None:
    from helpers.manifests import component_folders, recorded_repos

    return component_folders(repo) if repo in recorded_repos() else None


def missing_file(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A loader found no such file: which loader, class, repo, subfolder and variant it was given (every chapter)."""
    from helpers.checkpoints import CHECKPOINTS
    from helpers.modes import active_mode, hub_offline

    loader = facts.loader if facts is not None else {}
    repo, cls = loader.get("repo"), loader.get("cls")
    if not repo or not isinstance(cls, type):
        return None
    name = cls.__name__
    variant = loader.get("variant")
    if variant is not None and not isinstance(variant, str):  # variant=torch.float16: the dtype in the wrong place
        return (f"variant= names a file label such as 'fp16', and it was given {variant!r}, so the loader looked for "
                "files with that name in them.", f"pass the dtype as dtype={variant!r}, and variant='fp16' only "
                "where the repo ships fp16 files (**load_args(repo_id) chooses).")
    if loader.get("revision") in ("fp16", "fp32", "bf16"):  # older tutorials' way to ask for half-size files
        return (f"revision={loader['revision']!r} asks for a git branch of that name, the way older tutorials got "
                "half-size files; diffusers now keeps them beside the others as a variant, and a repo need not have "
                "that branch (the twins have none).",
                "drop revision= and pass **load_args(repo_id), which picks variant='fp16' where the repo ships it.")
    if is_local(repo) and not os.path.exists(os.path.expanduser(repo)):
        return (f"{repo} does not exist on this machine.", "check the path: print(Path(path).resolve()) shows where "
                "it points; relative paths start at the folder Python runs in.")
    if is_local(repo) and loader.get("function") == "load_lora_weights":
        return (f"{repo} is a folder, and no LoRA weights file was found in it under the default name.",
                "pass the file's name too: load_lora_weights(folder, weight_name='my_lora.safetensors').")
    if is_local(repo):
        found = re.search(r"named ([\w.\-]+\.(?:json|safetensors|bin|ckpt|pt|txt))", str(exc))
        wanted = found.group(1) if found else "the file the loader asked for"
        return (f"{repo} is a folder on this machine, and it does not hold {wanted}.",
                f"point to the folder that save_pretrained wrote for this {name}, or load by the repo id.")
    offline = hub_offline() or active_mode() == "twins"
    if loader.get("function") == "load_textual_inversion":
        if offline:
            return (f"textual-inversion embeddings come from the Hub, and this session is offline (twins or "
                    f"HF_HUB_OFFLINE): {repo} is not on this machine.",
                    "connect once with TUTORIAL_MODELS=hub to download it; the twins hold no embeddings.")
        return None
    folders = _folders(repo)
    if folders is None:
        return _no_twin(repo) if active_mode() == "twins" else None
    from diffusers import DiffusionPipeline, SchedulerMixin

    single = folders == [""]
    subfolder = loader.get("subfolder")
    if issubclass(cls, SchedulerMixin):
        if single:
            return (f"{repo} is a single model ({CHECKPOINTS[repo].pipeline}) and holds no scheduler.",
                    f"take the pipeline's own: {name}.from_config(pipeline.scheduler.config).")
        if not subfolder:
            return (f"a scheduler's settings sit in the repo's scheduler/ folder, and {name}.from_pretrained looked "
                    "at the top of the repo.",
                    f"{name}.from_config(pipeline.scheduler.config) keeps the model's own betas (the book's way); "
                    f"from a repo: {name}.from_pretrained(repo_id, subfolder='scheduler').")
        return None
    pipeline = issubclass(cls, DiffusionPipeline) or name.startswith("AutoPipeline")
    if pipeline:
        if single and repo in CHECKPOINTS:
            return (f"{repo} is a single model ({CHECKPOINTS[repo].pipeline}), not a pipeline.",
                    f"load it with {CHECKPOINTS[repo].pipeline}.from_pretrained and pass it to the pipeline "
                    "(controlnet=... for a ControlNet).")
        return None
    if isinstance(variant, str) and variant in str(exc):
        return _variant_note(variant)
    if single or subfolder in folders:
        return None
    folder = _folder_for(name, folders)
    if folder is None:
        return (f"{repo} holds no {name}: its folders are {', '.join(folders)}, and none is the kind of model {name} "
                "loads.", f"load {name} from a repo of its own (helpers.checkpoints lists the chapter's), or pick the "
                "class that fits one of those folders.")
    near = difflib.get_close_matches(str(subfolder or ""), folders, n=1) if subfolder else []
    given = f"subfolder={subfolder!r} is not one" if subfolder else "no subfolder= was given"
    if near and near[0] != folder:
        return None  # a typo for another model's folder: which one was meant is not known
    return (f"{repo} keeps each model in its own folder ({', '.join(folders)}), and {given}.",
            f"pass {name}.from_pretrained(repo_id, subfolder='{folder}').")


NOT_DOWNLOADED = ("the weights are not on this machine and could not be downloaded (no internet, or HF_HUB_OFFLINE "
                  "is set).",
                  "connect once to download them, or run on the offline twins: `%env TUTORIAL_MODELS=twins`, then "
                  "restart the kernel and run from the top.")


def _picture_url(exc: BaseException) -> str | None:
    """The picture URL a failed download named (load_image with no network), if the message names one."""
    found = re.search(r"host='([^']+)'.*?url: (\S+?\.(?:png|jpe?g|webp|gif|bmp))\b", str(exc), re.I | re.S)
    return f"https://{found.group(1)}{found.group(2)}" if found else None


def not_downloaded(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """Offline and not here: a damaged twin, a file the twins never hold, or weights not downloaded (every chapter)."""
    from helpers.manifests import recorded_repos
    from helpers.modes import active_hub_cache, active_mode, is_cached

    repo = (facts.loader.get("repo") if facts is not None else None) or None
    given = re.match(r"(\w+) \{\s*\"_class_name\"", repo or "")  # from_config(scheduler): its printout as a "repo"
    if given:
        return (f"from_config was given a {given.group(1)} object; it takes that scheduler's settings, its .config, "
                "and looked the object's printout up as if it were a repo id instead.",
                "pass the config: pipeline.scheduler = DDIMScheduler.from_config(pipeline.scheduler.config).")
    if repo and (is_local(repo) or is_cached(repo, active_hub_cache())):
        # the files are here: a file the folder lacks, or a class or subfolder that does not fit the repo
        return missing_file(exc, facts)
    picture = _picture_url(exc) if not repo else None
    if picture:  # load_image(url) with no network: a picture, not a model, so the twins are not the cause
        from helpers.images import CHAPTER_IMAGES

        name = next((k for k, url in CHAPTER_IMAGES.items() if url == picture), None)
        return (f"the picture {picture} is fetched from the internet, and it could not be reached (offline, or the "
                "site did not answer).",
                (f"use the chapter's copy: load_chapter_image({name!r}) (cached once downloaded, with an offline "
                 "stand-in)" if name else "download it once where there is internet and open the file: "
                 "load_image('path/to/picture.png')") + "; models are not involved, so the twins need nothing.")
    if active_mode() == "twins":
        if repo and repo in recorded_repos():
            return ("the twin of this checkpoint is missing from the twins' cache (a build that was cut off).",
                    "rebuild the twins: `python -m helpers.twins build`, or restart the kernel (the `use_models` cell "
                    "checks and repairs them).")
        if repo:
            return _no_twin(repo)
        return ("this file is not in the offline twins' cache: either it is not part of the chapter's checkpoints "
                "(the twins hold only those), or the cache is damaged.",
                "for another model, switch to the real weights (`%env TUTORIAL_MODELS=hub` with internet, then "
                "restart the kernel); for the chapter's own, rebuild the twins: `python -m helpers.twins build`.")
    return NOT_DOWNLOADED


def variant_files(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """variant= asked for files the repo does not ship, or was given a dtype instead of a label (every chapter)."""
    variant = (facts.loader.get("variant") if facts is not None else None)
    if variant is not None and not isinstance(variant, str):
        return missing_file(exc, facts)
    return _variant_note(variant)


def peft_missing(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A LoRA method without the peft backend: peft not installed, or older than diffusers needs (ch. 4)."""
    import importlib.util

    if importlib.util.find_spec("peft") is None:
        return ("LoRA in diffusers (load_lora_weights, set_adapters, fuse_lora) works through the peft package, "
                "which is not installed in this kernel's environment.",
                "in a cell: %pip install peft, then restart the kernel and run the chapter from the top.")
    from diffusers.utils import USE_PEFT_BACKEND

    if not USE_PEFT_BACKEND:
        return ("peft is installed, but diffusers did not take it up: it is older than diffusers needs, or it was "
                "installed after diffusers was imported.",
                "%pip install -U peft, then restart the kernel.")
    return None


def missing_folder(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A file written or read in a folder that does not exist: the folder is the cause, not the name (every chapter)."""
    from pathlib import Path

    name = getattr(exc, "filename", None)
    folder = Path(name).expanduser().parent if isinstance(name, (str, os.PathLike)) and str(name) else None
    if folder is None or folder.is_dir():  # the folder is there: the name is what is wrong
        return ("the file is not where the path says. Relative paths start from the notebook's folder (notebooks/).",
                "print(Path.cwd()) to see where you are, and pass the full path or one relative to that folder.")
    missing = folder
    while not missing.parent.is_dir() and missing.parent != missing:
        missing = missing.parent  # the first part of the path that is not there
    if "," in missing.name:  # a phrase, not a folder's name: a "/" inside a name made from a prompt
        return (f"the name contains '/', which separates folders, so '{missing.name}' was read as a folder that does "
                "not exist (a file name made from a prompt, say).",
                "take the '/' out of the name: name = text.replace('/', '-'), then save under that name.")
    writing = any(f.name in ("save", "write_png", "imwrite") for f in traceback.extract_tb(exc.__traceback__))
    if not writing:  # reading from a folder that is not there: the path is what is wrong
        return (f"the folder {folder} does not exist, so the file cannot be in it.",
                "check the path: print(Path.cwd()) shows where relative paths start (the notebook's folder, "
                "notebooks/); pass the full path, or one relative to that folder.")
    return (f"the folder {folder} does not exist, so no file can be written in it.",
            f"make it first: Path({str(folder)!r}).mkdir(parents=True, exist_ok=True), or check the folder's name "
            "(relative paths start from the notebook's folder, notebooks/).")


def parts_missing(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A pipeline class loaded from a repo without the parts it needs: a ControlNet, or another family (ch. 3–5)."""
    import ast

    found = re.search(r"Pipeline <class '[\w.]*?(\w+)'> expected (.+?), but only (\{.*?\}) were passed", str(exc))
    if not found:
        return None
    try:
        expected, passed = set(ast.literal_eval(found.group(2))), set(ast.literal_eval(found.group(3)))
    except (ValueError, SyntaxError):
        return None
    cls, missing = found.group(1), sorted(expected - passed)
    if "controlnet" in missing:
        return (f"{cls} needs a ControlNet, and a pipeline repo does not hold one: it is a model of its own repo.",
                "load it first and pass it in: controlnet = ControlNetModel.from_pretrained(controlnet_id, "
                f"**load_args(controlnet_id)), then {cls}.from_pretrained(repo_id, controlnet=controlnet, ...) "
                "(chapter 4).")
    repo = (facts.loader.get("repo") if facts is not None else None) or None
    theirs = repo_pipeline_class(repo)  # no model_index.json to read: the cause is not confirmed
    if not theirs or theirs == cls:
        return None
    return (f"{repo} holds a {theirs}, whose parts differ from {cls}'s ({', '.join(missing)} missing): the weights "
            "belong to another pipeline family.",
            f"load it with the class it names, or let an AutoPipeline choose: {theirs}.from_pretrained(repo_id, ...) "
            "or AutoPipelineForImage2Image.from_pretrained(repo_id, ...).")


def part_named_by_id(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A model id where from_pretrained takes a loaded part: controlnet="lllyasviel/..." (ch. 4)."""
    parts = (facts.loader.get("named_parts") if facts is not None else None) or []
    tb = exc.__traceback__
    while tb is not None and not parts:  # pipeline.scheduler = "DDIM": diffusers' __setattr__ registers the text
        local = tb.tb_frame.f_locals
        if tb.tb_frame.f_code.co_name == "__setattr__" and isinstance(local.get("value"), str):
            name, value = local.get("name"), local["value"]
            kind = "DDIMScheduler.from_pretrained(repo_id, subfolder='scheduler')" if name == "scheduler" else \
                f"the part's own class: PartClass.from_pretrained(its_id, subfolder='{name}')"
            return (f"pipeline.{name} was set to the text {value!r}; a pipeline's parts are loaded objects, not names.",
                    f"make the object first: pipeline.{name} = {kind}.")
        tb = tb.tb_next
    if not parts:
        return None
    part = parts[0]
    loader = "ControlNetModel" if part == "controlnet" else "the part's own class"
    return (f"{part}= was given a model id (text), but from_pretrained takes a loaded model there.",
            f"load it first with {loader}: {part} = {loader if part == 'controlnet' else 'PartClass'}.from_pretrained("
            f"its_id, **load_args(its_id)), then pass {part}={part}.")
