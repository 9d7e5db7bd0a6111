"""Causes read from the objects a failed line touched: a pipeline asked for a torch module's methods, Kandinsky's
missing VAE, a safety checker replaced by a function, a dict asked for a key a cell above no longer makes.

Each function takes the error and its CallFacts and returns (what it means, how to fix it), or None when the objects
do not confirm the cause (helpers.notes then shows no note).
"""

from __future__ import annotations

import difflib
import re
import traceback

from helpers.callfacts import CallFacts
from helpers.causes_values import failing_line, failing_value, in_pipeline_call

# torch.nn.Module's methods that a pipeline, a container of several modules, does not have: what to do instead
MODULE_HABITS = {
    "eval": ("diffusers already loads every model in eval mode (dropout off) and runs each call under "
             "torch.no_grad(), so there is nothing to switch.",
             "leave the line out; for one model of it: pipeline.unet.eval()."),
    "train": ("a pipeline is for running models, not training them, and has no train mode.",
              "train a model of it, e.g. pipeline.unet.train(), in a training loop of your own (diffusers' training "
              "examples show one)."),
    "half": ("precision is chosen when the pipeline loads: fp16 on CUDA, float32 on CPU and Apple MPS, where "
             "fp16 is slow or unsupported.",
             "load with dtype=pick_dtype(device) (torch.float16 on CUDA); to change a loaded one: "
             "pipeline.to(torch.float16) on CUDA only."),
    "float": ("precision is chosen when the pipeline loads; float32 is what pick_dtype gives on CPU and MPS.",
              "load with dtype=torch.float32, or change a loaded one: pipeline.to(torch.float32)."),
    "double": ("diffusers' models run in float32 or float16; float64 only makes them slower.",
               "keep dtype=pick_dtype(device); pipeline.to(torch.float32) undoes a change."),
    "bfloat16": ("precision is chosen when the pipeline loads.",
                 "load with dtype=torch.bfloat16, or change a loaded one: pipeline.to(torch.bfloat16)."),
    "cuda": ("a pipeline moves with .to(), as a whole.",
             "pipeline = fit_to_machine(pipeline, device) (it moves it and says how), or pipeline.to('cuda')."),
    "cpu": ("a pipeline moves with .to(), as a whole.", "pipeline.to('cpu')."),
    "parameters": ("a pipeline holds several models (pipeline.components); each has its own parameters.",
                   "ask one model: sum(p.numel() for p in pipeline.unet.parameters()); the sizes of all: "
                   "helpers.speed.pipeline_bytes(pipeline)."),
    "named_parameters": ("a pipeline holds several models (pipeline.components); each has its own parameters.",
                         "ask one model: pipeline.unet.named_parameters()."),
    "state_dict": ("a pipeline holds several models, each with a state_dict of its own.",
                   "save the whole pipeline with pipeline.save_pretrained(folder), or one model's weights with "
                   "pipeline.unet.state_dict()."),
    "load_state_dict": ("a pipeline holds several models, each with a state_dict of its own.",
                        "load into one model: pipeline.unet.load_state_dict(weights); a whole pipeline loads with "
                        "from_pretrained(folder)."),
    "requires_grad_": ("a pipeline holds several models, and its calls run without gradients.",
                       "set it on one model: pipeline.unet.requires_grad_(False)."),
    "modules": ("a pipeline holds several models: pipeline.components names them.",
                "loop over them: for name, part in pipeline.components.items(): ..."),
    "forward": ("a pipeline runs by being called, not through forward().",
                "pipeline(prompt, ...) runs it; one model's forward is e.g. pipeline.unet(latents, t, "
                "encoder_hidden_states=...)."),
}


def _pipeline(obj) -> bool:
    return any(c.__name__ == "DiffusionPipeline" for c in type(obj).__mro__)


