"""Maintainer tools, never imported by a notebook: main job, benchmarks, sweeps, full-size twins, training, checks.

`python -m tools.run` and `python -m tools.sweep` first check that this Python has the tutorial's packages: with the
system Python (the environment not activated) they say so, instead of a traceback about a missing module. Imports
from Python (tests, `from tools.sweep import run_sweep`) check nothing.
"""

from __future__ import annotations  # this file must run on an old system Python too, to say what is wrong

import sys

# the packages a command needs before it can do anything: (import name, pip name)
_NEEDS = {
    "tools.run": (("torch", "torch"), ("diffusers", "diffusers"), ("PIL", "Pillow"), ("nbformat", "nbformat"),
                  ("nbclient", "nbclient")),
    "tools.sweep": (("torch", "torch"), ("diffusers", "diffusers"), ("accelerate", "accelerate"), ("PIL", "Pillow")),
}


def _command() -> tuple[str | None, list[str]]:
    """The module `python -m` runs and its arguments, from the interpreter's own command line, else (None, [])."""
    argv = list(getattr(sys, "orig_argv", ()))[1:]
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "-m" and i + 1 < len(argv):
            return argv[i + 1], argv[i + 2:]
        if token.startswith("-m") and len(token) > 2:
            return token[2:], argv[i + 1:]
        if not token.startswith("-") or token in ("-c", "-"):  # a script or -c code: not -m
            break
        i += 2 if token in ("-X", "-W", "--check-hash-based-pycs") else 1
    return None, []


def _missing_packages_message(module: str, args: list[str], missing: list[str]) -> str:
    """What to do when this Python lacks the tutorial's packages: activate .venv, or set it up (README's command 1)."""
    import os
    import shlex
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    venv = root / ".venv"
    named = ", ".join(missing[:-1]) + " and " + missing[-1] if len(missing) > 1 else missing[0]
    command = shlex.join(["python", "-m", module, *args])
    setup = "pip install -r requirements-dev.txt -c constraints.txt"
    here = Path.cwd().resolve() == root
    this = f"python -m {module}: error: this Python ({sys.executable})"
    try:
        inside = Path(sys.prefix).resolve() == venv.resolve()
    except OSError:
        inside = False
    if inside:  # the environment is active, and its install is incomplete: activating again would not help
        cd = "" if here else f"cd {shlex.quote(str(root))} && "
        return (f"{this} is the tutorial's environment (.venv), and it lacks {named}: finish its setup with the "
                f"install step of README's command 1, then run the command again: {cd}{setup} && {command}")
    activate = ".venv\\Scripts\\activate" if os.name == "nt" else ". .venv/bin/activate"
    if not here:
        activate = f"cd {shlex.quote(str(root))} && {activate}"
    if not (venv / "pyvenv.cfg").exists():
        return (f"{this} lacks {named}, and the tutorial's environment (.venv) is not set up yet: run README's "
                f"command 1 to set it up, e.g. python3.11 -m venv .venv && . .venv/bin/activate && {setup}, "
                f"then: {command}")
    return (f"{this} lacks {named}: activate the tutorial's environment first (`{activate}`, as README's "
            f"commands do) or run README's command 1 to set it up. That is: {activate} && {command}")


def _check_packages() -> None:
    """Under `python -m tools.run` (or tools.sweep): stop with a plain message when a needed package is missing."""
    if sys.argv[:1] != ["-m"]:  # Python sets argv[0] to "-m" only while it looks for the module that -m names
        return
    if sys.version_info < (3, 11):  # noqa: UP036 (a system Python can be older than requires-python); every tool needs 3.11 (tomllib); sys.orig_argv is 3.10's
        version = ".".join(map(str, sys.version_info[:2]))
        print(f"python -m tools: error: this Python ({sys.executable}) is {version}, and the tutorial needs 3.11 "
              "or newer: activate the tutorial's environment first (`. .venv/bin/activate`, as README's commands "
              "do) or run README's command 1 to set it up (it makes .venv with python3.11).", file=sys.stderr)
        raise SystemExit(1)
    module, args = _command()
    if module not in _NEEDS:
        return
    from importlib.util import find_spec

    missing = [pip for name, pip in _NEEDS[module] if find_spec(name) is None]
    if missing:
        print(_missing_packages_message(module, args, missing), file=sys.stderr)
        raise SystemExit(1)


_check_packages()
