"""A cell run again after its pipeline's name was given to another model: said at the call, once.

The chapters load one model at a time under one name (`pipeline`). A cell run again after a later cell loaded another
model calls that model, while its text, captions and dictionary keys still name the first: chapter 5's "Kandinsky
2.2" cat drawn by SD inpainting, or an SDXL picture filed as SD's. The cell hooks (helpers.explain) tell this module
which cell runs; each pipeline call made by that cell is noted by the pipeline's class.
"""

from __future__ import annotations

import threading

from helpers.callwarning import warn_call

_CELLS: dict[str, dict] = {}  # a cell's text -> classes it called in earlier runs, and in this one
_NOW = {"cell": None, "thread": None}
_MAX_CELLS = 2000  # a long session's cells: the oldest are forgotten first


def enter_cell(raw_cell: str | None) -> None:
    """A cell starts: its calls are noted under its text (every chapter)."""
    text = (raw_cell or "").strip()
    _NOW.update(cell=text or None, thread=threading.get_ident())
    if not text:
        return
    entry = _CELLS.pop(text, None) or {"earlier": set(), "now": set()}
    entry["earlier"] |= entry["now"]  # the run before this one is now an earlier run
    entry["now"] = set()
    _CELLS[text] = entry  # last in: the most recent
    while len(_CELLS) > _MAX_CELLS:
        del _CELLS[next(iter(_CELLS))]


def leave_cell() -> None:
    """The cell has finished: calls from now on (a panel's, a thread's) belong to no cell (every chapter)."""
    _NOW.update(cell=None, thread=None)


def check_cell_pipeline(pipeline) -> None:
    """Say when a cell that ran before with one model now calls another under the same name (every chapter)."""
    text = _NOW["cell"]
    if text is None or threading.get_ident() != _NOW["thread"] or text not in _CELLS:
        return
    entry, name = _CELLS[text], type(pipeline).__name__
    if entry["earlier"] and name not in entry["earlier"]:
        before = " and ".join(sorted(entry["earlier"]))
        warn_call(f"this cell ran before with {before}, and the pipeline it calls is now a {name}: another cell "
                  "has since loaded another model under the same name. The cell's captions, labels and keys were "
                  f"written for {before}. To repeat the cell as it was, run the cell that loads {before} first; to "
                  f"try {name} here on purpose, carry on, knowing the captions name the other model.")
    entry["now"].add(name)
