"""Write the twin hub cache: each repo's twin saved as the Hub would serve it, with exactly the real files.

A twin keeps what a caller can see (classes, scheduler config, channels, VAE scale factor, default size, tokenizer,
which fp16 files exist) and shrinks everything else; `facts.py` holds the table, `recipes.py` what each twin is made
of. The same recipes build *full-size* twins (`size="full"`, see full_size.py) for measuring speed.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from helpers.loading import WEIGHT_NAME
from helpers.manifests import has_fp16_files, recorded_files
from helpers.models import MODELS
from helpers.twins import WHAT_TWINS_ARE, TwinBuildError
from helpers.twins.facts import FACTS
from helpers.twins.full_size import FULL_SIZE_FILE, SIZES, full_size_configs, full_size_repos
from helpers.twins.recipes import build_depth, pipeline_for
from helpers.twins.tokenizer import clip_vocab, save_tokenizer

# Bump when the twins change: an older cache is then rebuilt.
BUILDER_VERSION = "13"
FULL_BUILDER_VERSION = "3"  # the full-size recipe (full_size.json) has its own version: rebuilding costs minutes
MARKER = "twin.json"


# ---------------------------------------------------------------- saving into a hub cache


def builder_version(size: str = "tiny") -> str:
    """The version of the recipe that builds twins of this size (ch. 1)."""
    return BUILDER_VERSION if size == "tiny" else FULL_BUILDER_VERSION


def commit_hash(repo: str, size: str = "tiny") -> str:
    """A fixed 40-hex revision per twin, so refs/main is the same on every build (ch. 1)."""
    tag = f"twin:{repo}:{BUILDER_VERSION}" if size == "tiny" else f"twin-full:{repo}:{FULL_BUILDER_VERSION}"
    return hashlib.sha1(tag.encode()).hexdigest()


def _readme(repo: str, size: str = "tiny") -> str:
    lines = ["---", "tags:", "- twin", "- tiny" if size == "tiny" else "- random-weights"]
    prior = FACTS.get(repo, {}).get("connected_prior")
    if prior:
        lines += ["prior:", f"- {prior}"]  # diffusers loads the prior from here for the combined pipelines
    what = (f"A twin: {WHAT_TWINS_ARE}." if size == "tiny" else
            "Full-size random weights (the real architecture): images made with it are noise.")
    lines += ["---", "", f"# TWIN of {repo}", "", "It mirrors the real checkpoint's classes, configs and file layout.",
              what, "Built by `python -m helpers.twins`.", ""]
    return "\n".join(lines)


def _save(obj, folder: Path, fp16: bool, in_place: bool = False) -> None:
    """save_pretrained in fp32 safetensors and, when `fp16`, the *.fp16.safetensors variant files too.

    `match_record` then turns this superset into exactly the real repo's files. With in_place=True (full size,
    where a second copy would not fit in memory) the fp32 files are written first, the model is then cast to fp16
    in place, and the fp32 run's JSON files are put back afterwards.
    """
    import torch

    if fp16 and in_place:
        obj.save_pretrained(folder, safe_serialization=True)
        configs = {p: p.read_text() for p in folder.rglob("*.json")}
        obj.to(torch.float16).save_pretrained(folder, safe_serialization=True, variant="fp16")
        for p, text in configs.items():  # the real configs say float32
            p.write_text(text)
        return
    if fp16:  # cast a copy: a round trip through fp16 would change the fp32 weights
        copy.deepcopy(obj).to(torch.float16).save_pretrained(folder, safe_serialization=True, variant="fp16")
    # fp32 last: transformers records the dtype in config.json, and the real configs say float32
    obj.save_pretrained(folder, safe_serialization=True)


# diffusers names weights diffusion_pytorch_model.*, transformers model.* (safetensors) and pytorch_model.* (pickle)
_PICKLE_STEM = {"model": "pytorch_model", "diffusion_pytorch_model": "diffusion_pytorch_model"}


def _source_for(folder: Path, name: str) -> Path | None:
    """The safetensors file a recorded weight file is made from: same stem family, same precision."""
    match = WEIGHT_NAME.match(name)
    if match is None:
        return None
    variant = match.group("variant")
    precision = ".fp16" if variant == "fp16" else ""  # non_ema and other variants carry the fp32 weights
    for stem, pickle_stem in _PICKLE_STEM.items():
        if match.group("stem") in (stem, pickle_stem):
            candidate = folder / f"{stem}{precision}.safetensors"
            if candidate.is_file():
                return candidate
    return None


def match_record(repo: str, snapshot: Path, size: str = "tiny") -> None:
    """Make the snapshot's weight files exactly the real repo's recorded ones: derive missing ones, drop extras (ch. 1).

    Tiny twins get every recorded file: pickle copies (`.bin`, written by this builder from its own tensors, so
    they are safe to load), non-EMA copies and fp16 variants. Full-size twins, built only to measure speed, get
    the recorded safetensors files and leave out the pickle copies, which would double gigabytes of disk.
    """
    import torch
    from safetensors.torch import load_file

    wanted = set(recorded_files(repo))
    for folder in sorted({p.parent for p in snapshot.rglob("*") if p.is_file()} | {snapshot}):
        rel = "" if folder == snapshot else folder.relative_to(snapshot).as_posix()
        names = [w.rpartition("/")[2] for w in wanted if w.rpartition("/")[0] == rel]
        built = [p for p in folder.iterdir() if p.is_file() and WEIGHT_NAME.match(p.name)]
        if not built:
            continue
        for name in sorted(names):
            target = folder / name
            if target.is_file() or (size == "full" and name.endswith(".bin")):
                continue
            source = _source_for(folder, name)
            if source is None:
                raise TwinBuildError(f"{repo}: cannot make {rel}/{name} for the twin: no matching safetensors was "
                                     "built. The recipe and helpers/manifests.json disagree.")
            if name.endswith(".safetensors"):  # e.g. non_ema: the same tensors under the variant's name
                try:
                    os.link(source, target)  # no second copy on disk (full-size files are gigabytes)
                except OSError:
                    shutil.copyfile(source, target)
            else:
                torch.save(load_file(source), target)
        for path in built:
            if path.name not in names:
                path.unlink()  # the real repo has no such file: a twin must not offer it either


def _git_blob_id(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def write_tree_listing(repo_root: Path, revision: str, snapshot: Path) -> None:
    """Write the hub's cached tree listing (trees/<revision>.json) for a snapshot, as a real download leaves it (ch. 1).

    Offline, diffusers reads this listing to pick files exactly as it would online; without it, a variant the repo
    lacks would go unnoticed.
    """
    files = {p.relative_to(snapshot).as_posix(): {"size": p.stat().st_size, "blob_id": _git_blob_id(p)}
             for p in sorted(snapshot.rglob("*")) if p.is_file()}
    trees = repo_root / "trees"
    trees.mkdir(exist_ok=True)
    (trees / f"{revision}.json").write_text(json.dumps({"format_version": 1, "files": files}, indent=1) + "\n")


def build_one(repo: str, snapshot: Path, tok_dir: Path, tok_bang_dir: Path, size: str = "tiny") -> None:
    """Build one repo's twin into its snapshot folder, with README and twin.json marker (ch. 1)."""

    if size not in SIZES:
        raise ValueError(f"size={size!r} is not one of {SIZES}; pass size='tiny' or size='full'.")
    if size == "full" and repo not in full_size_configs():
        raise TwinBuildError(f"no full-size config is recorded for {repo}; full-size twins exist for: "
                             f"{', '.join(full_size_repos())}. Add its configs to {FULL_SIZE_FILE.name}.")
    fp16 = has_fp16_files(repo)
    if MODELS[repo].pipeline == "DepthAnythingForDepthEstimation":
        model, processor = build_depth(repo)
        _save(model, snapshot, fp16)
        processor.save_pretrained(snapshot)
    else:
        _save(pipeline_for(repo, tok_dir, tok_bang_dir, size), snapshot, fp16, in_place=size == "full")
    (snapshot / "README.md").write_text(_readme(repo, size))
    weights = WHAT_TWINS_ARE if size == "tiny" else "full-size random weights (real architecture): images are noise"
    (snapshot / MARKER).write_text(json.dumps(
        {"twin": True, "repo_id": repo, "builder_version": builder_version(size), "size": size,
         "note": weights}, indent=2) + "\n")


