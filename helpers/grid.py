"""Side-by-side comparisons: diffusers' make_image_grid with a caption under each tile and an optional title."""

from __future__ import annotations

import os

from PIL import Image, ImageDraw, ImageFont

TWIN_BANNER = "TWIN MODELS — random weights: these images are noise, not the lesson's result"
PAD = 6


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType, or older than 10.1
        return ImageFont.load_default()


def _drawable(text: str) -> str:
    """Swap dashes the bundled font lacks for ASCII ones."""
    return str(text).replace("\u2014", "-").replace("\u2013", "-")


def _wrap(text: str, font, width: int) -> list[str]:
    """Break text into lines no wider than `width` pixels (long words are left whole)."""
    lines: list[str] = []
    for paragraph in str(text).splitlines() or [""]:
        line = ""
        for word in paragraph.split(" "):
            trial = f"{line} {word}" if line else word
            if line and font.getlength(trial) > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return lines


def _text_bar(text: str, width: int, font, fill: str, ink: str, lines: int | None = None) -> Image.Image:
    """A strip of `width` px holding wrapped, centred text; `lines` fixes its height."""
    wrapped = _wrap(_drawable(text), font, width - 2 * PAD)
    line_height = font.getbbox("Ag")[3] + 4
    bar = Image.new("RGB", (width, (lines or len(wrapped)) * line_height + 2 * PAD), fill)
    draw = ImageDraw.Draw(bar)
    for i, line in enumerate(wrapped):
        x = max(PAD, (width - font.getlength(line)) / 2)
        draw.text((x, PAD + i * line_height), line, font=font, fill=ink)
    return bar


def _stack(*parts: Image.Image) -> Image.Image:
    out = Image.new("RGB", (parts[0].width, sum(p.height for p in parts)), "white")
    y = 0
    for part in parts:
        out.paste(part, (0, y))
        y += part.height
    return out


def _check_layout(images, captions, rows, cols) -> tuple[int, int]:
    if isinstance(images, Image.Image) or not isinstance(images, (list, tuple)) or not images:
        raise TypeError("images must be a non-empty list of PIL images, e.g. images=[init_image, output.images[0]].")
    for i, image in enumerate(images):
        if not isinstance(image, Image.Image):
            raise TypeError(
                f"images[{i}] is a {type(image).__name__}, not a PIL image; pass output.images[0] "
                "or use output_type='pil'."
            )
    n = len(images)
    if captions is not None and (isinstance(captions, str) or len(captions) != n):
        got = "a single string" if isinstance(captions, str) else f"{len(captions)} captions"
        raise ValueError(f"captions has {got} but there are {n} images; pass one caption per image, as a list.")
    for name, value in (("rows", rows), ("cols", cols)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ValueError(f"{name}={value!r} must be a whole number >= 1.")
    if rows is None and cols is None:
        rows, cols = 1, n
    elif rows is None:
        rows = n // cols if n % cols == 0 else n
    elif cols is None:
        cols = n // rows if n % rows == 0 else n
    if rows * cols != n:
        raise ValueError(f"rows={rows} x cols={cols} = {rows * cols} tiles, but there are {n} images; "
                         f"make rows * cols == {n} (e.g. rows=1, cols={n}).")
    return rows, cols


def captioned_grid(images, captions=None, rows=None, cols=None, *, title=None, twin=None) -> Image.Image:
    """Tile images with diffusers.utils.make_image_grid, caption each tile, add a title and twin banner (ch. 1)."""
    from diffusers.utils import make_image_grid

    rows, cols = _check_layout(images, captions, rows, cols)
    if twin is None:
        twin = os.environ.get("TUTORIAL_MODE_ACTIVE") == "twins"
    elif not isinstance(twin, bool):
        raise TypeError(f"twin must be True, False or None (None follows TUTORIAL_MODE_ACTIVE), got {twin!r}.")
    size = images[0].size
    tiles = [im.convert("RGB") if im.size == size else im.convert("RGB").resize(size, Image.LANCZOS) for im in images]
    font = _font(max(12, size[0] // 28))
    if captions is not None:
        most = max(len(_wrap(_drawable(c), font, size[0] - 2 * PAD)) for c in captions)
        pairs = zip(tiles, captions, strict=True)
        tiles = [_stack(t, _text_bar(c, size[0], font, "white", "black", most)) for t, c in pairs]
    grid = make_image_grid(tiles, rows=rows, cols=cols)
    parts = []
    if twin:
        parts.append(_text_bar(TWIN_BANNER, grid.width, _font(max(14, grid.width // 40)), "#d00000", "white"))
    if title is not None:
        parts.append(_text_bar(str(title), grid.width, _font(max(14, grid.width // 36)), "white", "black"))
    return _stack(*parts, grid)
