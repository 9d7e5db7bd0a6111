"""The panel's prompt encoding: a learner's encode= function, checked and called, or the pipeline's own.

encode(prompt, negative_prompt, extras) returns the keyword arguments to call with (chapter 4 builds compel's
embeddings there). Reading a control the panel lacks names the control to declare; without an encode= of the
chapter's own, the prompt goes through the pipeline's `encode_prompt`. `panel.encode = f` drops the embeddings
the old function made (`replace_encode`), and a cell that redefines a panel's function under its name is told so
(`warn_stale_encode`, after each cell while explain_errors() is on).
"""

from __future__ import annotations

import difflib
import inspect
import weakref

_SAID: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # panel: the new function named


def check_encode(encode) -> None:
    """A learner's encode function must take (prompt, negative_prompt, extras) (ch. 4)."""
    if encode is None:
        return
    if not callable(encode):
        raise TypeError(f"encode= must be a function, got {type(encode).__name__}.")
    try:
        signature = inspect.signature(encode)
    except (TypeError, ValueError):  # a builtin or C function: it is called as it is
        return
    if type(encode).__name__ == "Compel" or hasattr(encode, "build_conditioning_tensor"):
        raise TypeError("encode= takes a function of (prompt, negative_prompt, extras) that returns the keyword "
                        "arguments to call with; a Compel object returns only embeddings. Wrap it as chapter 4 "
                        "does: def encode(prompt, negative_prompt, extras): return {'prompt_embeds': "
                        "compel(prompt), 'negative_prompt_embeds': compel(negative_prompt or '')}, then "
                        "encode=encode (pad the two with compel.pad_conditioning_tensors_to_same_length if their "
                        "lengths differ).")
    try:
        signature.bind("prompt", "negative_prompt", {})
    except TypeError:
        raise TypeError(f"encode= is called as encode(prompt, negative_prompt, extras) and returns the keyword "
                        f"arguments to call with, e.g. {{'prompt_embeds': ...}}; yours takes {signature}. Add the "
                        "missing parameters (extras is a dict of every control's value), even if unused.") from None


def replace_encode(panel, encode) -> None:
    """panel.encode = f: check f, and drop the embeddings cached from the function before (ch. 4)."""
    check_encode(encode)
    vars(panel)["own_encode"] = encode is not None  # None: the pipeline's own encoder, as Panel(encode=None)
    vars(panel)["encode"] = encode if encode is not None else default_encoder(panel.pipeline)
    vars(panel).get("encoded", {}).clear()


def warn_stale_encode(namespace: dict) -> None:
    """Warn once when a cell redefined, under its name, the encode function a named panel still calls (ch. 4)."""
    from helpers.callwarning import warn_call
    from helpers.panel_save import panels_made

    panels = panels_made()
    for name, panel in list(namespace.items()):
        old = vars(panel).get("encode") if any(panel is p for p in panels) and not name.startswith("_") else None
        if not inspect.isfunction(old) or not vars(panel).get("own_encode"):
            continue
        new = namespace.get(old.__name__)
        if not inspect.isfunction(new) or new is old or new.__qualname__ != old.__qualname__ or _SAID.get(panel) is new:
            continue
        _SAID[panel] = new
        warn_call(f"the panel made earlier, {name}, still calls the {old.__name__} it was given; give it the new "
                  f"one: {name}.encode = {old.__name__} (that also drops its cached embeddings)")


class MissingControl(KeyError):
    """encode= read a control the panel lacks; the message names it and how to declare it (ch. 4)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""  # KeyError's own str would show the message in quotes


class _Read(dict):
    """The values handed to encode=, noting each name it asked for and did not find."""

    def __missing__(self, name):
        self.missed.append(name)
        raise KeyError(name)


def run_encode(encode, params: dict) -> dict:
    """encode(prompt, negative_prompt, extras), naming a control it reads that the panel lacks (ch. 4)."""
    extras = _Read(params)
    extras.missed = []
    try:
        return encode(params["prompt"], params["negative_prompt"], extras)
    except KeyError as exc:
        name = exc.args[0] if len(exc.args) == 1 else None
        if not isinstance(name, str) or name not in extras.missed:  # another dict's key, or a real control's
            raise
        raise MissingControl(missing_control(encode, name, params)) from exc


def missing_control(encode, name: str, params: dict) -> str:
    """The message for encode= reading extras[name] when no control has that name (ch. 4)."""
    try:
        taken = [p.name for p in inspect.signature(encode).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        taken = []
    read = taken[2] if len(taken) > 2 else "extras"  # chapter 4 names it params
    slider = ("Slider('weight', 1.0, 0.0, 2.0, step=0.1, pipeline_arg=False)" if name == "weight"
              else f"Slider({name!r}, start, low, high, pipeline_arg=False)")
    close = difflib.get_close_matches(name, list(params), n=1, cutoff=0.8)
    meant = f"; did you mean {close[0]!r}?" if close else ""
    return (f"encode= read {read}[{name!r}], and this panel has no {name!r} control (its controls: "
            f"{', '.join(params)}{meant}). Declare it for encode= only, in Panel(..., extras=[{slider}])"
            + (", as chapter 4 does." if name == "weight" else
               f", or use {read}.get({name!r}, value) for a value no control sets."))


def default_encoder(pipeline):
    """The panel's prompt encoder: the pipeline's own `encode_prompt` (SD 1.x/2.x and SDXL layouts) (ch. 1–5)."""
    pipe = pipeline
    params = inspect.signature(pipe.__call__).parameters if callable(pipe) else {}
    if not hasattr(pipe, "encode_prompt") or "prompt_embeds" not in params:
        return None  # e.g. Kandinsky: its prior turns the text into an image embedding on every run

    if "pooled_prompt_embeds" in params:  # SDXL: two encoders, plus pooled vectors
        def encode(prompt, negative_prompt, extras):
            pe, ne, pooled, neg_pooled = pipe.encode_prompt(
                prompt=prompt, device=pipe._execution_device, num_images_per_prompt=1,
                do_classifier_free_guidance=True, negative_prompt=negative_prompt or None)
            return {"prompt_embeds": pe, "negative_prompt_embeds": ne, "pooled_prompt_embeds": pooled,
                    "negative_pooled_prompt_embeds": neg_pooled}
        return encode

    def encode(prompt, negative_prompt, extras):
        positive, negative = pipe.encode_prompt(prompt, pipe._execution_device, 1, True, negative_prompt or None)
        return {"prompt_embeds": positive, "negative_prompt_embeds": negative}

    return encode
