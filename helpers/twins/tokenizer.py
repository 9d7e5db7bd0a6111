"""The twins' tokenizers: the real CLIP vocabulary, taken from a small PyPI wheel, with the 77-token window."""

from __future__ import annotations

import gzip
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

from helpers.twins import TwinBuildError

# The real CLIP byte-pair merges (MIT licence, OpenAI) ship inside this small PyPI wheel; the twins'
# tokenizers are built from it so that prompts split into the same 77-token windows as the real ones.
CLIP_WHEEL = "clip_anytorch-2.6.0-py3-none-any.whl"
CLIP_WHEEL_SHA256 = "ebc0afed243851b9dc7e16ab8afb665237e8a5838986e97cd99f123ae4ce94ce"


def _clip_merges(src_dir: Path) -> list[str]:
    wheel = src_dir / CLIP_WHEEL
    if not wheel.exists():
        src_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "clip-anytorch==2.6.0",
               "-d", str(src_dir)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not wheel.exists():
            raise TwinBuildError(
                "The twin builder needs the real CLIP vocabulary, which it takes from the PyPI wheel "
                f"clip-anytorch==2.6.0, and pip could not fetch it:\n{done.stderr.strip()[-500:]}\n"
                f"Fix: while online, run `pip download --no-deps clip-anytorch==2.6.0 -d {src_dir}`."
            )
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != CLIP_WHEEL_SHA256:
        raise TwinBuildError(f"{wheel} has sha256 {digest}, expected {CLIP_WHEEL_SHA256}. Delete it and build again.")
    with zipfile.ZipFile(wheel) as z:
        text = gzip.decompress(z.read("clip/bpe_simple_vocab_16e6.txt.gz")).decode("utf-8")
    # first line is a header; CLIP keeps 49152 - 256 - 2 merges
    return text.split("\n")[1 : 49152 - 256 - 2 + 1]


def _byte_alphabet() -> list[str]:
    """The 256 printable stand-ins for raw bytes used by byte-level BPE (GPT-2 / CLIP convention)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = [], 0
    for b in range(256):
        if b in keep:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    # CLIP orders the vocabulary by the printable bytes first, then the remapped ones
    ordered = [chr(b) for b in keep] + [c for b, c in enumerate(chars) if b not in keep]
    return ordered


def clip_vocab(src_dir: Path) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The real 49408-token CLIP vocabulary and its merges (ch. 1)."""
    merges = [tuple(m.split()) for m in _clip_merges(src_dir)]
    alphabet = _byte_alphabet()
    tokens = alphabet + [c + "</w>" for c in alphabet] + ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(tokens)}, merges


def save_tokenizer(folder: Path, vocab, merges, pad_token: str = "<|endoftext|>") -> None:
    """Save a CLIP tokenizer with the 77-token window into `folder`, in the real repos' four files (ch. 1)."""
    import json

    # The real repos keep a CLIP tokenizer as merges.txt, special_tokens_map.json, tokenizer_config.json and
    # vocab.json, and no tokenizer.json: diffusers' loading guide shows stable-diffusion-v1-5's tree
    # (https://huggingface.co/docs/diffusers/using-diffusers/loading), and the Hub's listings of its copies show the
    # same (https://huggingface.co/jcplus/stable-diffusion-v1-5/tree/main/tokenizer). transformers builds the
    # tokenizer from them when it loads, as it does for a learner's download.
    folder.mkdir(parents=True, exist_ok=True)
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": pad_token,
               "unk_token": "<|endoftext|>"}
    (folder / "vocab.json").write_text(json.dumps(dict(vocab), indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges),
                                       encoding="utf-8")
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n", encoding="utf-8")
    config = {**special, "add_prefix_space": False, "do_lower_case": True, "errors": "replace",
              "model_max_length": 77, "tokenizer_class": "CLIPTokenizer"}
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n",
                                                  encoding="utf-8")
