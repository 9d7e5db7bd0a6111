"""Full-size twins: the real checkpoints' architectures (full_size.json) with random weights, to measure speed.

    python -m tools.full_size path [--only REPO ...]   # build once (gigabytes), print the cache path
    python -m tools.full_size build [--only REPO ...]  # rebuild from scratch

They are built only when asked for and never committed. Images made with them are noise. `full_pipeline()` builds
one in memory instead, in fp16 straight on a GPU, so a GPU check writes no multi-GB files.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from helpers.manifests import has_fp16_files
from helpers.paths import repo_folder
from helpers.twins import LOCK_NAME, MARKER, TwinBuildError, remove_leftovers, twin_root
from helpers.twins.build import (
    commit_hash,
    finish_snapshot,
    make_tokenizers,
    match_record,
    open_snapshot,
    quiet_libraries,
    write_card,
)
from helpers.twins.parts import seed_torch
from helpers.twins.recipes import pipeline_for

FULL_SIZE_FILE = Path(__file__).with_name("full_size.json")
VERSION = "3"  # bump when full_size.json or this recipe changes: an older full-size twin is then rebuilt
NOTE = "full-size random weights (real architecture): images are noise"


def full_size_configs() -> dict:
    """The real checkpoints' architecture configs, by repo and component folder, with sources (maintainer tool)."""
    data = json.loads(FULL_SIZE_FILE.read_text())
    return {repo: parts for repo, parts in data.items() if not repo.startswith("_")}


def full_component(repo: str, folder: str):
    """A random-weight component with the real checkpoint's exact config from full_size.json (maintainer tool)."""
    import diffusers
    import transformers

    entry = full_size_configs()[repo][folder]
    cfg = dict(entry["config"])
    cls_name = entry["class"]
    seed_torch(f"full:{repo}/{folder}")
    if cls_name == "StableDiffusionSafetyChecker":
        from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker

        return StableDiffusionSafetyChecker(transformers.CLIPConfig(**cfg)).eval()
    if entry["library"] == "diffusers":
        cfg.pop("_class_name", None)
        return getattr(diffusers, cls_name).from_config(cfg).eval()
    config_cls = transformers.CLIPVisionConfig if "Vision" in cls_name else transformers.CLIPTextConfig
    return getattr(transformers, cls_name)(config_cls(**cfg)).eval()


@contextlib.contextmanager
def _building_on(device: str, dtype):
    """New tensors go to `device` in `dtype` while the block runs; the default dtype is restored after it."""
    import torch

    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            yield
    finally:
        torch.set_default_dtype(before)


def full_pipeline(repo: str, device: str = "cuda", dtype=None):
    """The full-size twin of `repo` made in memory on `device` (fp16 by default), with no files (maintainer tool).

    Each component is made where it will run and in the dtype it will run in, so the largest one (SDXL's UNet,
    2.57 B parameters) needs 5.1 GB of GPU memory and no disk. `device="meta"` gives shapes only (a quick check).
    """
    import torch

    dtype = torch.float16 if dtype is None else dtype
    known = list(full_size_configs())
    if repo not in known:
        raise ValueError(f"{repo!r} has no full-size recipe; choose from: {', '.join(known)}.")
    quiet_libraries()
    root = twin_root() / "full"
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="tok-", dir=root))  # the tokenizers are made from files, then read once
    try:
        tok_dir, tok_bang_dir = make_tokenizers(twin_root() / "src", work)

        def part(r: str, folder: str):
            with _building_on(device, dtype):
                return full_component(r, folder)

        return pipeline_for(repo, tok_dir, tok_bang_dir, part=part)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def full_twin_cache() -> Path:
    """Path of the full-size twin hub cache, beside the tiny twins' (maintainer tool)."""
    return twin_root() / "full" / "hub"


def revision(repo: str) -> str:
    """The fixed revision of a repo's full-size twin (maintainer tool)."""
    return commit_hash(repo, VERSION, kind="twin-full")


def is_built(hub: Path, repo: str) -> bool:
    """True when `hub` holds this version's finished full-size twin of `repo` (maintainer tool)."""
    marker = hub / repo_folder(repo) / "snapshots" / revision(repo) / MARKER
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return info.get("builder_version") == VERSION and info.get("size") == "full"


def full_size_bytes(repo: str) -> int:
    """Disk bytes a full-size twin takes: fp32 weights, plus fp16 copies where the repo has them (maintainer tool)."""
    params = sum(part["params"] for part in full_size_configs()[repo].values())
    return params * (4 + (2 if has_fp16_files(repo) else 0))


