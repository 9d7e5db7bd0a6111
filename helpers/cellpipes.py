"""A cell run again after its pipeline's name was given to another model: said before it runs, or at the call, once.

The chapters load one model at a time under one name (`pipeline`). A cell run again after a later cell loaded another
model calls that model, while its text, captions and dictionary keys still name the first: chapter 5's "Kandinsky
2.2" cat drawn by SD inpainting, an SDXL picture filed as SD's, or chapter 4's ControlNet cell failing on a
parameter the plain pipeline lacks. The cell hooks (helpers.explain) tell this module which cell runs: the pipelines
its text names are noted by class before it runs, and each pipeline call it makes (through a function too) when it
calls.
"""

from __future__ import annotations

import re
import threading

from helpers.callwarning import warn_call

_CELLS: dict[str, dict] = {}  # a cell's text -> classes it called in earlier runs, and in this one
_NOW = {"cell": None, "thread": None}
_MAX_CELLS = 2000  # a long session's cells: the oldest are forgotten first


def _set_in(text: str) -> set[str]:
    """The names a cell assigns or deletes itself: a loading cell's `del pipeline` and `pipeline = ...`."""
    import ast

    try:
        tree = ast.parse(text)
    except SyntaxError:  # %magics and the like: read the plain `name =` and `del name` lines
        return set(re.findall(r"^\s*(?:del\s+)?([A-Za-z_]\w*)\s*(?:=[^=]|$|,)", text, re.M))
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store,
                                                                                                      ast.Del))}


def _pipelines_named(text: str, names: dict) -> dict[str, str]:
    """The names a cell's text reads (and does not set itself) that hold a diffusers pipeline -> its class name."""
    found = {}
    for name in set(re.findall(r"(?<![\w.])[A-Za-z_]\w*", text)) - _set_in(text):
        value = names.get(name)
        if value is not None and any(c.__name__ == "DiffusionPipeline" for c in type(value).__mro__):
            found[name] = type(value).__name__
    return found


def enter_cell(raw_cell: str | None, names: dict | None = None) -> None:
    """A cell starts: the pipelines its text names are compared with its last run's, its calls noted (every chapter)."""
    text = (raw_cell or "").strip()
    _NOW.update(cell=text or None, thread=threading.get_ident())
    if not text:
        return
    entry = _CELLS.pop(text, None) or {"earlier": set(), "now": set(), "named": {}}
    entry["earlier"] |= entry["now"]  # the run before this one is now an earlier run
    entry["now"], entry["said"] = set(), False
    _CELLS[text] = entry  # last in: the most recent
    while len(_CELLS) > _MAX_CELLS:
        del _CELLS[next(iter(_CELLS))]
    named = _pipelines_named(text, names or {})
    changed = {n: (entry["named"][n], c) for n, c in named.items() if entry["named"].get(n, c) != c}
    entry["named"] = {**entry["named"], **named}
    if changed:
        name, (before, now) = next(iter(changed.items()))
        entry["said"] = True
        warn_call(f"{name} was a {before} when this cell ran before, and is now a {now}: another cell has since "
                  "loaded another model under that name. The cell's captions, labels and keys were written for "
                  f"{before}, and its calls may not fit {now}. To repeat the cell as it was, run the cell that "
                  f"loads {before} first; to use {now} here on purpose, carry on.")


def leave_cell() -> None:
    """The cell has finished: calls from now on (a panel's, a thread's) belong to no cell (every chapter)."""
    _NOW.update(cell=None, thread=None)


def check_cell_pipeline(pipeline) -> None:
    """Say when a cell that ran before with one model now calls another under the same name (every chapter)."""
    text = _NOW["cell"]
    if text is None or threading.get_ident() != _NOW["thread"] or text not in _CELLS:
        return
    entry, name = _CELLS[text], type(pipeline).__name__
    if entry["earlier"] and name not in entry["earlier"] and not entry.get("said"):
        before = " and ".join(sorted(entry["earlier"]))
        warn_call(f"this cell ran before with {before}, and the pipeline it calls is now a {name}: another cell "
                  "has since loaded another model under the same name. The cell's captions, labels and keys were "
                  f"written for {before}. To repeat the cell as it was, run the cell that loads {before} first; to "
                  f"try {name} here on purpose, carry on, knowing the captions name the other model.")
        entry["said"] = True
    entry["now"].add(name)