def module_habit(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A torch module's method asked of a pipeline: .eval(), .half(), .cuda(), .parameters() (every chapter)."""
    obj, name = getattr(exc, "obj", None), getattr(exc, "name", None)
    if obj is None or name not in MODULE_HABITS or not _pipeline(obj):
        return attribute_typo(exc, facts)  # else a typo of a name it has, or no note
    means, fix = MODULE_HABITS[name]
    return (f"a {type(obj).__name__} is not a torch module but a container of them (unet, vae, text encoder...), "
            f"so it has no .{name}(): {means}", fix)


def kandinsky_autoencoder(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """.vae asked of Kandinsky 2.2, which has a MoVQ instead: to decode latents, or to tile them (ch. 3, 5)."""
    found = re.search(r"'(Kandinsky\w*)' object has no attribute '(\w+)'", str(exc))
    cls, name = found.groups() if found else ("", "")
    if name not in ("vae", "enable_vae_tiling", "enable_vae_slicing"):
        return None
    means = ("Kandinsky 2.2 has no VAE: it decodes with MoVQ, a VQ autoencoder of its own (pipeline.movq), whose "
             "latents are not scaled by a scaling_factor as SD's are.")
    if name != "vae" or not re.search(r"decode|scaling_factor", failing_line(exc) + _callers(exc)):
        return (means + " So it has no VAE tiling or slicing either.",
                "at 512 px no tiling is needed; on a small GPU enable_model_cpu_offload() saves memory.")
    owner = "pipeline.decoder_pipe" if "Combined" in cls else "pipeline"
    return (means + " Code written for SD's vae cannot decode them.",
            "let the Kandinsky pipeline decode its own latents: call it without output_type='latent'. By hand it is "
            f"{owner}.movq.decode(latents, force_not_quantize=True).sample, then "
            f"{owner}.image_processor.postprocess(pixels), with no division by a scaling factor.")


def _callers(exc: BaseException) -> str:
    """The source lines of every frame that led to the error, joined (a helper's body included)."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    return " ".join(f.line or "" for f in frames)


def safety_checker_flags(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A safety_checker replaced by a function that returns one flag, not one per picture (every chapter)."""
    if "has_nsfw" not in failing_line(exc):
        return None
    tb = exc.__traceback__
    while tb is not None:
        pipeline = tb.tb_frame.f_locals.get("self")
        checker = getattr(pipeline, "safety_checker", None) if pipeline is not None and _pipeline(pipeline) else None
        if callable(checker) and not hasattr(checker, "parameters"):  # a plain function, not the checker model
            return ("pipeline.safety_checker was replaced by a function that returns a single flag, while the "
                    "pipeline reads one flag per picture (a list), as the real checker returns them.",
                    "switch it off the way diffusers supports: pipeline.safety_checker = None; or return a list: "
                    "lambda images, clip_input: (images, [False] * len(images)).")
        tb = tb.tb_next
    return None


def missing_key(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A learner's dict asked for a key it does not hold: a value edited out of a list above (every chapter)."""
    if not isinstance(exc, KeyError) or len(exc.args) != 1 or not isinstance(exc.args[0], (int, float, str)):
        return None
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    if not frames or re.search(r"[/\\](site|dist)-packages[/\\]|[/\\]lib[/\\]python3", frames[-1].filename or "") \
            or in_pipeline_call(exc):
        return None  # raised inside a library, or in a step callback (helpers.causes_values.callback_key's part)
    key = exc.args[0]
    for name in dict.fromkeys(re.findall(r"([A-Za-z_]\w*)\s*\[", failing_line(exc))):
        value = failing_value(exc, name)
        if not isinstance(value, dict) or key in value or not value:
            continue
        keys = list(value)
        if not any(type(k) is type(key) or {type(k), type(key)} <= {int, float} for k in keys):
            continue
        shown = ", ".join(map(repr, keys[:8])) + (", …" if len(keys) > 8 else "")
        close = difflib.get_close_matches(key, [k for k in keys if isinstance(k, str)], n=1, cutoff=0.75) \
            if isinstance(key, str) else []
        if close:  # a misspelt key
            return (f"{name} has no key {key!r}; its keys are {shown}.", f"did you mean {name}[{close[0]!r}]?")
        return (f"{name} has no key {key!r}; its keys are {shown}. A dict that a loop filled holds the values "
                "that loop ran with: a value changed or taken out of its list is not among them.",
                f"read a key it holds, e.g. {name}[{keys[0]!r}]; or put {key!r} back into the list that filled "
                f"{name} and run that cell again before this one.")
    return None


def attribute_typo(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A name a pipeline, picture or tensor lacks, with a close one it has: a typo (every chapter)."""
    from helpers.causes_slips import tutorial_attribute

    found = tutorial_attribute(exc, facts)  # the tutorial's own objects list everything they have
    if found:
        return found
    found = picture_habit(exc, facts)  # a tensor's habit on a picture: no name close to it, but a known cause
    if found:
        return found
    obj, name = getattr(exc, "obj", None), getattr(exc, "name", None)
    if obj is None or not isinstance(name, str) or name.startswith("_"):
        return None
    try:
        names = {n for n in dir(obj) if not n.startswith("_")}
        if _pipeline(obj):
            names |= set(getattr(obj, "components", {}) or {})
    except Exception:  # noqa: BLE001 - an object whose dir() fails gives no note
        return None
    close = [c for c in difflib.get_close_matches(name, sorted(names - {name}), n=4, cutoff=0.75)
             if abs(len(c) - len(name)) <= 1][:2]  # a slip of a letter: latents.images is not a typo of .imag
    if not close:
        return None  # no name near it: the cause is something else, and a guess would send the learner astray
    shown = " or ".join(f".{c}" for c in close)
    return (f"this {type(obj).__name__} has no .{name}; it has {shown}, a name a letter or two away.",
            f"did you mean {shown}? dir(...) lists every name it has.")


# torch habits on a PIL picture: what to do instead
PICTURE_HABITS = {
    "to": "a PIL picture lives in ordinary memory and has no device: the pipeline moves what it needs to its "
          "device itself. Pass the picture as it is; for a tensor of it: pipeline.image_processor.preprocess(picture)"
          ".to(device).",
    "cuda": "a PIL picture has no device: pass it as it is, and the pipeline moves what it needs.",
    "cpu": "a PIL picture is already in ordinary memory: use it as it is.",
    "half": "a PIL picture holds 8-bit pixels, not a dtype to change: the pipeline converts it to its own dtype.",
    "float": "a PIL picture holds 8-bit pixels: np.asarray(picture, dtype=np.float32) / 255 gives floats 0–1.",
    "numpy": "np.asarray(picture) gives its (height, width, 3) array of 0–255.",
    "unsqueeze": "a PIL picture has no axes to add: pipelines take the picture itself (or a list of them for a batch).",
    "permute": "a PIL picture is (width, height) with channels inside: np.asarray(picture) gives (height, width, 3).",
    "detach": "a PIL picture is not a tensor and carries no gradients: use it as it is.",
    "clone": "picture.copy() makes a copy of a PIL picture.",
}


def picture_habit(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A tensor's method asked of a PIL picture: .to(device), .cuda(), .half(), .numpy() (every chapter)."""
    obj, name = getattr(exc, "obj", None), getattr(exc, "name", None)
    if obj is None or name not in PICTURE_HABITS or not any(c.__name__ == "Image" and "PIL" in c.__module__
                                                              for c in type(obj).__mro__):
        return None
    return (f"this is a PIL picture ({obj.width}x{obj.height}, {obj.mode}), not a torch tensor, so it has no "
            f".{name}().", PICTURE_HABITS[name])


def one_value_in_brackets(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A loop over (7.5): brackets around one number make no tuple (every chapter)."""
    found = re.search(r"\bfor\b.+?\bin\s+([A-Za-z_]\w*)\s*:", failing_line(exc)) or \
        re.search(r"\b(?:zip|list|tuple|enumerate|sorted|len)\(\s*([A-Za-z_]\w*)\s*\)", failing_line(exc))
    value = failing_value(exc, found.group(1)) if found else None
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    name = found.group(1)
    return (f"{name} is {value!r}, one number, and a loop needs several values. Brackets around one value make no "
            f"tuple: ({value!r}) is just {value!r}.",
            f"write a one-value tuple with a comma, {name} = ({value!r},), or a list, {name} = [{value!r}].")


def given_twice(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A keyword given in the call and again in a dict unpacked with ** (every chapter)."""
    import linecache

    found = re.search(r"got multiple values for keyword argument '(\w+)'", str(exc))
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    if not found or not frames:
        return None
    key, last = found.group(1), frames[-1]
    lines = linecache.getlines(last.filename)[last.lineno - 1:(getattr(last, "end_lineno", None) or last.lineno)]
    for name in re.findall(r"\*\*([A-Za-z_]\w*)", "".join(lines) or (last.line or "")):
        value = failing_value(exc, name)
        if isinstance(value, dict) and key in value:
            return (f"{key} is given twice: once in the call ({key}=...), and again in {name}, the dict unpacked "
                    f"with **{name}, which holds {key}={value[key]!r}.",
                    f"give it once: let the dict's value win with **{{{key!r}: <the call's value>, **{name}}} in "
                    f"place of {key}=... and **{name}, or take {key!r} out of {name}.")
    return None
