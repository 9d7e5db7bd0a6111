"""The sweep's argparse types: each refusal names the option's form and a value that works (maintainer tool).

`--guidance 7,5`, `--seeds 0,1,2`, `--size 64x64`: argparse adds "argument --X:" in front of each message.
"""

from __future__ import annotations

import argparse

_LIMIT = 2**63  # make_generator takes seeds in [0, 2**63)


def _parts(text: str, convert) -> list | None:
    """The values in one word typed with commas (0,1,2 or 7,5), when each part is one; else None."""
    parts = [part for part in text.replace(";", ",").split(",") if part.strip()]
    if "," not in text.replace(";", ",") or not parts:
        return None
    try:
        return [convert(part.strip()) for part in parts]
    except ValueError:
        return None


def _shown(values) -> str:
    return " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values)


def guidance_arg(text: str) -> float:
    """argparse type: a guidance_scale of 0 or more, as the chapter's cells take it (ch. 1)."""
    import math

    try:
        value = float(text)
    except ValueError:
        parts = _parts(text, float)
        if parts is None:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number: --guidance takes numbers separated by "
                                             "spaces, e.g. --guidance 1 5 10") from None
        if len(parts) == 2 and text.split(",")[1].strip().isdigit():  # 7,5: two values, or a decimal comma
            raise argparse.ArgumentTypeError(f"{text!r} has a comma: for two values, separate them with a space "
                                             f"(--guidance {_shown(parts)}); for one, write the decimal with a "
                                             f"point (--guidance {text.replace(',', '.')})") from None
        raise argparse.ArgumentTypeError(f"{text!r} has a comma: --guidance takes numbers separated by spaces: "
                                         f"--guidance {_shown(parts)}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not a guidance scale: use 0 or more (1 or less switches "
                                         "guidance off, 5 to 8 is usual, 10+ follows the prompt closely)")
    return value


def seed_arg(text: str) -> int:
    """argparse type: one seed, a whole number from 0; 0,1,2 is told to put spaces between them (ch. 1)."""
    try:
        value = int(text)
    except ValueError:
        parts = _parts(text, int)
        if parts is not None:
            example = _shown(parts) if len(parts) > 1 else "0 1 2"
            raise argparse.ArgumentTypeError(f"{text!r} has a comma: --seeds takes whole numbers separated by "
                                             f"spaces: --seeds {example}") from None
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number: --seeds takes whole numbers from 0, "
                                         "separated by spaces: --seeds 0 1 2") from None
    if not 0 <= value < _LIMIT:
        raise argparse.ArgumentTypeError(f"{value} is not a seed: seeds are whole numbers from 0 to 2**63 - 1 "
                                         "(make_generator refuses others), e.g. --seeds 0 1 2")
    return value


def size_arg(text: str) -> int:
    """argparse type: --size, one side of the square tiles in pixels; 64x64 (width × height) is told so (ch. 1)."""
    import re

    try:
        value = int(text)
    except ValueError:
        pair = re.fullmatch(r"\s*(\d+)\s*[xX×*,:/]\s*(\d+)\s*", text)
        if pair is None:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number: --size is one side in pixels (the "
                                             "grid's tiles are square), e.g. --size 256") from None
        width, height = int(pair[1]), int(pair[2])
        if width == height:
            raise argparse.ArgumentTypeError(f"{text!r} gives two sides, but --size is one side in pixels (the "
                                             f"grid's tiles are square): --size {width}") from None
        raise argparse.ArgumentTypeError(f"{text!r} gives two different sides, but the grid's tiles are square and "
                                         f"--size is their one side in pixels: --size {width} or --size {height} "
                                         "(for another shape, call run_sweep from Python)") from None
    if value < 8:  # refused here, before anything loads, with the option's own spelling
        raise argparse.ArgumentTypeError(f"{value} is too small: --size is one side of the tiles in pixels, a "
                                         "multiple of 8 such as 64 or 256")
    if value % 8:
        lower = value - value % 8
        raise argparse.ArgumentTypeError(f"{value} is not a multiple of 8, and the VAE works on 8-pixel blocks: "
                                         f"--size {lower} or --size {lower + 8}")
    return value


def positive_arg(text: str) -> int:
    """argparse type: a whole number of at least 1 (ch. 1)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more (20 is usual)")
    return value
