"""Which weight files to load, decided from the repo's actual file list: `variant=` and `use_safetensors=`.

`load_args(repo_id)` returns the two keyword arguments for `from_pretrained` and prints one line saying why. The file
list comes from the Hub's listing (no weights downloaded), else from the local cache or the twin cache, else from
the recorded manifest (helpers/manifests.json). The choice follows diffusers' own rules for a pipeline:

* fp16 files (`*.fp16.safetensors`) are used wherever the repo has them, also for a float32 run: they are half the
  download, and diffusers converts the weights to the `dtype=` you pass. A folder without fp16 files falls back to
  its full-precision files, so `variant="fp16"` is passed only when at least one folder has them (diffusers raises
  `ValueError` when none has).
* safetensors for every folder when every folder has them; a repo with a folder of pickle (`.bin`) weights only is
  refused unless `allow_pickle` names it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cache

from helpers.manifests import component_folders, record, recorded_files

FP16 = "fp16"
WEIGHT_NAME = re.compile(  # model.safetensors, model.fp16.safetensors, model-00001-of-00002.safetensors,
    r"^(?P<stem>diffusion_pytorch_model|model|pytorch_model)(-\d{5}-of-\d{5})?"  # model.fp16-00001-of-00002.bin
    r"(\.(?P<variant>[A-Za-z0-9_]+?)(-\d{5}-of-\d{5})?)?\.(?P<ext>safetensors|bin)$"
)


class PickleWeightsError(RuntimeError):
    """Raised for a checkpoint that ships only pickle weights, which can run code when loaded."""


@dataclass(frozen=True)
class Choice:
    """What `from_pretrained` will load from one repo, and why (every chapter)."""

    repo_id: str
    variant: str | None
    use_safetensors: bool
    files: tuple[str, ...]  # the weight files from_pretrained will read
    fp16_folders: tuple[str, ...]
    full_folders: tuple[str, ...]
    pickle_folders: tuple[str, ...] = ()
    source: str = "recorded manifest"
    differences: tuple[str, ...] = field(default=())  # live listing vs record, as "+path" / "-path"
    sizes: tuple[int | None, ...] = field(default=(), compare=False)  # bytes of each file in `files`, if listed
    fp16_listed: bool = False  # does the list hold fp16 files at all, usable or not

    @property
    def download_bytes(self) -> int | None:
        """Bytes of the weight files from_pretrained will fetch, or None when a size is unknown (every chapter)."""
        return None if not self.sizes or None in self.sizes else sum(self.sizes)

    @property
    def kwargs(self) -> dict:
        """The keyword arguments for from_pretrained (every chapter)."""
        return {"variant": self.variant, "use_safetensors": self.use_safetensors}

    def explain(self) -> str:
        """One line: the arguments and the files behind them (every chapter)."""
        args = f"variant={self.variant!r}, use_safetensors={self.use_safetensors}"
        names = {folder: folder or "the weights at the repo root"
                 for folder in (*self.fp16_folders, *self.full_folders)}
        fp16 = ", ".join(names[f] for f in self.fp16_folders)
        full = ", ".join(names[f] for f in self.full_folders)
        if self.pickle_folders:
            where = ", ".join(f or "the weights at the repo root" for f in self.pickle_folders)
            why = (f"{where}: only pickle (.bin) files; "
                   "loading pickle because allow_pickle names this repo")
        elif self.variant and full:
            why = f"the repo ships fp16 safetensors for {fp16}; {full} has none, so its full-precision file is used"
        elif self.variant:
            why = f"the repo ships fp16 safetensors for {fp16}"
        elif self.fp16_listed:
            why = f"its fp16 files do not form a set diffusers accepts; full-precision safetensors for {full}"
        else:
            why = f"the repo ships no fp16 files; full-precision safetensors for {full}"
        if self.source == "files in this folder":  # a folder of the learner's, even one named like a repo id
            why = why.replace("the repo ships", "the folder holds").replace("names this repo", "names this folder")
            return f"{self.repo_id} (a folder on this machine, not the Hub repo): {args} — {why}"
        return f"{self.repo_id}: {args} — {why} [files: {self.source}]"


def _weights(files: Iterable[str], folder: str) -> dict[str, tuple[str | None, str]]:
    """Weight files directly in `folder` ("" = repo root): path -> (variant, extension)."""
    found = {}
    for path in files:
        head, _, name = path.rpartition("/")
        match = WEIGHT_NAME.match(name)
        if head == folder and match:
            found[path] = (match.group("variant"), match.group("ext"))
    return found


def _pick(weights: dict[str, tuple[str | None, str]], variant: str | None, use_safetensors: bool) -> list[str]:
    """The files diffusers takes from one folder with these arguments ([] when it refuses the folder).

    It mirrors diffusers' own rules: a folder with any `variant` file is judged by its variant files only (a folder
    with fp16 `.bin` but no fp16 safetensors is not safetensors-ready, whatever else it holds); then `.bin` or
    `.safetensors` files are set aside; then the variant's files are taken where the folder has them, else its plain
    ones (non-EMA and other variants are never taken in place of plain files).
    """
    has_variant = variant is not None and any(v == variant for v, _ in weights.values())
    judged = [ext for v, ext in weights.values() if v == (variant if has_variant else None)]
    if use_safetensors and "safetensors" not in judged:
        return []
    ext = "safetensors" if use_safetensors else "bin"
    kept = {path: v for path, (v, e) in weights.items() if e == ext}
    return [p for p, v in kept.items() if v == variant] if has_variant and variant in kept.values() else \
        [p for p, v in kept.items() if v is None]


def choose(repo_id: str, files: Iterable[str], folders: Iterable[str], *, allow_pickle: bool = False,
           source: str = "recorded manifest") -> Choice:
    """Decide variant= and use_safetensors= for the given file list, as diffusers would load it (every chapter).

    Tried in this order, the first that diffusers accepts for every folder wins: fp16 safetensors (half the download),
    plain safetensors, and only when `allow_pickle`, fp16 then plain pickle files.
    """
    files = list(files)
    per_folder = {folder: _weights(files, folder) for folder in folders}
    empty = [folder or "the repo root" for folder, weights in per_folder.items() if not weights]
    if empty:
        raise FileNotFoundError(f"{repo_id}: no weight files in {', '.join(empty)} of the file list ({source}).")
    pickle_only = tuple(f for f, w in per_folder.items() if not any(ext == "safetensors" for _, ext in w.values()))
    tries = [(FP16, True), (None, True)] + ([(FP16, False), (None, False)] if allow_pickle else [])
    for variant, use_safetensors in tries:
        picks = {folder: _pick(weights, variant, use_safetensors) for folder, weights in per_folder.items()}
        fp16 = tuple(f for f, chosen in picks.items() if any(".fp16." in c for c in chosen))
        if all(picks.values()) and (variant is None or fp16):  # diffusers raises when no folder has the variant
            full = tuple(f for f in per_folder if f not in fp16)
            chosen = tuple(sorted(p for chosen in picks.values() for p in chosen))
            listed = any(v == FP16 for w in per_folder.values() for v, _ in w.values())
            return Choice(repo_id, variant, use_safetensors, chosen, fp16, full,
                          pickle_only if not use_safetensors else (), source, fp16_listed=listed)
    if pickle_only and not allow_pickle:
        local = os.path.isdir(os.path.expanduser(str(repo_id)))  # a folder of the learner's, not a Hub repo
        where = ", ".join(f or ("the folder itself" if local else "the repo root") for f in pickle_only)
        whose = ("If you made this folder yourself (save_pretrained(..., safe_serialization=False)) or trust it"
                 if local else "If you trust this repo")
        raise PickleWeightsError(
            f"{repo_id} {'holds' if local else 'ships'} only pickle weights (.bin) in {where}. Unpickling a file can "
            "run code; diffusers and transformers open .bin files with torch.load(weights_only=True), which refuses "
            f"anything but tensors, but the tutorial still loads pickle only when you ask for it by name. {whose}: "
            f'load_args("{repo_id}", allow_pickle="{repo_id}").'
        )
    raise FileNotFoundError(f"{repo_id}: diffusers could load no consistent set of weight files from this list "
                            f"({source}): {', '.join(sorted(p for w in per_folder.values() for p in w))}.")


# ---------------------------------------------------------------- where the file list comes from


def _cached_listing(repo_id: str) -> dict[str, int | None] | None:
    """The file list a download left in the active hub cache (its tree listing, else the snapshot's files)."""
    from helpers.modes import snapshot_path

    try:
        from huggingface_hub import get_cached_repo_tree

        return {f.path: f.size for f in get_cached_repo_tree(repo_id)}
    except Exception:  # older huggingface_hub, or no tree cached: read the snapshot folder instead
        snapshot = snapshot_path(repo_id)
        if snapshot is None:
            return None
        return {p.relative_to(snapshot).as_posix(): p.stat().st_size for p in snapshot.rglob("*") if p.is_file()}


@cache
def hub_listing(repo_id: str) -> dict[str, int | None] | None:
    """The Hub's file list with sizes (one API call, no weights), or None when unreachable (every chapter)."""
    from huggingface_hub import HfApi

    try:
        info = HfApi().model_info(repo_id, files_metadata=True)
    except Exception:  # no network, a timeout, an HTTP error (huggingface_hub's HTTP library varies by version)
        return None
    return {s.rfilename: s.size for s in info.siblings or []}


def repo_files(repo_id: str) -> tuple[dict[str, int | None], str]:
    """The repo's files with sizes, and where the list came from: Hub, cache, twins or the record (every chapter)."""
    from helpers.modes import active_mode, hub_offline

    if active_mode() != "twins" and not hub_offline():
        listing = hub_listing(repo_id)
        if listing:
            return listing, "Hub listing"
    listing = _cached_listing(repo_id)
    if listing:
        return listing, "twin cache" if active_mode() == "twins" else "your cache"
    return recorded_files(repo_id), "recorded manifest"


def compare_with_record(repo_id: str, files: Iterable[str]) -> tuple[str, ...]:
    """Weight files that differ between a listing and the record: "+path" listed only, "-path" recorded only (ch. 1)."""
    folders = component_folders(repo_id)
    listed = {p for f in folders for p in _weights(files, f)}
    recorded, unconfirmed = set(recorded_files(repo_id)), set(record(repo_id).get("unconfirmed", {}))
    added, missing = sorted(listed - recorded - unconfirmed), sorted(recorded - listed)
    return tuple([f"+{p}" for p in added] + [f"-{p}" for p in missing])


def _local_choice(folder: str, allow_pickle: str | None, passed: Iterable[str]) -> Choice:
    """The Choice for a folder on this machine (a save_pretrained copy), from the files in it."""
    import json
    import os
    from pathlib import Path

    root = Path(folder).expanduser()
    files = {p.relative_to(root).as_posix(): p.stat().st_size for p in root.rglob("*")
             if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)}
    index = root / "model_index.json"
    if index.is_file():  # a pipeline folder: its parts that hold weights
        parts = [k for k, v in json.loads(index.read_text()).items() if isinstance(v, list) and v[0]]
        folders = [f for f in parts if f not in set(passed) and _weights(files, f)]
    else:
        folders = [""]
    named = allow_pickle is not None and os.path.normpath(os.path.expanduser(os.fspath(allow_pickle))) == \
        os.path.normpath(str(root))
    if allow_pickle is not None and not named:
        raise ValueError(f"allow_pickle={allow_pickle!r} must name the folder being loaded ({folder!r}): pickle is "
                         "allowed one place at a time, by name.")
    try:
        choice = choose(folder, files, folders, allow_pickle=named, source="files in this folder")
    except FileNotFoundError:
        if not named or not all(_weights(files, f) for f in folders):
            raise
        # save_pretrained(safe_serialization=False) mixes .bin and .safetensors parts: diffusers, given
        # use_safetensors=None, takes safetensors where a part has them and the pickle file elsewhere
        pickle = tuple(f for f in folders if not any(ext == "safetensors" for _, ext in _weights(files, f).values()))
        chosen = tuple(sorted(p for f in folders for p in _weights(files, f)))
        choice = Choice(folder, None, None, chosen, (), tuple(folders), pickle, "files in this folder")
    return replace(choice, sizes=tuple(files.get(path) for path in choice.files))