def save_in_place(obj, folder: Path, fp16: bool) -> None:
    """Save fp32 safetensors, then cast the model itself to fp16 for the variant files (maintainer tool).

    A second copy of a full-size model would not fit in memory, so the cast happens in place; the fp32 run's
    JSON files are put back afterwards, because the real configs say float32.
    """
    import torch

    obj.save_pretrained(folder, safe_serialization=True)
    if fp16:
        configs = {p: p.read_text() for p in folder.rglob("*.json")}
        obj.to(torch.float16).save_pretrained(folder, safe_serialization=True, variant="fp16")
        for p, text in configs.items():
            p.write_text(text)


def build_full(repo: str, dest: Path) -> None:
    """Build one repo's full-size twin into a fresh hub cache at `dest` (maintainer tool)."""
    import torch

    quiet_libraries()
    torch.set_num_threads(os.cpu_count() or 1)  # full-size models initialise faster with every core
    dest.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="tok-", dir=dest))
    tok_dir, tok_bang_dir = make_tokenizers(twin_root() / "src", work)
    rev = revision(repo)
    root, snapshot = open_snapshot(dest, repo, rev)
    save_in_place(pipeline_for(repo, tok_dir, tok_bang_dir, part=full_component), snapshot, has_fp16_files(repo))
    write_card(snapshot, repo, tag="random-weights", what="Full-size random weights (the real architecture): images "
               "made with it are noise.", version=VERSION, built_by="python -m tools.full_size", size="full",
               note=NOTE)
    match_record(repo, snapshot, pickle_copies=False)  # pickle copies would double gigabytes of disk
    finish_snapshot(root, rev, snapshot)
    shutil.rmtree(work)


def ensure_full_built(repos=None, log=print) -> Path:
    """Build full-size twins of `repos` (default: all) once, each atomically; return the cache (maintainer tool)."""
    from filelock import FileLock

    known = list(full_size_configs())
    repos = list(repos) if repos else known
    for repo in repos:
        if repo not in known:
            raise ValueError(f"{repo!r} has no full-size recipe; choose from: {', '.join(known)}.")
    hub = full_twin_cache()
    hub.mkdir(parents=True, exist_ok=True)
    root = hub.parent
    with FileLock(str(root / LOCK_NAME)):
        remove_leftovers(root, ("build.partial-*",), log)  # a full-size build killed midway
        todo = [r for r in repos if not is_built(hub, r)]
        need = sum(full_size_bytes(r) for r in todo)
        free = shutil.disk_usage(root).free
        if need > free:
            raise TwinBuildError(
                f"Full-size twins of {len(todo)} repos need about {need / 1e9:.1f} GB in {root}, and "
                f"{free / 1e9:.1f} GB are free. Build fewer (e.g. --only stable-diffusion-v1-5/stable-diffusion-v1-5) "
                "or set TUTORIAL_CACHE to a folder on a larger disk."
            )
        for repo in todo:
            start = time.perf_counter()
            log(f"Building the full-size twin of {repo} (random weights, {full_size_bytes(repo) / 1e9:.1f} GB) ...")
            tmp = root / f"build.partial-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            try:
                build_full(repo, tmp)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)  # never leave a half-built repo behind
                raise
            folder = repo_folder(repo)
            shutil.rmtree(hub / folder, ignore_errors=True)
            (tmp / folder).rename(hub / folder)  # one rename: the repo is there whole or not at all
            shutil.rmtree(tmp, ignore_errors=True)
            log(f"  done in {time.perf_counter() - start:.1f} s")
    return hub


def main(argv=None) -> int:
    """Build the full-size twins if needed and print their cache path as the last line (maintainer tool)."""
    parser = argparse.ArgumentParser(prog="python -m tools.full_size", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["path", "build"],
                        help="path: build what is missing, print the cache path; build: rebuild from scratch")
    parser.add_argument("--only", nargs="+", metavar="REPO", help="build only these repo ids")
    args = parser.parse_args(argv)
    if args.command == "build":
        shutil.rmtree(full_twin_cache(), ignore_errors=True)
    try:
        hub = ensure_full_built(args.only, log=lambda m: print(m, file=sys.stderr))
    except ValueError as err:
        parser.error(str(err))
    except TwinBuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print("These are FULL-SIZE TWINS: real architectures, random weights. Images made with them are noise.",
          file=sys.stderr)
    print(hub)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
