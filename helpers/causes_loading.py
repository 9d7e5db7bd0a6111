"""Causes confirmed from a failed load: which loader, class, repo, subfolder, variant and mode the traceback shows.

The same contract as helpers.causes: (what it means, how to fix it), or None when the loader's own inputs do not
confirm a cause, and then helpers.notes shows no note at all.
"""

from __future__ import annotations

import difflib
import os
import re

from helpers.callfacts import CallFacts, is_local
from helpers.causes_files import loader_source, missing_local_path

# the folder each model class sits in inside a pipeline repo, as diffusers names them
FOLDERS = {"UNet2DConditionModel": ("unet",), "AutoencoderKL": ("vae",), "VQModel": ("movq",),
           "CLIPTextModel": ("text_encoder",), "CLIPTextModelWithProjection": ("text_encoder_2", "text_encoder"),
           "StableDiffusionSafetyChecker": ("safety_checker",), "PriorTransformer": ("prior",),
           "CLIPVisionModelWithProjection": ("image_encoder",)}


def _mistyped_id(repo: str) -> tuple[str, str] | None:
    """A chapter's id with a space around it, or with a part's folder written into it ("org/name/unet")."""
    from helpers.checkpoints import CHECKPOINTS

    web = re.match(r"\s*(?:https?://)?(?:www\.)?(?:huggingface\.co|hf\.co)/([^/\s]+)/([^/\s?#]+)", repo)
    if web:  # the model page's address copied from the browser
        repo_id = f"{web.group(1)}/{web.group(2)}"
        return (f"{repo!r} is the model's web address; from_pretrained takes its repo id, org/name, online too.",
                f"drop the address part: from_pretrained({repo_id!r}, ...)"
                + (" (one of the chapter's ids, so it loads offline too)." if repo_id in CHECKPOINTS else "."))
    if repo != repo.strip() and repo.strip() in CHECKPOINTS:
        return (f"the id {repo!r} has a space at its start or end, so it names no repo.",
                f"take the space out: {repo.strip()!r} (repo_id.strip()).")
    head, _, folder = repo.strip().rpartition("/")
    if head in CHECKPOINTS and folder:
        return (f"{repo!r} writes the part's folder into the id; a repo id is org/name, and the folder inside it "
                "goes in subfolder=.", f"from_pretrained({head!r}, subfolder={folder!r}, **load_args({head!r})).")
    return None


