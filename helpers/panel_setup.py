"""What a Panel needs before its first run, checked when it is made: a refusal then beats a red status later.

The panel's prompt box holds one prompt; a pipeline that works from a picture needs that picture in fixed= or a
control; fixed= may not ask for other pictures than the PIL ones the panel shows; a learner's encode function is
called as encode(prompt, negative_prompt, extras) (helpers.panel_encode); the device the panel seeds its
generators on must exist; and save_dir= names a folder. The chapter's own controls are checked against the
pipeline's arguments.
"""

from __future__ import annotations

import difflib
import inspect

from helpers.imagecheck import NEEDS
from helpers.painter_kept import why_all_black
from helpers.panel_controls import SHARED, Choice, Slider
from helpers.panel_encode import check_encode
from helpers.panel_names import unknown_argument


def _takes(pipeline, name: str) -> bool:
    try:
        return name in inspect.signature(type(pipeline).__call__).parameters
    except (TypeError, ValueError):
        return False


def check_text(name: str, value) -> None:
    """The prompt boxes hold one string each; a batch of prompts is a plain pipeline call (ch. 1–5)."""
    if not isinstance(value, str):
        what = f"a list of {len(value)}" if isinstance(value, (list, tuple)) else type(value).__name__
        raise TypeError(f"Panel's {name} box holds one prompt as text, got {what}. Pass {name}=\"...\"; to compare "
                        "several prompts, call the pipeline with a list of them, or make one panel per prompt.")


def check_pictures(pipeline, fixed: dict, controlled: set) -> None:
    """A pipeline that works from a picture gets it from fixed= or a control (ch. 2–5)."""
    kind = type(pipeline).__name__
    for name, words in NEEDS:
        if name in fixed or name in controlled or not any(w in kind for w in words) or not _takes(pipeline, name):
            continue
        what = {"image": "start picture", "mask_image": "mask (white = repaint)"}.get(name, "control picture")
        raise ValueError(f"{kind} works from a {what}, and this panel gives it none. Pass it with "
                         f"Panel(..., fixed={{{name!r}: picture}}), or declare a control for it in extras=, e.g. "
                         f"Choice({name!r}, {{'mine': picture}}).")


def check_fixed(fixed: dict) -> None:
    """fixed= may not change what the panel shows and saves: PIL pictures, one image list per call (ch. 1–5)."""
    kind = fixed.get("output_type", "pil")
    if kind != "pil":
        raise ValueError(f"fixed= holds output_type={kind!r}, and the panel shows and saves PIL pictures: leave "
                         "output_type out of fixed=. For latents or arrays, call the pipeline in a cell.")
    if fixed.get("return_dict", True) is not True:
        raise ValueError("fixed= holds return_dict=False, and the panel reads output.images: leave it out.")
    if "mask_image" in fixed:
        fixed["mask_image"] = _mask_picture(fixed["mask_image"])
    mask = fixed.get("mask_image")
    if hasattr(mask, "getextrema") and mask.convert("L").getextrema()[1] == 0:
        painter = why_all_black(mask)  # made by helpers.painter.MaskPainter.mask: the call check says the same
        where = f". {painter} fixed= keeps the mask it was given: " if painter else ": "
        raise ValueError(f"fixed= holds a mask_image that is all black, so no run would repaint anything{where}"
                         "to use a mask you paint, give the panel a choice read at every run: extras=[Choice("
                         "'mask_image', {'painted': lambda: painter.mask})]; or paint the area white first.")


def _mask_picture(mask):
    """A numpy or torch mask in fixed= made a PIL picture as a plain call makes it (with its warning), else refused."""
    import numpy as np
    import torch
    from PIL import Image

    if not isinstance(mask, (np.ndarray, torch.Tensor)):
        return mask  # a PIL mask, or something the call check refuses with its own message
    from helpers.pictures import convert_array

    made = convert_array(mask, "mask_image")
    if isinstance(made, Image.Image):
        return made
    shape, dtype = tuple(mask.shape), str(mask.dtype).replace("torch.", "")
    fix = ("Image.fromarray((array * 255).round().astype(np.uint8))" if isinstance(mask, np.ndarray)
           else "Image.fromarray((tensor.squeeze().cpu().numpy() * 255).round().astype(np.uint8))")
    kind = "numpy array" if isinstance(mask, np.ndarray) else "tensor"
    raise TypeError(f"fixed= holds mask_image as a {kind} {shape} of {dtype}, and the panel's mask "
                    f"must be a PIL picture (white = repaint). For values 0 to 1: {fix}; for True/False: "
                    "Image.fromarray(array.astype(np.uint8) * 255).")


