"""The chapter's input images: download once and cache, or build an offline stand-in; plus masks for inpainting."""

from __future__ import annotations

import http.client
import io
import numbers
import os
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps, UnidentifiedImageError

from helpers.paths import cache_dir, env_flag
from helpers.pictures import flatten

_DOCS = "https://huggingface.co/datasets/huggingface/documentation-images/resolve/main/diffusers/"
CHAPTER_IMAGES: dict[str, str] = {
    "img2img-init": _DOCS + "img2img-init.png",
    "inpaint": _DOCS + "inpaint.png",
    "inpaint_mask": _DOCS + "inpaint_mask.png",
    "control": "https://huggingface.co/lllyasviel/control_v11f1p_sd15_depth/resolve/main/images/control.png",
}

MAX_MEGAPIXELS = 40  # refuse larger images before decoding them (decompression-bomb guard)
MAX_DOWNLOAD_BYTES = 64 * 2**20
TIMEOUT_S = 10
STAND_IN_SIZE = 512
CAT_MASK_ELLIPSE = (200, 305, 440, 495)  # nose and mouth of the offline cat

STAND_IN_DESCRIPTIONS = {
    "img2img-init": "scikit-image astronaut photo",
    "inpaint": "scikit-image cat photo (chelsea), cropped to 512x512",
    "inpaint_mask": "white ellipse over the stand-in cat's nose and mouth",
    # the real control.png is the depth map of the ControlNet model card's own example (a lecture hall), not of
    # img2img-init.png (source: control_net_depth.py and README.md in
    # https://huggingface.co/lllyasviel/control_v11f1p_sd15_depth); its stand-in is therefore another scene too
    "control": "true depth map of a rendered scene (a ball and posts on a ground plane; another scene than the "
               "start image), near is bright as in the real one",
}
CONTROL_SCENE = 2_000_001  # seed of the rendered scene (helpers/twins/scenes.py) whose depth map stands in


def _offline(offline: bool | None) -> str:
    """Return why we are offline ("" when online is allowed)."""
    if offline is not None:
        if not isinstance(offline, bool):
            raise TypeError(f"offline must be True, False or None, got {offline!r}.")
        return "offline=True" if offline else ""
    for var in ("TUTORIAL_OFFLINE", "HF_HUB_OFFLINE"):
        if env_flag(var):
            return f"{var}={os.environ[var]}"
    return ""


def _check_url(url: str, parameter: str) -> None:
    if urllib.parse.urlparse(url).scheme not in ("http", "https"):
        raise ValueError(f"{parameter}={url!r}: only http(s) URLs and local paths are accepted.")


def _download(url: str) -> bytes:
    """Fetch the bytes behind an http(s) URL (10 s timeout, size-capped)."""
    _check_url(url, "url")
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # scheme checked above
        data = response.read(MAX_DOWNLOAD_BYTES + 1)
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise ValueError(f"{url} is larger than {MAX_DOWNLOAD_BYTES // 2**20} MiB; refusing to load it.")
    return data


def _open_guarded(source, label: str) -> Image.Image:
    """Open an image, refuse it if it is over MAX_MEGAPIXELS, then decode it fully."""
    image = Image.open(source)
    width, height = image.size
    if width * height > MAX_MEGAPIXELS * 1_000_000:
        raise ValueError(
            f"{label} is {width}x{height} ({width * height / 1e6:.0f} megapixels), over the "
            f"{MAX_MEGAPIXELS}-megapixel limit; shrink it first (diffusion models work at about 512-1024 px)."
        )
    image.load()
    return image


def _stand_in(name: str) -> Image.Image:
    """Build the offline replacement for one chapter image from scikit-image's bundled photos."""
    from skimage import data

    if name == "img2img-init":
        return Image.fromarray(data.astronaut()).convert("RGB")
    if name == "control":
        from helpers.twins.scenes import render

        _, inverse = render(CONTROL_SCENE, STAND_IN_SIZE, STAND_IN_SIZE)
        return Image.fromarray((inverse * 255).round().astype(np.uint8)).convert("RGB")
    if name == "inpaint":
        cat = data.chelsea()
        height, width = cat.shape[:2]
        left = (width - height) // 2
        square = Image.fromarray(cat[:, left:left + height])
        return square.resize((STAND_IN_SIZE, STAND_IN_SIZE), Image.LANCZOS).convert("RGB")
    return make_mask((STAND_IN_SIZE, STAND_IN_SIZE), ellipse=CAT_MASK_ELLIPSE).convert("RGB")


