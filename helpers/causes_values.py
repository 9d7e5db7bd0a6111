"""Causes confirmed from the values the learner's own code held: arrays where pictures go, grids, tuples, modes.

Each function takes the error and its CallFacts and returns (what it means, how to fix it), or None when the values
do not confirm the cause; helpers.notes then shows no note. They read the failing line and the frames' locals, so
that a note about a pipeline's output_type, return_dict or the VAE's range is only shown when that is what happened.
"""

from __future__ import annotations

import re
import traceback

from helpers.callfacts import CallFacts

PIPELINE_FILES = re.compile(r"diffusers[/\\]pipelines[/\\]")


def _frames(exc: BaseException) -> list:
    tb, found = exc.__traceback__, []
    while tb is not None:
        found.append(tb)
        tb = tb.tb_next
    return found


def failing_line(exc: BaseException) -> str:
    """The source line the error was raised on, "" where it is not known (every chapter)."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    return (frames[-1].line or "") if frames else ""


def failing_value(exc: BaseException, name: str):
    """The value a simple name had in the frame that failed (its locals, then its globals), or None (every chapter)."""
    frames = _frames(exc)
    if not frames or not name.isidentifier():
        return None
    frame = frames[-1].tb_frame
    return frame.f_locals.get(name, frame.f_globals.get(name))


def in_pipeline_call(exc: BaseException) -> bool:
    """Whether a diffusers pipeline's code is among the frames that failed (every chapter)."""
    return any(PIPELINE_FILES.search(tb.tb_frame.f_code.co_filename) for tb in _frames(exc))


def _to_picture_fix(value) -> str:
    """How to make a PIL picture of this array or tensor, from its dtype and range."""
    import numpy as np

    array = value.detach().cpu().numpy() if hasattr(value, "detach") else value
    if not isinstance(array, np.ndarray):
        return "Image.fromarray(array) for a (height, width) or (height, width, 3) array of 0–255 whole numbers"
    start = "t.detach().cpu().numpy()" if hasattr(value, "detach") else "array"
    if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
        start += ".transpose(1, 2, 0)"  # (C, H, W) as torch keeps pictures: PIL wants (H, W, C)
    if array.dtype == bool:
        return f"Image.fromarray({start}.astype('uint8') * 255) (a True/False mask: True becomes white)"
    if array.dtype.kind == "f" and array.size:
        low, high = float(np.nanmin(array)), float(np.nanmax(array))
        if low < 0:
            return (f"its values run from {low:.2f} to {high:.2f}, as a VAE's decoded pixels do ([-1, 1]): "
                    f"Image.fromarray(((({start}) / 2 + 0.5).clip(0, 1) * 255).round().astype('uint8'))")
        if high <= 1:
            return f"Image.fromarray(({start} * 255).round().astype('uint8')) (values in [0, 1])"
        return (f"Image.fromarray(({start} / {start}.max() * 255).astype('uint8')) (values up to {high:.3g}, scaled "
                "to 0–255)")
    return f"Image.fromarray({start})"