def check_save_dir(save_dir) -> None:
    """save_dir= is a folder the Save button writes into, never a file (ch. 1–5)."""
    from pathlib import Path

    if save_dir is None:
        return
    folder = Path(save_dir).expanduser()
    if folder.is_file():
        raise ValueError(f"save_dir={str(save_dir)!r} is a file, and save_dir is the folder Save PNG writes into. "
                         "Pass a folder; to write one file of your own naming, use panel.save(path='name.png').")
    if not folder.exists() and folder.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"):
        raise ValueError(f"save_dir={str(save_dir)!r} looks like a file name, and save_dir is a folder (it would be "
                         "made, with that name). For one file use panel.save(path="
                         f"{str(save_dir)!r}); for a folder pass save_dir={str(folder.with_suffix(''))!r}.")


def check_device(device) -> None:
    """The device the generators are seeded on must be one torch can use here (ch. 1–5)."""
    from helpers.device import check_available

    check_available(device)


# Panel's keywords after pipeline and prompt, in its own order, and the kinds of value each takes
_KEYWORDS = ("negative_prompt", "guidance_scale", "num_inference_steps", "seed", "extras", "fixed", "encode",
             "history", "live", "device", "save_dir", "preview")
_KINDS = ((bool, ("live", "preview")), (float, ("guidance_scale",)), (int, ("num_inference_steps", "seed",
          "history", "guidance_scale")), (str, ("negative_prompt", "device")), ((list, tuple), ("extras",)),
          (dict, ("fixed",)))


def _short(value) -> str:
    if hasattr(value, "getextrema") and hasattr(value, "size"):  # a picture: its repr is an address
        return "<your {}x{} picture>".format(*value.size)
    text = getattr(value, "__name__", "") if callable(value) else ""
    text = text if text.isidentifier() else repr(value)  # a function by its name, a lambda by its repr
    return text if len(text) <= 40 else text[:37] + "..."


def _meant_for(value, taken: set) -> str:
    """`name=value`: the first keyword of Panel not yet taken that takes a value of this kind."""
    if hasattr(value, "getextrema"):  # the start picture or a mask, as the pipeline takes it: fixed=
        return "fixed={'image': " + _short(value) + "}"
    names = next((names for kind, names in _KINDS if isinstance(value, kind)), ())  # bool first: True is an int
    if callable(value) and not isinstance(value, type):
        names = ("encode",)
    name = next((n for n in (*names, *_KEYWORDS) if n not in taken), "...")
    taken.add(name)
    return f"{name}={_short(value)}"


def check_positional(extra: tuple, owner=None) -> None:
    """Panel(pipe, prompt, 7.5): the values after the prompt are told the keywords they were meant for (ch. 1–5)."""
    if not extra:
        return
    kind = getattr(owner, "__name__", "Panel")
    taken: set = set()
    named = ", ".join(_meant_for(value, taken) for value in extra)
    raise TypeError(f"{kind} takes the pipeline and the prompt by position; name the rest: {kind}(pipeline, "
                    f"prompt, {named}). Its keywords, in order: {', '.join(_KEYWORDS)}.")


