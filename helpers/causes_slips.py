"""Causes confirmed from slips around the calls: PIL's and torch's own signatures, saved files, uploads, loaders.

Each function takes the error and its CallFacts and returns (what it means, how to fix it), or None when the
failed code does not confirm the cause; helpers.notes then shows no note. They read the failing frame's locals,
the failing line or the file's first bytes: the library's words alone are never enough.
"""

from __future__ import annotations

import os
import re
import traceback

from helpers.callfacts import CallFacts
from helpers.causes_files import weights_kind
from helpers.causes_values import failing_line, failing_value

UPLOAD_URL = re.compile(r"/api/(repos/create|(models|datasets|spaces)/[^\s]+/(commit|preupload|upload))")
UPLOADERS = ("push_to_hub", "create_repo", "upload_folder", "upload_file", "create_commit")
# the width of each text encoder's token embeddings, and the family an embedding of that width was trained for
EMBEDDING_FAMILIES = {768: "Stable Diffusion 1.x (CLIP ViT-L)", 1024: "Stable Diffusion 2.x (OpenCLIP ViT-H)",
                      1280: "SDXL's second text encoder (OpenCLIP ViT-bigG)"}
LOADERS_BY_NAME = ("load_lora_weights", "load_textual_inversion", "fuse_lora", "set_adapters", "unload_lora_weights",
                   "load_ip_adapter")


def _last_frame(exc: BaseException):
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame if tb is not None else None


def _frame_named(exc: BaseException, name: str):
    """The innermost frame of a function called `name`, or None."""
    tb, found = exc.__traceback__, None
    while tb is not None:
        if tb.tb_frame.f_code.co_name == name:
            found = tb.tb_frame
        tb = tb.tb_next
    return found


