"""What a Panel needs before its first run, checked when it is made: a refusal then beats a red status later.

The panel's prompt box holds one prompt; a pipeline that works from a picture needs that picture in fixed= or a
control; fixed= may not ask for other pictures than the PIL ones the panel shows; a learner's encode function is
called as encode(prompt, negative_prompt, extras); the device the panel seeds its generators on must exist; and
save_dir= names a folder.
"""

from __future__ import annotations

import inspect

from helpers.imagecheck import NEEDS


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


def check_encode(encode) -> None:
    """A learner's encode function must take (prompt, negative_prompt, extras) (ch. 4)."""
    if encode is None:
        return
    if not callable(encode):
        raise TypeError(f"encode= must be a function, got {type(encode).__name__}.")
    try:
        signature = inspect.signature(encode)
    except (TypeError, ValueError):  # a builtin or C function: it is called as it is
        return
    try:
        signature.bind("prompt", "negative_prompt", {})
    except TypeError:
        raise TypeError(f"encode= is called as encode(prompt, negative_prompt, extras) and returns the keyword "
                        f"arguments to call with, e.g. {{'prompt_embeds': ...}}; yours takes {signature}. Add the "
                        "missing parameters (extras is a dict of every control's value), even if unused.") from None


def check_device(device) -> None:
    """The device the generators are seeded on must be one torch can use here (ch. 1–5)."""
    from helpers.device import check_available

    check_available(device)


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
