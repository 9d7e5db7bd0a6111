"""Command line: `python -m helpers.twins path|build [--full-size [--only REPO ...]]` (ch. 1)."""

from __future__ import annotations

import argparse
import sys

from helpers.twins import ensure_built, ensure_full_built


def main(argv=None) -> int:
    """Build the twin cache if needed and print its path as the last line (ch. 1)."""
    parser = argparse.ArgumentParser(prog="python -m helpers.twins", description=__doc__)
    parser.add_argument("command", choices=["path", "build"], help="path: build once, print the cache path; "
                        "build: rebuild from scratch")
    parser.add_argument("--full-size", action="store_true",
                        help="full-size twins: the real architectures with random weights, for speed measurements")
    parser.add_argument("--only", nargs="+", metavar="REPO", help="with --full-size: build only these repo ids")
    args = parser.parse_args(argv)
    log = lambda m: print(m, file=sys.stderr)  # noqa: E731
    if args.only and not args.full_size:
        parser.error("--only applies to --full-size builds; the tiny twins are always built together")
    if args.full_size:
        if args.command == "build":
            import shutil

            from helpers.twins import full_twin_cache

            shutil.rmtree(full_twin_cache(), ignore_errors=True)
        try:
            hub = ensure_full_built(args.only, log=log)
        except ValueError as err:
            parser.error(str(err))
        print("These are FULL-SIZE TWINS: real architectures, random weights. Images made with them are noise.",
              file=sys.stderr)
    else:
        hub = ensure_built(force=args.command == "build", log=log)
        print("These are TWINS: tiny random-weight models. Images made with them are noise.", file=sys.stderr)
    print(hub)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
