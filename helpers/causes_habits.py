"""Causes confirmed from habits other libraries teach: torch's size(), numpy's shape, pickled pipelines, and more.

Each function takes the error and its CallFacts and returns (what it means, how to fix it), or None when the
failing line and the values it held do not confirm the cause; helpers.notes then shows no note.
"""

from __future__ import annotations

import re
import traceback

from helpers.callfacts import CallFacts
from helpers.causes_values import failing_line, failing_value


def _own_line(exc: BaseException) -> bool:
    """Whether the error came from the learner's own line, not from inside a library."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    where = frames[-1].filename.replace("\\", "/") if frames else ""
    return bool(frames) and not any(part in where for part in ("site-packages", "dist-packages", "/helpers/",
                                                               "/lib/python"))


def size_called(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """picture.size(): PIL's size is a (width, height) pair, not torch's size() method (every chapter)."""
    from PIL import Image

    found = re.search(r"([A-Za-z_][\w.\[\]]*?)\.size\(\)", failing_line(exc))
    if not found or not _own_line(exc):
        return None
    head = found.group(1).split(".")[0].split("[")[0]
    value = failing_value(exc, head)
    if value is None or head == found.group(1) and not isinstance(value, Image.Image):
        return None
    return (f"{found.group(1)}.size is a picture's (width, height) pair, not a method: torch's tensor.size() is "
            "called, PIL's size is not.",
            f"leave out the (): width, height = {found.group(1)}.size.")


def picture_shape(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """picture.shape in the learner's own code: a PIL picture has .size and .mode (every chapter)."""
    found = re.search(r"'Image' object has no attribute '(shape|ndim|dtype)'", str(exc))
    if not found or not _own_line(exc):
        return None
    return (f"a PIL picture has no .{found.group(1)}: it has .size, (width, height), and .mode ('RGB', 'L'). "
            "numpy's .shape is (height, width, channels), the other way round.",
            "width, height = picture.size; or for numpy's view, np.asarray(picture).shape.")


