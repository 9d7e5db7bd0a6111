"""Causes confirmed from the code that failed: the traceback's own lines and the values its frames held.

Each function takes the error and its CallFacts (unused here: these errors come from the learner's own code, not
from a pipeline call) and returns (what it means, how to fix it), or None when the code does not confirm the cause;
helpers.notes then shows no note at all. compel's weight counts, SDXL's four prompt tensors unpacked into two, a
tensor given to PIL's composite, paste or blend, a hook that asks for keyword arguments torch does not pass.
"""

from __future__ import annotations

import re

from helpers.callfacts import CallFacts

# compel's .and() / .blend() on quoted parts: ("a cat", "a dog").blend(0.7, 0.3)
WEIGHTED_CALL = re.compile(r'\(\s*((?:"[^"]*"\s*,\s*)*"[^"]*")\s*,?\s*\)\s*\.(and|blend)\(([^()]*)\)')
PIL_CALLS = {"composite": ("image1", "image2", "mask"), "paste": ("im", "mask"), "blend": ("im1", "im2"),
             "alpha_composite": ("im1", "im2")}


def _tracebacks(exc: BaseException):
    tb = exc.__traceback__
    while tb is not None:
        yield tb
        tb = tb.tb_next


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None  # compel's flags, such as no_normalize


def _fixed_weights(kind: str, weights: list[float], parts: int) -> list[float]:
    if len(weights) > parts:
        return weights[:parts]
    if kind == "and":  # .and() weighs each part on its own; 1.0 is its default
        return [1.0] * (parts - len(weights)) + weights
    rest = 1 - sum(weights)  # .blend() mixes by shares: fill the share that is left
    return weights + [round(rest / (parts - len(weights)), 3) if rest > 0 else 1.0] * (parts - len(weights))