def build_cache(dest: Path, src_dir: Path, repos=None, log=print, size: str = "tiny") -> Path:
    """Build every twin (or `repos`) into a fresh hub cache at `dest`, which must not exist yet (ch. 1)."""
    import diffusers
    import torch
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    if size == "tiny":  # tiny models gain nothing from more threads; full-size ones initialise faster
        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    vocab, merges = clip_vocab(src_dir)
    dest.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="tok-", dir=dest))
    tok_dir, tok_bang_dir = work / "clip", work / "clip-bang"
    save_tokenizer(tok_dir, vocab, merges)
    save_tokenizer(tok_bang_dir, vocab, merges, pad_token="!")  # SDXL's second tokenizer pads with "!"
    for repo in repos or list(MODELS):
        org, name = repo.split("/")
        root = dest / f"models--{org}--{name}"
        rev = commit_hash(repo, size)
        snapshot = root / "snapshots" / rev
        snapshot.mkdir(parents=True)
        (root / "refs").mkdir()
        (root / "refs" / "main").write_text(rev)
        build_one(repo, snapshot, tok_dir, tok_bang_dir, size)
        match_record(repo, snapshot, size)
        _tidy_snapshot(snapshot)
        write_tree_listing(root, rev, snapshot)
        log(f"  {'twin' if size == 'tiny' else 'full-size twin'} {repo}")
    shutil.rmtree(work)
    if size == "tiny":  # full-size repos share no files worth hashing gigabytes for
        dedupe(dest)
    return dest