def decide(repo_id: str, *, allow_pickle: str | None = None, passed: Iterable[str] = (), listing=None) -> Choice:
    """The Choice for a chapter repo or a folder of your own, from its file list, without printing (every chapter).

    `listing(repo_id)` returns (files with sizes, where they came from); by default `repo_files`.
    """
    import os

    from helpers.checkpoints import checkpoint

    if isinstance(repo_id, (str, os.PathLike)) and os.path.isdir(os.path.expanduser(os.fspath(repo_id))):
        return _local_choice(os.fspath(repo_id), allow_pickle, passed)  # what save_pretrained wrote is read here
    listing = listing or repo_files
    repo_id = checkpoint(repo_id).repo_id  # unknown or dead ids fail here, with the fix
    if allow_pickle is not None and allow_pickle != repo_id:
        raise ValueError(f"allow_pickle={allow_pickle!r} must name the repo being loaded ({repo_id!r}): pickle is "
                         "allowed one repo at a time, by name.")
    unknown = set(passed) - set(component_folders(repo_id))
    if unknown:
        raise ValueError(f"passed={sorted(unknown)} names no weight folder of {repo_id}; its folders are "
                         f"{component_folders(repo_id)}.")
    files, source = listing(repo_id)
    folders = [f for f in component_folders(repo_id) if f not in set(passed)]
    choice = choose(repo_id, files, folders, allow_pickle=allow_pickle == repo_id, source=source)
    differences = compare_with_record(repo_id, files) if source != "recorded manifest" else ()
    loads_with = record(repo_id).get("loads_with", {}).get("repo")
    if loads_with:  # AutoPipeline loads this repo with the same arguments: they must suit it too
        other = decide(loads_with, allow_pickle=loads_with if allow_pickle == repo_id else None, listing=listing)
        if other.kwargs != choice.kwargs:
            raise ValueError(f"{repo_id} and {loads_with}, which AutoPipeline loads with it, need different "
                             f"arguments ({choice.kwargs} vs {other.kwargs}); load them separately.")
    return replace(choice, differences=differences, sizes=tuple(files.get(path) for path in choice.files))