def weight_counts(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """compel's .and() or .blend() with another number of weights than parts, read from the prompt (ch. 4)."""
    texts = [tb.tb_frame.f_locals.get(name) for tb in _tracebacks(exc) for name in ("prompt_string", "text")]
    texts = [t for t in texts if isinstance(t, str)]
    for found in WEIGHTED_CALL.finditer(texts[-1] if texts else ""):
        parts = re.findall(r'"[^"]*"', found.group(1))
        weights = [w for w in (_number(x.strip()) for x in found.group(3).split(",")) if w is not None]
        if not weights or len(weights) == len(parts):
            continue
        kind = found.group(2)
        fixed = ", ".join(repr(round(w, 3)) for w in _fixed_weights(kind, weights, len(parts)))
        what = ("weighs each part on its own" if kind == "and" else "mixes the parts by these shares")
        return (f"compel's .{kind}() {what}, so it takes one weight per part: ({', '.join(parts)}) has "
                f"{len(parts)} parts, and .{kind}({found.group(3).strip()}) gives {len(weights)} "
                f"weight{'s' if len(weights) != 1 else ''}.",
                f"give one weight per part: ({', '.join(parts)}).{kind}({fixed})"
                + (", or .and() alone for 1.0 each." if kind == "and" else "."))
    return None


def _resolve(frame, dotted: str):
    names = dotted.split(".")
    value = frame.f_locals.get(names[0], frame.f_globals.get(names[0]))
    for name in names[1:]:
        value = getattr(value, name, None)
    return value


def unpacked_prompt_tensors(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """SDXL's encode_prompt, which returns four tensors, unpacked into two as for SD 1.5 (ch. 2, 4)."""
    last = list(_tracebacks(exc))[-1:] if exc.__traceback__ else []
    if not last:
        return None
    import linecache

    frame = last[0].tb_frame
    line = linecache.getline(frame.f_code.co_filename, last[0].tb_lineno, frame.f_globals)
    found = re.match(r"\s*((?:\w+\s*,\s*)+\w+)\s*,?\s*=\s*([\w.]+)\.encode_prompt\(", line)
    expected = re.search(r"expected (\d+)\)", str(exc))
    if not found or not expected:
        return None
    pipeline = _resolve(frame, found.group(2))
    if not type(pipeline).__name__.startswith("StableDiffusionXL") or int(expected.group(1)) >= 4:
        return None
    name = found.group(2)
    return (f"{type(pipeline).__name__}.encode_prompt returns four tensors (SDXL's second text encoder adds pooled "
            f"embeddings), and this line unpacks it into {expected.group(1)}: SD 1.5's encode_prompt returns two.",
            "take all four: prompt_embeds, negative_prompt_embeds, pooled_prompt_embeds, "
            f"negative_pooled_prompt_embeds = {name}.encode_prompt(...), and pass the four by those names to "
            f"{name}(...).")


def _as_picture(name: str, kind: str, latents: bool, call: str) -> str:
    """How to give PIL a picture where `name` got a tensor or array."""
    if name == "mask":
        numbers = "mask.squeeze().cpu().numpy()" if kind == "tensor" else "mask.squeeze()"
        return (f"make the mask a picture first (white = 255): mask = Image.fromarray(({numbers} * 255).round()"
                ".astype('uint8')) for values in [0, 1].")
    if kind == "numpy array":
        return ("make a picture of it first: Image.fromarray((array * 255).round().astype('uint8')) for values in "
                "[0, 1], or ask the pipeline for output_type='pil'.")
    example = {"composite": "Image.composite(output.images[0], picture, mask)",
               "paste": "picture.paste(output.images[0], (left, top))",
               "blend": "Image.blend(output.images[0], picture, 0.5)",
               "alpha_composite": "Image.alpha_composite(output.images[0].convert('RGBA'), picture.convert('RGBA'))"}
    return (f"ask the pipeline for pictures, output_type='pil' (the default), and pass one: {example[call]}"
            + (" (to refine latents first, give them to the next pipeline, and ask that one for pictures)."
               if latents else "."))


def pil_got_tensor(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A tensor or array given to PIL's composite, paste or blend, which take pictures (ch. 3, 5)."""
    import numpy as np

    for tb in _tracebacks(exc):
        code = tb.tb_frame.f_code
        if code.co_name not in PIL_CALLS or not code.co_filename.replace("\\", "/").endswith("PIL/Image.py"):
            continue
        for name in PIL_CALLS[code.co_name]:  # the outermost PIL call is the one the learner made
            value = tb.tb_frame.f_locals.get(name)
            kind = "numpy array" if isinstance(value, np.ndarray) else \
                "tensor" if type(value).__name__ == "Tensor" else None
            if kind is None:
                continue
            shape = tuple(value.shape)
            latents = kind == "tensor" and len(shape) == 4 and shape[1] in (4, 16)
            made = ("latents, which output_type='latent' returns" if latents else
                    "numbers, not a picture (output_type='pt' or 'np' returns such)")
            return (f"Image.{code.co_name} takes PIL pictures, and its {name}= is a {kind} of shape {shape}: {made}.",
                    _as_picture(name, kind, latents, code.co_name))
        return None
    return None


def hook_without_kwargs(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A torch hook written with a kwargs parameter, registered without with_kwargs=True (ch. 1)."""
    import inspect

    last = list(_tracebacks(exc))[-1:] if exc.__traceback__ else []
    frame = last[0].tb_frame if last else None
    if frame is None or not frame.f_code.co_filename.replace("\\", "/").endswith("torch/nn/modules/module.py"):
        return None
    hook = frame.f_locals.get("hook")
    try:
        params = [p for p in inspect.signature(hook).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return None
    import linecache

    line = linecache.getline(frame.f_code.co_filename, last[0].tb_lineno)
    pre = re.search(r"hook\(self, args\)", line)
    forward = re.search(r"hook\(self, args, result\)", line)
    wanted = 3 if pre else 4 if forward else None
    if wanted is None or len(params) != wanted or "kw" not in params[2].name \
            or f"{getattr(hook, '__name__', '?')}()" not in str(exc):
        return None  # called with kwargs already, or a hook of another shape: the cause is elsewhere
    name, names, extra = getattr(hook, "__name__", "hook"), ", ".join(p.name for p in params), params[2].name
    method = "register_forward_pre_hook" if pre else "register_forward_hook"
    called = (f"{name}(module, args): the {extra} parameter gets nothing" if pre else
              f"{name}(module, args, output): the output lands in {extra}, and {params[3].name} gets nothing")
    dropped = ", ".join(p.name for p in params if p is not params[2])
    return (f"{name}({names}) asks for the call's keyword arguments, which torch passes to a hook only when it is "
            f"registered with with_kwargs=True; without it, torch calls {called}.",
            f"register it with them: module.{method}({name}, with_kwargs=True), or drop the parameter: "
            f"def {name}({dropped}).")


_PIL_ARGS = {**PIL_CALLS, "paste": ("self", "im", "mask")}  # paste's own picture is self


def pil_pictures(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """PIL's "images do not match": the pictures of the call that failed, by size and mode (ch. 5)."""
    from PIL import Image

    frames = [tb.tb_frame for tb in _tracebacks(exc) if tb.tb_frame.f_code.co_name in _PIL_ARGS
              and "PIL" in tb.tb_frame.f_code.co_filename]
    if not frames:
        return None
    frame = frames[0]  # the PIL function the learner called (composite calls paste inside)
    function = frame.f_code.co_name
    pictures = {n: frame.f_locals.get(n) for n in _PIL_ARGS[function]}
    pictures = {("image" if n == "self" else n): p for n, p in pictures.items() if isinstance(p, Image.Image)}
    if len(pictures) < 2:
        return None
    box = frame.f_locals.get("box")
    if function == "paste" and isinstance(box, tuple) and len(box) == 4 and "im" in pictures:
        size = (box[2] - box[0], box[3] - box[1])
        if size != pictures["im"].size:  # a 4-tuple box must be the pasted picture's own size
            return (f"paste's box {box} is {size[0]}×{size[1]}, and the picture pasted is "
                    f"{pictures['im'].width}×{pictures['im'].height}: a box of four numbers must be its size.",
                    f"give only the corner, ({box[0]}, {box[1]}), or resize the pasted picture to {size}.")
    listed = ", ".join(f"{n} {p.width}×{p.height} {p.mode}" for n, p in pictures.items())
    sizes = [p.size for p in pictures.values()]
    common = max(set(sizes), key=sizes.count)
    odd = [n for n, p in pictures.items() if p.size != common]
    if odd:
        fixes = "; ".join(f"{n} = {n}.resize({common})" for n in odd)
        return (f"PIL's {function} takes pictures of one size, and it got {listed}.",
                f"bring {' and '.join(odd)} to {common[0]}×{common[1]}: {fixes} (or make the pictures at one size "
                "to begin with: an img2img result has its start picture's size; text-to-image and inpainting take "
                "height= and width=).")
    if function in ("blend", "alpha_composite") and len({p.mode for p in pictures.values()}) > 1:
        mode = "RGBA" if function == "alpha_composite" else next(iter(pictures.values())).mode
        return (f"PIL's {function} takes pictures of one mode, and it got {listed}.",
                f"convert them to one mode first: .convert({mode!r}) on each.")
    mask = pictures.get("mask")
    first = pictures.get("image1")
    if function == "composite" and mask is not None and first is not None and mask.mode in ("RGB", "RGBA") \
            and first.mode in ("1", "L"):  # the grey picture first and a colour one last: the order, not the mode
        return ("Image.composite takes (image1, image2, mask), the mask last, and here the first is a grey picture "
                f"({first.mode}) and the last a colour one ({mask.mode}): the mask is in the wrong place.",
                "put it last: Image.composite(result, start_picture, mask) takes result where the mask is white and "
                "the start picture where it is black.")
    if mask is not None and mask.mode not in ("1", "L", "LA", "RGBA", "RGBa"):
        return (f"PIL's {function} reads the mask's brightness from an 'L' picture, and mask is {mask.mode}.",
                "mask = mask.convert('L').")
    return None

