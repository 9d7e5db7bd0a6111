"""Slips a notebook cell shows in its own code, said once before it runs: nothing would fail, and nothing would say.

A picture method's result that no name keeps (`photo.resize((256, 256))` on a line of its own, not the cell's
last), seeds given to Python's or numpy's generators where diffusers draws its noise from torch, two strings
written side by side that join mid-word (`"in a jungle" "cold colors"`), and pixel arithmetic that wraps round in
8 bits. Cells that start with `%%time` (or `%%timeit`, `%%capture`) are checked too.
helpers.explain runs this before each cell while the checks are on.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

from helpers.callwarning import warn_call

# PIL methods that return a new picture and leave the old one as it was (thumbnail works in place: not here)
NEW_PICTURE = {"resize", "convert", "rotate", "crop", "transpose", "filter", "copy", "reduce", "quantize"}
TORCH_SEEDS = re.compile(r"manual_seed|generator\s*=|make_generator|torch\.Generator|set_seed|seed_everything")
OTHER_SEEDS = re.compile(r"^\s*((?:np|numpy)\.random\.seed|random\.seed)\(", re.MULTILINE)


# calls that make a picture: a name the cell binds to one holds a picture from then on
MAKES_PICTURE = {"open", "new", "fromarray", "load_image_file", "load_chapter_image", "load_image", "make_mask"}
TIMING_MAGICS = ("%%time", "%%timeit", "%%capture", "%%prun")  # the cell below them runs as Python


def python_of(source: str) -> str | None:
    """The Python a cell runs: a leading %%time line dropped, line magics as IPython rewrites them (every chapter)."""
    first, _, rest = source.lstrip("\n").partition("\n")
    if first.startswith("%%"):
        if first.split()[0] not in TIMING_MAGICS:
            return None  # %%bash, %%writefile, ...: not Python
        source = rest
    if "%" in source or "!" in source:
        try:
            from IPython.core.inputtransformer2 import TransformerManager
        except ImportError:
            return source
        source = TransformerManager().transform_cell(source)
    return source


def _makes_picture(value: ast.expr, pictures: set) -> bool:
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name in MAKES_PICTURE:
        return True
    return name in NEW_PICTURE and isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) \
        and func.value.id in pictures


def _thrown_away(tree: ast.Module, namespace: dict) -> list[str]:
    """`x.resize(...)` (and the like) standing alone on a line that is not the cell's last, x a PIL picture."""
    from PIL import Image

    pictures = {name for name, value in namespace.items() if isinstance(value, Image.Image)}
    found = []
    for i, node in enumerate(tree.body):
        call = node.value if isinstance(node, ast.Expr) else None
        if i < len(tree.body) - 1 and isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) \
                and call.func.attr in NEW_PICTURE and isinstance(call.func.value, ast.Name) \
                and call.func.value.id in pictures:  # a picture already: not a dict (the last line's value shows)
            found.append(f"{call.func.value.id}.{call.func.attr}(...)")
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id  # bound in this cell: a picture from here on, or no longer one
            (pictures.add if _makes_picture(node.value, pictures) else pictures.discard)(name)
    return found


def _joined_mid_word(source: str) -> list[tuple[str, str]]:
    """Two string literals side by side whose letters meet: Python joins them with no space ('jungle' 'cold')."""
    found, before = [], None
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type in (tokenize.NL, tokenize.COMMENT):
                continue
            now = None
            if token.type == tokenize.STRING:
                try:
                    now = ast.literal_eval(token.string)
                except (ValueError, SyntaxError):
                    now = None
            if isinstance(before, str) and isinstance(now, str) and before[-1:].isalpha() and now[:1].isalpha():
                found.append((before, now))
            before = now
    except (tokenize.TokenError, SyntaxError):
        return []
    return found


def _is_uint8(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "uint8") or \
        (isinstance(node, ast.Constant) and node.value == "uint8")


def _pixels(node: ast.expr) -> bool:
    """An expression that holds a picture's 8-bit pixels: np.asarray(...) or np.array(...) of something."""
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("asarray", "array")
               for n in ast.walk(node))


def _wraps(node: ast.expr) -> bool:
    """pixels * 1.3, pixels + 40, pixels - 40 with no clip: past 255 (or below 0) 8 bits wrap round."""
    if not isinstance(node, ast.BinOp) or any(isinstance(n, ast.Attribute) and n.attr == "clip"
                                              for n in ast.walk(node)):
        return False
    number = node.right if isinstance(node.right, ast.Constant) else node.left
    if not (isinstance(number, ast.Constant) and isinstance(number.value, (int, float))
            and not isinstance(number.value, bool)):
        return False
    other = node.left if number is node.right else node.right
    if not _pixels(other):
        return False
    if isinstance(node.op, ast.Mult):
        return number.value > 1
    return isinstance(node.op, (ast.Add, ast.Sub)) and number.value > 0


def _wrapping(tree: ast.Module) -> list[str]:
    """Unclipped pixel arithmetic turned back into 8 bits: `.astype(np.uint8)` of it, or Image.fromarray of it."""
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr == "astype" and node.args and _is_uint8(node.args[0]) and _wraps(node.func.value):
            found.append(ast.unparse(node))
        elif node.func.attr == "fromarray" and node.args and _wraps(node.args[0]):
            found.append(ast.unparse(node))
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
    source = python_of(source)
    try:
        tree = ast.parse(source)
    except (SyntaxError, TypeError, ValueError):  # another cell magic, or a real syntax error: Python says that one
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
    for before, after in _joined_mid_word(source):
        left, right = re.split(r"\W", before)[-1], re.split(r"\W", after)[0]
        warn_call(f"The strings '…{before[-20:]}' '{after[:20]}…' stand side by side, and Python joins them with "
                  f"nothing between: '{left}{right}', so the word '{left}' is lost. End the first with a space or "
                  "', ', or put a comma between the two strings if they are meant as two.")
    for code in _wrapping(tree):
        warn_call(f"{code} ends in 8 bits, which wrap round: 260 becomes 4, so the brightest pixels turn dark "
                  "(and below 0, dark ones turn bright). Clip first, e.g. np.clip(np.asarray(picture, np.float32) * "
                  "1.3, 0, 255).astype(np.uint8).")
