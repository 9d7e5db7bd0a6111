"""A "try it yourself" panel: sliders and text boxes for a pipeline's parameters, with a short history.

The panel never hides the lesson: it calls the same pipeline with the same keyword arguments as the
notebook above it, and the caption of every picture lists them. It knows the controls every pipeline shares
(`prompt`, `negative_prompt`, `guidance_scale`, `num_inference_steps`, and the seed of `generator`); a chapter
declares its own, such as `strength` or a choice of `mask_image`, with `Slider` and `Choice`.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import ipywidgets as W

from helpers.callme import call_me
from helpers.i18n import _
from helpers.panel_call import accepts, call_kwargs
from helpers.panel_controls import (
    SHARED,
    Choice,
    Controls,
    Slider,
    caption_for,
    check_start,
    make_slider,
)
from helpers.panel_encode import default_encoder, replace_encode
from helpers.panel_names import check_generate_values, check_kept_widget, check_new_name
from helpers.panel_preview import PanelPreview
from helpers.panel_results import History, Result, Results
from helpers.panel_save import close_widgets, earlier, keep_earlier, png_bytes, save_fix, save_newest
from helpers.panel_save import html_text as _html
from helpers.panel_setup import check_arguments, check_extras, check_positional, check_replacing, check_setup
from helpers.pipelock import pipeline_lock

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["Choice", "Panel", "Result", "Slider", "caption_for", "earlier"]

class Panel:
    """Sliders, prompts, Generate/Stop/Save and a history strip around one pipeline (ch. 1–5).

    Arguments named like the pipeline's own (`prompt`, `guidance_scale`, ...) set the starting values.
    `extras` declares the chapter's own controls, in caption order: `Slider("strength", 0.75, 0.0, 1.0)`,
    `Choice("mask_image", {...})`. `fixed` holds arguments passed unchanged on every run (`image=`, ...).
    `encode` turns (prompt, negative_prompt, extras) into keyword arguments such as `prompt_embeds`, where
    extras holds every control's value (chapter 4 uses compel there); it is cached per prompt and per value
    of each control declared with pipeline_arg=False, so moving any other slider never re-encodes the text.
    `preview=True` shows the picture forming step by step and, after a run, a slider back through its steps.
    """

    def __init__(self, pipeline, prompt: str, *by_position, negative_prompt: str = "", guidance_scale: float = 7.5,
                 num_inference_steps: int = 20, seed: int = 0, extras: list | tuple = (), fixed: dict | None = None,
                 encode=None, history: int = 6, live: bool = False, device: str = "cpu", save_dir=None,
                 preview: bool = True, **unknown):
        check_positional(by_position, owner=type(self))  # Panel(pipe, prompt, 7.5): name the keyword for 7.5
        check_arguments(unknown, live=live, preview=preview, history=history, fixed=fixed or {}, owner=type(self),
                        pipeline=pipeline)
        from helpers.explain import wrap_if_enabled

        check_start(guidance_scale, num_inference_steps, seed)
        seed = int(seed)  # a numpy integer from a sweep is a seed too
        wrap_if_enabled()  # the call checks reach this pipeline in a script too
        self.pipeline = pipeline
        self.fixed = dict(fixed or {})
        self.extras = check_extras(pipeline, self.fixed, extras, encode)
        check_setup(pipeline, prompt=prompt, negative_prompt=negative_prompt, fixed=self.fixed,
                    controlled={extra.name for extra in self.extras}, encode=encode, device=device, save_dir=save_dir)
        self.own_encode = encode is not None  # the chapter's own encoder (compel) reads weighting syntax
        self.encode = encode if encode is not None else default_encoder(pipeline)
        self.history_size = history
        self.device = device
        self.save_dir = save_dir
        self.results: list[Result] = Results(self)
        self.runs = 0  # pipeline calls actually made (tests check that a double click runs once)
        self.encoded: dict = {}  # encode='s output for the prompt on screen (panel_call.call_kwargs)
        self._busy = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._outcome = None  # the last run's first Result, or its error (generate(wait=True) hands it on)
        self._caption_before = ""
        self._again = False  # live mode: a value changed during a run, so run once more with the values on screen

        cont = {"continuous_update": False, "style": {"description_width": "140px"},
                "layout": W.Layout(width="460px")}
        self.prompt = W.Textarea(value=prompt, description="prompt", rows=2, **cont)
        self.negative_prompt = W.Textarea(value=negative_prompt, description="negative_prompt", rows=1, **cont)
        self.guidance_scale = make_slider(W.FloatSlider, "guidance_scale", guidance_scale, 0.0, 20.0, step=0.5, **cont)
        self.num_inference_steps = make_slider(W.IntSlider, "num_inference_steps", num_inference_steps, 1, 100, **cont)
        self.seed = make_slider(W.IntSlider, "seed", seed, 0, 1000, **cont)
        # every control by name, the shared ones first, then the chapter's in the order it declared them
        self.controls = Controls({"prompt": self.prompt, "negative_prompt": self.negative_prompt,
                         "guidance_scale": self.guidance_scale, "num_inference_steps": self.num_inference_steps,
                         "seed": self.seed})
        self.controls.update({extra.name: extra._widget(cont) for extra in self.extras})
        for control in self.controls.values():  # a value set from Python beyond a slider's end: said, not clamped
            control.on_widen = self._say
        self.controls["seed"].vet = lambda v: check_start(guidance_scale, num_inference_steps, v)
        self.controls["guidance_scale"].vet = lambda v: check_start(v, num_inference_steps, seed)
        self.controls["num_inference_steps"].vet = lambda v: check_start(guidance_scale, v, seed)
        for extra in self.extras:  # a bounded argument (strength in [0, 1]) is refused past its bound, not widened
            if isinstance(extra, Slider) and extra.pipeline_arg:
                self.controls[extra.name].vet = lambda v, name=extra.name: _vet_argument(name, v)

        self.generate_button = W.Button(description=_("Generate"), button_style="primary", icon="play")
        self.stop_button = W.Button(description=_("Stop"), icon="stop", disabled=True)
        self.save_button = W.Button(description=_("Save PNG"), icon="save", disabled=True)
        self.live = W.Checkbox(value=live, description=_("live (run on slider release)"), indent=False)
        kept = keep_earlier(self)  # the cell run again: the panel it replaces may hold pictures not saved
        self.status = W.HTML(value=_("ready") + _html(kept))
        self.image = W.Image(format="png", layout=W.Layout(max_width="512px"))
        self.caption = W.HTML(value="")
        self.history = History(layout=W.Layout(flex_flow="row wrap"))
        self.steps = PanelPreview(pipeline, self.image, enabled=preview)  # the picture forming, then a scrubber

        self.generate_button.on_click(lambda _: self._clicked())
        self.stop_button.on_click(lambda _: self.stop())
        self.save_button.on_click(lambda _: self._save_clicked())
        for control in self.controls.values():
            control.observe(self._on_change, names="value")

        buttons = W.HBox([self.generate_button, self.stop_button, self.save_button, self.live])
        self.widget = W.VBox([*self.controls.values(), buttons, self.status, self.image, self.caption,
                              self.steps.widget, W.HTML(_("<b>history</b> (newest first)")), self.history])

    def __setattr__(self, name, value):
        if name == "encode" and name in self.__dict__:  # a new function: the old one's cached embeddings go
            return replace_encode(self, value)
        if name in (*SHARED, "live") and name in self.__dict__:  # panel.prompt = "...": the box would be replaced
            check_replacing(name, value)
        check_kept_widget(self, name, value)  # panel.history = 3 would replace the history strip with an int
        check_new_name(self, name, value)  # panel.sead = 3 would make an attribute no run reads
        super().__setattr__(name, value)

    # ------------------------------------------------------------------ running

    def params(self) -> dict:
        """The current control values by name, the shared ones first, then the chapter's own (ch. 1–5)."""
        return {name: control.value for name, control in self.controls.items()}

    def _on_old_step(self, step, timestep, latents) -> None:
        """The older `callback(step, timestep, latents)`: Stop and the preview for pipelines that only take it."""
        self.steps.on_step(self.pipeline, step, timestep, {})
        if self._stop.is_set():
            raise _Stopped
        own = self.fixed.get("callback")
        if own is not None:
            own(step, timestep, latents)

    def _on_step(self, pipe, step, timestep, callback_kwargs):
        self.steps.on_step(pipe, step, timestep, callback_kwargs)  # the step ran: its frame is kept, stopped or not
        if self._stop.is_set():
            # an exception stops every pipeline at this step; not all of them read diffusers' _interrupt flag
            # (Kandinsky 2.2's decoders run every step regardless)
            raise _Stopped
        own = self.fixed.get("callback_on_step_end")
        return own(pipe, step, timestep, callback_kwargs) if own is not None else callback_kwargs

    def _say(self, message: str) -> None:
        self.status.value = _html(message)

    @call_me("panel.generate()", "run the pipeline once with the controls' values")
    def generate(self, wait: bool = False, **values):
        """Run once with the controls' values, after any run already going; wait=True: until it ends (ch. 1–5).

        Called from code, a run never drops: a loop that sets a control and calls generate() gets one picture per
        call, newest first in panel.results (each with .image and .save(path)). Without wait it returns True at
        once; with wait=True it returns the run's Result (its first picture), None if Stop ended the run, and
        raises the run's error, which the panel shows too."""
        check_generate_values(self, values)  # panel.generate(seed=5): the values come from the controls
        self._busy.acquire()  # a run already going finishes first
        self._start()
        if not wait:
            return True
        self.wait()
        if isinstance(self._outcome, Exception):
            raise self._outcome
        return self._outcome

    def _clicked(self) -> bool:
        """Generate pressed, or a control moved in live mode: start unless a run is going (ch. 1–5)."""
        if not self._busy.acquire(blocking=False):
            if self.live.value:  # the picture must end up matching the controls: one more run after this one
                self._again = True
                self.status.value = _("running… (the new values run next)")
            else:
                self.status.value = _("busy: the current run must finish (or press Stop) first")
            return False
        try:
            self._start()
        except Exception:  # noqa: BLE001 - the panel's status shows it; a click has no caller to raise to
            return False
        return True

    def _start(self) -> None:
        """Start a run in its own thread; the caller holds the busy lock, which the run releases (ch. 1–5)."""
        began, self._caption_before = False, self.caption.value  # the caption shown again if the run fails
        try:
            params = self.params()  # read first: a control that cannot be read stops here, before anything changed
            labels = {e.name: e.label for e in self.extras if e.label}
            self._stop.clear()
            self.generate_button.disabled = True
            self.stop_button.disabled = False
            self.status.value = _("running…")
            # the frames on screen belong to the new values: the caption says so while they form
            forming = caption_for(params, None, labels)
            self.caption.value = _html(_("forming, step by step: {params}").format(params=forming))
            if not (accepts(self.pipeline, "callback_on_step_end") or accepts(self.pipeline, "callback")):
                self.stop_button.disabled = True  # nothing runs between its steps, so nothing could stop it
                self.status.value += " " + _("(this pipeline takes no step callback: Stop cannot end it early)")
            self.steps.begin()
            began = True
            self._thread = threading.Thread(target=self._run, args=(params,), daemon=True)
            self._thread.start()
        except Exception as exc:  # no run started: the panel shows why and gives back its lock and buttons
            self._outcome = exc
            self._show_error(exc)
            self._release(began)
            raise

    @call_me("panel.wait()", "wait until the current run ends")
    def wait(self, timeout: float | None = 600) -> None:
        """Block until the current run ends (for scripts and tests) (ch. 1–5)."""
        if self._thread is not None:
            self._thread.join(timeout)

    @call_me("panel.stop()", "stop the run after its current step")
    def stop(self) -> None:
        """Ask the running pipeline to stop after its current step (ch. 1–5)."""
        if self._thread is None or not self._thread.is_alive():
            self.status.value = _("nothing is running: Stop ends a run at its next step")
            return
        self._stop.set()
        self.status.value = _("stopping after this step…")

    def _run(self, p: dict) -> None:
        from helpers.checks import collect_warnings

        start = time.perf_counter()
        self._outcome = None
        try:
            with collect_warnings() as said:  # this thread's warnings go to the status line, not a lost stderr
                # checks and prompt encoding inside the lock too: a tokenizer call resets the tokenizer's shared
                # padding settings, so one made during another run can leave that run's prompt unpadded
                with pipeline_lock(self.pipeline, self._say):  # another panel or a cell on the same pipeline
                    kwargs = call_kwargs(self, p, self._on_step, self._on_old_step)
                    self.runs += 1
                    output = self.pipeline(**kwargs)
            seconds = time.perf_counter() - start
            labels = {e.name: e.label for e in self.extras if e.label}
            images = list(output.images)
            note, first = "", None
            for i, image in reversed(list(enumerate(images))):  # every picture of the call, the first on top
                params = p if len(images) == 1 else {**p, "picture": f"{i + 1}/{len(images)}"}
                first = Result(image, params, seconds, caption_for(params, seconds, labels))
                note = self._show(first) or note
            self._outcome = first  # not results[0]: the learner may empty that list while this thread runs
            self.status.value = _("done in {seconds:.2f} s").format(seconds=seconds) + _html(note) + "".join(
                f"<br><span style='color:#a60'>⚠ {_html(w)}</span>" for w in said)
        except _Stopped:
            self.status.value = _("stopped after {seconds:.2f} s; the last picture is unchanged").format(
                seconds=time.perf_counter() - start)
        except Exception as exc:  # the panel must survive any error and keep the learner's history
            self._outcome = exc
            self._show_error(exc)
        finally:
            self._release()

    def _release(self, began: bool = True) -> None:
        """A run ended, or failed to start: buttons, caption and the busy lock go back; live mode runs again."""
        if getattr(self.pipeline, "_interrupt", False):
            self.pipeline._interrupt = False
        finished = self._outcome is not None and not isinstance(self._outcome, Exception)
        if began:
            self.steps.end(self.image.value if finished else None)
        if not finished:  # the last finished picture is back on screen: its own caption with it
            self.caption.value = self._caption_before
        self.generate_button.disabled = False
        self.stop_button.disabled = True
        self._busy.release()
        if self._again:  # live mode: values changed while this ran; the picture must match the controls
            self._again = False
            self._clicked()

    def _show_error(self, exc: Exception, fix: str = "") -> None:
        from helpers.notes import note_for

        line = str(exc).splitlines()[0] if str(exc) else ""
        found = None if fix else note_for(exc)  # a known library error: the catalogue's fix, not its raw words
        if found:
            fix = f" · {found[0]} {found[1]}"
        self.status.value = (f"<span style='color:#b00'><b>{type(exc).__name__}</b>: "
                             f"{_html(line)}{_html(fix)}</span>")

    def _show(self, result: Result) -> str:
        """Show a new picture; return a note for the status line when an unsaved one left the history."""
        from helpers.modes import active_mode

        if active_mode() == "twins":
            result.caption = _("TWIN") + " · " + result.caption
        self.results.insert(0, result)
        dropped = [r for r in self.results[self.history_size:] if not r.saved]
        del self.results[self.history_size:]
        note = ""
        if dropped:  # say it, so that a picture worth keeping is saved before it scrolls away
            seeds = ", ".join(str(r.params.get("seed")) for r in dropped)
            note = " · " + _("the history keeps {n}: the oldest unsaved picture (seed {seeds}) left it; press Save "
                             "PNG to keep a picture").format(n=self.history_size, seeds=seeds)
        self.image.value = png_bytes(result.image)
        self.caption.value = _html(result.caption)
        self.save_button.disabled = False
        thumbs = []
        for r in self.results[1:]:
            thumbs.append(W.VBox([W.Image(value=png_bytes(r.image, 160), format="png"),
                                  W.HTML(f"<small>{_html(r.caption)}</small>", layout=W.Layout(width="170px"))]))
        self.history.children = thumbs
        return note

    def _on_change(self, change) -> None:
        if self.live.value:
            self._clicked()

    # ------------------------------------------------------------------ saving

    @call_me("panel.save()", "save the current picture as PNG")
    def save(self, path=None, overwrite: bool = False) -> Path:
        """Save the current picture as PNG with its parameters; never over a file unless overwrite=True (ch. 1–5)."""
        return save_newest(self, path, overwrite)

    def _save_clicked(self) -> None:
        try:
            self.save()
        except Exception as exc:  # a full or read-only folder must show in the panel, not vanish in a log
            self._show_error(exc, save_fix(exc))

    @call_me("panel.close()", "close the panel's widgets")
    def close(self) -> None:
        """Close the panel's widgets, which keep it and its pipeline in memory; then `del panel` frees it (ch. 1–5)."""
        close_widgets(self)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)


class _Stopped(Exception):
    """Raised from the step callback when Stop was pressed: ends the run at that step in any pipeline."""


def _vet_argument(name: str, value) -> None:
    """The pipeline's own rule for a chapter's slider value, e.g. strength in [0, 1]."""
    from helpers.checks import check_call

    check_call(**{name: value})