def _tidy_snapshot(snapshot: Path) -> None:
    """Write files as the real repos have them, independent of how and where the builder ran."""
    index = snapshot / "model_index.json"
    if index.is_file():  # transformers names its PIL fallback here when torchvision is missing
        index.write_text(index.read_text().replace('"CLIPImageProcessorPil"', '"CLIPImageProcessor"'))
    for cfg in snapshot.rglob("tokenizer_config.json"):  # loader flags of the build, not of the tokenizer
        data = json.loads(cfg.read_text())
        for key in ("is_local", "local_files_only", "name_or_path"):
            data.pop(key, None)
        cfg.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def dedupe(cache: Path) -> int:
    """Hard-link identical files (shared VAEs, encoders, tokenizers), as the hub's blob store would (ch. 1)."""
    seen: dict[str, Path] = {}
    saved = 0
    for p in sorted(cache.rglob("*")):
        if not p.is_file() or p.stat().st_size < 4096:
            continue
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        if digest in seen and seen[digest].stat().st_ino == p.stat().st_ino:
            continue  # already one file (rename onto a hard link of itself would leave the temporary name behind)
        if digest in seen:
            tmp = p.with_name(p.name + ".link")
            try:
                os.link(seen[digest], tmp)
            except OSError:
                continue  # no hard links on this file system: keep the copy
            os.replace(tmp, p)
            saved += p.stat().st_size
        else:
            seen[digest] = p
    return saved


def manifest(cache: Path) -> dict[str, str]:
    """sha256 of every file in a twin cache by relative path, to prove builds are deterministic (ch. 1)."""
    out = {}
    for p in sorted(cache.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(cache))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