def check_arguments(unknown: dict, *, live, preview, history, fixed: dict, owner=None, pipeline=None) -> None:
    """Refuse an argument Panel does not know, a switch not True or False, and fixed= for a control (ch. 1–5).

    `owner` is the Panel class, whose signature and attributes an unknown name is matched against."""
    if unknown:  # e.g. strength=0.5: a chapter's own control, which the panel does not know by name
        name, value = next(iter(unknown.items()))
        from helpers.callnames import OTHER_NAMES  # the names other tools give diffusers' settings

        own = OTHER_NAMES.get(name) if OTHER_NAMES.get(name) in SHARED else None
        if name == "generator":
            raise TypeError("Panel has no argument `generator`: it makes the generator itself from seed=, so that "
                            "each run can be repeated. Pass a whole number, e.g. Panel(..., seed=42).")
        if own:  # another name for one of the panel's own controls
            raise TypeError(f"Panel has no argument `{name}`; the panel's own control for it is `{own}`: "
                            f"Panel(..., {own}={value!r}).")
        meant = None if owner is None else unknown_argument(owner, pipeline, name, value)
        if meant:  # history_size=10: Panel's own history=, or a name neither Panel nor the pipeline takes
            raise TypeError(meant)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        control = (f"Slider({name!r}, {value!r}, low, high)" if number else f"Choice({name!r}, {{'mine': ...}})")
        shown = repr(value) if number else "..."
        raise TypeError(f"Panel has no argument `{name}`. Its own controls are {', '.join(SHARED)}; declare a "
                        f"chapter's control in extras=, e.g. extras=[{control}], or pass it unchanged on every "
                        f"run with fixed={{{name!r}: {shown}}}.")
    if not isinstance(live, bool):  # live="no" would be refused deep inside ipywidgets' checkbox
        raise TypeError(f"live={live!r} turns live mode on or off: True (run when a slider is released) or "
                        "False (run on Generate).")
    if not isinstance(preview, bool):
        raise TypeError(f"preview={preview!r} turns the step preview on or off: True or False. The view is "
                        "switched in the panel itself (estimate of the final picture, or noisy picture).")
    if isinstance(history, bool) or not isinstance(history, int) or history < 1:
        raise ValueError(f"history={history!r} must be a whole number of at least 1: the newest picture is kept "
                         "in the history too, for save().")
    taken = [n for n in fixed if n in (*SHARED, "generator")]
    if taken:  # the slider would silently win over the fixed value on every run
        name = taken[0]
        control = "the seed slider makes it" if name == "generator" else "a control of the panel sets it"
        raise ValueError(f"fixed= holds `{name}`, but {control} on every run. Set its start with "
                         f"Panel(..., {'seed' if name == 'generator' else name}=...) instead, and keep fixed= for "
                         "arguments no control sets (image=, mask_image=, ...).")


def check_setup(pipeline, *, prompt, negative_prompt, fixed: dict, controlled: set, encode, device,
                save_dir=None) -> None:
    """Every check above, in the order the arguments come (ch. 1–5)."""
    check_text("prompt", prompt)
    check_text("negative_prompt", negative_prompt)
    check_pictures(pipeline, fixed, controlled)
    check_fixed(fixed)
    check_encode(encode)
    check_device(device)
    check_save_dir(save_dir)


def check_extras(pipeline, fixed: dict, extras, encode=None) -> tuple:
    """Each declared control once, and a pipeline argument only where the pipeline takes it (ch. 1–5)."""
    extras = (extras,) if isinstance(extras, (Slider, Choice)) else tuple(extras)  # one control, no list
    seen = set()
    for extra in extras:
        if not isinstance(extra, (Slider, Choice)):
            raise TypeError(f"extras holds the chapter's own controls, declared as Slider(...) or Choice(...); "
                            f"got {extra!r}.")
        if extra.name in seen:
            raise ValueError(f"extras declares `{extra.name}` twice; keep one.")
        seen.add(extra.name)
        if extra.name in fixed:
            raise ValueError(f"`{extra.name}` is both in fixed= and a control in extras; keep one.")
        if isinstance(extra, Choice):  # a painter's mask taken once, where the painting should be read every run
            for label, option in extra.options.items():
                if getattr(option, "info", {}).get("painter"):
                    from helpers.callwarning import warn_call

                    warn_call(f"Choice({extra.name!r}) option {label!r} is a MaskPainter's mask as it was when the "
                              "panel was made; later strokes will not reach it. To read the painting at every run, "
                              f"give a function: {{{label!r}: lambda: painter.mask}}.")
        check_pixel_steps(extra)
        if not extra.pipeline_arg and encode is None:  # nothing reads it, yet its caption would name its value
            check_reaches(pipeline, extra)
        if extra.pipeline_arg and extra.name in ("scheduler", "sampler") and not _takes(pipeline, extra.name):
            raise ValueError(f"{type(pipeline).__name__} takes no `{extra.name}` in its call, so a panel control "
                             "cannot switch it: the scheduler is part of the pipeline. Set it before making the panel, "
                             "pipeline.scheduler = DDIMScheduler.from_config(pipeline.scheduler.config), and make one "
                             "panel per scheduler to compare them.")
        if extra.pipeline_arg and not _takes(pipeline, extra.name):
            params = list(inspect.signature(type(pipeline).__call__).parameters)
            from helpers.callnames import other_name

            alias = other_name(extra.name, params)  # chapter 4's "control" slider is controlnet_conditioning_scale
            close = [alias] if alias else difflib.get_close_matches(extra.name, params, n=1, cutoff=0.6)
            for_encode = (f"{type(extra).__name__}({extra.name!r}, ..., pipeline_arg=False)")
            if encode is not None:  # the chapter's own encoder reads every control: the likely reading
                hint = (f"If your encode= function reads it, declare it for encode only: {for_encode}"
                        + (f". If it is meant for the pipeline, did you mean `{close[0]}`?" if close else "."))
            else:
                hint = (f"Did you mean `{close[0]}`?" if close else "Leave the control out, or, if your own "
                        "encode function reads it, declare it with pipeline_arg=False.")
            raise ValueError(f"{type(pipeline).__name__} does not take `{extra.name}`. {hint}")
    return extras


