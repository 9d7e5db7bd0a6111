"""The panel's controls: the shared sliders and prompts, and a chapter's own Slider and Choice declarations.

A slider set from Python beyond its end widens to take the value and says so; below its floor it refuses, naming
the range; a new max or min that would move the value is refused, naming the order that works. ipywidgets would
clamp them all without a word, and the picture would not match the number on screen.
"""

from __future__ import annotations

import numbers
from dataclasses import KW_ONLY, dataclass, field

import ipywidgets as W
from traitlets import Int, TraitError, validate

from helpers.i18n import _

# pipeline arguments that take fractions, whatever numbers their slider was declared with
FLOAT_ARGS = ("strength", "guidance_scale", "image_guidance_scale", "eta", "guidance_rescale",
              "controlnet_conditioning_scale", "control_guidance_start", "control_guidance_end", "aesthetic_score",
              "negative_aesthetic_score", "prior_guidance_scale", "denoising_start", "denoising_end")
SHARED = ("prompt", "negative_prompt", "guidance_scale", "num_inference_steps", "seed")
_SHORT = {"guidance_scale": "guidance", "num_inference_steps": "steps"}


class Controls(dict):
    """The panel's controls by the pipeline argument each sets; a name it lacks is said with the names it has."""

    def __setitem__(self, name, value):
        """Keep the controls on screen: a plain value is refused, pointing to the control's .value (ch. 1–5)."""
        if not isinstance(value, W.Widget):  # every run reads .value from here: a string would end the panel
            raise TypeError(f"panel.controls[{name!r}] is the {name} control on screen, and every run reads its "
                            "value; it cannot be replaced by a plain value. Set the control's value instead: "
                            f"panel.controls[{name!r}].value = {value!r}." if name in self else
                            f"panel.controls has no control {name!r} to set (its controls are {', '.join(self)}); "
                            f"declare one when the panel is made, Panel(..., extras=[Slider({name!r}, value, low, "
                            f"high)]), or pass a value on every run with Panel(..., fixed={{{name!r}: ...}}).")
        super().__setitem__(name, value)

    def update(self, *args, **kwargs) -> None:
        """Add or replace controls, each checked as panel.controls[name] = control is (ch. 1–5)."""
        for name, value in dict(*args, **kwargs).items():
            self[name] = value

    def __missing__(self, name):
        import difflib

        close = [n for n in self if str(name) in n] or difflib.get_close_matches(str(name), list(self), n=1, cutoff=0.5)
        raise KeyError(f"no control {name!r}; the panel's controls are {', '.join(self)}"
                       + (f". Did you mean {close[0]!r}?" if close else "."))


