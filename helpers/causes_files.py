"""Causes confirmed from the files involved: what a file really holds, where it is, and which import failed.

Each function takes the error and its CallFacts and returns (what it means, how to fix it), or None. A file's
first bytes tell a web page, a Git LFS pointer, an iPhone HEIC photo or an SVG drawing from a damaged download, and
a weights file outside the Hugging Face cache is the learner's own, which no cache repair touches.
"""

from __future__ import annotations

import importlib.util
import os
import re
import traceback

from helpers.callfacts import CallFacts

LOADERS = ("load_attn_procs", "load_lora_weights", "load_textual_inversion", "load_ip_adapter", "from_single_file")
WEIGHT_FILE = re.compile(r"\.(safetensors|bin|ckpt|pt|pth|pkl|pickle)$", re.IGNORECASE)


def sniff(path) -> str | None:
    """What a file's first bytes say it is: 'html', 'lfs', 'heic', 'avif', 'svg', or None (every chapter)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(512)
    except OSError:
        return None
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text[:200]:
        return "html"
    if text.startswith(b"version https://git-lfs"):
        return "lfs"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "avif" if brand in (b"avif", b"avis") else "heic" if brand in (b"heic", b"heix", b"mif1", b"msf1",
                                                                                b"hevc") else None
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "svg"
    return None


def weights_kind(path) -> str | None:
    """Which writer a weights file's first bytes name: 'torch' (torch.save, pickle) or 'safetensors' (ch. 3–5)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(16)
    except OSError:
        return None
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":
        return "torch"  # torch.save writes a zip archive; older files and pickles start with the pickle opcode
    if len(head) >= 10 and head[8:10] in (b'{"', b"{'"):
        return "safetensors"  # an 8-byte header length, then the JSON header
    return None


TUTORIAL_ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # the folder holding helpers/
# import names whose package on PyPI has another name
PIP_NAMES = {"cv2": "opencv-python-headless", "PIL": "pillow", "sklearn": "scikit-learn", "skimage": "scikit-image",
             "yaml": "pyyaml", "pillow_heif": "pillow-heif", "controlnet_aux": "controlnet-aux"}


KINDS = {
    "html": ("it holds a web page (HTML), not a picture or weights: a download link that led to a page, e.g. one "
             "that needs a login", "download the file itself (the link of the file, not of its page), or save it "
             "from the browser"),
    "lfs": ("it is a Git LFS pointer, a small text file standing in for the real one: the repository was cloned "
            "without Git LFS", "run `git lfs install` and `git lfs pull` in that repository, or download the file "
            "itself"),
    "heic": ("it is an iPhone HEIC photo, which PIL reads only with the pillow-heif plugin",
             "%pip install pillow-heif, then: from pillow_heif import register_heif_opener; "
             "register_heif_opener(); or export the photo as JPEG"),
    "avif": ("it is an AVIF picture, which this PIL cannot read", "convert it to PNG or JPEG first"),
    "svg": ("it is an SVG drawing (vector shapes), which PIL does not draw into pixels",
            "export it as PNG from the program that made it"),
}