def check_pixel_steps(extra) -> None:
    """A height or width slider lands on multiples of 8 only: a step, low or high breaking that is refused (ch. 1–5)."""
    if not (isinstance(extra, Slider) and extra.pipeline_arg and extra.name in ("height", "width")):
        return
    step = 1 if extra.step is None else extra.step  # an IntSlider's own step
    lands = [v for v in (extra.value, extra.low, extra.low + step, extra.high) if v % 8]
    if not lands:  # low and step multiples of 8: every setting low + k * step is one too
        return
    down, up = (lambda v: max(8, int(v // 8 * 8))), (lambda v: max(8, int(-(-v // 8) * 8)))
    low, high = down(extra.low), up(extra.high)
    value, fit = min(max(down(extra.value + 4), low), high), max(8, round(step / 8) * 8)
    # the largest multiple of 8 at most that step which divides both spans, so the start is a setting it can reach
    fit = next((f for f in range(min(fit, high - low) // 8 * 8, 0, -8)
                if not (value - low) % f and not (high - low) % f), 8)
    given = "" if extra.step is None else f", step={extra.step}"
    raise ValueError(f"Slider({extra.name!r}, {extra.value}, {extra.low}, {extra.high}{given}) lets the slider land "
                     f"on {extra.name}={lands[0]}, and {extra.name} must be a multiple of 8 (the VAE works on 8-pixel "
                     "blocks): give it step=8 or a multiple of 8, with its start, low and high multiples of 8 too, "
                     f"e.g. Slider({extra.name!r}, {value}, {low}, {high}, step={fit}).")


def check_reaches(pipeline, extra) -> None:
    """A control kept from the pipeline (pipeline_arg=False) needs an encode= to read it (ch. 4)."""
    declared = f"{type(extra).__name__}({extra.name!r}, ..., pipeline_arg=False)"
    why = (f"{declared} would reach nothing: pipeline_arg=False keeps its value from the pipeline for an encode= "
           "function to read, and this panel has no encode=, so the caption would name a value no run used. ")
    if not _takes(pipeline, extra.name):  # said, not refused: a control tried alone is made that way in tests
        from helpers.callwarning import warn_call

        warn_call(why + f"{type(pipeline).__name__} does not take `{extra.name}` either: leave the control out, or "
                  f"pass encode= a function that reads extras[{extra.name!r}].")
        return
    raise ValueError(why + f"Leave pipeline_arg out, and the pipeline gets {extra.name}= on every run; or pass "
                     f"encode= a function that reads extras[{extra.name!r}].")


def check_replacing(name: str, value) -> None:
    """Refuse `panel.prompt = ...`, which would replace the control and leave the run reading the old one (ch. 1–5)."""
    import ipywidgets as W

    what = {"prompt": "text box", "negative_prompt": "text box", "live": "checkbox"}.get(name, "slider")
    shown = "..." if isinstance(value, W.Widget) or len(repr(value)) > 60 else repr(value)
    same = f" (the same {what} as panel.controls[{name!r}])" if name in SHARED else ""
    raise TypeError(f"panel.{name} is the panel's {name} {what}, and every run reads the {what} on screen: "
                    f"assigning to panel.{name} would replace it, and the run would still use the old value. Set "
                    f"its value instead: panel.{name}.value = {shown}{same}.")
