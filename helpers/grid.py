"""Side-by-side comparisons: diffusers' make_image_grid with a caption under each tile and an optional title.

Captions and titles are drawn by helpers.captions, which also finds a font for Chinese ones. 16-bit and float
tiles (depth maps) are stretched to 0–255, as the call check does.
true_size_row puts pictures of different sizes side by side at one scale, so that their sizes can be compared.
"""

from __future__ import annotations

import os
import warnings

from PIL import Image

from helpers.captions import PAD, pick_font, text_bar, warn_boxes, wrap
from helpers.i18n import _
from helpers.pictures import HIGH_BIT, stretch_to_8bit
from helpers.twins import TWIN_BANNER

MIN_COLUMN = 160  # true_size_row: the narrowest column, so a small picture's caption still fits
BACKDROP = "#d9d9d9"  # true_size_row: grey behind the pictures, so each one's edges show


def _stack(*parts: Image.Image) -> Image.Image:
    out = Image.new("RGB", (parts[0].width, sum(p.height for p in parts)), "white")
    y = 0
    for part in parts:
        out.paste(part, (0, y))
        y += part.height
    return out


def _listed(value):
    """A generator or other one-pass iterable as a list (it has no len()); anything else as it is."""
    import types

    if isinstance(value, (types.GeneratorType, map, filter, zip, range)) or type(value).__name__ in (
            "dict_values", "dict_keys"):  # ordered; a set is not, and is left for the check to refuse
        return list(value)
    return value


def _check_layout(images, captions, rows, cols) -> tuple[int, int]:
    if getattr(images, "ndim", None) == 4:  # the batch tensor or array output_type='pt' or 'np' returns
        raise TypeError(f"images is a {type(images).__name__} of shape {tuple(images.shape)}, a whole batch as "
                        "output_type='pt' or 'np' returns it. captioned_grid takes PIL pictures: call the pipeline "
                        "with output_type='pil' (the default), or convert: from diffusers.image_processor import "
                        "VaeImageProcessor; VaeImageProcessor.numpy_to_pil(VaeImageProcessor.pt_to_numpy(images)) "
                        "(for 'np', numpy_to_pil(images) alone).")
    if isinstance(images, Image.Image) or not isinstance(images, (list, tuple)) or not images:
        raise TypeError("images must be a non-empty list of PIL images, e.g. images=[init_image, output.images[0]].")
    for i, image in enumerate(images):
        if type(image).__name__ == "Frame" and hasattr(image, "estimate"):  # a step preview's frame
            raise TypeError(f"images[{i}] is a step preview Frame, which holds two pictures: pick one, "
                            "[frame.estimate for frame in preview.timeline()] (or frame.noisy), with "
                            "captions=[frame.caption for frame in ...].")
        if not isinstance(image, Image.Image):
            if isinstance(getattr(image, "image", None), Image.Image):  # a panel Result: a picture with its settings
                raise TypeError(f"images[{i}] is a panel {type(image).__name__}, a picture with the settings that "
                                "made it; its picture is .image: images=[r.image for r in panel.results], with "
                                "captions=[r.caption for r in panel.results].")
            if type(image).__name__ == "ndarray":
                if image.dtype.kind == "f":  # output_type="np" gives floats in [0, 1]
                    raise TypeError(f"images[{i}] is a numpy array of floats, not a PIL image (output_type='np' "
                                    "gives those). Leave output_type out (pictures are the default), or convert: "
                                    "pipeline.numpy_to_pil(array)[0].")
                raise TypeError(f"images[{i}] is a numpy array of {image.dtype}, not a PIL image; convert it: "
                                "Image.fromarray(array).")
            raise TypeError(
                f"images[{i}] is a {type(image).__name__}, not a PIL image; pass a picture, such as "
                "output.images[0] from a call with the default output_type='pil'."
            )
    n = len(images)
    if captions is not None and (isinstance(captions, str) or len(captions) != n):
        got = "a single string" if isinstance(captions, str) else f"{len(captions)} captions"
        fewer = not isinstance(captions, str) and len(captions) > n  # pictures missing, more often than captions extra
        raise ValueError(f"captions has {got} but there are {n} images; pass one caption per image, as a list." + (
            f" If you meant {len(captions)} pictures, the list holds fewer: check the loop that fills it (an "
            "images.append(...) outside the loop keeps only the last picture)." if fewer else ""))
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