def load_args(repo_id: str, *, allow_pickle: str | None = None, passed: Iterable[str] = (), **others) -> dict:
    """`variant=` and `use_safetensors=` for from_pretrained, read from the repo's files, and why (every chapter).

    `allow_pickle` must name `repo_id` to accept pickle-only weights; `passed` names components you pass yourself
    (e.g. `vae=pipeline.vae`), which are then left out of the decision.
    """
    if others:
        chosen = {"variant", "use_safetensors"} & set(others)
        raise TypeError(f"load_args() got {', '.join(f'{k}=' for k in others)}, which it does not take. " + (
            "It chooses variant= and use_safetensors= itself from the repo's files and prints why; leave them "
            "out (its choice is what the repo ships)." if chosen else
            "It takes repo_id, allow_pickle= and passed=; other from_pretrained arguments go to from_pretrained "
            "itself, beside **load_args(repo_id)."))
    if isinstance(passed, str):  # passed="vae": one folder, not the letters v, a, e
        passed = [passed]
    from helpers.explain import wrap_if_enabled

    wrap_if_enabled()  # diffusers is imported by now: the call checks reach the pipeline this loads
    choice = decide(repo_id, allow_pickle=allow_pickle, passed=passed)
    print(choice.explain())
    if choice.differences:
        print(f"  note: the {choice.source} differs from the recorded manifest (helpers/manifests.json): "
              f"{' '.join(choice.differences)}; following the {choice.source}.")
    return choice.kwargs


