"""What a mask painter says for a name it lacks or cannot set: a drawing app's habit, a read-only property.

`painter.undo()`, `painter.brush_size` or `painter.fill()` come from drawing apps; the painter answers with what it
has (the eraser, Clear, set_mask, helpers.painter.earlier). `painter.mask = box_mask` is told set_mask, as Python
would only say the property has no setter. helpers.painter calls these from MaskPainter's __getattr__ and
__setattr__; this module imports nothing of the painter's, so that neither imports the other.
"""

from __future__ import annotations

import difflib
import re
import sys

from helpers import painter_kept

_BACK = ("A mask that Clear, painter.clear() or set_mask replaced is kept: "
         "painter.set_mask(helpers.painter.earlier[0]) brings back the newest "
         f"(earlier holds at most {painter_kept.KEEP}).")
_ERASE = ("switch on the eraser, painter.eraser = True (or the Eraser button), and paint over the strokes to remove; "
          "painter.eraser = False goes back to the brush")
_BOX = ("painter.set_mask(make_mask(painter.size, box=(left, top, right, bottom))) (from helpers.images import "
        "make_mask; ellipse=(...) paints an ellipse)")

# a drawing app's names (lower case, without "_" or "-") -> what the painter has instead
_HABITS = {
    ("undo", "undolast", "undostroke", "back", "stepback", "revert"):
        f"MaskPainter has no undo: it keeps one mask, not a list of strokes. To take back a stroke, {_ERASE}; "
        f"painter.clear() (or Clear) removes every stroke. {_BACK}",
    ("redo",): f"MaskPainter has no redo: it keeps one mask, not a list of strokes. {_BACK}",
    ("erase", "eraser", "rubber", "erasermode", "useeraser", "eraseron", "toggleeraser"):
        f"To erase, {_ERASE}.",
    ("clearall", "clearcanvas", "clearmask", "reset", "wipe", "deleteall", "removeall", "new", "empty"):
        "painter.clear() removes every stroke (the Clear button does the same); what it removed is kept in "
        "helpers.painter.earlier[0], and painter.set_mask(helpers.painter.earlier[0]) brings it back.",
    ("brushsize", "brushwidth", "brushradius", "linewidth", "strokewidth", "pensize", "penwidth", "radius",
     "thickness", "width", "lineweight"):
        "The brush width is painter.brush, in picture pixels (now {brush}): e.g. painter.brush = {wider}; the slider "
        "under the picture sets it too.",
    ("color", "colour", "brushcolor", "brushcolour", "pencolor", "fillcolor", "opacity", "alpha", "hardness",
     "softness", "feather"):
        "It paints one thing, the area to repaint: white in painter.mask, black elsewhere (the colour on screen only "
        "shows it). It has no colours, opacity or hardness; for soft edges, feather the mask you give "
        "it: painter.set_mask(make_mask(painter.size, box=(...), feather=8)) (from helpers.images import make_mask).",
    ("fill", "bucket", "fillall", "selectall", "paintall", "floodfill"):
        "MaskPainter has no fill: painter.set_mask(Image.new('L', painter.size, 255)) paints all of the picture, "
        "painter.invert() swaps painted and unpainted, and a box is " + _BOX + ".",
    ("rectangle", "rect", "box", "circle", "ellipse", "shape", "lasso", "polygon", "select", "selection"):
        "MaskPainter paints freehand only; for a box, " + _BOX + ".",
    ("strokes", "layers", "layer", "history", "undostack", "canvas"):
        "MaskPainter keeps no strokes or layers: what it holds is one mask, painter.mask (white = repaint). "
        + _BACK,
    ("export", "download", "saveas", "savepng", "write"):
        "painter.save('mask.png') saves the mask as PNG; painter.mask is the mask as a PIL picture.",
    ("load", "open", "import", "loadimage", "setimage"):
        "To start from a mask file: painter.set_mask(load_image_file('mask.png').convert('L')) (from helpers.images "
        "import load_image_file). To paint on another picture, make a new painter: painter = MaskPainter(picture).",
    ("tool", "mode", "pen", "pencil", "draw", "brushmode", "paint"):
        "MaskPainter has two tools, the brush and the eraser: painter.eraser = False paints, painter.eraser = True "
        "erases (the Eraser button switches it); you paint with the mouse on the picture.",
}
_OWN = ("brush", "eraser", "mask", "painted", "size", "image", "clear()", "invert()", "set_mask(mask)", "save(path)",
        "on_change(function)")


def drawing_habit(painter, name: str) -> str:
    """What the painter has for a drawing app's name (undo, fill, brush_size...); "" for other names (ch. 5)."""
    key = re.sub(r"[_\-]", "", name.lower())
    for names, words in _HABITS.items():
        if key in names:
            brush = painter.__dict__.get("_trait_values", {}).get("brush", 32)
            return f"MaskPainter has no attribute {name!r}. " * (not words.startswith("MaskPainter")) + words.format(
                brush=brush, wider=brush * 2)
    return ""


def unknown_name(painter, name: str) -> str:
    """For painter.NAME it lacks: a picture's name, a drawing app's habit, a close spelling, or what it has (ch. 5).

    "" for a private name (IPython's, traitlets'), which gets Python's own message."""
    if name.startswith("_"):
        return ""
    if name in painter_kept.picture_names():  # PIL's code asking the painter for .load: the mask is painter.mask
        return painter_kept.missing_attribute(name)
    words = drawing_habit(painter, name) or painter_kept.missing_attribute(name)  # clear_mask, then mask_image
    if words:
        return words
    own = [n.split("(")[0] for n in _OWN]
    close = difflib.get_close_matches(name, own, n=1, cutoff=0.6)
    meant = f" Did you mean painter.{_OWN[own.index(close[0])]}?" if close else ""
    return (f"MaskPainter has no attribute {name!r}.{meant} What a painter has: "
            + ", ".join(f"painter.{n}" for n in _OWN) + ".")


def _name_of(value) -> str | None:
    """The learner's name for `value` (box_mask), found in the frame that assigned it, else None."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(("helpers.", "traitlets")):
        frame = frame.f_back
    if frame is None:
        return None
    for names in (frame.f_locals, frame.f_globals):
        found = [n for n, v in names.items() if v is value and not n.startswith("_")]
        if found:
            return found[0]
    return None


def read_only(painter, name: str, value) -> str:
    """Why painter.mask = box_mask is refused, and what sets it: set_mask, a new painter, ... (ch. 5)."""
    if name == "mask":
        given = _name_of(value) or "mask"
        return (f"painter.mask is read-only: it is the mask painted so far, read from the strokes each time. To give "
                f"the painter a mask: painter.set_mask({given}) (white = repaint; painter.set_mask(None) or "
                "painter.clear() empties it).")
    if name == "size":
        return ("painter.size is read-only: it is the picture's (width, height), and the mask always matches it. To "
                "paint at another size, make a new painter: painter = MaskPainter(picture.resize((width, height))).")
    if name == "painted":
        return ("painter.painted is read-only: it is the share of the picture painted, counted from the mask. To "
                "change the mask: paint it, painter.set_mask(mask), painter.clear() or painter.invert().")
    prop = getattr(type(painter), name)
    what = (prop.__doc__ or "").strip().split("\n")[0]
    return f"painter.{name} is read-only{': ' + what if what else '.'} It cannot be set."


def check_set(painter, name: str, value) -> None:
    """Refuse setting a read-only property of the painter, with what sets it (ch. 5)."""
    prop = getattr(type(painter), name, None)
    if isinstance(prop, property) and prop.fset is None:
        raise AttributeError(read_only(painter, name, value))
