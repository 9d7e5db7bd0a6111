"""What a known error from diffusers, torch, PIL or the Hub means, and how to fix it, in two short lines."""

from __future__ import annotations

import re
import traceback

from helpers.callfacts import CallFacts, facts_for
from helpers.i18n import _
from helpers.note_rules import RULES

DECLINED = ("", "")  # a rule whose cause the failed call did not confirm
HUB_ERRORS = {"EntryNotFoundError", "LocalEntryNotFoundError", "RepositoryNotFoundError", "HfHubHTTPError"}


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _frames(exc: BaseException):
    return traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []


def _from_helpers(exc: BaseException) -> bool:
    """Errors the tutorial's own checks raise already say the problem and the fix."""
    frames = _frames(exc)
    return bool(frames) and "/helpers/" in frames[-1].filename.replace("\\", "/") \
        and not frames[-1].filename.endswith("notes.py")


def _chain(exc: BaseException, limit: int = 5):
    """The error and what caused it: diffusers often re-raises a telling error as a vaguer one."""
    seen = []
    while exc is not None and len(seen) < limit and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def _dead_id(text: str) -> tuple[str, str] | None:
    """A book id that is gone from the Hub, named in an error message, with today's id (from helpers.checkpoints)."""
    from helpers.checkpoints import DEAD_IDS

    for old, new in DEAD_IDS.items():
        if old.lower() in text.lower():
            return (f"{old} is a model id printed in the book that does not exist on the Hub any more.",
                    f"use {new} instead (the same weights).")
    return None


def _match(exc: BaseException, facts: CallFacts | None = None) -> tuple[str, str] | None:
    names, text = _names(exc), str(exc)
    if names & {"OSError", "RepositoryNotFoundError", "HFValidationError", "GatedRepoError", "HTTPError"}:
        found = _dead_id(text)
        if found:
            return found
    for classes, pattern, meaning, fix, *where in RULES:
        if not names.intersection(classes) or not re.search(pattern, text, re.IGNORECASE):
            continue
        if classes == ("FileNotFoundError",) and names & HUB_ERRORS:  # the Hub's errors subclass it: not a path
            continue
        if where and not any(re.search(where[0], f"{f.filename} {f.name}") for f in _frames(exc)[-3:]):
            continue
        if callable(meaning):  # a loose message: the call's facts must confirm the cause, else no note at all
            return meaning(exc, facts) or DECLINED
        return meaning, fix
    return None


def note_for(exc: BaseException) -> tuple[str, str] | None:
    """(what it means, how to fix it) for a known error or its cause, or None (every chapter)."""
    if _from_helpers(exc):
        return None
    try:
        facts = facts_for(exc)
        for link in _chain(exc):
            found = _match(link, facts)
            if found is DECLINED:  # a cause was looked for and not confirmed: no weaker guess further down
                return None
            if found:
                return found
    except Exception:  # noqa: BLE001 - a note is a help: it must never hide the learner's own error
        return None
    return None


def format_note(exc: BaseException) -> str | None:
    """The note printed under a traceback: what it means, how to fix it (every chapter)."""
    found = note_for(exc)
    if found is None:
        return None
    meaning, fix = found
    return "\n" + _("What this means: {meaning}\nHow to fix it: {fix}\n"
                     "(a note from helpers.explain; explain_errors(False) turns these notes off)").format(
        meaning=meaning, fix=fix)