def array_not_picture(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """.save()/.convert() on a tensor or array: a pipeline's non-PIL output, or the learner's own array (ch. 1–5)."""
    line = failing_line(exc)
    kind = "tensor" if "Tensor" in str(exc) else "numpy array"
    if ".images" in line:  # a pipeline's output read on this very line: its output_type made the array
        return (f"this is a {kind}, not a PIL picture: output_type='latent' (or 'pt', 'np') makes a pipeline return "
                "those.",
                "ask for pictures with output_type='pil' (the default), or pass the latents on to the next pipeline "
                "(chapter 3).")
    found = re.search(r"([A-Za-z_]\w*)((?:\[\s*-?\d+\s*\])*)\s*\.\s*(save|resize|convert|size|show|crop|mode)\b",
                      line)
    value = failing_value(exc, found.group(1)) if found else None
    for index in re.findall(r"-?\d+", found.group(2)) if found and value is not None else []:
        try:  # latents_1[0]: the value the line read
            value = value[int(index)]
        except Exception:  # noqa: BLE001 - not indexable as written: judge it from the name alone
            value = None
            break
    shape = tuple(getattr(value, "shape", ()))
    if kind == "tensor" and len(shape) in (3, 4) and shape[-3] == 4 and shape[-1] <= 256:
        # four channels on a grid 8 times smaller: a VAE's latents, which no PIL conversion makes a picture of
        name = found.group(1) + found.group(2)
        return (f"{name} is a tensor of latents {shape}, not a picture: output_type='latent' returns the VAE's "
                "four-channel code for the next pipeline, and a picture of it takes decoding by that VAE.",
                "decode it with the pipeline that made it, as chapter 3's to_picture does: picture = pipe."
                f"image_processor.postprocess(pipe.vae.decode({found.group(1)}[:1] / pipe.vae.config."
                "scaling_factor).sample)[0]; or leave output_type='latent' out to get pictures.")
    found = re.search(r"([A-Za-z_]\w*)\s*\.\s*(save|resize|convert|size|show|crop|mode)\b", line) if found else None
    return (f"this is a {kind}, not a PIL picture, so it has no .{found.group(2) if found else 'save'}()."
            if found else f"this is a {kind}, not a PIL picture.",
            "make a picture of it first: from PIL import Image; picture = " + _to_picture_fix(value) + ".")


def float_picture(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """Image.fromarray of floats: the fix depends on their range, [-1, 1], [0, 1] or larger (ch. 1–5)."""
    frames = [tb for tb in _frames(exc) if tb.tb_frame.f_code.co_name == "fromarray"]
    value = frames[0].tb_frame.f_locals.get("obj") if frames else None
    if value is None:
        return None
    return ("this is a picture of floats, and PIL makes pictures only from 0–255 whole numbers.",
            _to_picture_fix(value) + ".")


def grid_count(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """make_image_grid's bare assert: a whole pipeline output, a list of lists, or a count that does not fit (ch. 1)."""
    frames = [tb for tb in _frames(exc) if tb.tb_frame.f_code.co_name == "make_image_grid"]
    if not frames:
        return None
    local = frames[0].tb_frame.f_locals
    images, rows, cols = local.get("images"), local.get("rows"), local.get("cols")
    if hasattr(images, "images"):
        return ("make_image_grid got a pipeline's whole output, which counts as one item; the pictures are in its "
                ".images.", "pass output.images: make_image_grid(output.images, rows=..., cols=...).")
    if isinstance(images, (list, tuple)) and images and isinstance(images[0], (list, tuple)):
        return (f"make_image_grid got a list of {len(images)} lists; it takes one flat list of pictures.",
                "join them first: make_image_grid(first.images + second.images, rows=..., cols=...).")
    count = len(images) if hasattr(images, "__len__") else None
    if count is None or not isinstance(rows, int) or not isinstance(cols, int):
        return None
    return (f"make_image_grid got {count} pictures for rows={rows} × cols={cols} = {rows * cols} places.",
            f"pass rows and cols whose product is {count}, e.g. rows=1, cols={count}.")


def tuple_output(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """.images on a tuple: a trailing comma after the call, or return_dict=False (every chapter)."""
    found = re.search(r"([A-Za-z_]\w*)\s*\.\s*images\b", failing_line(exc))
    value = failing_value(exc, found.group(1)) if found else None
    if not isinstance(value, tuple):
        return None
    name = found.group(1)
    if len(value) == 1 and hasattr(value[0], "images"):  # result = pipeline(...),  <- the comma makes a tuple
        return (f"{name} is a tuple holding one pipeline output: a comma after the call (`{name} = pipeline(...),`) "
                "makes a tuple of it.", f"remove that comma, or take {name}[0].images.")
    if value and isinstance(value[0], list):
        return ("with return_dict=False a pipeline returns a plain tuple, (images, flags), which has no .images.",
                f"take the pictures with {name}[0] ({name}[0][0] is the first), or leave out return_dict=False and "
                f"use {name}.images[0].")
    return None


def mode_not_saved(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A file format that cannot hold the picture's mode: floats (F, I) need scaling, RGBA needs RGB (ch. 1–5)."""
    found = re.search(r"cannot (?:write|save) mode (\S+)(?: as (\w+))?", str(exc))
    if not found:
        return None
    mode, form = found.group(1), found.group(2) or "this format"
    if mode in ("F", "I", "I;16", "I;16B", "I;16L"):
        return (f"the picture is mode {mode} (numbers beyond 0–255, e.g. a depth map made with Image.fromarray of "
                f"a float array), and {form} cannot hold it; .convert('RGB') would clip it to black and white.",
                "scale it to 0–255 first: a = np.asarray(picture, dtype=float); Image.fromarray((a / a.max() * 255)"
                ".astype('uint8')).save(...).")
    return (f"{form} cannot hold a picture of mode {mode} (e.g. RGBA or P as JPEG).",
            "convert first, e.g. picture.convert('RGB').save(...)" + (", or save as .png." if form != "PNG" else "."))


def divisible_by(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """height and width not a multiple of what this pipeline needs: 8 for SD, 16 for newer ones (every chapter)."""
    found = re.search(r"divisible by (\d+)", str(exc))
    step = int(found.group(1)) if found else 8
    return (f"height and width must be multiples of {step} for this pipeline (its VAE and UNet shrink the picture "
            "in steps).", f"round them: height = height // {step} * {step}, and the same for width.")


def scheduler_index(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A scheduler's index past its schedule: in a pipeline call the numbers, else the learner's loop (ch. 1–5)."""
    if in_pipeline_call(exc):
        return ("the scheduler looked up a timestep that does not exist: usually a float or a too-large "
                "num_inference_steps, or a strength outside [0, 1].",
                "use a whole num_inference_steps (int(...)) between 1 and 1000, and strength between 0 and 1.")
    return ("the scheduler was asked for a step beyond its schedule: set_timesteps(n) makes n steps, a scheduler "
            "keeps its place from one loop to the next, and add_noise takes only timesteps of scheduler.timesteps.",
            "call scheduler.set_timesteps(n) again before each new loop, call step() at most n times, and take "
            "timesteps from scheduler.timesteps.")


def not_finite(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A NaN or inf where a whole number goes: the numbers given to a pipeline, when one was running (ch. 1–5)."""
    if not in_pipeline_call(exc):
        return None  # the learner's own arithmetic: Python's message says it
    return ("a NaN or inf reached a place that needs a whole number (steps × strength, a size).",
            "check the numbers you pass (strength, num_inference_steps, guidance_scale, height, width): all must be "
            "finite.")


def controlnet_kwarg(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """controlnet= given to a pipeline class without one: added by hand, or carried in by **components (ch. 4)."""
    line = failing_line(exc)
    if re.search(r"\bcontrolnet\s*=", line):  # the learner adds a ControlNet to a class that has none
        return ("this pipeline class has no ControlNet, so it takes no controlnet=.",
                "use the ControlNet class of the same task: StableDiffusionControlNetImg2ImgPipeline(**pipeline."
                "components, controlnet=controlnet), or AutoPipelineForImage2Image.from_pipe(pipeline, "
                "controlnet=controlnet) (chapter 4).")
    if "**" in line:  # a ControlNet pipeline's components spread into a class without one
        return ("a ControlNet pipeline's components include controlnet=, which a pipeline without a ControlNet does "
                "not take.", "let diffusers build the plain one from the same weights: AutoPipelineForImage2Image."
                "from_pipe(control_pipeline, controlnet=None) (or AutoPipelineForText2Image).")
    return None


def list_not_picture(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A picture's method on a list: a pipeline's .images, or lists inside make_image_grid's list (every chapter)."""
    if any(tb.tb_frame.f_code.co_name == "make_image_grid" for tb in _frames(exc)):
        return ("make_image_grid got a list holding lists; it takes one flat list of pictures.",
                "join them first: make_image_grid(first.images + second.images, rows=..., cols=...).")
    return ("this is a list of pictures, not one picture (a pipeline's .images is such a list: one per prompt and "
            "per num_images_per_prompt).",
            "pick one: output.images[0].save('out.png'), or loop: for i, im in enumerate(output.images): ...")


def none_subscripted(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """nsfw_content_detected[...] when the pipeline has no safety checker: the field is None (every chapter)."""
    if "nsfw_content_detected" not in failing_line(exc):
        return None
    return ("nsfw_content_detected is None: a pipeline loaded with safety_checker=None does not check its pictures, "
            "so there are no flags to read.",
            "read it only when there is one: flags = output.nsfw_content_detected or [False] * len(output.images).")


def callback_key(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A step callback that reads a tensor the pipeline did not hand it (ch. 1, 3)."""
    key = exc.args[0] if exc.args and isinstance(exc.args[0], str) else None
    frames = _frames(exc)
    pipeline = next((tb.tb_frame.f_locals.get("self") for tb in frames if tb.tb_frame.f_code.co_name == "__call__"
                     and PIPELINE_FILES.search(tb.tb_frame.f_code.co_filename)), None)
    offered = list(getattr(pipeline, "_callback_tensor_inputs", []) or [])
    if key is None or not offered or frames[-1].tb_frame.f_code.co_name == "__call__":
        return None  # not raised inside the learner's callback
    if key in offered:
        return (f"the step callback reads callback_kwargs[{key!r}], and a pipeline hands its callback only the "
                "tensors named in callback_on_step_end_tensor_inputs (['latents'] unless you say more).",
                f"ask for it in the call: callback_on_step_end_tensor_inputs=['latents', {key!r}].")
    return (f"the step callback reads callback_kwargs[{key!r}], which {type(pipeline).__name__} never hands a "
            f"callback; it can hand {', '.join(map(repr, offered))}.",
            "read one of those, named in callback_on_step_end_tensor_inputs=[...].")


def index_of_pictures(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """An index past a pipeline's pictures, or into a picture's (width, height) size (every chapter)."""
    line = failing_line(exc)
    if line.count("[") != 1:  # several subscripts: which one failed cannot be told from the line
        return None
    if re.search(r"\.size\s*\[\s*[2-9]", line):
        return ("a PIL picture's .size is (width, height), two numbers; it has no third for the channels.",
                "the channels are named by .mode ('RGB' has 3): len(picture.getbands()); or "
                "np.asarray(picture).shape gives (height, width, channels).")
    found = re.search(r"([A-Za-z_]\w*)\s*\.\s*images\s*\[\s*(-?\d+)\s*\]", line)
    value = failing_value(exc, found.group(1)) if found else None
    pictures = getattr(value, "images", None)
    if isinstance(pictures, list) and not -len(pictures) <= int(found.group(2)) < len(pictures):
        return (f"the call made {len(pictures)} picture(s), and .images[{found.group(2)}] asks for more: .images "
                "holds one per prompt and per num_images_per_prompt, counted from 0.",
                "the first is .images[0]; for more, pass num_images_per_prompt=4 (or a list of prompts), then "
                "loop: for picture in output.images: ...")
    return None


def output_field(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A field a pipeline's output does not have: .image for .images, and the like (every chapter)."""
    import difflib

    found = re.search(r"'(\w*Output)' object has no attribute '(\w+)'", str(exc))
    if not found or "Pipeline" not in found.group(1) and "Prior" not in found.group(1):
        return None
    cls, attribute = found.groups()
    named = re.search(r"([A-Za-z_]\w*)\s*\.\s*" + attribute + r"\b", failing_line(exc))
    value = failing_value(exc, named.group(1)) if named else None
    fields = list(value.keys()) if hasattr(value, "keys") else ["images"]
    close = difflib.get_close_matches(attribute, fields, n=1, cutoff=0.6)
    if not close and attribute == "nsfw_content_detected" and value is not None:  # no safety checker: no flags
        return (f"a {cls} holds only {', '.join(fields)}: this pipeline has no safety checker, so nothing is "
                "flagged and there is no nsfw_content_detected to read.",
                "leave that line out for this pipeline (only Stable Diffusion's pipelines with a safety checker "
                "return it).")
    if not close:
        return None
    if close[0] == "images":
        return (f"a {cls} keeps its pictures in .images, a list (one per prompt and per num_images_per_prompt).",
                "the first picture is output.images[0].")
    return (f"a {cls} has no .{attribute}; it holds {', '.join(fields)}.", f"did you mean .{close[0]}?")
