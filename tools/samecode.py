"""One code for both editions: what a Chinese code cell may change, and what both editions must print alike.

A Chinese code cell may differ from its English one in comments, in strings that are only drawn into figures
(a grid's `captions=` and `title=`, a caption list, a panel's `label=`), and in the language switch
`use_models(..., lang="zh")`. Every other string (prompts, printed text, dictionary keys, file names) and every
call, argument and number must be identical: the two syntax trees are compared.
"""

from __future__ import annotations

import ast
import itertools
import re

LANGUAGE_SWITCH = ("use_models", "lang")  # the one allowed difference: use_models(..., lang="zh") in the setup cell
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
MARKER = re.compile(r"#\s*(NBVAL_[A-Z_]+)")
SHOWN_KEYWORDS = {"captions", "caption", "title", "label"}  # arguments only drawn into a figure or a caption
SHOWN_NAMES = re.compile(r"caption|title|label|figures")  # variables that hold such words (captions.append, ...)


class _Strings(ast.NodeTransformer):
    """Replace every string constant by a placeholder, recording it with where it stands."""

    def __init__(self):
        self.found = []  # (value, context) in tree order
        self.context = []

    def _inside(self, label, node):
        self.context.append(label)
        self.generic_visit(node)
        self.context.pop()
        return node

    def visit_Call(self, node):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name == LANGUAGE_SWITCH[0]:
            node.keywords = [k for k in node.keywords if k.arg != LANGUAGE_SWITCH[1]]
        owner = getattr(func.value, "id", "") if isinstance(func, ast.Attribute) else ""
        return self._inside(f"call {owner + '.' if owner else ''}{name}", node)

    def visit_keyword(self, node):
        return self._inside(f"keyword {node.arg}", node)

    def visit_Assign(self, node):
        [target] = node.targets if len(node.targets) == 1 else [None]
        if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple) and \
                len(target.elts) == len(node.value.elts):  # a, b = x, y: each value under its own name
            for name, value in zip(target.elts, node.value.elts, strict=True):
                self.context.append(f"assign {getattr(name, 'id', '')}")
                self.visit(value)
                self.context.pop()
            return node
        names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        return self._inside(f"assign {','.join(names)}", node)

    def visit_Constant(self, node):
        if isinstance(node.value, str):
            self.found.append((node.value, tuple(self.context)))
            return ast.copy_location(ast.Constant(value="<str>"), node)
        return node


def _printed_names(tree) -> set[str]:
    """Names a cell passes to print(): a caption variable printed too is printed text."""
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") == "print"]
    return {n.id for call in calls for n in ast.walk(call) if isinstance(n, ast.Name)}


def shown_only(context: tuple[str, ...], printed: frozenset[str] = frozenset()) -> bool:
    """True where a string is only drawn into a figure or caption: captions=, title=, a caption list (main job).

    `printed`: the names the cell prints; a string assigned to one of them is printed text."""
    if any(c == "call print" or c.startswith("call print") for c in context):
        return False
    for c in reversed(context):  # the nearest place that says what the string is for decides
        kind, _, name = c.partition(" ")
        if kind == "keyword":
            return name in SHOWN_KEYWORDS
        if kind == "call" and name.endswith(".append"):
            owner = name.removesuffix(".append")
            return bool(SHOWN_NAMES.search(owner)) and owner not in printed
        if kind == "assign":
            names = name.split(",")
            return bool(name) and all(SHOWN_NAMES.search(n) and n not in printed for n in names)
        if kind == "call" and name.rsplit(".", 1)[-1] not in ("format", "join"):
            return False  # an argument by position: it reaches the callee as it is (a prompt, a key, a path)
    return False


def code_differences(english: str, chinese: str) -> list[str]:
    """How a Chinese code cell runs or prints differently from its English one; [] when it does not (main job)."""
    try:
        trees = [ast.parse(english), ast.parse(chinese)]
    except SyntaxError as err:
        return [f"does not parse: {err}"]
    walkers = [_Strings(), _Strings()]
    dumps = [ast.dump(w.visit(t)) for w, t in zip(walkers, trees, strict=True)]
    found = []
    if dumps[0] != dumps[1]:
        found.append("the code differs, not only its words (compare the two cells' calls and arguments)")
    printed = frozenset(_printed_names(ast.parse(chinese)))
    for (en, where), (zh, _) in zip(walkers[0].found, walkers[1].found, strict=False):
        if en == zh:
            continue
        if not CJK.search(zh):
            found.append(f"string {en!r} became {zh!r}: only a translation into Chinese may change a string")
        elif not shown_only(where, printed):
            found.append(f"string {en!r} is not only drawn into a figure ({' > '.join(where) or 'top level'}): it "
                         "must stay as it is, so that both editions pass the model and print the same")
    if MARKER.findall(english) != MARKER.findall(chinese):
        found.append(f"nbval markers differ: {MARKER.findall(english)} vs {MARKER.findall(chinese)}")
    return found


def _printed(cell) -> str | None:
    """What a code cell printed to stdout, its errors and its text results; None where nbval compares nothing."""
    if "NBVAL_IGNORE_OUTPUT" in cell.source.split("\n", 1)[0]:
        return None
    stdout, said = "", []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":  # stdout only: stderr carries timings, progress bars and font warnings
            stdout += out.get("text", "") if out.get("name") == "stdout" else ""
        elif kind == "error":
            said.append(f"[error] {out.get('ename')}: {out.get('evalue')}")
        elif not any(k.startswith("image/") for k in out.get("data", {})):  # a figure's repr has its pixel size
            said.append(f"[{kind}] {out.get('data', {}).get('text/plain', '')}")
    return stdout + "".join(said)


def output_differences(english, chinese) -> list[str]:
    """Code cells whose executed text differs between the two editions of a chapter (main job)."""
    en = [c for c in english.cells if c.cell_type == "code"]
    zh = [c for c in chinese.cells if c.cell_type == "code"]
    if len(en) != len(zh):
        return [f"the editions have {len(en)} and {len(zh)} code cells"]
    found = []
    for i, (a, b) in enumerate(zip(en, zh, strict=True), start=1):
        said_en, said_zh = _printed(a), _printed(b)
        if said_en is not None and said_en != said_zh:
            pairs = itertools.zip_longest(said_en.splitlines(), (said_zh or "").splitlines(), fillvalue="")
            x, y = next(((x, y) for x, y in pairs if x != y), (said_en, said_zh))
            found.append(f"code cell {i}: English printed {x[:120]!r}, Chinese {y[:120]!r}")
    return found
