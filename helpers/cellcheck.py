"""Slips a notebook cell shows in its own code, said once before it runs: nothing would fail, and nothing would say.

A picture method's result that no name keeps (`photo.resize((256, 256))` on a line of its own, not the cell's
last), and seeds given to Python's or numpy's generators where diffusers draws its noise from torch.
helpers.explain runs this before each cell while the checks are on.
"""

from __future__ import annotations

import ast
import re

from helpers.callwarning import warn_call

# PIL methods that return a new picture and leave the old one as it was (thumbnail works in place: not here)
NEW_PICTURE = {"resize", "convert", "rotate", "crop", "transpose", "filter", "copy", "reduce", "quantize"}
TORCH_SEEDS = re.compile(r"manual_seed|generator\s*=|make_generator|torch\.Generator|set_seed|seed_everything")
OTHER_SEEDS = re.compile(r"^\s*((?:np|numpy)\.random\.seed|random\.seed)\(", re.MULTILINE)


def _thrown_away(tree: ast.Module, namespace: dict) -> list[str]:
    """`x.resize(...)` (and the like) standing alone on a line that is not the cell's last, x a PIL picture."""
    from PIL import Image

    found = []
    for node in tree.body[:-1]:  # the last line's value is shown in the notebook: not thrown away
        call = node.value if isinstance(node, ast.Expr) else None
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr in NEW_PICTURE \
                and isinstance(call.func.value, ast.Name) \
                and isinstance(namespace.get(call.func.value.id), Image.Image):  # a picture already: not a dict
            found.append(f"{call.func.value.id}.{call.func.attr}(...)")
    return found


def _pipeline_called(tree: ast.Module, namespace: dict) -> bool:
    """Whether the cell calls a diffusers pipeline it already has by name (pipeline(...), pipe(...))."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            value = namespace.get(node.func.id)
            if any(c.__name__ == "DiffusionPipeline" for c in type(value).__mro__):
                return True
    return False


def check_cell(source: str, namespace: dict | None = None) -> None:
    """Say a picture method's result left unkept, and seeds that do not reach diffusers' noise (every chapter)."""
    if not isinstance(source, str) or not source.strip():
        return
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython's magics, or a real syntax error: Python says that one itself
        return
    for call in _thrown_away(tree, namespace or {}):
        name, method = call.split(".")[0], call.split(".")[1].split("(")[0]
        warn_call(f"{call} makes a new picture and leaves {name} as it was, and this line keeps the new one under no "
                  f"name, so it is lost. Keep it: {name} = {name}.{method}(...).")
    seeds = OTHER_SEEDS.search(source)
    if seeds and not TORCH_SEEDS.search(source) and _pipeline_called(tree, namespace or {}):
        which = "numpy" if seeds.group(1).startswith(("np.", "numpy.")) else "Python"
        warn_call(f"{seeds.group(1)}() seeds {which}'s random numbers, "
                  "and diffusers draws its noise from torch, so pipeline calls still change from run to run. Pass "
                  "a generator to each call: pipeline(..., generator=make_generator(seed, device)) (from "
                  "helpers.device).")
