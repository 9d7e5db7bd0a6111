"""tools.run's options typed without their dashes (`python -m tools.run twins`), which argparse reads as chapters.

A bare `twins` would fail as "not a chapter", and a learner told to give no name would run every chapter without
--twins: on a machine with internet, the real-weights job. The options are read from tools.run's own parser; a
TUTORIAL_MODELS mode typed bare (`hub`) is said with the variable (helpers.modes.MODES).
"""

from __future__ import annotations

import argparse
import difflib
from pathlib import Path


def _long_options(parser) -> dict[str, argparse.Action]:
    """Each option's name without dashes -> its action, --help and -y included."""
    return {s.lstrip("-"): a for s, a in parser._option_string_actions.items()}


def option_for(parser, word: str) -> argparse.Action | None:
    """The option a bare word names (twins, --twins's; lang; a close spelling, twin), else None (maintainer tool)."""
    if Path(word).exists() or word.isdigit():
        return None
    key, options = word.lower().lstrip("-"), _long_options(parser)
    if key in options:
        return options[key]
    longs = [name for name in options if len(name) > 2]
    close = difflib.get_close_matches(key, longs, n=1, cutoff=0.8) if len(key) > 2 else []
    return options[close[0]] if close else None


def bare_options(parser, args, notebooks: list[str]) -> tuple[list[str], list[str]]:
    """Apply options typed without dashes to `args`, and say so: (notes, the chapters left) (maintainer tool)."""
    from helpers.modes import MODES

    notes, left, i = [], [], 0
    while i < len(notebooks):
        word = notebooks[i]
        action = option_for(parser, word)
        if action is None and word.lower() in MODES:  # hub, auto: a mode of TUTORIAL_MODELS, not an option
            args.models = word.lower()  # tools.run's corrected command starts with TUTORIAL_MODELS=hub
            notes.append(f"{word!r} is not a chapter: it is a value of the TUTORIAL_MODELS environment variable, "
                         "which goes before the command (TUTORIAL_MODELS=twins is the same as --twins).")
            i += 1
            continue
        if action is None:
            left.append(word)
            i += 1
            continue
        option = max(action.option_strings, key=len)
        said = f"{word!r} is not a chapter: it is tools.run's {option} option, which needs its dashes"
        if isinstance(action, argparse._StoreTrueAction) or action.nargs == 0:
            setattr(args, action.dest, True)
            notes.append(f"{said}: did you mean {option}? ({action.help})")
        elif i + 1 < len(notebooks):
            value, i = notebooks[i + 1], i + 1
            try:
                converted = action.type(value) if action.type else value
            except (argparse.ArgumentTypeError, TypeError, ValueError) as error:
                notes.append(f"{said}: did you mean {option} {value}? Also, {error}")
            else:
                if action.choices and converted not in action.choices:
                    notes.append(f"{said}: did you mean {option}? It takes one of {', '.join(action.choices)}, "
                                 f"not {value!r}.")
                else:
                    setattr(args, action.dest, converted)
                    notes.append(f"{said}: did you mean {option} {value}?")
        else:
            notes.append(f"{said} and a value: did you mean {option} ...? ({action.help})")
        i += 1
    return notes, left
