"""What a panel keeps: each picture with the arguments and time that made it, newest first.

`panel.results` is a list that says its order when read from the end, and says why it is empty; emptied with
clear(), it keeps the picture on screen as `.shown`, which Save PNG still saves. `panel.history` is the strip of
thumbnails on screen, which points to `panel.results` when indexed and empties with it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import ipywidgets as W
from PIL import Image

from helpers.callwarning import CallWarning


@dataclass
class Result:
    """One generated picture with the arguments and time that made it."""

    image: Image.Image
    params: dict
    seconds: float
    caption: str = field(default="")
    saved: bool = False

    def __getattr__(self, name):
        """result.seed: the settings are in result.params, and the message says so; others list its names (ch. 1–5)."""
        params = self.__dict__.get("params")
        if name.startswith("_") or not isinstance(params, dict):  # copy, pickle and IPython's probes: plain
            raise AttributeError(name)
        if name in params:
            raise AttributeError(f"a panel Result has no attribute {name!r}: the settings that made the picture are "
                                 f"in result.params, so write result.params[{name!r}] (here {params[name]!r}).")
        raise AttributeError(f"a panel Result has no attribute {name!r}; it has .image, .params (the settings: "
                             f"{', '.join(params)}), .seconds, .caption, .saved and .save(path).")

    def __repr__(self) -> str:
        """The picture's size, seed and time, and that it is one run's picture, not the panel (ch. 1–5)."""
        size = "{}x{}".format(*self.image.size) if hasattr(self.image, "size") else "?"
        seed = self.params.get("seed") if isinstance(self.params, dict) else None
        took = f"{self.seconds:.1f} s" if isinstance(self.seconds, (int, float)) else repr(self.seconds)
        return (f"Result({size}, seed={seed!r}, {took}) (a Result of "
                "panel.generate(); the panel itself is the Panel you made)")

    def save(self, path=None, overwrite: bool = False) -> Path:
        """Save the picture as PNG at `path` (a folder: inside it); a file is kept unless overwrite=True (ch. 1–5)."""
        from helpers.panel_save import save_result

        if path is None:  # panel = Panel(...).generate(wait=True) holds this Result, then panel.save()
            raise TypeError("this is a Result (one picture of a run), not the panel: Panel(...).generate() returns "
                            "the Result, so a name given that line holds the picture, and no sliders show. Keep "
                            "the panel in its own name: panel = Panel(...), then panel.generate(wait=True); "
                            "panel.save() then saves the picture on screen. To save this picture: "
                            "result.save('name.png').")

        return save_result(self, path, overwrite)

    def _repr_png_(self) -> bytes:
        """Shown as its picture in a notebook, e.g. the result of panel.generate(wait=True) (ch. 1–5)."""
        import io

        buffer = io.BytesIO()
        self.image.save(buffer, format="PNG")
        return buffer.getvalue()


class Results(list):
    """The panel's pictures, newest first; reading one before the first run has finished says so."""

    def __init__(self, panel):
        super().__init__()
        self.panel = panel
        self.shown = None  # the newest picture, the one on screen: Save PNG keeps it after the list is emptied

    def insert(self, index, result) -> None:
        """Add a picture; one put first is the newest, the one the panel shows (ch. 1–5)."""
        super().insert(index, result)
        if index == 0:
            self.shown = result

    def clear(self) -> None:
        """Let go of the panel's pictures and empty the history strip; the picture on screen stays savable (ch. 1–5)."""
        gone = [r for r in self[1:] if not r.saved]  # the picture on screen stays in .shown, for Save PNG
        super().clear()
        history = getattr(self.panel, "history", None)
        if history is not None:  # the strip shows panel.results: it empties with it
            history.children = ()
        if gone:
            seeds = ", ".join(str(r.params.get("seed")) for r in gone)
            warnings.warn(CallWarning(
                f"panel.results.clear() let go of {len(gone)} picture(s) never saved (seed {seeds}), and the history "
                "strip with them; the same settings and seed make one again. The picture on screen stays: Save PNG "
                "(panel.save()) still saves it."), stacklevel=2)

    def __getitem__(self, index):
        if isinstance(index, int) and index < 0 and len(self) > 1 and not self.panel.__dict__.get("_said_order"):
            self.panel._said_order = True  # Python's habit reads [-1] as the newest; here it is the oldest kept
            warnings.warn(CallWarning(
                f"panel.results is newest first: results[{index}] is an earlier picture "
                f"({len(self) + index + 1} of {len(self)} kept, counting from the newest); the newest is "
                "panel.results[0]."), stacklevel=2)
        try:
            return super().__getitem__(index)
        except IndexError:
            if len(self):  # pictures there, just fewer than asked for: Python's own message says it
                raise
            running = self.panel._busy.locked()
            if self.shown is not None and not running:  # pictures were made, and the list was emptied since
                raise IndexError("panel.results is empty: it was emptied (panel.results.clear()?) after the panel "
                                 "made pictures. The picture on screen is still panel.results.shown, and Save PNG "
                                 "saves it; press Generate, or call panel.generate(wait=True), for a new one.") \
                    from None
            raise IndexError("panel.results holds no picture yet: " + (
                "the run is still going (generate() returns at once). Wait for it: panel.wait(), or "
                "panel.generate(wait=True)." if running else "press Generate, or call panel.generate(wait=True).")
            ) from None


class History(W.HBox):
    """The strip of thumbnails on screen; indexing it points to panel.results, where the pictures are."""

    def __getitem__(self, index):
        raise TypeError("panel.history is the strip of thumbnails on screen, not the pictures. The pictures are in "
                        f"panel.results, newest first: panel.results[{index!r}].image, or .save(path).")