def not_a_repo(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """An id the Hub refuses: a chapter id with a space or a folder in it, or a typo (every chapter)."""
    repo = (facts.loader.get("repo") if facts is not None else None) or ""
    quoted = re.search(r"'([^']*)'", str(exc))
    return _mistyped_id(repo or (quoted.group(1) if quoted else "")) or (
        "this model id is not a repo on the Hub (a typo, or a path that does not exist).",
        "copy the id from the model's Hub page as org/name; helpers.checkpoints.checkpoint('...') suggests the "
        "closest id this tutorial knows.")


def _no_twin(repo: str) -> tuple[str, str]:
    """A repo the offline twins do not hold, in twins mode: one wording wherever the loader stopped."""
    mistyped = _mistyped_id(repo)
    if mistyped:
        return mistyped
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


def _forced(facts: CallFacts | None) -> tuple[str, str] | None:
    """force_download=True in an offline session: the loader may not read even the files it has."""
    from helpers.modes import active_mode, hub_offline

    if facts is None or facts.loader.get("force_download") is not True:
        return None
    if not (hub_offline() or active_mode() == "twins"):
        return None
    return ("force_download=True asks the loader to fetch every file again from the Hub, and this session is "
            "offline (" + ("the twins" if active_mode() == "twins" else "HF_HUB_OFFLINE") + "), so it may not "
            "use the files it already has.",
            "leave force_download= out: the files are in the cache. A damaged twin is repaired by "
            "`python -m helpers.twins build` (or the use_models cell, after a kernel restart).")


def _refused() -> tuple[str, str] | None:
    """use_models() refused to switch caches in this kernel, and nothing was chosen since."""
    from helpers import modes

    if modes._ACTIVE.get("refused") is None or modes.active_mode() is not None:
        return None
    return (f"use_models() refused to choose the weights in this kernel (huggingface_hub had been imported first), "
            f"so loading still looks in {modes._ACTIVE['refused']}, where this model is not.",
            "restart the kernel and run the use_models(...) cell before any cell that imports diffusers or "
            "transformers.")


def _other_cache(loader: dict) -> tuple[str, str] | None:
    """cache_dir= sent the loader to a cache folder that does not hold the repo, where nothing can download it."""
    from pathlib import Path

    from helpers.modes import active_hub_cache, active_mode, hub_offline, is_cached

    given, repo = loader.get("cache_dir"), loader.get("repo")
    if not isinstance(given, (str, os.PathLike)) or not repo or is_local(repo):
        return None
    chosen, active = Path(given).expanduser().resolve(), active_hub_cache().resolve()
    if chosen == active or is_cached(repo, chosen):
        return None
    if active_mode() == "twins":
        return (f"cache_dir={os.fspath(given)!r} sends the loader to a cache folder of its own, and the offline twins "
                f"are not there: the use_models cell keeps them in {active}.",
                "leave cache_dir= out; the cell has already pointed every loader at the twins' cache.")
    if hub_offline():
        return (f"cache_dir={os.fspath(given)!r} sends the loader to a cache folder that does not hold {repo}, and "
                "this session is offline (HF_HUB_OFFLINE), so nothing can be downloaded into it.",
                f"leave cache_dir= out to load from the cache the weights are in ({active}), or connect once to "
                "download into your folder.")
    return None


def _saved_variant(folder: str) -> str | None:
    """The variant label of a saved folder's weights (model.fp16.safetensors -> 'fp16'), or None."""
    root, labels, plain = os.path.expanduser(folder), set(), False
    for _where, _dirs, files in os.walk(root):
        for name in files:
            found = re.fullmatch(r"[\w-]+\.(\w+)\.(safetensors|bin)", name)
            labels |= {found.group(1)} if found else set()
            plain = plain or bool(re.fullmatch(r"[\w-]+\.(safetensors|bin)", name))
    return labels.pop() if len(labels) == 1 and not plain else None  # only labelled weights: saved with a variant


def missing_file(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A loader found no such file: which loader, class, repo, subfolder and variant it was given (every chapter)."""
    from helpers.checkpoints import CHECKPOINTS
    from helpers.modes import active_mode, hub_offline

    forced = _forced(facts)
    if forced:
        return forced
    loader = facts.loader if facts is not None else {}
    repo, cls = loader.get("repo"), loader.get("cls")
    if not repo or not isinstance(cls, type):
        return None
    elsewhere = _other_cache(loader) or _refused()
    if elsewhere:
        return elsewhere
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
    weights_missing = re.search(r"\.(safetensors|bin)\b", str(exc)) is not None
    saved = _saved_variant(repo) if is_local(repo) and variant is None and weights_missing else None
    if saved:  # save_pretrained(..., variant="fp16") names its files model.fp16.safetensors
        return (f"{repo} was saved with variant={saved!r}: its weights are named like model.{saved}.safetensors, "
                "and from_pretrained without variant= looks for model.safetensors.",
                f"pass variant={saved!r} (or **load_args({repo!r}), which reads the folder's files and chooses).")
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
    if single and subfolder:
        return (f"{repo} is a single model with its files at the top of the repo, and subfolder={subfolder!r} sent "
                "the loader into a folder it does not have.", f"leave subfolder= out: {name}.from_pretrained(repo_id, "
                "**load_args(repo_id)).")
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
    elsewhere = (_other_cache(facts.loader) if facts is not None else None) or _refused()
    if elsewhere:
        return elsewhere
    forced = _forced(facts)
    if forced:
        return forced
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
    missing = missing_local_path(exc)  # a mistyped path: neither the twins nor a download is the cause
    if missing:
        return missing
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


def lora_path(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """load_lora_weights given a path that is not there, or that starts with ~ (ch. 3)."""
    source = loader_source(exc, ("pretrained_model_name_or_path_or_dict",))  # the path as the loader got it
    if source is None:
        return None
    path = os.path.expanduser(source)
    if path != source and os.path.exists(path):  # diffusers reads the path as written, and "~" is no folder
        return (f"{source} starts with ~, which Python does not expand by itself, so diffusers looked for a folder "
                "named ~ and found nothing; the note about weight_name= is its guess for a Hub repo id.",
                f"expand it first: pipeline.load_lora_weights(os.path.expanduser({source!r})).")
    repo_id = re.fullmatch(r"[\w-][\w.-]*/[\w.-]+", source) and not source.endswith((".safetensors", ".bin"))
    if os.path.exists(path) or repo_id or not (os.sep in source or "/" in source or source.endswith(".safetensors")):
        return None  # a file that is there, or a Hub repo id (org/name): another cause
    return (f"{source} does not exist: no such file or folder, looked for from {os.getcwd()} (the notebook's "
            "folder). The note about weight_name= is diffusers' guess for a Hub repo id, which this is not.",
            "give the path of the LoRA's .safetensors file as it is on disk (an absolute path, or relative to "
            "the folder above), e.g. pipeline.load_lora_weights('/full/path/to/pixel_style.safetensors').")
