"""Saving the panel's pictures: PNG bytes for the widgets, files that are never overwritten by accident, and the
unsaved pictures of a panel that a re-run cell replaced."""

from __future__ import annotations

import errno
import io
import itertools
import json
import os
import threading
import time
import weakref
from pathlib import Path

from PIL import Image, PngImagePlugin

from helpers.i18n import _

KEEP = 24  # unsaved pictures kept from replaced panels, newest first
earlier: list = []  # those pictures (panel Results: .image, .params, .caption), newest first
_MADE: list = []  # weak references to the panels made in this kernel


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


def _make_folder(folder: Path, given: str) -> None:
    """Make the folder a picture goes into; a file of the learner's in the way is named, and left alone."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocking = next((p for p in [folder, *folder.parents] if p.is_file()), folder)
        raise NotADirectoryError(f"{given}: {blocking} is a file, so it cannot be a folder to save into (it is left "
                                 "as it is). Pick a path whose folders are folders, e.g. path='shots/cat.png'.") \
            from None


def names_folder(path) -> bool:
    """True for a path that names a folder: one that exists, or any path ending in / (ch. 1–5)."""
    text = os.fspath(path)
    return text.endswith(("/", os.sep)) or Path(text).expanduser().is_dir()


def save_in_folder(folder, result, info=None, given: str = "", said: bool = True) -> Path:
    """Save a Result's picture in `folder` under the panel's usual name (time and seed), -2, -3, ... if taken (ch. 1–5).

    Never over a file; said=True prints where the picture went."""
    folder = Path(os.fspath(folder)).expanduser()
    _make_folder(folder, given or f"path={str(folder)!r}")
    seed = result.params.get("seed")
    stem = time.strftime("%Y%m%d-%H%M%S") + ("" if seed is None else f"-seed{seed}")
    for n in itertools.count(1):  # same second, same seed: take the next free name
        path = folder / (f"{stem}.png" if n == 1 else f"{stem}-{n}.png")
        try:
            write_png(path, result.image, info, overwrite=False)
            break
        except FileExistsError:
            continue
    if said:  # the learner named a folder, not a file: say which file it got
        print(f"{given or 'path'} is a folder: saved the picture inside it as {path.resolve()}")
    return path


def save_result(result, path, overwrite: bool = False) -> Path:
    """Save a panel Result's picture as PNG at `path`, or inside it if `path` names a folder (ch. 1–5)."""
    if names_folder(path):  # r.save("keep/"): into that folder under the panel's usual name, never over a file
        path = save_in_folder(path, result, given=f"path={os.fspath(path)!r}")
    else:
        path = Path(path).expanduser()
        if path.suffix.lower() != ".png":
            raise ValueError(f"path={str(path)!r}: a panel picture is saved as PNG; end the name with .png"
                             + ("" if path.suffix else f", or end a folder's name with /, path={str(path) + '/'!r}")
                             + ".")
        if path.exists() and overwrite is not True:
            raise FileExistsError(f"{path} exists and is kept; pass another name, or overwrite=True to replace it.")
        result.image.save(path)
    result.saved = True
    return path


