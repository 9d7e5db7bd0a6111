"""Slips a notebook cell shows in its own code, said once before it runs: nothing would fail, and nothing would say.

A picture method's result that no name keeps (`photo.resize((256, 256))` on a line of its own, not the cell's
last), seeds given to Python's or numpy's generators where diffusers draws its noise from torch, two strings
written side by side that join mid-word (`"in a jungle" "cold colors"`), and pixel arithmetic that wraps round in
8 bits. Cells that start with `%%time` (or `%%timeit`, `%%capture`) are checked too.
Slips in the cell's names are helpers.cellnames'.
helpers.explain runs this before each cell while the checks are on.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize

from helpers.callwarning import warn_call
from helpers.cellnames import check_names

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


def _thrown_away(tree: ast.Module, pictures: set) -> list[str]:
    """`x.resize(...)` (and the like) standing alone on a line that is not the cell's last, x a PIL picture.

    `pictures` starts as the names that hold one before the cell runs and gains those the cell binds to one."""
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


def _latin(char: str) -> bool:
    """A letter of a script that spaces its words (一只猫 + 坐在 join rightly with no space)."""
    return char.isascii() and char.isalpha()


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
            if isinstance(before, str) and isinstance(now, str) and _latin(before[-1:]) and _latin(now[:1]):
                found.append((before, now))
            before = now
    except (tokenize.TokenError, SyntaxError):
        return []
    return found


def _is_uint8(node: ast.expr) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "uint8") or \
        (isinstance(node, ast.Constant) and node.value == "uint8")


def _pixels(node: ast.expr, pictures: set) -> bool:
    """np.asarray(picture) or np.array(picture) of a PIL picture: its 8-bit pixels as they are."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
        and node.func.attr in ("asarray", "array") and bool(node.args) and isinstance(node.args[0], ast.Name) \
        and node.args[0].id in pictures


def _wraps(node: ast.expr, pictures: set) -> bool:
    """pixels * 1.3, pixels + 40, pixels - 40 of a picture's own pixels: past 255 (or below 0) 8 bits wrap round."""
    if not isinstance(node, ast.BinOp) or not _pixels(node.left, pictures):
        return False  # 255 - pixels (a mask inverted) stays in 0..255; a number first is not brightening
    number = node.right
    if not (isinstance(number, ast.Constant) and isinstance(number.value, (int, float))
            and not isinstance(number.value, bool)):
        return False
    if isinstance(node.op, ast.Mult):
        return number.value > 1
    return isinstance(node.op, (ast.Add, ast.Sub)) and number.value > 0


def _wrapping(tree: ast.Module, pictures: set) -> list[str]:
    """Unclipped pixel arithmetic turned back into 8 bits: `.astype(np.uint8)` of it, or Image.fromarray of it."""
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr == "astype" and node.args and _is_uint8(node.args[0]) and _wraps(node.func.value, pictures):
            found.append(ast.unparse(node))
        elif node.func.attr == "fromarray" and node.args and _wraps(node.args[0], pictures):
            found.append(ast.unparse(node))
    return found


def _ignores_everything(tree: ast.Module) -> str | None:
    """warnings.filterwarnings("ignore") or simplefilter("ignore") for every warning, on a line of the cell's own."""
    for node in tree.body:  # inside `with warnings.catch_warnings():` it ends with the block: left alone
        call = node.value if isinstance(node, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and call.func.attr in ("filterwarnings", "simplefilter") and call.args
                and isinstance(call.args[0], ast.Constant) and call.args[0].value == "ignore"):
            continue
        named = {k.arg: k.value for k in call.keywords}
        category = named.get("category", call.args[1] if call.func.attr == "simplefilter" and len(call.args) > 1
                             else call.args[2] if len(call.args) > 2 else None)
        if category is None or (isinstance(category, ast.Name) and category.id in ("Warning", "UserWarning")):
            if "message" not in named and "module" not in named and len(call.args) < 2 + (
                    call.func.attr == "filterwarnings"):
                return ast.unparse(call)
    return None


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
    from PIL import Image

    pictures = {name for name, value in (namespace or {}).items() if isinstance(value, Image.Image)}
    everything = _ignores_everything(tree)
    if everything:
        warn_call(f"{everything} hides every warning from here on, the tutorial's checks too (a picture resized or "
                  "converted, a prompt cut short, a mask that repaints everything would then pass without a word). "
                  "To quiet only the libraries' notices of coming changes: warnings.filterwarnings('ignore', "
                  "category=FutureWarning) (and DeprecationWarning).")
    for call in _thrown_away(tree, pictures):
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
    check_names(tree, namespace or {})
    for code in _wrapping(tree, pictures):
        warn_call(f"{code} ends in 8 bits, which wrap round: 260 becomes 4, so the brightest pixels turn dark "
                  "(and below 0, dark ones turn bright). Clip first, e.g. np.clip(np.asarray(picture, np.float32) * "
                  "1.3, 0, 255).astype(np.uint8).")