def resize_two_numbers(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """picture.resize(128, 128): the second number went in as the resampling filter (every chapter)."""
    frame = _last_frame(exc)
    if frame is None or frame.f_code.co_name != "resize":
        return None
    size, resample = frame.f_locals.get("size"), frame.f_locals.get("resample")
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not isinstance(resample, (int, float)):
        return None
    w, h = int(size), int(resample)
    return (f"resize takes the new size as one (width, height) pair, so resize({size}, {resample}) read {resample} "
            "as the resampling filter, which is where PIL's list of filters comes from.",
            f"put both numbers in one tuple: picture.resize(({w}, {h})) (two pairs of parentheses).")


def channels_first(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """Image.fromarray of a (channels, height, width) array, torch's order (every chapter)."""
    import numpy as np

    frame = _last_frame(exc)
    array = frame.f_locals.get("obj") if frame is not None and frame.f_code.co_name == "fromarray" else None
    if not isinstance(array, np.ndarray) or array.ndim != 3:
        return None
    if array.shape[0] not in (1, 3, 4) or array.shape[2] in (1, 3, 4):
        return None
    c, h, w = array.shape
    return (f"the array is {c}×{h}×{w}: channels first, the order torch uses. PIL reads (height, width, channels), "
            f"so it took {w} as the number of channels.",
            "move the channels last: Image.fromarray(array.transpose(1, 2, 0)) (for a torch tensor: "
            "tensor.permute(1, 2, 0).numpy()).")


def context_without_call(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """`with torch.no_grad:` without the parentheses: the class itself, not a context (every chapter)."""
    line = failing_line(exc)
    found = re.match(r"\s*(?:async\s+)?with\s+([A-Za-z_][\w.]*)\s*(?::|,|\bas\b)", line)
    frame = _last_frame(exc)
    if not found or frame is None:
        return None
    dotted = found.group(1)
    head, *rest = dotted.split(".")
    value = frame.f_locals.get(head, frame.f_globals.get(head, frame.f_builtins.get(head)))
    for part in rest:
        value = getattr(value, part, None)
    if not isinstance(value, type) or not hasattr(value, "__enter__"):
        return None
    return (f"{dotted} is a class; a with statement needs an object made from it, so it must be called.",
            f"add the parentheses: with {dotted}(): ...")


def weights_file_not_folder(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """from_pretrained given one weights file (torch.save or safetensors) instead of a saved folder (ch. 3–5)."""
    found = re.search(r"config file at '([^']+)' is not a valid JSON file", str(exc))
    if not found or not os.path.isfile(found.group(1)):
        return None
    path, kind = found.group(1), weights_kind(found.group(1))
    folder = "a folder that save_pretrained wrote (config.json beside the weights)"
    if kind == "torch":
        return (f"{path} is one file saved with torch.save (a state dict), and from_pretrained reads {folder}.",
                f"load the weights into the model you have: model.load_state_dict(torch.load({path!r}, "
                "weights_only=True)); or save with model.save_pretrained('my_unet') and load that folder.")
    if kind == "safetensors":
        return (f"{path} is one safetensors file, and from_pretrained reads {folder}.",
                "a whole checkpoint from a model site loads with from_single_file: "
                f"StableDiffusionPipeline.from_single_file({path!r}); weights you saved yourself go back with "
                f"model.load_state_dict(safetensors.torch.load_file({path!r})).")
    return None


def upload_offline(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """push_to_hub=True (or an upload) without internet or a login: not a missing download (ch. 1–5)."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    if not UPLOAD_URL.search(str(exc)) and not any(f.name in UPLOADERS for f in frames):
        return None
    return ("this is an upload to the Hugging Face Hub (push_to_hub=True, or an upload call), which needs an "
            "internet connection and a login; it was refused here. Nothing is wrong with the model.",
            "to keep the model on this machine, save it without uploading: pipeline.save_pretrained('my_sd'). "
            "To upload later, online: from huggingface_hub import login; login(), then "
            "pipeline.push_to_hub('your-name/my_sd').")


def embedding_width(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A textual-inversion embedding made for another model family: its width differs (ch. 3)."""
    frame = _frame_named(exc, "load_textual_inversion")
    if frame is None:
        return None
    expected, embeddings = frame.f_locals.get("expected_emb_dim"), frame.f_locals.get("embeddings")
    widths = sorted({int(e.shape[-1]) for e in embeddings or () if hasattr(e, "shape")} - {expected})
    if not isinstance(expected, int) or not widths:
        return None
    theirs = widths[0]
    family = EMBEDDING_FAMILIES.get(theirs)
    mine = EMBEDDING_FAMILIES.get(expected)
    return (f"the embedding is {theirs} numbers wide, and this pipeline's text encoder takes {expected}"
            + (f" ({mine})" if mine else "") + ": it was trained for "
            + (family if family else "another model family") + ". (diffusers' message prints its placeholders "
            "instead of these numbers.)",
            f"use an embedding made for this model ({expected} wide), or load this one into a pipeline of its "
            "own family.")


def no_loader(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """load_lora_weights (or textual inversion) on a pipeline class diffusers gives no such loader (ch. 3–5)."""
    import diffusers

    found = re.search(r"'(\w+Pipeline)' object has no attribute '(\w+)'", str(exc))
    if not found or found.group(2) not in LOADERS_BY_NAME:
        return None
    cls, name = found.group(1), found.group(2)
    pipeline_class = getattr(diffusers, cls, None)
    if pipeline_class is None or hasattr(pipeline_class, name):
        return None
    what = "textual-inversion embeddings" if "textual" in name else "IP-Adapters" if "ip_adapter" in name \
        else "LoRAs"
    kandinsky = cls.startswith("Kandinsky")
    return (f"diffusers gives {cls} no {name}: it loads no {what}."
            + (" Kandinsky 2.2 is another model family, so LoRAs and embeddings made for Stable Diffusion would not "
               "fit its UNet anyway." if kandinsky else ""),
            f"use {what} with a pipeline that has {name} (the Stable Diffusion ones, e.g. "
            "StableDiffusionImg2ImgPipeline), and a file made for that model; or leave it out here.")


def save_format(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """picture.save(..., format='jpg'): PIL knows its formats by its own names (every chapter)."""
    from PIL import Image

    frame = _last_frame(exc)
    given = frame.f_locals.get("format") if frame is not None and frame.f_code.co_name == "save" else None
    if not isinstance(given, str) or given.upper() in Image.SAVE:
        return None
    Image.init()
    known = Image.registered_extensions().get("." + given.lower())
    return (f"format= takes one of PIL's format names, such as 'PNG' or 'JPEG', and {given!r} is not one"
            + (f" (it is the file extension of {known})." if known else "."),
            (f"pass format={known!r}, " if known else "pass format='PNG' or format='JPEG', ")
            + "or leave format= out: the file name's extension (.png, .jpg) chooses it.")


def tutorial_attribute(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A name one of the tutorial's own objects (a panel, a preview, a painter) does not have (ch. 1–5)."""
    import difflib

    obj, name = getattr(exc, "obj", None), getattr(exc, "name", None)
    if obj is None or not isinstance(name, str) or not type(obj).__module__.startswith("helpers."):
        return None
    names = sorted(n for n in dir(obj) if not n.startswith("_"))
    if not names or name in names:
        return None
    cls = type(obj).__name__
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    shown = ", ".join(names[:14]) + (", …" if len(names) > 14 else "")
    return (f"a {cls} has no {name}. What it has: {shown}.",
            (f"did you mean .{close[0]}? " if close else "") + f"help({cls}) says what each one is.")


def list_plus_picture(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """images += picture (or .extend(picture)): a list adds the items of what it is given (every chapter)."""
    line = failing_line(exc)
    found = re.match(r"\s*([A-Za-z_]\w*)\s*\+=", line) or re.search(r"([A-Za-z_]\w*)\.extend\(", line)
    if not found or not isinstance(failing_value(exc, found.group(1)), list):
        return None
    name = found.group(1)
    return (f"{name} is a list, and += (or extend) adds each item of what is on its right; a picture is one item, "
            "not a list of them.",
            f"add the one picture with {name}.append(picture) (or {name} += [picture]); a whole output's pictures "
            f"with {name} += output.images.")


def imshow_channels_first(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """matplotlib's imshow of a (channels, height, width) array: a tensor's order, or latents (every chapter)."""
    found = re.search(r"Invalid shape \((\d+), (\d+), (\d+)\) for image data", str(exc))
    if not found:
        return None
    c, h, w = map(int, found.groups())
    if c not in (1, 3, 4) or w in (3, 4):
        return None
    latents = (" If these are latents (4 channels at 1/8 of the picture's size), they are not a picture: decode them "
               "with the pipeline's VAE first (chapter 3), or look at one channel: plt.imshow(latents[0, 0])."
               if c == 4 else "")
    return (f"the array is {c}×{h}×{w}: channels first, the order torch uses. matplotlib shows (height, width) or "
            f"(height, width, channels).{latents}",
            "move the channels last: plt.imshow(x.permute(1, 2, 0)) for a torch tensor, x.transpose(1, 2, 0) for a "
            "numpy array.")


def scheduler_kwargs(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """SchedulerClass(**pipeline.scheduler.config): the config holds another scheduler's settings too (ch. 1–5)."""
    import diffusers

    found = re.search(r"(\w+Scheduler)\.__init__\(\) got an unexpected keyword argument '(\w+)'", str(exc))
    cls = getattr(diffusers, found.group(1), None) if found else None
    lines = [f.line or "" for f in traceback.extract_tb(exc.__traceback__)] if exc.__traceback__ else []
    if cls is None or not any(re.search(r"\(\s*\*\*", line) for line in lines):  # a config spread with **
        return None
    name, key = found.groups()
    return (f"{name}() was given every setting of the old scheduler's config, and {key} is not one of {name}'s "
            "(a config holds the settings of the scheduler it came from).",
            f"build it with from_config, which keeps only what {name} takes: pipeline.scheduler = "
            f"{name}.from_config(pipeline.scheduler.config).")


def add_noise_number(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """scheduler.add_noise(latents, noise, 500): the timesteps must be a tensor (ch. 3)."""
    frame = _frame_named(exc, "add_noise")
    if frame is None:
        return None
    given = frame.f_locals.get("timesteps")
    if isinstance(given, bool) or not isinstance(given, (int, float)):
        return None
    return (f"add_noise takes its timesteps as a tensor, one per latent in the batch, and got the number {given}.",
            f"pass torch.tensor([{int(given)}]) (for a batch: torch.tensor([{int(given)}] * len(latents))).")


def tuple_saved(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A (picture, ...) pair used as the picture, e.g. run_sweep's (grid, results) (every chapter)."""
    from PIL import Image

    found = re.search(r"'tuple' object has no attribute '(save|show|resize|convert|size|crop)'", str(exc))
    name = re.search(r"([A-Za-z_]\w*)\s*\.\s*" + (found.group(1) if found else "$^"), failing_line(exc))
    value = failing_value(exc, name.group(1)) if name else None
    if not isinstance(value, tuple) or not value or not isinstance(value[0], Image.Image):
        return None
    var = name.group(1)
    rest = ", ".join(type(v).__name__ for v in value[1:])
    return (f"{var} is a tuple of {len(value)}: a picture first, then {rest}. The function that made it returns "
            "them together (run_sweep returns the grid and its results).",
            f"unpack it where it is made: {var}, *_ = ... (for run_sweep: grid, results = run_sweep(...)), or take "
            f"the picture: {var}[0].{found.group(1)}(...).")


def task_not_prompt(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """transformers' pipeline() given a prompt: `from transformers import pipeline` hid the diffusers one (ch. 4)."""
    found = re.search(r"Unknown task (.+?), available tasks are", str(exc))
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    if not found or not any("transformers" in f.filename for f in frames) or " " not in found.group(1):
        return None
    return ("pipeline here is transformers' pipeline() function, whose first argument names a task: "
            "`from transformers import pipeline` replaced the name of your diffusers pipeline, and your prompt "
            "went in as the task.",
            "import it under another name, as chapter 4 does: from transformers import pipeline as "
            "transformers_pipeline; then load your diffusers pipeline again into `pipeline`.")
