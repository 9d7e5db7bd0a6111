"""What mask painters leave behind: the painted masks of painters made before, and why a painter's mask is black.

A painter cell run again (to change the brush, say) makes a new painter, and the strokes live only in the old one:
in the browser and in its mask_png. As a re-run panel keeps its unsaved pictures (helpers.panel.earlier), a new
painter keeps the painted mask of the painter its cell replaces (`painter = MaskPainter(...)` while `painter` holds
one with strokes), in `earlier`, and says so (helpers.painter). A second painter beside the first replaces nothing.

Clear (the button or painter.clear()) and set_mask over strokes keep them in `earlier` too, and say so under the
painter; invert() says what it did, as a cell that runs it again flips the mask back (`say`).

A mask read from a painter (painter.mask) is a copy of that moment, marked in its info; a check that finds it all
black says why with `why_all_black`, whether the call check (helpers.checks.check_mask) or the panel's fixed=
(helpers.panel_setup.check_fixed).
"""

from __future__ import annotations

import functools
import itertools
import re
import warnings
import weakref

import numpy as np

from helpers.callwarning import CallWarning
from helpers.i18n import N_, _

KEEP = 5  # painted masks kept from painters made before
earlier: list = []  # those masks (PIL "L", white = repaint), newest first, as helpers.panel.earlier holds pictures
_MADE: list = []  # (number, weak reference) for each painter made in this kernel
_NUMBERS = itertools.count(1)

# said under a new painter (in the chapter's language) and printed (in English) when one made before held strokes
KEPT = N_("the painter made before held a painted mask ({percent} % painted), kept in helpers.painter.earlier[0] "
          "(newest first, at most {cap}): painter.set_mask(helpers.painter.earlier[0]) brings it back; to change "
          "only the brush, painter.brush = {brush}")
KEPT_OTHER = N_("the painter made before held a painted mask of a {size} picture ({percent} % painted), kept in "
                "helpers.painter.earlier[0] (newest first, at most {cap}): MaskPainter(that picture, "
                "mask=helpers.painter.earlier[0]) brings it back; to change only the brush, painter.brush = {brush}")


# said under the painter (in the chapter's language) and printed (in English), as KEPT is
CLEARED = N_("cleared a painted mask ({percent} % painted), kept in helpers.painter.earlier[{index}]: "
             "painter.set_mask(helpers.painter.earlier[{index}]) brings it back")
REPLACED = N_("set_mask replaced a painted mask ({percent} % painted), kept in helpers.painter.earlier[{index}]: "
              "painter.set_mask(helpers.painter.earlier[{index}]) brings it back")
INVERTED = N_("inverted: {before} % → {after} % painted (invert() flips the mask each time it runs: run it once)")


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
    new = [m.copy() for m in masks if not any(same(m, e) for e in earlier)]  # a third painter keeps nothing twice
    earlier[:0] = new[::-1]  # the newest painter's mask first
    del earlier[KEEP:]
    return new


def percent(mask) -> str:
    """The share of a mask painted, as the painter's lines write it: "22.0" (ch. 5)."""
    return f"{100 * np.count_nonzero(np.asarray(mask)) / (mask.size[0] * mask.size[1]):.1f}"


def say(painter, template: str, **words) -> None:
    """Say a line under the painter, in the chapter's language, and print it in English (ch. 5)."""
    painter.note = _(template).format(**words)
    print("MaskPainter: " + template.format(**words))


def keep_replaced(painter, mask, template: str = CLEARED) -> None:
    """Keep a painted mask that clear or set_mask replaces, and say where it is and how to get it back (ch. 5)."""
    keep([mask])
    index = next(i for i, kept in enumerate(earlier) if same(kept, mask))
    say(painter, template, percent=percent(mask), index=index)


def missing_attribute(name: str) -> str:
    """What a painter says for a name it lacks that a mask or a picture has; "" for other names (ch. 5)."""
    if name.startswith("_"):  # IPython, traitlets and ipywidgets ask for these: they get the plain error
        return ""
    if "mask" in name.lower():
        return (f"MaskPainter has no attribute {name!r}: the painted mask is painter.mask (a PIL picture, white = "
                "repaint), e.g. pipeline(..., mask_image=painter.mask).")
    if name in picture_names():  # overlay(photo, painter): PIL's own code asks the painter for .load
        return (f"a MaskPainter is the painting widget, not a picture, and this code asked it for .{name} (a "
                "picture's attribute). The painted mask is painter.mask: e.g. overlay(photo, painter.mask).")
    return ""


def new_attribute(painter, name: str, value) -> str:
    """Why painter.brush_size = 10 is refused: the name the painter has for it, or what it lets you set (ch. 5)."""
    import difflib


    shown = repr(value) if len(repr(value)) <= 60 and not hasattr(value, "getextrema") else "..."
    start = (f"MaskPainter has no {name}: setting it would make a new attribute that the painter never reads, "
             "and it would go on as before.")
    settings = {"brush": f"the brush width (picture pixels) is painter.brush = {shown}",
                "eraser": f"the eraser is switched with painter.eraser = {shown}"}
    words = re.split(r"[_\W]+", name.lower())
    meant = ("brush" if {"brush", "stroke", "radius", "pen"} & set(words) else
             "eraser" if {"erase", "eraser", "rubber"} & set(words) else None)
    if "mask" in words or "mask" in name.lower():
        return (f"{start} To give the painter a mask, painter.set_mask(mask) (white = repaint); the painted mask "
                "is read from painter.mask.")
    if meant is None:  # a close spelling of one of its names
        own = [n for c in type(painter).__mro__ if c.__module__.startswith("helpers.") for n in vars(c)
               if not n.startswith("_") and not callable(getattr(type(painter), n, None))]  # not ipywidgets' names
        close = difflib.get_close_matches(name, own, n=1, cutoff=0.6)
        meant = close[0] if close else None
    if meant in settings:
        return f"{start} {settings[meant][0].upper()}{settings[meant][1:]}."
    if meant:
        return f"{start} Did you mean painter.{meant}?"
    return f"{start} What it lets you set: painter.brush (the stroke width in picture pixels), painter.eraser."


@functools.cache
def picture_names() -> frozenset:
    """The names a PIL picture has: code given a painter for a picture asks for these (ch. 5)."""
    from PIL import Image

    return frozenset(dir(Image.Image)) | frozenset(vars(Image.new("L", (1, 1))))


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


def same(a, b) -> bool:
    """Whether two masks are the same size and pixels (ch. 5)."""
    return a.size == b.size and np.array_equal(np.asarray(a), np.asarray(b))


MASK_AS_PICTURE = ("this picture is black and white, like a mask: the painter paints over the picture you give it, "
                   "and its mask starts empty (painter.mask is all black until you paint). To touch up a mask: "
                   "MaskPainter(init_image).set_mask(mask_image)")


def looks_like_a_mask(image) -> bool:
    """True for a picture grey everywhere, almost only near-black and near-white, with both present (ch. 5)."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.int16)
    if rgb.size == 0 or int((rgb.max(axis=2) - rgb.min(axis=2)).max()) > 24:  # colour somewhere: a photo
        return False
    grey = rgb.mean(axis=2)
    black, white = float((grey <= 32).mean()), float((grey >= 223).mean())
    return black >= 0.01 and white >= 0.01 and black + white >= 0.9


def check_mask_as_picture(image, mask=None) -> None:
    """MaskPainter(mask_image): the mask given as the picture to paint on is warned about, once (ch. 5)."""
    if mask is None and looks_like_a_mask(image):
        warnings.warn(CallWarning(MASK_AS_PICTURE + "."), stacklevel=3)
