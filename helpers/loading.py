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

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from helpers.manifests import component_folders, record, recorded_files

FP16 = "fp16"
WEIGHT_NAME = re.compile(
    r"^(?P<stem>diffusion_pytorch_model|model|pytorch_model)(-\d{5}-of-\d{5})?"
    r"(\.(?P<variant>[A-Za-z0-9_]+))?\.(?P<ext>safetensors|bin)$"
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
        else:
            why = f"the repo ships no fp16 files; full-precision safetensors for {full}"
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


def choose(repo_id: str, files: Iterable[str], folders: Iterable[str], *, allow_pickle: bool = False,
           source: str = "recorded manifest") -> Choice:
    """Decide variant= and use_safetensors= for the given file list, as diffusers would load it (every chapter)."""
    files = list(files)
    per_folder = {folder: _weights(files, folder) for folder in folders}
    empty = [folder or "the repo root" for folder, weights in per_folder.items() if not weights]
    if empty:
        raise FileNotFoundError(f"{repo_id}: no weight files in {', '.join(empty)} of the file list ({source}).")
    pickle_only = tuple(f for f, w in per_folder.items() if not any(ext == "safetensors" for _, ext in w.values()))
    if pickle_only and not allow_pickle:
        where = ", ".join(f or "the repo root" for f in pickle_only)
        raise PickleWeightsError(
            f"{repo_id} ships only pickle weights (.bin) in {where}. Unpickling a file can run code; diffusers and "
            "transformers open .bin files with torch.load(weights_only=True), which refuses anything but tensors, "
            "but the tutorial still loads pickle only when you ask for it by name. If you trust this repo: "
            f'load_args("{repo_id}", allow_pickle="{repo_id}").'
        )
    ext = "bin" if pickle_only else "safetensors"
    has_fp16 = {f for f, w in per_folder.items() if (FP16, ext) in w.values()}
    variant = FP16 if has_fp16 else None
    chosen, full = [], []
    for folder, weights in per_folder.items():
        wanted = (FP16, ext) if folder in has_fp16 else (None, ext)
        picked = [p for p, kind in weights.items() if kind == wanted]
        if not picked:
            raise FileNotFoundError(f"{repo_id}: {folder or 'the repo root'} has no {ext} weights that diffusers "
                                    f"could load with variant={variant!r} ({source}).")
        chosen += picked
        if folder not in has_fp16:
            full.append(folder)
    return Choice(repo_id, variant, not pickle_only, tuple(sorted(chosen)),
                  tuple(f for f in per_folder if f in has_fp16), tuple(full), pickle_only, source)


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


def _hub_listing(repo_id: str) -> dict[str, int | None] | None:
    """The Hub's file list with sizes (one API call, no weights downloaded), or None when the Hub cannot be reached."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    try:
        info = HfApi().model_info(repo_id, files_metadata=True)
    except (HfHubHTTPError, OSError, ValueError):
        return None
    return {s.rfilename: s.size for s in info.siblings or []}


def repo_files(repo_id: str) -> tuple[dict[str, int | None], str]:
    """The repo's files with sizes, and where the list came from: Hub, cache, twins or the record (every chapter)."""
    from helpers.modes import active_mode, hub_offline

    if active_mode() != "twins" and not hub_offline():
        listing = _hub_listing(repo_id)
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
    recorded = set(recorded_files(repo_id))
    return tuple([f"+{p}" for p in sorted(listed - recorded)] + [f"-{p}" for p in sorted(recorded - listed)])


def decide(repo_id: str, *, allow_pickle: str | None = None, passed: Iterable[str] = ()) -> Choice:
    """The Choice for a chapter repo from its actual file list, without printing (every chapter)."""
    from helpers.models import model

    repo_id = model(repo_id).repo_id  # unknown or dead ids fail here, with the fix
    if allow_pickle is not None and allow_pickle != repo_id:
        raise ValueError(f"allow_pickle={allow_pickle!r} must name the repo being loaded ({repo_id!r}): pickle is "
                         "allowed one repo at a time, by name.")
    files, source = repo_files(repo_id)
    folders = [f for f in component_folders(repo_id) if f not in set(passed)]
    choice = choose(repo_id, files, folders, allow_pickle=allow_pickle == repo_id, source=source)
    differences = compare_with_record(repo_id, files) if source != "recorded manifest" else ()
    loads_with = record(repo_id).get("loads_with", {}).get("repo")
    if loads_with:  # AutoPipeline loads this repo with the same arguments: they must suit it too
        other = decide(loads_with, allow_pickle=loads_with if allow_pickle == repo_id else None)
        if other.variant != choice.variant or other.use_safetensors != choice.use_safetensors:
            raise ValueError(f"{repo_id} and {loads_with}, which AutoPipeline loads with it, need different "
                             f"arguments ({choice.kwargs} vs {other.kwargs}); load them separately.")
    return Choice(choice.repo_id, choice.variant, choice.use_safetensors, choice.files, choice.fp16_folders,
                  choice.full_folders, choice.pickle_folders, source, differences,
                  tuple(files.get(path) for path in choice.files))


def load_args(repo_id: str, *, allow_pickle: str | None = None, passed: Iterable[str] = ()) -> dict:
    """`variant=` and `use_safetensors=` for from_pretrained, read from the repo's files, and why (every chapter).

    `allow_pickle` must name `repo_id` to accept pickle-only weights; `passed` names components you pass yourself
    (e.g. `vae=pipeline.vae`), which are then left out of the decision.
    """
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
    from helpers.models import model

    lines, total, cached, unknown = [], 0, 0, []
    for repo_id in repo_ids:
        repo_id = model(repo_id).repo_id
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