def unreadable_picture(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """PIL could not identify a file: say what it holds when its bytes tell (every chapter)."""
    found = re.search(r"cannot identify image file '([^']+)'", str(exc))
    path = found.group(1) if found else None
    kind = sniff(path) if path and os.path.isfile(path) else None
    if kind:
        meaning, fix = KINDS[kind]
        return f"PIL could not read {path!r} as a picture: {meaning}.", fix + "."
    return ("PIL could not read this as a picture: it is not one, a format PIL cannot read (HEIC, AVIF, SVG), or a "
            "damaged download.",
            "check what the file is (its size, and how an image viewer opens it); convert other formats to PNG or "
            "JPEG; for a URL, link the picture itself.")


def _weights_path(exc: BaseException) -> str | None:
    """A weights file named in the failing frames' locals."""
    tb = exc.__traceback__
    found = None
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            if isinstance(value, (str, os.PathLike)) and WEIGHT_FILE.search(os.fspath(value)) \
                    and os.path.isfile(os.fspath(value)):
                found = os.fspath(value)
        tb = tb.tb_next
    return found


def damaged_weights(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A weights file that would not load: the cache's (repair it) or the learner's own (what it holds) (ch. 1–5)."""
    from helpers.modes import active_hub_cache

    if "map_location" in str(exc):  # torch.load of CUDA tensors on a machine without CUDA: torch's text says it
        return None
    path = _weights_path(exc)
    if path is None:
        return ("a weights file could not be read: it is damaged, cut short, or not a weights file at all.",
                "if it is in the Hugging Face cache: twins, run `python -m helpers.twins build`; real weights, "
                "delete that repo's folder (models--org--name) and load again (`hf cache delete` lists them). If "
                "it is a file of your own, download it again.")
    cache = os.path.realpath(active_hub_cache())
    if os.path.realpath(path).startswith(cache + os.sep):
        return ("a weights file in the cache is damaged (a download or build that was cut off).",
                "twins: run `python -m helpers.twins build` (or restart the kernel: the use_models cell checks and "
                "repairs them). Real weights: delete that repo's folder (models--org--name) from your Hugging Face "
                "cache and load again; `hf cache delete` lists them.")
    kind = sniff(path)
    if kind in ("html", "lfs"):
        meaning, fix = KINDS[kind]
        return f"{path} is not a weights file: {meaning}.", fix + "."
    if weights_kind(path) == "torch" and path.lower().endswith(".safetensors"):  # torch.save under another name
        return (f"{path} was written by torch.save (its first bytes are torch's zip or pickle format), not in the "
                "safetensors format its name says, so the safetensors reader cannot parse it.",
                f"load it with torch.load({path!r}, weights_only=True); to write a real safetensors file, use "
                "safetensors.torch.save_file(state_dict, path).")
    return (f"{path} could not be read as weights: it is cut short (a download that stopped) or another format.",
            "download it again and compare its size with the one on the page you got it from.")


def missing_module(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A failed import: a package not installed, a name moved in another version, or the helpers (every chapter)."""
    text = str(exc)
    moved = re.search(r"cannot import name '(\w+)' from '([\w.]+)'", text)
    own = getattr(exc, "path", None)
    if moved and moved.group(2).split(".")[0] in ("helpers", "tools") and isinstance(own, str) \
            and not os.path.realpath(own).startswith(TUTORIAL_ROOT + os.sep):
        name, module = moved.groups()  # a helpers.py (or tools/) of the learner's own, found first on the path
        return (f"Python imported {module} from {own}, a file of your own with the tutorial's package name, so the "
                f"tutorial's {module} (with {name}) is hidden behind it.",
                f"rename your {os.path.basename(own)} (and delete a __pycache__ beside it), then restart the kernel.")
    if moved:
        name, module = moved.groups()
        return (f"{module} is installed, but has no {name} in this version: it was moved, renamed or removed "
                "(older tutorials use older versions).",
                f"look the name up in the library's documentation for this version, or search "
                f"`import {module}; [n for n in dir({module}) if '{name[:4].lower()}' in n.lower()]`.")
    found = re.search(r"No module named '([\w.]+)'", text)
    if not found:
        return None
    module = found.group(1)
    top = module.split(".")[0]
    if top == "helpers":
        if importlib.util.find_spec("helpers") is None:
            return ("the tutorial's helpers package cannot be imported: the kernel runs outside the tutorial's "
                    "folder, and the package is not installed.",
                    "start Jupyter in the tutorial's folder (where README.md is), or run `pip install -e .` there "
                    "once; `pip install helpers` would fetch an unrelated package.")
        return (f"helpers has no module {module!r}: the name is misspelt or the module was renamed.",
                "README's \"Layout: two rooms\" lists its modules, e.g. helpers.images or helpers.loading.")
    if top == "tools" and os.path.isdir(os.path.join(TUTORIAL_ROOT, "tools")):  # the checkout's own tools/ folder
        return (f"tools/ is the tutorial's folder of command-line tools, in {TUTORIAL_ROOT}; it is not installed, so "
                "Python finds it only when it runs in that folder (a notebook's kernel runs in notebooks/).",
                f"put the tutorial's folder on the path first: import sys; sys.path.insert(0, {TUTORIAL_ROOT!r}); "
                "then run the import again. Its command lines (python -m tools.sweep, ...) run from that folder.")
    if "." in module and importlib.util.find_spec(top) is not None:
        return (f"{top} is installed, but has no module {module!r} in this version: it was moved or renamed "
                "(older tutorials use older versions).",
                "import from its new place; the library's documentation for this version names it.")
    top = PIP_NAMES.get(top, top)  # the name pip knows it by: import cv2 comes from opencv-python
    return (f"the package {top} is not installed in the kernel's environment.",
            f"in a cell: %pip install {top}, then restart the kernel; or run the chapter's first cell (on Colab and "
            "Kaggle it installs everything).")


def loader_source(exc: BaseException, names=("pretrained_model_name_or_path_or_dict",
                                             "pretrained_model_name_or_path")) -> str | None:
    """The path or repo id a diffusers loader was given, read from the failed call's frames, or None (every chapter)."""
    tb = exc.__traceback__
    while tb is not None:  # the first frame that holds it: the loader's own first argument
        for name in names:
            found = tb.tb_frame.f_locals.get(name)
            if isinstance(found, (str, os.PathLike)):
                return os.fspath(found)
        tb = tb.tb_next
    return None


def missing_local_path(exc: BaseException) -> tuple[str, str] | None:
    """A loader given a file or folder path that is not on disk, then looked up online (every chapter)."""
    source = loader_source(exc)
    if source is None:
        return None
    in_repo = re.fullmatch(r"([\w-][\w.-]*/[\w.-]+)/(.+)", source)  # org/name/file: a Hub repo and a file in it
    if in_repo and not os.path.exists(source) and WEIGHT_FILE.search(source):
        loader = next((tb.name for tb in traceback.extract_tb(exc.__traceback__) if tb.name in LOADERS), "the loader")
        repo, file = in_repo.groups()
        return (f"{source} joins a Hub repo id ({repo}) and a file in it ({file}) into one path, which is not on disk "
                "either; a repo id has one slash, and the file inside it is named apart.",
                f"pass them apart: {loader}({repo!r}, weight_name={file!r}). It is then fetched from the Hub, with "
                "internet (the offline twins hold only the chapters' checkpoints).")
    looks_local = source.startswith(("/", "./", "../", "~")) or os.sep in source and os.sep != "/" \
        or WEIGHT_FILE.search(source) or re.match(r"[A-Za-z]:[\\/]", source)
    if source.startswith("~") and os.path.exists(os.path.expanduser(source)):
        return (f"{source} starts with ~, which Python does not expand by itself, so the loader looked for a folder "
                "named ~, found nothing, and took the text for a Hub repo id.",
                f"expand it first: os.path.expanduser({source!r}).")
    if not looks_local or os.path.exists(source):
        return None  # a Hub repo id (org/name), or a path that is there: another cause
    return (f"{source} does not exist: no such file or folder, looked for from {os.getcwd()} (the notebook's "
            "folder). Not found on disk, it was then taken for a Hub repo id, which is why the message speaks of "
            "connecting and the cache.",
            "give the path as it is on disk: an absolute path, or one relative to the folder above (check the "
            "spelling; os.listdir('.') shows what is there).")
