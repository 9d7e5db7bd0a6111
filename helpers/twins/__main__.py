"""Command line: `python -m helpers.twins path|build|check` (ch. 1)."""

from __future__ import annotations

import argparse
import sys

from helpers.twins import ensure_built


def main(argv=None) -> int:
    """Build the twin cache if needed and print its path as the last line (ch. 1)."""
    parser = argparse.ArgumentParser(prog="python -m helpers.twins", description=__doc__)
    parser.add_argument("command", choices=["path", "build"], help="path: build once, print the cache path; "
                        "build: rebuild from scratch")
    args = parser.parse_args(argv)
    hub = ensure_built(force=args.command == "build", log=lambda m: print(m, file=sys.stderr))
    print("These are TWINS: tiny random-weight models. Images made with them are noise.", file=sys.stderr)
    print(hub)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