def save_newest(panel, path=None, overwrite: bool = False) -> Path:
    """Save a panel's newest picture as PNG with its parameters in the metadata; return the path (ch. 1–5).

    Never overwrites: without `path` it adds -2, -3, ... to the name; an existing `path` raises FileExistsError
    unless overwrite=True."""
    from helpers.paths import build_dir

    if not isinstance(overwrite, bool):  # overwrite="no" is truthy: it would replace the file
        raise TypeError(f"overwrite must be True or False, got {overwrite!r}.")
    if panel._thread is not None and panel._thread.is_alive():
        panel.wait()  # save() right after generate(): save the picture that run makes, not the one before it
    # the picture on screen: the newest of panel.results, kept by it even once the list is emptied (results.clear())
    r = panel.results[0] if panel.results else getattr(panel.results, "shown", None)
    if r is None:
        raise RuntimeError(_nothing_to_save(panel))
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", json.dumps({**r.params, "seconds": round(r.seconds, 3),
                                            "pipeline": type(panel.pipeline).__name__}))
    if path is not None and names_folder(path):  # path="shots/": into that folder, under the usual name
        path = save_in_folder(path, r, info, f"path={os.fspath(path)!r}")
    elif path is not None:
        path = Path(path).expanduser()  # "~/keep/shot.png" means the home folder, not a folder named ~
        if path.suffix.lower() != ".png":  # the bytes are PNG, and only PNG keeps the parameters
            raise ValueError(f"path={str(path)!r}: Save writes PNG files, which keep the parameters in their "
                             f"metadata. Use a .png name, e.g. path={str(path.with_suffix('.png'))!r}"
                             + ("" if path.suffix else f", or a folder to save into, path={str(path) + '/'!r}") + ".")
        _make_folder(path.parent, f"path={str(path)!r}")  # save(path="shots/x.png") into a new folder
        try:
            write_png(path, r.image, info, overwrite)
        except FileExistsError:
            raise FileExistsError(f"path={str(path)!r} already exists and holds an earlier picture. "
                                  "Pass another path=, or overwrite=True to replace it.") from None
    else:
        folder = build_dir() / "panel" if panel.save_dir is None else Path(panel.save_dir).expanduser()
        path = save_in_folder(folder, r, info, f"save_dir={str(folder)!r}", said=False)
    r.saved = True
    shown = html_text(str(path.resolve()))  # where to find it
    scrubber = getattr(getattr(panel, "steps", None), "scrubber", None)
    if scrubber is not None and panel.steps.frames and scrubber.value < scrubber.max:
        # the picture on screen is a step's preview frame, and Save keeps the run's finished picture
        step = panel.steps.frames[min(scrubber.value, len(panel.steps.frames) - 1)].step  # frames may be thinned
        panel.status.value = _("saved {path}: the finished picture, not step {step} that the step slider "
                               "shows (Save keeps finished pictures only)").format(path=shown, step=step)
    else:
        panel.status.value = _("saved {path}").format(path=shown)
    return path


def _nothing_to_save(panel) -> str:
    """Why Save found no picture: no run yet, runs that made none, or a list put in place of panel.results."""
    if not panel.runs:
        return "Nothing to save yet: press Generate first."
    if hasattr(panel.results, "shown"):  # the panel's own list, and no picture ever went into it
        return (f"Nothing to save yet: the panel has run {panel.runs} time(s) and made no picture (each run failed "
                "or was stopped; the status line says why). Press Generate once it is fixed.")
    return (f"panel.results is empty, yet the panel has run {panel.runs} time(s): another list was put in its place "
            "(panel.results = []?), so the picture on screen can no longer be saved from it. Press Generate again: "
            "the same settings and seed make the same picture, which Save PNG then keeps. To free memory, "
            "panel.results.clear() empties the panel's own list and keeps the picture on screen savable.")


def save_fix(exc: Exception) -> str:
    """The fix to show beside a failed save, for the errors whose cause is known (ch. 1–5)."""
    number = getattr(exc, "errno", None)
    if number in (errno.ENOSPC, errno.EDQUOT):
        return " · Free some space or save elsewhere: panel.save(path=...) or Panel(..., save_dir=...)."
    if number in (errno.EACCES, errno.EPERM, errno.EROFS):
        return (" · This folder cannot be written here: save elsewhere, panel.save(path=...) or "
                "Panel(..., save_dir=...).")
    if number in (errno.EEXIST, errno.ENOTDIR):
        return " · A file is in the way of the folder Save PNG writes into: pass Panel(..., save_dir=another folder)."
    return ""


def _same_model(a, b) -> bool:
    name = lambda p: getattr(getattr(p, "config", None), "_name_or_path", None)  # noqa: E731
    return a is b or (type(a) is type(b) and name(a) is not None and name(a) == name(b))


