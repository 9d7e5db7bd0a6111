"""Causes confirmed from a keyword the tutorial's own helper functions do not take, and the value it was given.

helper_keyword reads the failing line: the helper named, its own parameters, and the value passed under the unknown
name, so that a list of texts for captioned_grid is sent to captions= and not to the nearest spelling (title=).
"""

from __future__ import annotations

import ast
import re

from helpers.callfacts import CallFacts
from helpers.causes_values import failing_line, failing_value

HELPER_KEYWORDS = {  # other tools' options on the tutorial's helpers, and what to write instead
    ("load_chapter_image", "mode"): "open it, then convert: load_chapter_image(name).convert('L').",
    ("load_image_file", "mode"): "open it, then convert: load_image_file(path).convert('L').",
    ("load_image_file", "size"): "load_image_file opens a picture at its own size; resize it after loading: "
                                 "load_image_file(path).resize((256, 256)), or ImageOps.fit(photo, (256, 256)) "
                                 "(from PIL import ImageOps) to crop instead of squeezing. size= belongs to "
                                 "load_chapter_image, for the chapters' own pictures.",
    ("make_mask", "invert"): "make the mask, then invert it: ImageOps.invert(make_mask(...)) (from PIL import "
                             "ImageOps); white is what gets repainted.",
    ("mask_coverage", "threshold"): "it counts pixels of 128 or more, where the inpainting pipelines cut masks; for "
                                    "another cut: (np.asarray(mask.convert('L')) >= t).mean().",
}
MISSING = object()


def keyword_value(exc: BaseException, function: str, key: str):
    """The value the failing line passed as key= to function(...), read from its text and the frame (ch. 1–5)."""
    try:
        tree = ast.parse(failing_line(exc).strip())
    except SyntaxError:
        return MISSING  # a call over several lines: its value cannot be read from one of them
    for node in ast.walk(tree):
        called = getattr(node, "func", None)
        if not isinstance(node, ast.Call) or getattr(called, "id", getattr(called, "attr", None)) != function:
            continue
        for given in node.keywords:
            if given.arg != key:
                continue
            if isinstance(given.value, ast.Name):
                return failing_value(exc, given.value.id)
            try:
                return ast.literal_eval(given.value)
            except ValueError:
                return MISSING
    return MISSING


def _texts(value) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, str) for v in value)


def helper_keyword(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A keyword the tutorial's helper function does not take: its own parameters, and the way to do it (ch. 1–5)."""
    import difflib
    import inspect
    import sys

    found = re.search(r"(\w+)\(\) got an unexpected keyword argument '(\w+)'", str(exc))
    if not found:
        return None
    function, key = found.groups()
    target = next((getattr(module, function) for name, module in list(sys.modules.items())
                   if name.startswith("helpers.") and callable(getattr(module, function, None))
                   and getattr(getattr(module, function), "__module__", "").startswith("helpers")), None)
    if target is None or f"{function}(" not in failing_line(exc):
        return None  # not one of the tutorial's helpers, or not called on this line
    try:
        params = [p for p in inspect.signature(target).parameters if p not in ("self", "args", "kwargs")]
    except (TypeError, ValueError):
        return None
    takes = f"{function} takes no {key}=; its parameters are {', '.join(params)}."
    value = keyword_value(exc, function, key)
    if "captions" in params and key != "captions" and _texts(value):  # one text per picture: captions, not title
        return (f"{takes} A list with one text per picture is captions=; title= is one line of text over the "
                "whole grid.", f"{function}(images, captions={list(value)!r}).")
    advice = HELPER_KEYWORDS.get((function, key))
    close = difflib.get_close_matches(key, params, n=1, cutoff=0.7)
    return (takes, advice or (f"did you mean {close[0]}=?" if close else
                              f"see help({function}) for what each one does."))