def _whole(value) -> bool:
    """An int or a numpy integer, not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check_size(size) -> tuple[int, int]:
    ok = isinstance(size, (tuple, list)) and len(size) == 2
    if not ok or not all(_whole(v) and v > 0 for v in size):
        raise ValueError(f"size={size!r} must be (width, height) in positive pixels, e.g. size=(512, 512).")
    return int(size[0]), int(size[1])


def _cached_or_downloaded(name: str, why_offline: str) -> tuple[Image.Image | None, str]:
    """Return (image, where-from) from the cache or the chapter URL, or (None, why not)."""
    path = cache_dir() / "images" / f"{name}.png"
    kept = ""  # a file in the cached image's place that cannot be used: never deleted, never overwritten
    if path.is_file():
        try:
            return _open_guarded(path, "it").convert("RGB"), f"cached at {path}"
        except (OSError, ValueError, Image.DecompressionBombError) as err:
            # it may be the learner's own photo (a HEIC, a 50 MP scan) saved under this name: it stays where it is
            if isinstance(err, UnidentifiedImageError):
                reason = "Pillow cannot read it as an image"
            elif isinstance(err, (ValueError, Image.DecompressionBombError)):
                reason = str(err).split(";")[0]
            else:  # cannot be opened at all: no permission, an I/O error
                reason = f"{type(err).__name__}: {err.strerror or err}"
            kept = (f"{path} is there but cannot be used ({reason}); it was left as it is: rename or remove it to "
                    "let the chapter image be cached there")
    if why_offline:
        return None, f"offline mode: {why_offline}" + (f"; {kept}" if kept else "")
    try:
        image = _open_guarded(io.BytesIO(_download(CHAPTER_IMAGES[name])), f"image {name!r}").convert("RGB")
    except (OSError, ValueError, http.client.HTTPException) as err:
        return None, f"the chapter URL was not reachable: {type(err).__name__}" + (f"; {kept}" if kept else "")
    if kept:
        return image, f"downloaded, not cached: {kept}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
        try:
            image.save(tmp, format="PNG")
        except OSError:
            tmp.close()
            os.unlink(tmp.name)
            raise
    os.replace(tmp.name, path)
    return image, f"downloaded, cached at {path}"


def load_chapter_image(name: str, *, size: tuple[int, int] | None = None, offline: bool | None = None) -> Image.Image:
    """Return one of the chapter's input images as RGB, from cache, URL or an offline stand-in (ch. 1, 4, 5)."""
    if name not in CHAPTER_IMAGES:
        stem = Path(str(name)).stem if isinstance(name, (str, os.PathLike)) else None
        if stem in CHAPTER_IMAGES:  # "inpaint_mask.png": the chapter image's file name
            raise ValueError(f"name={str(name)!r}: chapter images are named without a folder or extension; "
                             f"pass name={stem!r}.")
        own = isinstance(name, (str, os.PathLike)) and (os.sep in str(name) or "/" in str(name) or "." in str(name))
        if own:  # a path or a file name: the learner's own picture
            raise ValueError(f"name={str(name)!r} looks like a file of your own; load_chapter_image loads only the "
                             f"chapter's pictures ({', '.join(CHAPTER_IMAGES)}). Load your file with "
                             f"load_image_file({str(name)!r}) (from helpers.images), which also takes a URL.")
        raise ValueError(f"name={name!r} is not a chapter image; pass one of: {', '.join(CHAPTER_IMAGES)}.")
    target = _check_size(size) if size is not None else None
    image, where = _cached_or_downloaded(name, _offline(offline))
    if image is not None:
        source = "chapter URL"
        print(f"image {name!r}: chapter URL ({where})")
    else:
        image = _stand_in(name)
        source = "offline stand-in"
        print(f"image {name!r}: offline stand-in — {STAND_IN_DESCRIPTIONS[name]} ({where})")
    if target is not None and image.size != target:
        image = image.resize(target, Image.LANCZOS)
    image.info["tutorial_source"] = source
    return image