def keep_earlier(panel) -> str:
    """Keep copies of the unsaved pictures of earlier panels on the same model in `earlier`; return a note (ch. 1–5).

    A panel cell run again makes a new panel and drops the old one with its pictures; a panel made beside another
    keeps its own, and the copies here do no harm."""
    kept = 0
    for ref in list(_MADE):
        old = ref()
        if old is None:
            _MADE.remove(ref)
            continue
        if old is panel or not _same_model(old.pipeline, panel.pipeline):
            continue
        shown = getattr(old.results, "shown", None)  # emptied with results.clear(), yet still on screen
        pictures = list(old.results) or ([shown] if shown is not None else [])
        unsaved = [r for r in pictures if not r.saved and all(r is not e for e in earlier)]
        earlier[:0] = unsaved
        kept += len(unsaved)
    del earlier[KEEP:]
    _MADE.append(weakref.ref(panel))
    if not kept:
        return ""
    return " · " + _("a panel made before on this model holds {n} picture(s) not saved: copies are kept, newest "
                     "first, in helpers.panel.earlier (e.g. earlier[0].image.save('keep.png'); at most {cap}), in "
                     "case its cell was run again").format(n=kept, cap=KEEP)


def panels_made() -> list:
    """The panels made in this kernel that are still in memory, oldest first (ch. 1–5)."""
    return [panel for panel in (ref() for ref in _MADE) if panel is not None]


def close_widgets(panel) -> None:
    """Close a panel's widgets after its run: ipywidgets keeps open widgets, and the panel with them (ch. 1–5)."""
    if panel._thread is not None and panel._thread.is_alive():
        panel.stop()
        panel.wait()
    panel.steps.close()  # the step preview's hook off the UNet
    todo = [panel.widget]
    while todo:
        widget = todo.pop()
        todo.extend(getattr(widget, "children", ()))
        widget.close()


def still_held() -> list[str]:
    """Lines naming the panels and step previews that keep a pipeline no name of the learner's holds (ch. 3–5)."""
    import sys

    preview = sys.modules.get("helpers.preview")
    names = _user_names()
    direct = {id(value) for name, value in names.items() if not name.startswith("_")}
    holders = [ref() for ref in _MADE]  # a panel lives on after `del panel`: its open widgets hold it
    if preview is not None:  # a StepPreview keeps its pipeline too; the learner's names are where one lives
        holders += [v for v in names.values() if isinstance(v, preview.StepPreview)]
    lines, seen = [], set()
    for holder in holders:
        pipeline = getattr(holder, "pipeline", None)
        if pipeline is None or id(holder) in seen or id(pipeline) in direct:  # gone, said, or still the learner's
            continue
        seen.add(id(holder))
        kind = type(holder).__name__
        panel = any(ref() is holder for ref in _MADE) and getattr(holder.widget, "comm", None) is not None  # open
        held = [n for n, v in names.items() if v is holder and not n.startswith("_")]
        outs = [n for n, v in (names.get("Out") or {}).items() if v is holder]
        if held:
            fix = (f"{held[0]}.close(); " if panel else "") + f"del {', '.join(held)}"
        else:  # its name was deleted: only closing every widget reaches it now
            fix = ("import ipywidgets; ipywidgets.Widget.close_all() (this closes every widget on screen)" if panel
                   else f"delete what holds the {kind}")
        by = f"the {kind} {held[0]}" + (f" (also named {', '.join(held[1:])})" if held[1:] else "") if held else \
            f"a {kind} made earlier"
        if outs:
            by, fix = f"{by}, also kept as the cell output Out[{outs[0]}],", f"{fix}; %reset -f out"
        why = (" (a panel stays while its widgets are open" + ("" if held else ", even with no name") + ")") \
            if panel else ""
        lines.append(f"free_memory: {type(pipeline).__name__} is still in memory, because {by} holds it{why}. To "
                     f"free it: {fix}; then call free_memory() again.")
    return lines


def _user_names() -> dict:
    """The learner's top-level names: the notebook's namespace, or a script's."""
    import sys

    shell = None
    if "IPython" in sys.modules:
        from IPython import get_ipython

        shell = get_ipython()
    if shell is not None:
        return dict(shell.user_ns)
    main = sys.modules.get("__main__")
    return dict(vars(main)) if main is not None else {}
