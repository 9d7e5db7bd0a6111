"""A name a panel does not know, said with the name it has: an argument, an attribute, or a generate() keyword.

Three places take a name from the learner: Panel(..., history_size=10), panel.sead = 3 and panel.generate(mask=
"box"). Each is matched, in this order, against what the panel really has: its controls (by name, by the short
label a caption shows, by another tool's name for the setting, or by a close spelling), the keyword parameters of
Panel itself (read from its signature), its attributes (helpers.attrguard), and the arguments the pipeline's
__call__ takes. extras= and fixed= are offered only for a name the pipeline takes: anything else fails at the
first run.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import textwrap

from helpers.attrguard import known, public_names, stored_names
from helpers.callnames import OTHER_NAMES, hint_for, other_name
from helpers.panel_controls import Choice


def call_params(pipeline) -> list[str]:
    """The keyword arguments the pipeline's __call__ names; [] where it has no readable signature (ch. 1–5)."""
    try:
        params = inspect.signature(type(pipeline).__call__).parameters
    except (TypeError, ValueError):
        return []
    return [n for n, p in params.items() if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 and not hasattr(value, "getextrema") else "..."


def _close(name: str, names) -> str | None:
    found = difflib.get_close_matches(str(name), list(names), n=1, cutoff=0.6)
    return found[0] if found else None


def _control_for(panel, name: str) -> tuple[str, str] | None:
    """The control `name` means, and a sentence saying which: by name, label, another tool's name, or spelling."""
    controls = vars(panel).get("controls") or {}
    labels = {"guidance": "guidance_scale", "steps": "num_inference_steps"}  # the captions' short names
    labels.update({e.label: e.name for e in vars(panel).get("extras", ()) if e.label})
    if name in controls:
        return name, f"The {name} control is panel.controls[{name!r}], and every run reads its value."
    if labels.get(name) in controls:
        return labels[name], f"Its control labelled {name!r} is panel.controls[{labels[name]!r}]."
    if OTHER_NAMES.get(name) in controls:
        return OTHER_NAMES[name], f"{name} is what other tools call {OTHER_NAMES[name]}, a control of this panel."
    close = _close(name, controls) or _close(name, [k for k in labels if labels[k] in controls])
    if close:
        control = labels.get(close, close)
        return control, f"Did you mean the {control} control, panel.controls[{control!r}]?"
    return None


def _set_control(panel, control: str, value) -> str:
    """panel.controls['mask_image'].value = 'box', with a Choice's labels to pick from."""
    extra = next((e for e in vars(panel).get("extras", ()) if e.name == control), None)
    if isinstance(extra, Choice):
        listed = ", ".join(map(repr, extra.options))
        given = value if isinstance(value, str) and value in extra.options else next(iter(extra.options))
        mine = "" if isinstance(value, str) else (f"; a value of your own is added as one more option when the panel "
                                                  f"is made, Choice({control!r}, {{..., 'mine': value}})")
        return f"panel.controls[{control!r}].value = {given!r} (its choices: {listed}{mine})"
    return f"panel.controls[{control!r}].value = {_shown(value)}"


def sets_from(cls) -> dict[str, str]:
    """Attribute -> the keyword parameter its __init__ stores there (self.history_size = history) (ch. 1–5)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls.__init__)))
    except (OSError, TypeError, SyntaxError):  # no readable source: the attribute is named without its argument
        return {}
    params = set(inspect.signature(cls.__init__).parameters)
    return {target.attr: node.value.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Name) and node.value.id in params
            for target in node.targets if isinstance(target, ast.Attribute)
            and isinstance(target.value, ast.Name) and target.value.id == "self"}


def _class_names(cls) -> set[str]:
    """The public names a class and the classes above it define or set on self."""
    return {n for c in cls.__mro__ if c is not object
            for n in (*(k for k in vars(c) if not k.startswith("_")), *stored_names(c))}


def unknown_argument(cls, pipeline, name: str, value) -> str | None:
    """What Panel(..., name=value) meant, for a name Panel's signature lacks; None: the generic advice (ch. 1–5)."""
    kind = type(pipeline).__name__
    own = [n for n, p in inspect.signature(cls.__init__).parameters.items()
           if n not in ("self", "pipeline") and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    takes = call_params(pipeline)
    if name in takes:  # a chapter's control, or a value passed unchanged: the generic advice says both
        return None
    attribute, attributes = sets_from(cls), _class_names(cls)
    meant = attribute.get(name) or _close(name, own)
    if meant:
        note = (f" (panel.{name} is the attribute it sets)" if attribute.get(name) == meant else
                f" (panel.{name} is an attribute of a made panel)" if name in attributes else "")
        return f"Panel has no argument {name}: did you mean {meant}={_shown(value)}?{note}"
    if name in attributes:
        return (f"Panel has no argument {name}: panel.{name} is part of a made panel, not something to pass. "
                f"Panel's arguments are {', '.join(own)}.")
    close = other_name(name, takes, value) or _close(name, takes)  # mask= is mask_image, strenght= strength
    if close:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        control = f"Slider({close!r}, {value!r}, low, high)" if number else f"Choice({close!r}, {{'mine': ...}})"
        shown = repr(value) if number else "..."
        return (f"Panel has no argument {name}, and {kind} takes no {name} either: did you mean {close}? To "
                f"give it a control: extras=[{control}]; to pass it unchanged on every run: "
                f"fixed={{{close!r}: {shown}}}.")
    return (f"Panel has no argument {name} (its arguments are {', '.join(own)}), and {kind} takes no {name} "
            f"either, so neither extras= nor fixed= can pass it. {hint_for(pipeline, takes, name)}")


def check_new_name(panel, name: str, value) -> None:
    """Refuse panel.sead = 3: a name the panel lacks would be a new attribute no run reads (ch. 1–5)."""
    if known(panel, name):
        return
    start = f"Panel has no {name}: setting it would make a new attribute that no run reads."
    control = _control_for(panel, name)
    if control:
        found, which = control
        raise AttributeError(f"{start} {which} Set it: {_set_control(panel, found, value)}.")
    if name in call_params(vars(panel).get("pipeline")):
        raise AttributeError(f"{start} To pass {name}={_shown(value)} on every run: panel.fixed[{name!r}] = "
                             f"{_shown(value)} (fixed= is read at each run).")
    close = _close(name, [n for n in public_names(panel) if not callable(getattr(type(panel), n, None))])
    if close:
        raise AttributeError(f"{start} Did you mean panel.{close} = {_shown(value)}?")
    controls = ", ".join(vars(panel).get("controls") or ())
    raise AttributeError(f"{start} Its controls are {controls}; set one with panel.controls[name].value = ....")


def check_generate_values(panel, values: dict) -> None:
    """Refuse panel.generate(name=value), saying which control or fixed= entry the value belongs in (ch. 1–5)."""
    if not values:
        return
    name, value = next(iter(values.items()))
    if name in panel.controls:
        raise TypeError(f"generate() takes no {name}=: a run uses the controls' values. Set the control "
                        f"first, panel.controls[{name!r}].value = {_shown(value)}, then call panel.generate().")
    control = _control_for(panel, name)
    if control:
        found, which = control
        raise TypeError(f"generate() takes no {name}=: a run uses the controls' values, and this panel has no "
                        f"control named {name!r}. {which} Set it first, {_set_control(panel, found, value)}, then "
                        "call panel.generate().")
    takes, kind = call_params(panel.pipeline), type(panel.pipeline).__name__
    meant = name if name in takes else _close(name, takes)
    if meant:
        fix = f" (did you mean {meant}?)" if meant != name else ""
        raise TypeError(f"generate() takes no {name}=, and this panel has no control for it{fix}. A value every "
                        f"run should pass goes in fixed=: panel.fixed[{meant!r}] = {_shown(value)} (read at each "
                        f"run), or Panel(..., fixed={{{meant!r}: {_shown(value)}}}).")
    raise TypeError(f"generate() takes no {name}=, and neither this panel's controls ({', '.join(panel.controls)}) "
                    f"nor {kind}'s call take {name}, so fixed= cannot pass it either. "
                    f"{hint_for(panel.pipeline, takes, name)}")


# what a learner who replaces one of the panel's widgets meant, by the widget's name
_WIDGET_FIXES = {
    "history": "The number of pictures the history keeps is panel.history_size = {value} (read at each run), or "
               "Panel(..., history={value}) when the panel is made.",
    "image": "The newest picture is panel.results[0].image; a run shows its picture here itself.",
    "status": "The status line is the panel's to write; each run says there what it did.",
    "generate_button": "To run from code: panel.generate() (panel.generate(wait=True) waits for the picture).",
    "stop_button": "To stop a run from code: panel.stop().",
    "save_button": "To save from code: panel.save('picture.png').",
    "widget": "display(panel) shows the panel; the widget holding its parts is panel.widget.",
}


def check_kept_widget(panel, name: str, value) -> None:
    """Refuse panel.history = 3: replacing a widget with a non-widget breaks the next run (ch. 1–5)."""
    import ipywidgets as W

    held = vars(panel).get(name)
    prop = getattr(type(panel), name, None)
    if isinstance(prop, property) and prop.fset is None:  # a read-only property: say what it is
        what = (prop.__doc__ or "").strip().split("\n")[0]
        raise AttributeError(f"panel.{name} is read-only{': ' + what if what else '.'} It cannot be set.")
    if not isinstance(held, W.Widget) or isinstance(value, W.Widget):
        return
    fix = _WIDGET_FIXES.get(name, f"To change what it shows, set panel.{name}.value." if hasattr(held, "value")
                            else "")
    raise TypeError(f"panel.{name} is one of the panel's widgets ({type(held).__name__}, shown in panel.widget and "
                    f"used by every run): assigning {_shown(value)} would replace it with {_a(type(value).__name__)}, "
                    "and the next Generate would fail. The widget is kept as it was."
                    + (" " + fix.format(value=_shown(value)) if fix else ""))


def _a(word: str) -> str:
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"