def _cached(repo_id: str, path: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(repo_id, path), str)


def download_summary(repo_ids: Iterable[str]) -> str:
    """How much a chapter's loads will download, from the file listings, before anything is downloaded (every chapter).

    Pickle-only repos are counted as the chapter loads them, after its named opt-in.
    """
    from helpers.checkpoints import checkpoint

    lines, total, cached, unknown = [], 0, 0, []
    for repo_id in repo_ids:
        repo_id = checkpoint(repo_id).repo_id
        choice = decide(repo_id, allow_pickle=repo_id)
        here = sum(size or 0 for path, size in zip(choice.files, choice.sizes, strict=True) if _cached(repo_id, path))
        if choice.download_bytes is None:
            unknown.append(repo_id)
            lines.append(f"  {repo_id}: size not listed ({len(choice.files)} weight files)")
            continue
        total, cached = total + choice.download_bytes, cached + here
        note = f", {here / 1e9:.2f} GB already cached" if here else ""
        lines.append(f"  {repo_id}: {choice.download_bytes / 1e9:.2f} GB{note}")
    head = (f"This chapter's weights: {total / 1e9:.1f} GB, of which {(total - cached) / 1e9:.1f} GB still to "
            f"download{' (plus the repos whose sizes are not listed)' if unknown else ''}. Progress bars show each "
            "file as it comes.")
    return "\n".join([head, *lines])