def load_image_file(path_or_url) -> Image.Image:
    """Load your own image from a local path or an http(s) URL as RGB, refusing huge images (ch. 1)."""
    if not isinstance(path_or_url, (str, os.PathLike)):
        raise TypeError(f"path_or_url must be a str or Path, got {type(path_or_url).__name__}.")
    text = os.fspath(path_or_url)
    scheme = urllib.parse.urlparse(text).scheme if isinstance(text, str) else ""
    if scheme in ("http", "https"):
        try:
            data = _download(text)
        except (OSError, http.client.HTTPException) as err:
            raise ConnectionError(
                f"path_or_url={text!r} could not be downloaded ({type(err).__name__}: {err}). Check the address "
                "and your connection, or download the file yourself and pass its local path."
            ) from err
        try:
            image = _open_guarded(io.BytesIO(data), text)
        except UnidentifiedImageError as err:
            raise ValueError(
                f"path_or_url={text!r} did not return an image (got {len(data)} bytes starting {data[:16]!r}). "
                "Link to the image file itself (.png, .jpg), not to the web page that shows it."
            ) from err
    elif len(scheme) > 1:  # one letter is a Windows drive such as C:
        raise ValueError(
            f"path_or_url={text!r} uses the {scheme}: scheme; only http(s) URLs and local paths are accepted."
        )
    else:
        path = Path(text).expanduser()  # "~/me.png", as a shell would read it
        if path.is_dir():
            pictures = sorted(p.name for p in path.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"))
            example = f", e.g. {str(Path(text) / pictures[0])!r}" if pictures else ""
            raise IsADirectoryError(f"path_or_url={text!r} is a folder, not a picture: pass one file in it{example}."
                                    + (f" It holds {len(pictures)} pictures." if pictures else ""))
        if not path.is_file():
            if len(text) > 2 and text[0] == text[-1] and text[0] in "\"'":  # Windows' "Copy as path" adds quotes
                inner = text[1:-1]
                there = " (that file is there)" if Path(inner).expanduser().is_file() else ""
                raise FileNotFoundError(
                    f"path_or_url={text!r} has quote marks inside the string, as Windows' 'Copy as path' puts them, "
                    f"so no file has that name. Drop them: load_image_file(r{inner!r}){there}.")
            chapter = Path(text).stem if Path(text).stem in CHAPTER_IMAGES and len(Path(text).parts) == 1 else None
            if chapter:  # the name of a chapter picture: that loader fetches it (and has an offline stand-in)
                raise FileNotFoundError(
                    f"path_or_url={text!r} is not a file here: {chapter!r} is the name of one of the chapter's "
                    f"pictures, which load_chapter_image fetches. Use load_chapter_image({chapter!r}); "
                    "load_image_file opens your own files.")
            raise FileNotFoundError(
                f"path_or_url={text!r} is not a file; check the spelling (relative paths start at {Path.cwd()})."
            )
        try:
            image = _open_guarded(path, path.name)
        except UnidentifiedImageError as err:
            raise ValueError(f"path_or_url={text!r} is not an image file Pillow can read; "
                             "convert it to PNG or JPEG first.") from err
    image = ImageOps.exif_transpose(image)
    if image.mode != "RGB":
        mode, (image, change) = image.mode, flatten(image)  # the pipeline-call check's own conversion
        print(f"load_image_file: converted mode {mode} -> RGB" + (f" ({change})" if change else ""))
    return image


def _check_shape(shape, parameter: str, width: int, height: int) -> tuple[int, int, int, int]:
    ok = isinstance(shape, (tuple, list, np.ndarray)) and len(shape) == 4
    if ok and all(_whole(v) for v in shape):
        left, top, right, bottom = (int(v) for v in shape)  # numpy integers (from arrays, np.where) are whole too
    elif ok and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in shape):
        shown = tuple(int(v) if _whole(v) else float(v) for v in shape)
        if all(0 <= v <= 1 for v in shape):  # fractions of the picture, as chapter 3 writes a region
            pixels = (round(shape[0] * width), round(shape[1] * height), round(shape[2] * width),
                      round(shape[3] * height))
            raise ValueError(f"{parameter}={shown} looks like fractions of the picture, and it takes pixels "
                             f"(left, top, right, bottom). For this {width}×{height} picture: {parameter}={pixels}.")
        raise ValueError(f"{parameter}={shown} must be (left, top, right, bottom) in whole pixels; round them "
                         f"first: {parameter}=tuple(round(v) for v in {parameter}).")
    else:
        raise ValueError(f"{parameter}={shape!r} must be (left, top, right, bottom) in whole pixels.")
    if not (0 <= left < right <= width and 0 <= top < bottom <= height):
        given = (left, top, right, bottom)
        text = (f"{parameter}={given} is (left, top, right, bottom): two corners in pixels, so the 3rd and 4th "
                "numbers are where the shape ends, not its width and height.")
        need = f"need 0 <= left < right <= {width} and 0 <= top < bottom <= {height}"
        if right > left and bottom > top:
            raise ValueError(f"{text} These corners do not fit the {width}x{height} mask: {need}.")
        corners = (left, top, left + right, top + bottom)  # the same numbers read as (x, y, width, height)
        fits = 0 <= left < corners[2] <= width and 0 <= top < corners[3] <= height
        raise ValueError(f"{text} Here right <= left or bottom <= top, so there is no shape. " + (
            f"If you meant (x, y, width, height), the corners are {parameter}={corners}." if fits else
            f"Read as (x, y, width, height) it would not fit the {width}x{height} mask either: {need}."))
    return left, top, right, bottom


