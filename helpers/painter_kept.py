"""What mask painters leave behind: the painted masks of painters made before, and why a painter's mask is black.

A painter cell run again (to change the brush, say) makes a new painter, and the strokes live only in the old one:
in the browser and in its mask_png. As a re-run panel keeps its unsaved pictures (helpers.panel.earlier), a new
painter keeps the painted mask of the painter its cell replaces (`painter = MaskPainter(...)` while `painter` holds
one with strokes), in `earlier`, and says so (helpers.painter). A second painter beside the first replaces nothing.

A mask read from a painter (painter.mask) is a copy of that moment, marked in its info; a check that finds it all
black says why with `why_all_black`, whether the call check (helpers.checks.check_mask) or the panel's fixed=
(helpers.panel_setup.check_fixed).
"""

from __future__ import annotations

import itertools
import re
import weakref

import numpy as np

KEEP = 5  # painted masks kept from painters made before
earlier: list = []  # those masks (PIL "L", white = repaint), newest first, as helpers.panel.earlier holds pictures
_MADE: list = []  # (number, weak reference) for each painter made in this kernel
_NUMBERS = itertools.count(1)


def register(painter) -> int:
    """Note a new painter; return its number, which the masks read from it carry in info["painter_number"] (ch. 5)."""
    number = next(_NUMBERS)
    _MADE.append((number, weakref.ref(painter)))
    return number


def open_painters(but=None) -> list:
    """The painters made in this kernel that are still open (not closed), oldest first, except `but` (ch. 5)."""
    found = []
    for entry in list(_MADE):
        painter = entry[1]()
        if painter is None:
            _MADE.remove(entry)
        elif painter is not but and getattr(painter, "comm", None) is not None:  # closed: put away by the learner
            found.append(painter)
    return found


def replaced_by_this_cell(but=None) -> list:
    """The painters that the running cell's `name = MaskPainter(...)` lines are about to replace (ch. 5)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return []
    shell = get_ipython()
    namespace = getattr(shell, "user_ns", None) or {}
    history = namespace.get("_ih") or [""]  # IPython stores a cell's text before running it: the last is this one
    names = re.findall(r"^\s*([A-Za-z_]\w*)\s*=\s*(?:[\w.]+\.)?MaskPainter\(", str(history[-1]), re.MULTILINE)
    found = []
    for name in names:
        old = namespace.get(name)
        if old is not but and type(old).__name__ == "MaskPainter" and all(old is not f for f in found):
            found.append(old)
    return found


def keep(masks: list) -> list:
    """Keep copies of painted masks in `earlier`, newest first, at most KEEP; return those newly kept (ch. 5)."""
    new = [m.copy() for m in masks if not any(_same(m, e) for e in earlier)]  # a third painter keeps nothing twice
    earlier[:0] = new[::-1]  # the newest painter's mask first
    del earlier[KEEP:]
    return new


def painter_of(mask):
    """The painter a mask was read from, while it is still in memory; None for any other mask (ch. 5)."""
    number = getattr(mask, "info", {}).get("painter_number")
    found = [ref() for n, ref in _MADE if n == number]
    return found[0] if found else None


def why_all_black(mask) -> str:
    """Why a MaskPainter's mask is all black, as sentences for the checks that refuse it; "" for other masks (ch. 5)."""
    if not getattr(mask, "info", {}).get("painter"):
        return ""
    painter = painter_of(mask)
    try:
        painted = painter.painted if painter is not None else 0.0
    except ValueError:  # a mask of another size from the browser: the painter says so itself when read
        painted = 0.0
    if painted > 0:
        return (f"It is painter.mask as read before the painting the painter holds now ({painted:.1%} painted): "
                "painter.mask is a copy of the moment it is read, and painting later does not change it.")
    if painter is not None:  # the painter is empty now too: a new one (its cell run again), cleared, or never used
        words = ("It is a MaskPainter's mask from before anything was painted, and its painter still holds nothing "
                 "painted: paint the area to repaint on it first (a painter made again, its cell run again, starts "
                 "empty).")
    else:
        words = ("It is a MaskPainter's mask from before anything was painted: painter.mask is a copy of the moment "
                 "it is read, and strokes made after reading it do not reach it.")
    fits = [i for i, kept in enumerate(earlier) if kept.size == mask.size]
    if fits:  # the painter was made again, and the one before held strokes
        words += (f" A painter made before held a painted mask: painter.set_mask(helpers.painter.earlier[{fits[0]}]) "
                  "brings it back.")
    return words


def _same(a, b) -> bool:
    return a.size == b.size and np.array_equal(np.asarray(a), np.asarray(b))