@dataclass(frozen=True)
class Slider:
    """A chapter's own number control, e.g. Slider("strength", 0.75, 0.0, 1.0, step=0.05) (ch. 2–5).

    `value` is the start, `low` the smallest value the slider allows and `high` its usual end (a larger start
    widens the slider, saying so, as for the seed). Whole-number value, low, high and step
    make a whole-number slider, except for arguments that take fractions (strength, guidance_scale, ...).
    `label` is the short name in captions (default: `name`). The panel passes the value
    to the pipeline as `name=`; pipeline_arg=False marks a control for the panel's `encode` function instead.
    """

    name: str
    value: float
    low: float
    high: float
    _: KW_ONLY
    step: float | None = None
    label: str | None = None
    pipeline_arg: bool = True
    description: object = field(default=None, repr=False, compare=False)  # not a setting: points to label=

    def __post_init__(self):
        from helpers.checks import check_call, check_number

        check_description(self, f"{self.value}, {self.low}, {self.high}")
        check_name(self)
        low = check_number(f"Slider({self.name!r}) low", self.low)
        high = check_number(f"Slider({self.name!r}) high", self.high)
        value = check_number(self.name, self.value)
        if not low < high:  # Slider("strength", 0.0, 1.0, 0.6) was written as (low, high, value)
            raise ValueError(f"Slider({self.name!r}): low={self.low} must be below high={self.high}."
                             + (self._order(self.high, self.value, self.low) if value <= high and value < low else ""))
        if self.pipeline_arg:
            check_call(**{self.name: self.value})  # the pipeline's own rules where known, e.g. strength in [0, 1]
        if value < low:  # or written as (low, value, high)
            raise ValueError(f"{self.name}={self.value} is below its slider's low end {self.low}. Start it between "
                             f"{self.low} and {self.high}, e.g. Slider({self.name!r}, {self.low}, {self.low}, "
                             f"{self.high})." + self._order(self.low, self.value, self.high))
        step = None if self.step is None else check_number(f"Slider({self.name!r}) step", self.step)
        if step is not None and not 0 < step <= high - low:  # step=5 on 0–1 leaves the slider only its two ends
            whole = self.name not in FLOAT_ARGS and all(isinstance(v, int) for v in (self.low, self.high))
            why = "must be above 0" if step <= 0 else (f"is larger than the slider's whole range, {self.low} to "
                                                       f"{self.high}, so the slider could only sit at its two ends")
            raise ValueError(f"Slider({self.name!r}): step={self.step} {why}. step is the distance between two "
                             f"settings in the slider's own units, e.g. step={1 if whole else _step(high - low)}.")

    def _order(self, value, low, high) -> str:
        more = "".join(f", {k}={getattr(self, k)!r}" for k in ("step", "label") if getattr(self, k) is not None)
        return (f" Slider's order is (name, value, low, high): Slider({self.name!r}, {value}, {low}, {high}{more}) "
                f"starts at {value} on a slider from {low} to {high}.")

    def _widget(self, style: dict):
        numbers = (self.value, self.low, self.high) + (() if self.step is None else (self.step,))
        # a fractional argument such as strength=1 stays a float slider: as an IntSlider, 0.5 would become 0
        whole = self.name not in FLOAT_ARGS and all(isinstance(v, int) and not isinstance(v, bool) for v in numbers)
        kind = W.IntSlider if whole else W.FloatSlider
        step = {} if self.step is None else {"step": self.step}
        return make_slider(kind, self.name, self.value, self.low, self.high, **step, **style)

    def _argument(self, shown):
        return shown


@dataclass(frozen=True)
class Choice:
    """A chapter's own drop-down of named values, e.g. Choice("mask_image", {"box": box, "oval": oval}) (ch. 5).

    The panel passes the chosen value as `name=`; captions and saved PNGs record its key. An option may be a
    function of no arguments, called at every run for the value of that moment (`lambda: painter.mask`). `value` is
    the key shown first (default: the first key); `label` and `pipeline_arg` work as for `Slider`.
    """

    name: str
    options: dict
    value: str | None = None
    _: KW_ONLY
    label: str | None = None
    pipeline_arg: bool = True
    default: object = field(default=None, repr=False)  # not a setting: named only to point to value=
    description: object = field(default=None, repr=False, compare=False)  # not a setting: points to label=

    def __post_init__(self):

        check_description(self, "{...}")
        check_name(self)
        if self.default is not None:
            raise TypeError(f"Choice has no default=; the option shown first is value=: Choice({self.name!r}, "
                            f"{{...}}, value={self.default!r}).")
        if not isinstance(self.options, dict) or not self.options:
            raise TypeError(f"Choice({self.name!r}) needs a dict of named options, e.g. "
                            f"{{'box': box_mask, 'oval': oval_mask}}; got {self.options!r}.")
        for label, option in self.options.items():
            _check_option(self.name, label, option)
        if self.value is None:
            object.__setattr__(self, "value", next(iter(self.options)))
        elif self.value not in self.options:
            raise ValueError(f"{self.name}={self.value!r} is not one of its options {list(self.options)}. Pass one "
                             "of them as value=, or leave value out to start at the first.")

    def _widget(self, style: dict):
        return _ChoiceDropdown(self.options, options=list(self.options), value=self.value, description=self.name,
                               **style)

    def _argument(self, shown):
        value = self.options[shown]
        # a function of no arguments stands for a value that changes, read at every run: lambda: painter.mask
        return value() if _no_argument_function(value) else value


