"""A mask painter: paint the area to repaint on the start picture with the mouse, in the notebook (ch. 5).

Built on anywidget: the strokes are drawn in the browser, so a mouse move never waits for the kernel and painting
stays smooth on Colab; the front end is a plain ES module (painter.js) inside this package, with no JupyterLab
extension to build, and it renders in JupyterLab 4 and in Colab (anywidget turns on Colab's custom widget manager
itself). ipycanvas, by contrast, would send every mouse event to the kernel.

The controls (brush size, eraser, clear, invert) are drawn by painter.js too, not made of ipywidgets: they keep
working while the kernel is busy running a pipeline, and the painter stays one widget to display.

What the browser sends in `mask_png`, after each stroke and after clear or invert: an opaque PNG the size of the
picture, the painted layer's alpha written as grey (white where painted, grey on the antialiased edges, black
elsewhere). `mask` reads any PNG as if laid on black and thresholds it at 50%, as the inpainting pipelines do.

A painter made in place of one that holds strokes (its cell run again) keeps those strokes in `earlier` and says
how to bring them back (helpers.painter_kept); so do Clear, clear() and set_mask over strokes. set_mask, clear,
invert and on_change return the painter, so that painter = MaskPainter(photo).set_mask(mask) keeps the painter and
shows it.
"""

from __future__ import annotations

import io
import numbers
import os
from pathlib import Path

import anywidget
import numpy as np
import traitlets
from PIL import Image, ImageOps

from helpers import painter_kept, painter_names
from helpers.attrguard import known
from helpers.callme import call_me
from helpers.i18n import _
from helpers.painter_kept import KEEP, KEPT, KEPT_OTHER, earlier

__all__ = ["MaskPainter", "earlier"]


def _bytes_from_json(value, widget) -> bytes:
    # the browser's bytes arrive as a memoryview, and traitlets.Bytes takes only bytes
    return b"" if value is None else bytes(value)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _binary(image: Image.Image) -> Image.Image:
    """`image` laid on black, as grey, then pure 0/255: a pixel at or above 128 is painted."""
    rgba = image.convert("RGBA")  # an opaque picture keeps its grey; a transparent one counts as black
    grey = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba).convert("L")
    return grey.point(lambda v: 255 if v >= 128 else 0)


def _viewable(image: Image.Image) -> Image.Image:
    # what a browser shows as is; 16-bit, float and CMYK pictures become RGB(A) first
    if image.mode in ("RGB", "RGBA", "L"):
        return image
    return image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")


def _labels() -> dict:
    # drawn by painter.js, so translated here, in the chapter's language
    return {"brush": _("Brush"), "eraser": _("Eraser"), "clear": _("Clear"), "invert": _("Invert"),
            "painted": _("mask painted: {percent} %")}


def _check_image(image) -> None:
    if isinstance(image, Image.Image):
        return
    kind = type(image).__name__
    raise TypeError(f"image= must be a PIL image, got a {kind}. For a file or a URL use "
                    "image=load_image_file(path) (from helpers.images import load_image_file); for a numpy "
                    "array use image=Image.fromarray(array) (from PIL import Image).")


def _check_brush(brush, size=None) -> int:
    if isinstance(brush, bool) or not isinstance(brush, numbers.Integral):
        raise TypeError(f"brush={brush!r} must be a whole number of picture pixels (the stroke's width), e.g. "
                        "brush=32.")
    if brush <= 0:
        raise ValueError(f"brush={brush!r} is no width: give the stroke's width in picture pixels, above 0, "
                         "e.g. brush=32.")
    # wider than the picture, one stroke paints all of it (600 for 60?); the default 32 stays allowed on tiny pictures
    if size is not None and brush > max(*size, 32):
        w, h = size
        raise ValueError(f"brush={brush} is wider than the {w}x{h} picture: one stroke would paint all of it. The "
                         "brush is the stroke's width in picture pixels, e.g. "
                         f"brush={max(4, round(max(size) / 8))}.")
    return int(brush)


def _check_one_argument(callback) -> None:
    """A callback that cannot take the mask would fail at the first stroke, inside the widget: say it now."""
    import inspect

    try:
        signature = inspect.signature(callback)
    except (TypeError, ValueError):  # a builtin without a signature: it is tried at the first stroke
        return
    try:
        signature.bind(None)
    except TypeError:
        raise TypeError(f"on_change calls the function with one argument, the new mask, and yours takes "
                        f"{signature}. Give it a parameter for the mask: painter.on_change(lambda mask: "
                        "print(painter.painted)), or def changed(mask): ...") from None


class _MaskPNG(traitlets.Bytes):
    """The synced mask as PNG bytes; a picture set there is told where pictures go."""

    def validate(self, obj, value):
        if hasattr(value, "getextrema"):
            raise traitlets.TraitError(f"mask_png holds the mask as PNG bytes, got a {type(value).__name__}: to give "
                                       "the painter a mask, painter.set_mask(mask).")
        return super().validate(obj, value)