def _tiles(images, size, who: str = "captioned_grid") -> list[Image.Image]:
    """The pictures as RGB tiles of one size (or a list of sizes, one each); 16-bit and float ones (depth maps)
    stretched to 0–255, said once."""
    tiles, deep = [], []
    sizes = size if isinstance(size, list) else [size] * len(images)
    for i, (im, each) in enumerate(zip(images, sizes, strict=True)):
        if im.mode in HIGH_BIT:  # a plain convert("RGB") clips every value above 255 to white
            grey, low, high = stretch_to_8bit(im)
            deep.append(f"images[{i}] ({im.mode}, values {low:g}–{high:g})")
            im = grey
        tiles.append(im.convert("RGB") if im.size == each else im.convert("RGB").resize(each, Image.LANCZOS))
    if deep:
        from helpers.checks import CallWarning

        warnings.warn(CallWarning(
            f"{who}: {', '.join(deep)} {'holds' if len(deep) == 1 else 'hold'} 16-bit or float values (a "
            "depth map, say): stretched from the lowest to the highest value to 0–255 to be shown, where a plain "
            ".convert('RGB') makes such a picture almost all white."), stacklevel=3)
    return tiles


def captioned_grid(images, captions=None, rows=None, cols=None, *, title=None, twin=None) -> Image.Image:
    """Tile images with diffusers.utils.make_image_grid, caption each tile, add a title and twin banner (ch. 1)."""
    from diffusers.utils import make_image_grid

    _check_title(title)
    images, captions = _listed(images), _listed(captions)  # e.g. captions=(f"s={s}" for s in strengths)
    rows, cols = _check_layout(images, captions, rows, cols)
    twin = _twin(twin)
    size = images[0].size
    if len(images) > 1 and all(im is images[0] for im in images):  # [pipeline(...).images[0]] * 3: one run
        from helpers.checks import CallWarning

        warnings.warn(CallWarning(
            f"all {len(images)} tiles are one and the same picture object: a list such as [picture] * "
            f"{len(images)} repeats one picture, and the pipeline ran once. For {len(images)} different pictures, "
            f"call it {len(images)} times: [pipeline(..., generator=make_generator(seed + i, device)).images[0] for i "
            f"in range({len(images)})]."), stacklevel=2)
    for i, im in enumerate(images[1:], start=1):
        if abs(im.width / im.height - size[0] / size[1]) > 0.02 * size[0] / size[1]:
            from helpers.checks import CallWarning

            warnings.warn(CallWarning(
                f"images[{i}] is {im.width}×{im.height} but every tile takes the first image's size "
                f"{size[0]}×{size[1]}, so it is drawn stretched. Crop the pictures to one shape first, or put the "
                "odd one first."), stacklevel=2)
    tiles = _tiles(images, size)
    missing = other = ""  # characters drawn as boxes: one warning for the whole grid
    if captions is not None:
        font, texts, missing, other = pick_font(captions, max(12, size[0] // 28))
        most = max(len(wrap(c, font, size[0] - 2 * PAD)) for c in texts)
        pairs = zip(tiles, texts, strict=True)
        tiles = [_stack(t, text_bar(c, size[0], font, "white", "black", most)) for t, c in pairs]
    grid = make_image_grid(tiles, rows=rows, cols=cols)
    return _finish(grid, title, twin, missing, other)


def _check_title(title, who: str = "captioned_grid") -> None:
    """Refuse a title that is not one text: a list drawn as its repr is a grid with no captions."""
    if title is not None and not isinstance(title, str):
        shown = repr(title) if len(repr(title)) <= 60 else repr(title)[:57] + "..."
        raise TypeError(f"{who} got title={shown}, a {type(title).__name__}: title is one text over the whole grid; "
                        "one label per picture goes in captions=[...].")


def _twin(twin) -> bool:
    """Whether to draw the twin banner: `twin` as given, or (None) whether the twins are in use."""
    if twin is None:
        return os.environ.get("TUTORIAL_MODE_ACTIVE") == "twins"
    if not isinstance(twin, bool):
        raise TypeError(f"twin must be True, False or None (None follows TUTORIAL_MODE_ACTIVE), got {twin!r}.")
    return twin


def _finish(grid: Image.Image, title, twin: bool, missing: str, other: str, who: str = "captioned_grid") -> Image.Image:
    """The twin banner and the title over `grid`; one warning for every character drawn as a box."""
    parts = []
    if twin:
        font, (text,), lost, odd = pick_font([_(TWIN_BANNER)], max(14, grid.width // 40))  # the chapter's language
        missing, other = missing + lost, other + odd
        parts.append(text_bar(text, grid.width, font, "#d00000", "white"))
    if title is not None:
        font, (text,), lost, odd = pick_font([title], max(14, grid.width // 36))
        missing, other = missing + lost, other + odd
        parts.append(text_bar(text, grid.width, font, "white", "black"))
    if missing or other:
        warn_boxes("".join(dict.fromkeys(missing)), "".join(dict.fromkeys(other)), who)
    return _stack(*parts, grid)


def true_size_row(images, captions=None, *, scale=None, max_width=2048, title=None, twin=None) -> Image.Image:
    """Pictures in one row at their true relative sizes (one scale for all), bottom-aligned and captioned (ch. 3)."""
    _check_title(title, "true_size_row")
    images, captions = _listed(images), _listed(captions)
    _check_layout(images, captions, 1, None)
    if isinstance(max_width, bool) or not isinstance(max_width, int) or max_width < 1:
        raise ValueError(f"max_width={max_width!r} must be a whole number of pixels above 0, e.g. max_width=2048.")
    twin = _twin(twin)
    n, given = len(images), scale is not None
    if scale is None:  # 1:1 where the row fits in max_width, else 1:2, 1:3 ...: a ratio a reader can say
        needed = sum(im.width for im in images) + 2 * PAD * (n - 1)
        scale = 1 / -(-needed // max_width)
    elif isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
        raise ValueError(f"scale={scale!r} must be a number above 0 (1 draws every picture at its own pixel size).")
    sizes = [(max(1, round(im.width * scale)), max(1, round(im.height * scale))) for im in images]
    drawn = sum(max(w, MIN_COLUMN) for w, _h in sizes) + 2 * PAD * (n - 1)
    while not given and drawn > max_width and any(w > MIN_COLUMN for w, _h in sizes):  # small ones' columns
        scale = 1 / (round(1 / scale) + 1)  # the next simple ratio: 1:2, 1:3, ...
        sizes = [(max(1, round(im.width * scale)), max(1, round(im.height * scale))) for im in images]
        drawn = sum(max(w, MIN_COLUMN) for w, _h in sizes) + 2 * PAD * (n - 1)
    if given and drawn > max_width:  # scale=50 meant as percent draws each picture 50 times its size
        percent = f"scale is a factor, not a percent: scale={scale / 100:g} for {scale:g} %, " if scale >= 10 else ""
        raise ValueError(f"scale={scale!r} draws each picture {scale:g} times its size: a row {drawn} px wide, over "
                         f"max_width={max_width}. {percent}scale=1 for true size; leave scale out to fit the row in "
                         f"max_width, or pass max_width={drawn} to draw it this wide.")
    if not given and drawn > max_width:  # scaling down cannot help: every column is at least MIN_COLUMN wide
        warnings.warn(f"true_size_row: max_width={max_width} cannot be met: each of the {n} columns is at least "
                      f"{MIN_COLUMN} px wide (room for its caption), so the row is {drawn} px wide. Pass "
                      f"max_width={drawn} or more (or leave it out), or put fewer pictures in one row.",
                      UserWarning, stacklevel=2)
    pictures = _tiles(list(images), sizes, "true_size_row")
    widths = [max(w, MIN_COLUMN) for w, _h in sizes]
    tallest = max(h for _w, h in sizes)
    row = Image.new("RGB", (sum(widths) + 2 * PAD * (n - 1), tallest), BACKDROP)
    bars, missing, other = [], "", ""
    if captions is not None:
        font, texts, missing, other = pick_font(captions, max(12, row.width // 100))
        most = max(len(wrap(c, font, w - 2 * PAD)) for c, w in zip(texts, widths, strict=True))
        bars = [text_bar(c, w, font, "white", "black", most) for c, w in zip(texts, widths, strict=True)]
    out = Image.new("RGB", (row.width, tallest + (bars[0].height if bars else 0)), "white")
    out.paste(row, (0, 0))
    x = 0
    for i, (picture, width) in enumerate(zip(pictures, widths, strict=True)):
        out.paste(picture, (x + (width - picture.width) // 2, tallest - picture.height))
        if bars:
            out.paste(bars[i], (x, tallest))
        x += width + 2 * PAD
    return _finish(out, title, twin, missing, other, "true_size_row")
