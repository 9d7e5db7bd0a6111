"""Command line: `python -m helpers.twins path|build|check [--full-size [--only REPO ...]]` (ch. 1)."""

from __future__ import annotations

import argparse
import sys

from helpers.twins import REPAIR, TwinBuildError, ensure_built, ensure_full_built, twin_cache, verify


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
    parser.add_argument("--full-size", action="store_true",
                        help="full-size twins: the real architectures with random weights, for speed measurements")
    parser.add_argument("--only", nargs="+", metavar="REPO", help="with --full-size: build only these repo ids")
    args = parser.parse_args(argv)
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    if args.only and not args.full_size:
        parser.error("--only applies to --full-size builds; the tiny twins are always built together")
    if args.command == "check":
        if args.full_size:
            parser.error("check verifies the tiny twins; full-size twins are not checked")
        return check()
    if args.full_size:
        if args.command == "build":
            import shutil

            from helpers.twins import full_twin_cache

            shutil.rmtree(full_twin_cache(), ignore_errors=True)
        try:
            hub = ensure_full_built(args.only, log=log)
        except ValueError as err:
            parser.error(str(err))
        except TwinBuildError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print("These are FULL-SIZE TWINS: real architectures, random weights. Images made with them are noise.",
              file=sys.stderr)
    else:
        try:  # returns only a cache that passed verify(), or one it has just built
            hub = ensure_built(force=args.command == "build", log=log)
        except TwinBuildError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        from helpers.twins import WHAT_TWINS_ARE

        print(f"These are TWINS: {WHAT_TWINS_ARE}.", file=sys.stderr)
    print(hub)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
