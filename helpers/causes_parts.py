"""Causes confirmed from a failed load about which class or part fits: a pipeline family's parts, a prior or an
upscaler given to an AutoPipeline, a repo id where a file or a loaded part goes, a diffusers model in transformers.

The same contract as helpers.causes: (what it means, how to fix it), or None when the failed load does not confirm
a cause, and then helpers.notes shows no note at all.
"""

from __future__ import annotations

import re

from helpers.callfacts import CallFacts, is_local, repo_pipeline_class


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
    source = _from_pipe_source(exc)
    add_ons = [m for m in missing if m in ("adapter", "motion_adapter", "image_encoder", "brushnet")]
    if source is not None and add_ons:  # a part loaded on its own, which from_pipe takes as an argument
        return (f"{cls} needs {', '.join(add_ons)}, a part {type(source).__name__} does not have; from_pipe takes "
                "such a part as an argument.", f"load it and pass it: {cls}.from_pipe(pipeline, {add_ons[0]}=...).")
    if source is not None:  # from_pipe re-uses parts; this class needs parts that pipeline does not have
        from helpers.checkpoints import CHECKPOINTS

        repo = next((c.repo_id for c in CHECKPOINTS.values() if c.pipeline == cls), None)
        load = (f"{cls}.from_pretrained({repo!r}, **load_args({repo!r}))" if repo
                else f"{cls}.from_pretrained(its_repo_id, ...)")
        return (f"from_pipe builds a pipeline from the parts {type(source).__name__} already has, and {cls} needs "
                f"parts it does not have ({', '.join(missing)}): it is a model of its own, not another task of "
                "this one.", f"load it from its own repo: {load}.")
    repo = (facts.loader.get("repo") if facts is not None else None) or None
    theirs = repo_pipeline_class(repo)  # no model_index.json to read: the cause is not confirmed
    if not theirs or theirs == cls:
        return None
    return (f"{repo} holds a {theirs}, whose parts differ from {cls}'s ({', '.join(missing)} missing): the weights "
            "belong to another pipeline family.",
            f"load it with the class it names: {theirs}.from_pretrained(repo_id, ...)"
            + ("." if "Upscale" in theirs or "Prior" in theirs else  # no AutoPipeline task has these
               ", or let an AutoPipeline choose: AutoPipelineForImage2Image.from_pretrained(repo_id, ...)."))


def _from_pipe_source(exc: BaseException):
    """The pipeline a failed from_pipe was given, or None when from_pipe is not what failed."""
    tb, found = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_name == "from_pipe":
            found = tb.tb_frame.f_locals.get("pipeline")
        tb = tb.tb_next
    return found


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


def single_file_repo(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """from_single_file given a Hub repo id in diffusers' folder layout, not a checkpoint file (every chapter)."""
    loader = facts.loader if facts is not None else {}
    repo = loader.get("repo")
    if loader.get("function") != "from_single_file" or not repo or is_local(repo) or repo.count("/") != 1:
        return None
    if repo_pipeline_class(repo) is None and repo not in _recorded():
        return None  # not a repo this machine knows to be in folder layout: the cause is not confirmed
    return (f"from_single_file loads one checkpoint file (a .safetensors or .ckpt path, or the URL of that file), and "
            f"{repo} is a repo id: a repo in diffusers' layout, one folder per part.",
            f"load a repo with from_pretrained: {loader['cls'].__name__ if loader.get('cls') else 'Pipeline'}"
            f".from_pretrained({repo!r}, **load_args({repo!r})).")


def _recorded() -> set[str]:
    from helpers.manifests import recorded_repos

    return set(recorded_repos())


def auto_pipeline_task(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """An AutoPipeline given a repo whose pipeline has no version for the task: a prior, an upscaler (ch. 3, 5)."""
    found = re.search(r"can't find a pipeline linked to (\w+) for", str(exc))
    if not found:
        return None
    cls = found.group(1)
    if cls.endswith("PriorPipeline"):
        return (f"the repo holds a {cls}: a prior, which turns a prompt into image embeddings and makes no picture, "
                "so no AutoPipeline task fits it.",
                "load the decoder repo, which brings its prior along: AutoPipelineForImage2Image.from_pretrained("
                "'kandinsky-community/kandinsky-2-2-decoder', ...) (chapter 3).")
    return (f"AutoPipeline knows the pipeline families that have text-to-image, image-to-image and inpainting "
            f"versions; {cls} is not one of them, so it has no version for this task.",
            f"load it with its own class and call it with that pipeline's arguments: {cls}.from_pretrained(repo_id, "
            "**load_args(repo_id))" + (" (chapter 3)." if "Upscale" in cls else "."))


def not_transformers(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A diffusers model id given to transformers: the ControlNet's id where a depth estimator goes (ch. 4)."""
    import json

    from helpers.modes import active_hub_cache, snapshot_path

    found = re.search(r"Unrecognized model in (\S+?)\.? Should have", str(exc))
    repo = found.group(1) if found else None
    folder = snapshot_path(repo, active_hub_cache()) if repo and not is_local(repo) else None
    config = folder / "config.json" if folder is not None else None
    try:
        kind = json.loads(config.read_text()).get("_class_name") if config is not None else None
    except (OSError, ValueError):
        kind = None
    if not kind:
        return None  # not a diffusers model this machine knows: the cause is not confirmed
    return (f"{repo} is a diffusers {kind}, not a transformers model, so transformers' pipeline(...) cannot load it.",
            "for depth maps give transformers a depth model: pipeline('depth-estimation', model="
            "'depth-anything/Depth-Anything-V2-Small-hf'); load the ControlNet with ControlNetModel.from_pretrained "
            "(chapter 4).")
