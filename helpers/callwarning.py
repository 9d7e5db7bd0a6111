"""CallWarning: how a check says what a call changes, once per pipeline, or into the panel's status line."""

from __future__ import annotations

import threading
import warnings


class CallWarning(UserWarning):
    """A pipeline call whose result differs from what its arguments suggest (a resize, a conversion, a cut)."""


class PromptTruncatedWarning(CallWarning):
    """A prompt longer than the text encoder's window: the end is cut off."""


_LOCAL = threading.local()  # per thread: the messages already said for the pipeline being checked; a collector


def warn_call(message: str, category=CallWarning) -> None:
    """Say what a call changes: once per pipeline and message, into the panel's collector if one is open (ch. 1–5)."""
    said = getattr(_LOCAL, "said", None)
    if said is not None:  # a cell re-run with the same picture need not repeat it
        if message in said:
            return
        if not ignored_now(category, message):  # hidden by filterwarnings("ignore"): not said, so said later
            said.add(message)
    sink = getattr(_LOCAL, "sink", None)
    if sink is not None:
        sink.append(message)
    else:
        warnings.warn(category(message), stacklevel=3)


def ignored_now(category, message: str) -> bool:
    """Whether the warnings filter that decides for this warning is an "ignore" one (ch. 1–5)."""
    for action, text, kind, module, lineno in warnings.filters:
        if not issubclass(category, kind) or (text is not None and not text.match(message)):
            continue
        if lineno or module is not None and getattr(module, "pattern", module) not in ("", ".*"):
            continue  # a filter for one module's (or line's) warnings: not the one that decides here
        return action == "ignore"
    return False


def collecting() -> bool:
    """True while this thread's CallWarnings go to a collector (a panel's run) instead of being printed (ch. 1–5)."""
    return getattr(_LOCAL, "sink", None) is not None


class collect_warnings:
    """Collect this thread's CallWarnings into a list instead of printing them (the panel shows them) (ch. 1–5)."""

    def __enter__(self) -> list[str]:
        self.previous, _LOCAL.sink = getattr(_LOCAL, "sink", None), []
        return _LOCAL.sink

    def __exit__(self, *exc):
        _LOCAL.sink = self.previous
        return False


class said_once_for:
    """While a pipeline's call is checked, each message is said once for that pipeline (ch. 1–5)."""

    def __init__(self, pipeline):
        self.said = pipeline.__dict__.setdefault("_tutorial_said", set())

    def __enter__(self):
        _LOCAL.said = self.said
        return self

    def __exit__(self, *exc):
        _LOCAL.said = None
        return False
