"""Command line: `python -m helpers run` executes every chapter notebook (the main job)."""

from __future__ import annotations

import argparse

from helpers.run import run_all


def main(argv=None) -> int:
    """Run the chapter notebooks headless in the current mode and write build/ (main job)."""
    parser = argparse.ArgumentParser(prog="python -m helpers")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute every chapter notebook and collect figures into build/")
    run.add_argument("notebooks", nargs="*", help="notebooks to run (default: all of notebooks/NN_*.ipynb)")
    run.add_argument("--timeout", type=int, default=600, help="seconds allowed per cell (default 600)")
    args = parser.parse_args(argv)
    failed = run_all(args.notebooks or None, timeout=args.timeout)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
