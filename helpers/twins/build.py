"""Write the twin hub cache: each repo's twin saved as the Hub would serve it, with exactly the real files.

A twin keeps what a caller can see (classes, scheduler config, channels, VAE scale factor, default size, tokenizer,
which fp16 files exist) and shrinks everything else; `facts.py` holds the table, `recipes.py` what each twin is made
of. The pieces below (snapshot, model card, weights, record, listing) are also what the maintainer's full-size
twins (tools/full_size.py) are assembled from.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from helpers.checkpoints import CHECKPOINTS
from helpers.loading import WEIGHT_NAME
from helpers.manifests import has_fp16_files, recorded_files
from helpers.paths import repo_folder
from helpers.twins import MARKER, WHAT_TWINS_ARE, TwinBuildError
from helpers.twins.facts import FACTS
from helpers.twins.recipes import build_depth, pipeline_for
from helpers.twins.tokenizer import clip_vocab, save_tokenizer

# Bump when the twins change: an older cache is then rebuilt.
# 21: CLIP tokenizers in the real repos' files (vocab.json, merges.txt), not tokenizer.json
# 18: no block_out_channels in the TAESD twins' configs; 17: the TAESD twins set by hand to the twin VAE codec
BUILDER_VERSION = "21"


# ---------------------------------------------------------------- saving into a hub cache


def commit_hash(repo: str, version: str = BUILDER_VERSION, kind: str = "twin") -> str:
    """A fixed 40-hex revision per twin and builder version, so refs/main is the same on every build (ch. 1)."""
    return hashlib.sha1(f"{kind}:{repo}:{version}".encode()).hexdigest()


def open_snapshot(dest: Path, repo: str, revision: str) -> tuple[Path, Path]:
    """Make a repo's folder in a hub cache, refs/main naming `revision`; return (repo root, snapshot) (ch. 1)."""
    root = dest / repo_folder(repo)
    snapshot = root / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(revision)
    return root, snapshot


def write_card(snapshot: Path, repo: str, *, tag: str, what: str, version: str, built_by: str, **info) -> None:
    """Write the twin's model card (README.md) and its twin.json marker, which is_twin() looks for (ch. 1)."""
    lines = ["---", "tags:", "- twin", f"- {tag}"]
    prior = FACTS.get(repo, {}).get("connected_prior")
    if prior:
        lines += ["prior:", f"- {prior}"]  # diffusers loads the prior from here for the combined pipelines
    lines += ["---", "", f"# TWIN of {repo}", "", "It mirrors the real checkpoint's classes, configs and file layout.",
              what, f"Built by `{built_by}`.", ""]
    (snapshot / "README.md").write_text("\n".join(lines))
    (snapshot / MARKER).write_text(json.dumps(
        {"twin": True, "repo_id": repo, "builder_version": version, **info}, indent=2) + "\n")


def save_weights(obj, folder: Path, fp16: bool) -> None:
    """save_pretrained in fp32 safetensors and, when `fp16`, the *.fp16.safetensors variant files too (ch. 1).

    `match_record` then turns this superset into exactly the real repo's files.
    """
    import torch

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


def match_record(repo: str, snapshot: Path, pickle_copies: bool = True) -> None:
    """Make the snapshot's weight files exactly the real repo's recorded ones: derive missing ones, drop extras (ch. 1).

    Twins get every recorded file: pickle copies (`.bin`, written by this builder from its own tensors, so they are
    safe to load), non-EMA copies and fp16 variants. `pickle_copies=False` leaves the pickle copies out (full-size
    twins, where they would double gigabytes of disk).
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
            if target.is_file() or (not pickle_copies and name.endswith(".bin")):
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


def build_one(repo: str, snapshot: Path, tok_dir: Path, tok_bang_dir: Path) -> None:
    """Build one repo's twin into its snapshot folder, with model card and twin.json marker (ch. 1)."""
    fp16 = has_fp16_files(repo)
    if CHECKPOINTS[repo].pipeline == "DepthAnythingForDepthEstimation":
        model, processor = build_depth(repo)
        save_weights(model, snapshot, fp16)
        processor.save_pretrained(snapshot)
    else:
        save_weights(pipeline_for(repo, tok_dir, tok_bang_dir), snapshot, fp16)
        real_tokenizer_files(snapshot, tok_dir, tok_bang_dir)
    write_card(snapshot, repo, tag="tiny", what=f"A twin: {WHAT_TWINS_ARE}.", version=BUILDER_VERSION,
               built_by="python -m helpers.twins", size="tiny", note=WHAT_TWINS_ARE)


def real_tokenizer_files(snapshot: Path, tok_dir: Path, tok_bang_dir: Path) -> None:
    """Give each tokenizer folder the real repos' four files in place of what save_pretrained wrote (ch. 1)."""
    for folder in (snapshot / "tokenizer", snapshot / "tokenizer_2"):
        config = folder / "tokenizer_config.json"
        if not config.is_file():
            continue
        bang = json.loads(config.read_text()).get("pad_token") == "!"  # SDXL's second tokenizer
        shutil.rmtree(folder)
        shutil.copytree(tok_bang_dir if bang else tok_dir, folder)


def quiet_libraries() -> None:
    """Silence diffusers' and transformers' progress bars and warnings while building (ch. 1)."""
    import diffusers
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def make_tokenizers(src_dir: Path, work: Path) -> tuple[Path, Path]:
    """Save the two CLIP tokenizers every twin copies: padding with the end token, and SDXL's with "!" (ch. 1)."""
    vocab, merges = clip_vocab(src_dir)
    tok_dir, tok_bang_dir = work / "clip", work / "clip-bang"
    save_tokenizer(tok_dir, vocab, merges)
    save_tokenizer(tok_bang_dir, vocab, merges, pad_token="!")  # SDXL's second tokenizer pads with "!"
    return tok_dir, tok_bang_dir


def finish_snapshot(root: Path, revision: str, snapshot: Path) -> None:
    """Tidy a built snapshot and write the hub's tree listing for it (ch. 1)."""
    _tidy_snapshot(snapshot)
    write_tree_listing(root, revision, snapshot)


def build_cache(dest: Path, src_dir: Path, repos=None, log=print) -> Path:
    """Build every twin (or `repos`) into a fresh hub cache at `dest`, which must not exist yet (ch. 1)."""
    import torch

    quiet_libraries()
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))  # tiny models gain nothing from more threads
    dest.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="tok-", dir=dest))
    tok_dir, tok_bang_dir = make_tokenizers(src_dir, work)
    for repo in repos or list(CHECKPOINTS):
        rev = commit_hash(repo)
        root, snapshot = open_snapshot(dest, repo, rev)
        build_one(repo, snapshot, tok_dir, tok_bang_dir)
        match_record(repo, snapshot)
        finish_snapshot(root, rev, snapshot)
        log(f"  twin {repo}")
    shutil.rmtree(work)
    dedupe(dest)
    return dest


def _tidy_snapshot(snapshot: Path) -> None:
    """Write files as the real repos have them, independent of how and where the builder ran."""
    index = snapshot / "model_index.json"
    if index.is_file():  # transformers names its PIL fallback here when torchvision is missing
        index.write_text(index.read_text().replace('"CLIPImageProcessorPil"', '"CLIPImageProcessor"'))
    for cfg in snapshot.rglob("config.json"):  # AutoencoderTiny saves a key its own loader then calls unexpected
        data = json.loads(cfg.read_text())
        if data.get("_class_name") == "AutoencoderTiny" and data.pop("block_out_channels", None) is not None:
            cfg.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
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