def _is_label(value, choices: dict) -> bool:
    try:
        return value in choices
    except TypeError:  # a picture or another unhashable value: not one of the labels
        return False


class _ChoiceDropdown(W.Dropdown):
    """A Choice's dropdown: set from Python with one of its pictures (not its label), it says which label to use."""

    def __init__(self, choices: dict, **kwargs):
        self._choices = choices
        super().__init__(**kwargs)

    def __setattr__(self, name, value):
        if name == "value" and getattr(self, "_choices", None) and not _is_label(value, self._choices):
            listed = ", ".join(map(repr, self._choices))
            if isinstance(value, str):  # a label mistyped, not a value given
                import difflib

                by_case = [k for k in self._choices if str(k).lower() == value.lower()]
                close = by_case or difflib.get_close_matches(value, [str(k) for k in self._choices], n=1)
                raise TraitError(f"{self.description} has no option {value!r}; its options are {listed}"
                                 + (f". Did you mean {close[0]!r}?" if close else "."))
            labels = [k for k, v in self._choices.items() if v is value]
            raise TraitError(f"{self.description} takes one of its labels ({listed}), not the value itself"
                             + (f": set .value = {labels[0]!r}" if labels else "") + ".")
        super().__setattr__(name, value)


def check_description(control, middle: str) -> None:
    """Refuse ipywidgets' description= on a Slider or Choice, pointing to label= (ch. 1–5)."""
    if control.description is not None:
        kind = type(control).__name__
        raise TypeError(f"{kind} has no description= (that is ipywidgets' name for it): the control is shown with "
                        f"its argument's name, {control.name!r}, and label= sets the shorter name that captions "
                        f"use: {kind}({control.name!r}, {middle}, label={control.description!r}).")


def check_name(control) -> None:
    """A chapter's control may not take a shared control's name (ch. 1–5)."""
    if control.name in SHARED:
        raise ValueError(f"{type(control).__name__}({control.name!r}): {control.name} is one of the panel's own "
                         f"controls; set its start with Panel(..., {control.name}=...) instead.")


def caption_for(params: dict, seconds: float | None, labels: dict | None = None) -> str:
    """Short text naming the arguments that made a picture, in `params` order, for its caption (ch. 1–5).

    The prompts are left out; `labels` maps an argument's name to a shorter one (`guidance`, `steps` built in);
    seconds=None leaves the time out (a run still going)."""
    short = {**_SHORT, **(labels or {})}
    bits = [f"{short.get(k, k)}={v}" for k, v in params.items() if k not in ("prompt", "negative_prompt")]
    return " · ".join(bits) + ("" if seconds is None else f" · {seconds:.2f} s")


def check_start(guidance_scale, num_inference_steps, seed):
    """Refuse starting values no pipeline takes, before a slider could clamp them into range unseen (ch. 1–5)."""
    from helpers.checks import check_guidance, check_steps
    from helpers.device import SEED_LIMIT

    check_guidance(guidance_scale)
    check_steps(num_inference_steps)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):  # numpy's integers are whole numbers too
        raise TypeError(f"seed must be a whole number such as 0 or 42, got {seed!r}.")
    if not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"seed={seed} is outside [0, 2**63); pass a non-negative whole number such as 42.")


