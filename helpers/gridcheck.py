"""diffusers' make_image_grid, checked while the call checks are on: pictures of different sizes.

`make_image_grid(images, rows, cols)` (diffusers.utils, used throughout diffusers' docs) cuts the grid into tiles
the size of the first picture and pastes every picture at its full size into its tile: a larger one is cut off by
the next tile or the grid's edge, a smaller one leaves a black margin. Neither is said. helpers.grid's
captioned_grid scales every picture to one tile; true_size_row keeps their true sizes side by side.
"""

from __future__ import annotations

import sys

from helpers.callwarning import warn_call

_GRID: dict = {}  # the module attributes replaced while the checks are on -> diffusers' own function


def check_grid(images, rows, cols, resize=None) -> None:
    """Say when pictures of different sizes would be cut to the first one's tile (ch. 1–5)."""
    from PIL import Image

    if isinstance(images, Image.Image) or not isinstance(images, (list, tuple)) or len(images) != rows * cols:
        return  # diffusers' own error, and its note, say what it takes
    sizes = [im.size for im in images if isinstance(im, Image.Image)]
    if resize is None and len(set(sizes)) > 1:
        w, h = sizes[0]
        other = next(s for s in sizes if s != sizes[0])
        warn_call(f"make_image_grid: the pictures differ in size ({w}x{h} first, {other[0]}x{other[1]} among them), "
                  f"and it makes every tile {w}x{h}, the first one's size, and pastes each picture unscaled: a larger "
                  "one shows only its top-left part, a smaller one leaves black around it. Scale them to one size "
                  "with captioned_grid(images) (helpers.grid), compare true sizes with true_size_row(images), or "
                  "pass resize=512.")


def wrap_make_image_grid() -> None:
    """While the checks are on, check diffusers' make_image_grid before it runs (ch. 1–5)."""
    module = sys.modules.get("diffusers.utils.pil_utils")
    original = getattr(module, "make_image_grid", None)
    if original is None or _GRID or hasattr(original, "_tutorial_original"):
        return

    def make_image_grid(images, rows, cols, resize=None):
        if _GRID:  # a name imported while the checks were on stays this function: checked only while they are
            check_grid(images, rows, cols, resize)
        return original(images, rows, cols, resize)

    make_image_grid.__doc__, make_image_grid._tutorial_original = original.__doc__, original
    for name in ("diffusers.utils.pil_utils", "diffusers.utils", "diffusers"):
        holder = sys.modules.get(name)
        if holder is not None and holder.__dict__.get("make_image_grid") is original:
            _GRID[name] = original
            holder.make_image_grid = make_image_grid


def unwrap_make_image_grid() -> None:
    """Give diffusers its own make_image_grid back (ch. 1–5)."""
    for name, original in list(_GRID.items()):
        holder = sys.modules.get(name)
        if holder is not None:
            holder.make_image_grid = original
        del _GRID[name]
