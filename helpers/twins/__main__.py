"""Command line: `python -m helpers.twins path|build|check` (ch. 1)."""

from __future__ import annotations

import argparse
import sys

from helpers.twins import REPAIR, WHAT_TWINS_ARE, TwinBuildError, ensure_built, twin_cache, verify


def check() -> int:
    """Verify the twin cache without building: print OK, or each problem and the repair command (ch. 1)."""
    hub = twin_cache()
    problems = verify(hub)
    if not problems:
        print(f"OK: the twin cache in {hub} matches its build record.")
        return 0
    print(f"The twin cache in {hub} has {len(problems)} problem{'s' * (len(problems) > 1)}:")
    for problem in problems:
        print(f"  {problem}")
    print(f"repair: {REPAIR}")
    return 1


def main(argv=None) -> int:
    """Build the twin cache if needed and print its path as the last line (ch. 1)."""
    parser = argparse.ArgumentParser(prog="python -m helpers.twins", description=__doc__)
    parser.add_argument("command", choices=["path", "build", "check"],
                        help="path: build once (or repair a damaged cache), print the cache path; "
                        "build: rebuild from scratch; check: verify the cache without building (exit 1 if damaged)")
    args = parser.parse_args(argv)
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    if args.command == "check":
        return check()
    try:  # returns only a cache that passed verify(), or one it has just built
        hub = ensure_built(force=args.command == "build", log=log)
    except TwinBuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"These are TWINS: {WHAT_TWINS_ARE}.", file=sys.stderr)
    print(hub)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
