"""The panel's step preview: the picture forming during a run, and a scrubber through that run's steps afterwards.

The panel's step callback hands every step to `StepPreview` (helpers/preview.py), which decodes a small frame;
this module shows it in the panel's picture while the run goes, and after the run lets a slider move back
through the frames, in either view: the estimate of the final picture, or the noisy picture at that step.
"""

from __future__ import annotations

import ipywidgets as W
import traitlets

from helpers.i18n import N_, _
from helpers.panel_save import html_text, png_bytes

VIEWS = {"estimate": N_("estimate of the final picture"), "noisy": N_("noisy picture")}  # value: its label


class StepSlider(W.IntSlider):
    """The scrubber: a step outside the stored frames is refused with the range, not moved to the nearest end."""

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        value = proposal["value"]
        if not self.min <= value <= self.max:
            raise traitlets.TraitError(
                f"step {value} is outside this run's stored frames: the step slider goes from {self.min} (where the "
                f"loop starts) to {self.max} (its last step); set a value in that range.")
        return value


class ViewButtons(W.ToggleButtons):
    """The view switch: an unknown view is refused with the two there are."""

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        value = proposal["value"]
        if value not in VIEWS:
            names = ", ".join(f"{k!r} ({v})" for k, v in VIEWS.items())
            raise traitlets.TraitError(f"view {value!r} is not one of the preview's views: set {names}.")
        return super()._validate_value(proposal)


class PanelPreview:
    """A view switch, a step scrubber and the frames of the newest run, for one panel (ch. 1–5)."""

    def __init__(self, pipeline, image: W.Image, enabled: bool = True):
        from helpers.preview import StepPreview

        self.image = image  # the panel's picture: frames show there during a run and when scrubbed
        self.frames: list = []
        self.preview = None
        self.note = ""
        if enabled:
            try:
                self.preview = StepPreview(pipeline, on_frame=self._shown)
                self.note = self.preview.note
                if self.preview.decode is None:
                    self.preview = None
                else:
                    self.preview.close()  # the hook goes on the UNet only while one of this panel's runs goes
            except Exception as exc:  # noqa: BLE001 - a preview must never cost the learner the panel
                self.preview = None
                self.note = _("no step preview: {error}").format(error=f"{type(exc).__name__}: {exc}")
        self.view = ViewButtons(options=[(_(label), key) for key, label in VIEWS.items()], value="estimate",
                                 style={"button_width": "230px"})
        self.scrubber = StepSlider(value=0, min=0, max=0, description=_("step"), disabled=True,
                                    continuous_update=True, layout=W.Layout(width="460px"))
        self.caption = W.HTML(value=html_text(self.note) if enabled else _("step preview off"))
        self.view.observe(lambda change: self._scrubbed(), names="value")
        self.scrubber.observe(lambda change: self._scrubbed(), names="value")
        self._final = None  # the finished picture's PNG, shown when the scrubber is at its end
        self._live = False
        self._before = b""
        self.widget = W.VBox([W.HBox([self.view]), self.scrubber, self.caption],
                             layout=W.Layout(display=None if self.preview is not None else "none"))

    # ------------------------------------------------------------------ during a run

    def on_step(self, pipe, step, timestep, callback_kwargs) -> None:
        """Called from the panel's step callback: make this step's frame (ch. 1–5)."""
        if self.preview is None:
            return
        try:
            self.preview(pipe, step, timestep, callback_kwargs)
        except Exception as exc:  # noqa: BLE001 - the run goes on without its preview, and says why
            self.preview.close()
            self.preview = None
            self.caption.value = html_text(_("no step preview: {error}").format(error=f"{type(exc).__name__}: {exc}"))

    def begin(self) -> None:
        """A run starts: frames go to the picture as they come (ch. 1–5)."""
        self._live = True
        if self.preview is not None:
            self.preview.attach()
        self._before = self.image.value  # shown again if the run stops or fails: the last finished picture
        self.frames = []
        self.scrubber.disabled = True  # during the run it follows the frames; it moves once the run has ended
        self.scrubber.max, self.scrubber.value = 0, 0

    def _shown(self, frame) -> None:
        if self._live:
            self.image.value = png_bytes(frame.view(self.view.value))
            self.caption.value = html_text(frame.caption)
            count = len(self.preview.frames) - 1
            self.scrubber.max, self.scrubber.value = max(count, self.scrubber.max), count

    def end(self, final_png: bytes | None) -> None:
        """The run ended (finished, stopped or failed): the scrubber moves through its frames (ch. 1–5)."""
        self._live = False
        if self.preview is None:
            return
        self.preview.close()  # nothing of this panel stays on the UNet between runs
        if final_png is None:
            self.image.value = self._before
        frames, self.frames = list(self.preview.frames), []  # no frames while the slider moves: nothing redrawn
        self._final = final_png
        if not frames:
            return
        last = len(frames) - 1
        self.scrubber.max = last
        self.scrubber.value = last
        self.scrubber.disabled = last == 0
        self.frames = frames
        kept = _(" · {n} frames kept of a longer run (every other one dropped)").format(n=len(self.frames)) \
            if self.preview.thinned else ""
        self.caption.value = html_text(_("move the step slider to go back through this run") + kept)

    def _scrubbed(self) -> None:
        if self._live or not self.frames:
            return
        index = min(self.scrubber.value, len(self.frames) - 1)
        frame = self.frames[index]
        if index == len(self.frames) - 1 and self._final is not None and self.view.value == "estimate":
            self.image.value = self._final  # the last step's estimate is the finished picture: show it whole
        else:
            self.image.value = png_bytes(frame.view(self.view.value))
        self.caption.value = html_text(frame.caption)

    def close(self) -> None:
        """Remove the preview's UNet hook (ch. 1–5)."""
        if self.preview is not None:
            self.preview.close()