def make_mask(size=(512, 512), *, box=None, ellipse=None, feather: int = 0) -> Image.Image:
    """Return an "L" inpainting mask: white (255) = repaint, black (0) = keep, from a box and/or ellipse (ch. 5)."""
    width, height = _check_size(size)
    if box is None and ellipse is None:
        raise ValueError("make_mask needs box=(left, top, right, bottom) or ellipse=(left, top, right, bottom).")
    if not _whole(feather) or feather < 0:
        raise ValueError(f"feather={feather!r} must be a whole number of pixels >= 0, e.g. feather=8.")
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    sides = []  # each shape's smaller side: a feather much wider than it blurs the shape away
    if box is not None:
        left, top, right, bottom = _check_shape(box, "box", width, height)
        draw.rectangle((left, top, right - 1, bottom - 1), fill=255)
        sides.append(("box", min(right - left, bottom - top)))
    if ellipse is not None:
        left, top, right, bottom = _check_shape(ellipse, "ellipse", width, height)
        draw.ellipse((left, top, right - 1, bottom - 1), fill=255)
        sides.append(("ellipse", min(right - left, bottom - top)))
    if feather:
        mask = mask.filter(ImageFilter.GaussianBlur(int(feather)))
        _check_feather(mask, int(feather), sides)
    return mask


def _check_feather(mask: Image.Image, feather: int, sides: list) -> None:
    """Refuse a feather so wide that the shape fades below mid-grey; warn where its middle is no longer white."""
    brightest = mask.getextrema()[1]
    if brightest >= 200:  # a quarter of the side keeps a box at 234, an ellipse at 219
        return
    name, side = max(sides, key=lambda s: s[1])  # the shape that keeps the most white
    keep = max(1, side // 4)
    said = (f"make_mask(feather={feather}) blurs the {side} px {name} so far that its brightest pixel is "
            f"{brightest} of 255 (white is 255): feather is the blur's width in pixels, and it is "
            f"{'wider than' if feather * 2 > side else 'a large part of'} the shape. A feather of at most a quarter "
            f"of the shape's smaller side keeps it: feather={keep}.")
    if brightest < 128:  # inpainting repaints only pixels of 128 or more: this mask would repaint nothing
        raise ValueError(f"{said} As it is, the inpainting pipelines (which repaint only pixels of 128 or more) "
                         "would repaint nothing.")
    import warnings

    warnings.warn(said, UserWarning, stacklevel=3)


def check_not_a_photo(mask: Image.Image, where: str) -> None:
    """Refuse a colour picture where a mask goes: its brightness would be read as the mask (ch. 5)."""
    if mask.mode not in ("RGB", "RGBA"):
        return
    rgb = np.asarray(mask.convert("RGB").resize((64, 64)), dtype=np.int16)
    colour = float(np.abs(rgb - rgb.mean(axis=2, keepdims=True)).mean())  # 0 for greys, black and white
    alpha = np.asarray(mask.getchannel("A")) if mask.mode == "RGBA" else None
    if colour > 6 and alpha is not None and alpha.min() < 128 <= alpha.max():
        raise ValueError(f"{where} got a colour picture ({mask.width}×{mask.height}) with a transparent part: a "
                         "mask kept in transparency (as some editors and OpenAI's tools make it). The transparent "
                         "part is what they repaint; as a mask here (white = repaint): "
                         "ImageOps.invert(picture.getchannel('A')).")
    if colour > 6:
        raise ValueError(f"{where} got a colour picture ({mask.width}×{mask.height}), not a mask: its brightness "
                         "would be read as the mask (white = repaint, black = keep), and about half of any photo "
                         "is bright. Pass the mask itself, e.g. make_mask(...), painter.mask or "
                         "load_image_file('mask.png').convert('L').")


def mask_coverage(mask) -> float:
    """Return the fraction of the mask that will be repainted (pixels >= 128; an RGBA mask's alpha) (ch. 5)."""
    if not isinstance(mask, Image.Image):
        raise TypeError(f"mask must be a PIL image (e.g. from make_mask), got {type(mask).__name__}.")
    check_not_a_photo(mask, "mask_coverage")
    if mask.mode in ("RGBA", "LA") and len(set(mask.getchannel("A").getextrema())) > 1:
        mask = mask.getchannel("A")  # an editor's export: painted in alpha, as the pipeline call reads it too
    return float((np.asarray(mask.convert("L")) >= 128).mean())