class _Widening:
    """A slider that widens to a value set beyond its end instead of clamping it, and refuses one below its floor."""

    @validate("value")
    def _validate_value(self, proposal):
        value = proposal["value"]
        if value < self.min:
            raise TraitError(f"{self.description}={value} is below the slider's lowest value {self.min}; "
                             f"set it between {self.min} and {self.max}.")
        vet = getattr(self, "vet", None)  # the pipeline's own rule for this argument, e.g. strength in [0, 1]
        if vet is not None:
            try:
                vet(value)
            except (TypeError, ValueError) as err:
                raise TraitError(str(err)) from None
        if value > self.max:  # what the learner asked for wins: the range grows, and the panel's status says so
            self.max = value
            said = _("{name}={value} is above the slider's end: its range now goes to {value}").format(
                name=self.description, value=value)
            (getattr(self, "on_widen", None) or print)(said)
        return value

    # A new end past the value: ipywidgets would move the value onto it without a word, and the next run would use
    # a number nobody set. Refused, as a value below the floor is, rather than said in the status line: a refusal
    # changes nothing unseen, and the next run's "done in" would overwrite a status note before it was read.
    @validate("max")
    def _validate_max(self, proposal):
        return self._new_end(proposal["value"], "max")

    @validate("min")
    def _validate_min(self, proposal):
        return self._new_end(proposal["value"], "min")

    def _new_end(self, end, which: str):
        name, value, top = self.description, self.value, which == "max"
        other = self.min if top else self.max
        if (end < other) if top else (end > other):
            raise TraitError(f"{name}: {which}={end} is {'below' if top else 'above'} the slider's other end, {other}.")
        if (end < value) if top else (end > value):
            raise TraitError(f"{name}={value} is {'above' if top else 'below'} the new {which} {end}: ipywidgets "
                             f"would move it to {end} without a word, and the runs would use {end}. Set the value "
                             f"first, then the {which}: panel.controls[{name!r}].value = {end}, then "
                             f"panel.controls[{name!r}].{which} = {end}.")
        return end


class WideIntSlider(_Widening, W.IntSlider):
    """An IntSlider that widens instead of clamping, and refuses 2.5 instead of rounding it down (every chapter)."""

    value = Int(0, help="Int value").tag(sync=True)  # ipywidgets' CInt would turn 2.5 into 2 without a word


class WideFloatSlider(_Widening, W.FloatSlider):
    """A FloatSlider that widens instead of clamping (every chapter)."""


def make_slider(kind, name: str, value, low, high, **kwargs):
    """A widening slider from `low` to at least `value`: ipywidgets would clamp a larger start to `high` (ch. 1–5)."""
    if value > high:
        print(f"Panel: {name}={value} is above the slider's usual maximum {high}; its range now goes to {value}.")
        high = value
    kind = {W.IntSlider: WideIntSlider, W.FloatSlider: WideFloatSlider}.get(kind, kind)
    return kind(value=value, min=low, max=high, description=name, **kwargs)


def _check_option(name: str, label, option) -> None:
    """A function option is called with no arguments at every run: one that needs some cannot be (a callback can)."""
    import inspect

    if "callback" in name or not (inspect.isfunction(option) or inspect.ismethod(option)) or \
            _no_argument_function(option):
        return
    needs = [p.name for p in inspect.signature(option).parameters.values() if p.default is p.empty and p.kind not in
             (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    raise TypeError(f"Choice({name!r}) option {label!r} is a function that needs {', '.join(needs)}: the panel "
                    "calls an option's function with no arguments, at every run, for the value of that moment. Drop "
                    f"its parameters: {{{label!r}: lambda: {'painter.mask' if name == 'mask_image' else '...'}}}.")


def _step(span: float):
    """1, 2 or 5 times a power of ten, about a twentieth of `span`: 0.05 for a slider from 0 to 1."""
    import math

    power = 10 ** math.floor(math.log10(span / 20))
    step = max(m for m in (1, 2, 5) if m * power <= span / 20 * (1 + 1e-9)) * power
    return int(step) if step >= 1 else float(f"{step:.10g}")


def _no_argument_function(value) -> bool:
    """A plain function or lambda callable with no arguments (not a pipeline, a preview or another object)."""
    import inspect

    if not (inspect.isfunction(value) or inspect.ismethod(value)):
        return False
    try:
        inspect.signature(value).bind()
    except TypeError:
        return False
    return True