class MaskPainter(anywidget.AnyWidget):
    """Paint an inpainting mask over `image` with the mouse: white = repaint, black = keep (ch. 5)."""

    _esm = Path(__file__).with_name("painter.js")
    _picture_png = traitlets.Bytes(b"").tag(sync=True)  # the picture shown under the strokes (kernel -> browser)
    brush = traitlets.Int(32).tag(sync=True)  # the stroke's width in picture pixels; the slider changes it too
    eraser = traitlets.Bool(False).tag(sync=True)
    # both ways: the browser sends each finished stroke; clear(), invert() and set_mask() send a mask down
    mask_png = _MaskPNG(b"").tag(sync=True, from_json=_bytes_from_json)
    labels = traitlets.Dict().tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)  # a line under the painter: strokes kept from the painter before

    def __repr__(self) -> str:
        w, h = self.size
        return f"MaskPainter(picture {w}x{h}, brush={self.brush}, painted {self.painted:.1%})"

    def __init__(self, image, brush: int = 32, mask=None):
        _check_image(image)
        image = ImageOps.exif_transpose(image)  # a phone photo as a viewer shows it, and as the pipeline will use it
        painter_kept.check_mask_as_picture(image, mask)  # MaskPainter(mask_image): the mask is not the picture
        super().__init__(_picture_png=_png(_viewable(image)), brush=_check_brush(brush, image.size),
                         labels=_labels())
        self._image = image
        self._callbacks = []
        self._given = b""  # the mask Python gave last (set_mask, clear, invert): what differs came from strokes
        self.observe(self._changed, names="mask_png")
        if mask is not None:  # MaskPainter(photo, mask=box_mask): start from it, as painter.set_mask(mask) does
            self.set_mask(mask)
        # a painter cell run again drops the old painter and its strokes: keep them, and say how to get them back
        kept = painter_kept.keep([old.mask for old in painter_kept.replaced_by_this_cell(but=self)
                                  if old._holds_strokes()])
        self._number = painter_kept.register(self)
        if kept:
            self._say_kept(kept[-1])

    def __getattr__(self, name):
        """painter.mask_image, painter.undo(), PIL given the painter: said with what the painter has (ch. 5)."""
        words = painter_names.unknown_name(self, name)  # names starting with "_" (IPython's, traitlets') stay plain
        if words:
            raise AttributeError(words)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __setattr__(self, name, value):
        if not known(self, name):  # painter.brush_size = 10 would make an attribute the brush never reads
            raise AttributeError(painter_kept.new_attribute(self, name, value))
        painter_names.check_set(self, name, value)  # painter.mask = box_mask: set_mask, not Python's "no setter"
        super().__setattr__(name, value)

    def _say_kept(self, mask: Image.Image) -> None:
        """Say, under the painter and in a printed line, that the newest painter before held strokes, now kept."""
        words = dict(percent=painter_kept.percent(mask), cap=KEEP, brush=self.brush, size="{}x{}".format(*mask.size))
        painter_kept.say(self, KEPT if mask.size == self.size else KEPT_OTHER, **words)

    def _holds_strokes(self, png: bytes | None = None) -> bool:
        """True when the mask (or `png`) holds strokes from the browser: not empty, not the one Python gave last."""
        png = self.mask_png if png is None else png
        if png == self._given:
            return False
        mask = np.asarray(_binary(Image.open(io.BytesIO(png)))) if png else np.zeros(self.size[::-1], np.uint8)
        if mask.shape != self.size[::-1]:  # a mask of another size from the browser: nothing to keep
            return False
        given = np.asarray(_binary(Image.open(io.BytesIO(self._given)))) if self._given else np.zeros_like(mask)
        return bool(mask.any()) and not np.array_equal(mask, given)

    def _give(self, mask: Image.Image) -> MaskPainter:
        """Send a mask made here to the browser, as the one Python gave last; return the painter for chaining."""
        self._given = _png(mask)
        self.mask_png = self._given
        return self

    @traitlets.validate("brush")
    def _valid_brush(self, proposal):
        return _check_brush(proposal["value"], self.size if hasattr(self, "_image") else None)

    @property
    def image(self) -> Image.Image:
        """The picture the painter shows, as it was given (ch. 5)."""
        return self._image

    @image.setter
    def image(self, value) -> None:
        raise AttributeError("painter.image is the picture this painter was made with, and its mask is sized to "
                             "it: to paint on another picture, make a new painter, painter = MaskPainter(picture), "
                             "and show it (its mask starts empty; painter.set_mask(mask) starts it from a mask).")

    @property
    def size(self) -> tuple[int, int]:
        """The picture's (width, height), which is also the mask's (ch. 5)."""
        return self._image.size

    @property
    def mask(self) -> Image.Image:
        """The painted mask: mode "L", the picture's size, 255 where painted and 0 elsewhere (ch. 5)."""
        if not self.mask_png:
            return _from_painter(Image.new("L", self.size, 0), self)
        image = Image.open(io.BytesIO(self.mask_png))
        if image.size != self.size:
            w, h = image.size
            raise ValueError(f"mask_png holds a {w}x{h} mask but the picture is {self.size[0]}x{self.size[1]}; "
                             "give the painter a mask of the picture's size with painter.set_mask(mask).")
        return _from_painter(_binary(image), self)

    @property
    def painted(self) -> float:
        """The fraction of the picture painted (to be repainted), from 0.0 to 1.0 (ch. 5)."""
        return float(np.count_nonzero(np.asarray(self.mask)) / (self.size[0] * self.size[1]))

    @call_me("painter.clear()", "remove every stroke")
    def clear(self) -> MaskPainter:
        """Remove every stroke, here and in the browser, keeping them in `earlier`; returns the painter (ch. 5)."""
        if self._holds_strokes():
            painter_kept.keep_replaced(self, self.mask)
        return self._give(Image.new("L", self.size, 0))

    @call_me("painter.invert()", "invert the mask")
    def invert(self) -> MaskPainter:
        """Swap painted and unpainted, here and in the browser, and say so; returns the painter (ch. 5)."""
        before, mask = painter_kept.percent(self.mask), ImageOps.invert(self.mask)
        if self._holds_strokes():  # still the learner's strokes, inverted: kept if cleared later
            self.mask_png = _png(mask)
        else:
            self._give(mask)
        painter_kept.say(self, painter_kept.INVERTED, before=before, after=painter_kept.percent(mask))
        return self

    def set_mask(self, mask: Image.Image | None) -> MaskPainter:
        """Start from a mask (make_mask(...)), white = repaint, None clears; returns the painter, to chain (ch. 5)."""
        # returning the painter, painter = MaskPainter(photo).set_mask(mask) keeps the painter and shows it
        if mask is None:  # set_mask(None): no mask, as clear() leaves it
            return self.clear()
        if not isinstance(mask, Image.Image):
            fix = ("mask=Image.fromarray(array) (for True/False: Image.fromarray(array.astype(np.uint8) * 255))"
                   if isinstance(mask, np.ndarray) else "e.g. make_mask(painter.size, box=(left, top, right, "
                   "bottom)) or load_image_file('mask.png').convert('L')")
            raise TypeError(f"mask= must be a PIL image, got a {type(mask).__name__}; pass {fix}. To clear the mask, "
                            "painter.set_mask(None) or painter.clear().")
        from helpers.images import check_not_a_photo

        check_not_a_photo(mask, "set_mask")
        if mask.size != self.size:
            (w, h), (pw, ph) = mask.size, self.size
            raise ValueError(f"mask= is {w}x{h} but the picture is {pw}x{ph}: a mask must match the picture "
                             f"pixel for pixel. Resize it first: mask.resize(({pw}, {ph}), Image.NEAREST).")
        if self._holds_strokes() and not painter_kept.same(self.mask, _binary(mask)):
            painter_kept.keep_replaced(self, self.mask, painter_kept.REPLACED)
        return self._give(_binary(mask))

    def on_change(self, callback) -> MaskPainter:
        """Call `callback(mask)` after each stroke, clear, invert or set_mask; returns the painter (ch. 5)."""
        if not callable(callback):
            raise TypeError(f"on_change takes a function of one argument (the new mask), got {callback!r}.")
        _check_one_argument(callback)
        self._callbacks.append(callback)
        return self

    def _changed(self, change) -> None:
        new = change["new"]  # the browser's Clear (or an eraser that took the last stroke): keep what was painted
        try:
            cleared = new != self._given and not np.asarray(self.mask).any()
        except ValueError:  # a mask of another size from the browser: said when it is read
            cleared = False
        if cleared and self._holds_strokes(change["old"]):
            painter_kept.keep_replaced(self, _binary(Image.open(io.BytesIO(change["old"]))))
        if not self._callbacks:
            return
        mask = self.mask
        for callback in list(self._callbacks):
            callback(mask)

    def save(self, path, overwrite: bool = False) -> Path:
        """Save the mask as PNG at `path`; an existing file is kept unless overwrite=True (ch. 5)."""
        path = Path(os.fspath(path)).expanduser()  # "~/masks/m.png", as load_image_file and Panel.save read it
        if path.suffix.lower() != ".png":
            raise ValueError(f"path={str(path)!r}: a mask is saved as PNG (a JPEG would blur its edges into grey); "
                             "end the name with .png.")
        if path.exists() and overwrite is not True:  # e.g. the photo's own path: it would become the mask
            raise FileExistsError(f"{path} exists and is kept; pass another name, e.g. "
                                  f"{str(path.with_name(path.stem + '_mask.png'))!r}, or overwrite=True to replace it.")
        self.mask.save(path, format="PNG")
        return path


def _from_painter(mask: Image.Image, painter: MaskPainter) -> Image.Image:
    """Mark a mask as the painter's: a check that finds it all black can then say why it stays as it was."""
    mask.info["painter"] = "MaskPainter"
    mask.info["painter_number"] = painter.__dict__.get("_number")  # which painter: helpers.painter_kept.painter_of
    return mask
