"""Saving the panel's pictures: PNG bytes for the widgets, and files that are never overwritten by accident."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

from PIL import Image


def png_bytes(image: Image.Image, max_side: int | None = None) -> bytes:
    """The picture as PNG bytes, shrunk to `max_side` for thumbnails (ch. 1–5)."""
    if max_side and max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side))
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def write_png(path: Path, image: Image.Image, info, overwrite: bool) -> None:
    """Write a PNG that never replaces a file by accident and is never left half-written (ch. 1–5)."""
    # "xb" creates the file or fails, in one step, so two panels saving at once cannot both get the name;
    # overwrite=True writes beside the old file and swaps it in only when complete
    target = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp") if overwrite else path
    with open(target, "wb" if overwrite else "xb") as f:
        try:
            image.save(f, format="PNG", pnginfo=info)
        except BaseException:
            f.close()
            target.unlink()  # ours, just created: a full disk must not leave an empty PNG behind
            raise
    if overwrite:
        os.replace(target, path)


def html_text(text: str) -> str:
    """Text made safe to show in an HTML widget (ch. 1–5)."""
    import html

    return html.escape(text)