def read_only_setting(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """pipeline.guidance_scale = 12: the pipeline only reports the last call's value; calls take it (ch. 1–5)."""
    found = re.search(r"property '(\w+)' of '(\w+Pipeline)' object has no setter", str(exc))
    if not found:
        return None
    name, cls = found.groups()
    return (f"{cls}.{name} is read-only: it reports the value the last call used, and every call sets it from its "
            "own argument.",
            f"pass it to each call: pipeline(..., {name}=...); in a panel, move its slider.")


def pickled_pipeline(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """torch.load of a whole pipeline (or scheduler) that torch.save pickled: save_pretrained instead (ch. 1–5)."""
    found = re.search(r"Unsupported global: GLOBAL (diffusers\.[\w.]+\.(\w+))", str(exc))
    if not found:
        return None
    cls = found.group(2)
    return (f"the file holds a whole {cls} pickled by torch.save; torch.load reads only tensors unless told to run "
            "the pickled code (weights_only=False), which it refuses by default for safety.",
            "save pipelines, models and schedulers with save_pretrained(folder) and load them with "
            "from_pretrained(folder); keep torch.load(..., weights_only=False) for files you made yourself.")


def integer_array_picture(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """Image.fromarray of an int64 (or bool) array, e.g. (array > 128) * 255 (every chapter)."""
    found = re.search(r"Cannot handle this data type: \(1, 1\), <i8", str(exc))
    if not found:
        return None
    return ("the array holds int64 numbers, which PIL cannot make a picture of; numpy arithmetic such as "
            "(array > 128) * 255 gives int64.",
            "make it 0–255 bytes: Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)).")


def combined_components(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """KandinskyV22...Pipeline(**combined.components): the combined pipeline's parts include its prior's (ch. 3)."""
    found = re.search(r"(Kandinsky\w*Pipeline)\.__init__\(\) got an unexpected keyword argument 'prior_\w+'",
                      str(exc))
    if not found:
        return None
    return (f"the components of a Kandinsky combined pipeline hold its prior's parts too (prior_prior, "
            f"prior_text_encoder, ...), and {found.group(1)} takes the decoder's only.",
            "take the decoder the combined pipeline already holds: decoder = kandinsky.decoder_pipe (and its prior "
            "is kandinsky.prior_pipe).")


def second_tokenizer_only(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """refiner.tokenizer.tokenize(...) or load_textual_inversion on the refiner, which has only tokenizer_2 (ch. 2)."""
    text = str(exc)
    if "requires `self.tokenizer`" in text and "XL" in text:
        return ("the SDXL refiner has only its second text encoder and tokenizer (tokenizer is None), and "
                "load_textual_inversion loads into the first unless told otherwise.",
                "name the second ones, with the embedding's part for them (an SDXL embedding file holds 'clip_g' "
                "for it): refiner.load_textual_inversion(state_dict['clip_g'], token='<name>', "
                "text_encoder=refiner.text_encoder_2, tokenizer=refiner.tokenizer_2).")
    found = re.search(r"([A-Za-z_]\w*)\.(tokenizer|text_encoder)\.\w+", failing_line(exc))
    if "'NoneType' object has no attribute" not in text or not found:
        return None
    owner = failing_value(exc, found.group(1))
    part = found.group(2)
    if owner is None or getattr(owner, part, 1) is not None or getattr(owner, part + "_2", None) is None:
        return None
    return (f"{found.group(1)}.{part} is None: {type(owner).__name__} has only its second text encoder and "
            "tokenizer (the SDXL refiner reads prompts with those alone).",
            f"use {found.group(1)}.{part}_2 instead.")


def decimal_comma_call(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """guidance_scale=7,5: a decimal comma splits the number into two arguments (every chapter)."""
    found = re.search(r"(\w*(scale|strength|eta|start|end|score)\w*)\s*=\s*(\d+),(\d+)\b",
                      getattr(exc, "text", None) or "")
    if not found:  # rows=2,2 is not a decimal: only settings that take fractions are read this way
        return None
    name, _kind, whole, part = found.groups()
    return (f"{name}={whole},{part} reads as {name}={whole} followed by a second argument {part}: Python writes "
            "decimals with a point.",
            f"write {name}={whole}.{part}.")


def _frames_locals(exc: BaseException):
    tb = exc.__traceback__
    while tb is not None:
        yield tb.tb_frame.f_locals
        tb = tb.tb_next


def even_rank_filter(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """ImageFilter.MaxFilter(10): PIL's rank filters take an odd size, a square around the middle pixel (ch. 5)."""
    from PIL import ImageFilter

    for found in _frames_locals(exc):
        for value in found.values():  # made (PIL refuses at once), or applied: picture.filter(the_filter)
            if isinstance(value, ImageFilter.RankFilter):
                size = getattr(value, "size", found.get("size"))
                if isinstance(size, int) and size % 2 == 0:
                    name = type(value).__name__
                    return (f"{name}({size}) looks at a square of {size}×{size} pixels around each one, and an "
                            "even size has no middle pixel, so PIL refuses it.",
                            f"use an odd size: {name}({size - 1}) or {name}({size + 1}).")
    return None


def tokenizer_length(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """tokenizer.model_max_length raised past the text encoder's positions, a tip for longer prompts (ch. 1, 4)."""
    found = re.search(r"sequence length`?: (\d+) and max_position_embeddings: (\d+)", str(exc))
    if not found:
        return None
    length, positions = int(found.group(1)), int(found.group(2))
    for frame in _frames_locals(exc):
        for owner in (frame.get("self"), frame.get("pipeline"), frame.get("pipe")):
            for part in ("tokenizer", "tokenizer_2"):
                tokenizer = getattr(owner, part, None)
                if getattr(tokenizer, "model_max_length", None) == length > positions:
                    return (f"{part}.model_max_length was set to {length}, and the CLIP text encoder has "
                            f"{positions} positions (max_position_embeddings), fixed when it was trained: a longer "
                            "window cannot be switched on by the tokenizer.",
                            f"set it back: pipeline.{part}.model_max_length = {positions}. For a prompt longer than "
                            f"{positions} tokens, use compel with truncate_long_prompts=False (chapter 4), which "
                            "encodes it in pieces.")
    return None


def lora_by_attn_procs(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """unet.load_attn_procs(lora_file), the LoRA call of older tutorials: Custom Diffusion weights only now (ch. 3)."""
    if "load_attn_procs" not in failing_line(exc) and not any(
            "load_attn_procs" in (tb.name or "") for tb in traceback.extract_tb(exc.__traceback__)):
        return None
    what = ("unet.load_attn_procs loads only Custom Diffusion weights in diffusers 0.42; older tutorials loaded LoRA "
            "files with it, and this file is not Custom Diffusion.")
    from helpers.causes_files import loader_source

    path = loader_source(exc, ("pretrained_model_name_or_path_or_dict",))
    keys = []
    try:
        from safetensors import safe_open

        with safe_open(path, "pt") as opened:
            keys = list(opened.keys())
    except Exception:  # noqa: BLE001 - not a safetensors file, or not there: the general advice stands
        keys = []
    if keys and not any(k.startswith(("unet.", "text_encoder")) for k in keys) and any("_lora." in k for k in keys):
        # saved by unet.save_attn_procs: load_lora_weights keeps only keys under unet., so it would load nothing
        return (what + " Its keys (such as " + repr(keys[0]) + ") are the UNet's alone, as unet.save_attn_procs "
                "wrote them, with no 'unet.' in front, and load_lora_weights loads only keys that have it.",
                "add it while loading: from safetensors.torch import load_file; pipeline.load_lora_weights({'unet.' "
                f"+ k: v for k, v in load_file({path!r}).items()}}) (it needs the peft package: %pip install peft).")
    return (what, "load a LoRA through the pipeline: pipeline.load_lora_weights('path/to/file.safetensors') (it needs "
            "the peft package: %pip install peft).")


def dict_by_position(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """refine(settings): a function that takes keywords only got a dict by position (every chapter)."""
    found = re.search(r"(\w+)\(\) takes 0 positional arguments but 1 was given", str(exc))
    call = re.search(rf"\b{found.group(1)}\(\s*([A-Za-z_]\w*)\s*\)" if found else r"$^", failing_line(exc))
    if not found or not call or not isinstance(failing_value(exc, call.group(1)), dict):
        return None
    name, value = found.group(1), call.group(1)
    return (f"{name}() takes its settings by name only, and got the dict {value} as one argument by position.",
            f"unpack it into keywords: {name}(**{value}).")


PIPELINE_NAMES = {"comic", "kandinsky", "pixel", "refiner", "super_res", "upscaler", "inpaint", "img2img", "t2i"}


def picture_called(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A pipeline's name bound to its own picture: pipeline = pipeline(...).images[0] (ch. 1–5)."""
    from PIL import Image

    cells = failing_value(exc, "In")  # IPython's list of the cells run so far
    history = "\n".join(map(str, cells)) if isinstance(cells, list) else ""
    for name in re.findall(r"(?<![\w.])([A-Za-z_]\w*)\s*\(", failing_line(exc)):
        if not isinstance(failing_value(exc, name), Image.Image):
            continue
        rebound = re.search(rf"(?m)^\s*{name}\s*=\s*{name}\s*\(", history)
        if not (rebound or "pipe" in name.lower() or name in PIPELINE_NAMES):
            return None  # a picture called by a name that never held a pipeline: not this habit
        return (f"{name} now holds a picture (a PIL Image), not the pipeline: a cell assigned a pipeline's result to "
                f"the pipeline's own name ({name} = {name}(...).images[0]).",
                f"run the cell that loads the pipeline again (from_pretrained, then fit_to_machine), and keep "
                f"results under another name: image = {name}(...).images[0].")
    return None


def community_code(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """custom_pipeline= offline: diffusers fetches a community pipeline's code, which the twins never hold (ch. 4)."""
    from helpers.causes_loading import not_downloaded

    tb, fetching = exc.__traceback__, None
    while tb is not None:
        if "dynamic_modules_utils" in tb.tb_frame.f_code.co_filename:
            fetching = fetching or tb.tb_frame.f_locals.get("pretrained_model_name_or_path")
        tb = tb.tb_next
    if not fetching:
        return not_downloaded(exc, facts)  # the weights themselves, not a pipeline's code
    source = (f"a pipeline's Python code (pipeline.py from the Hub repo {fetching})" if "/" in str(fetching) else
              "a community pipeline's Python code (from the Hub's diffusers/community-pipelines-mirror)")
    return (f"custom_pipeline={str(fetching)!r} asks diffusers to download {source} and run it: remote code, which "
            "this tutorial never runs by default. Offline, or on the twins, it cannot be fetched.",
            "leave custom_pipeline= out and load the chapter's pipeline. For prompts longer than 77 tokens use "
            "chapter 4's compel: compel = Compel(tokenizer=pipeline.tokenizer, text_encoder=pipeline.text_encoder, "
            "truncate_long_prompts=False), then pipeline(prompt_embeds=compel(prompt), ...) (pad it beside a "
            "negative prompt's with compel.pad_conditioning_tensors_to_same_length).")


def and_rows(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """Compel tensors of 77·k rows compared row by row: .and() gives 77 rows per part, so pad them first (ch. 4)."""
    import torch

    from helpers.causes import sizes_dont_fit

    found = re.search(r"size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\) at non-singleton "
                      r"dimension 1", str(exc))
    rows = {int(found.group(1)), int(found.group(2))} if found else set()
    names = re.findall(r"(?<![\w.])([A-Za-z_]\w*)(?!\s*\()", failing_line(exc))
    seen = {value.shape[1] for value in map(lambda n: failing_value(exc, n), names)
            if isinstance(value, torch.Tensor) and value.ndim == 3}
    if len(rows) != 2 or not rows <= seen or any(r % 77 for r in rows):
        return sizes_dont_fit(exc, facts)
    a, b = sorted(rows, reverse=True)
    return (f"compel gives 77 rows per part: per .and() part, or per chunk of a long prompt with "
            f"truncate_long_prompts=False ({a} here), and a plain prompt 77 ({b} here). Tensors of different lengths "
            "cannot be compared or combined row by row.",
            "pad them to one length first: a, b = compel.pad_conditioning_tensors_to_same_length([a, b]) (compel "
            "is your Compel object), then compare a and b.")
