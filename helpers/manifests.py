"""The recorded file lists of the real checkpoints (helpers/manifests.json), with a public source for each folder.

The record is what the twins are built from and what loading decisions fall back on when no listing can be read.
It is kept by hand from public listings of the Hub; `python -m tools.preflight` compares it with the live Hub.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

RECORD_FILE = Path(__file__).with_name("manifests.json")
_UNITS = {"B": 1, "BYTES": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12}


@cache
def _record() -> dict:
    return {repo: entry for repo, entry in json.loads(RECORD_FILE.read_text()).items() if not repo.startswith("_")}


def recorded_repos() -> list[str]:
    """Repo ids that have a recorded manifest (every chapter)."""
    return list(_record())


def record(repo_id: str) -> dict:
    """The recorded manifest of one real repo: classes, folders, files, sizes and sources (every chapter)."""
    try:
        return _record()[repo_id]
    except KeyError:
        raise KeyError(f"{repo_id!r} has no recorded manifest in {RECORD_FILE.name}; "
                       f"recorded: {', '.join(recorded_repos())}.") from None


def parse_size(text: str | None) -> int | None:
    """Bytes from a size as the Hub shows it ("3.44 GB", "597 Bytes"), or None when unknown (every chapter)."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*([\d.,]+)\s*([A-Za-z]+)\s*", text)
    if not match or match.group(2).upper() not in _UNITS:
        raise ValueError(f"size {text!r} is not of the form '3.44 GB'")
    return round(float(match.group(1).replace(",", "")) * _UNITS[match.group(2).upper()])


def _path(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def recorded_files(repo_id: str) -> dict[str, int | None]:
    """The weight files the real repo ships, as repo paths -> bytes (None: no listing gave a size) (every chapter)."""
    return {_path(folder, name): parse_size(size)
            for folder, entry in record(repo_id)["folders"].items()
            for name, size in entry["files"].items()}


def has_fp16_files(repo_id: str) -> bool:
    """True if the real repo ships any `*.fp16.*` weight file (ch. 1)."""
    return any(".fp16." in path for path in recorded_files(repo_id))


def component_folders(repo_id: str) -> list[str]:
    """The folders that hold the repo's weights ("" for a single model at the repo root) (every chapter)."""
    return list(record(repo_id)["folders"])


def recorded_params(repo_id: str) -> dict[str, int]:
    """Parameter count of each weight-bearing component of the real repo, by folder (every chapter)."""
    return {folder: entry["params"] for folder, entry in record(repo_id)["folders"].items()}


def _kinds(names: list[str]) -> str:
    fp16 = [n for n in names if ".fp16." in n]
    safe = [n for n in names if n.endswith(".safetensors")]
    parts = ["fp16 " + ("yes" if fp16 else "no"),
             "safetensors " + ("fp16 only" if safe and all(".fp16." in n for n in safe) else "yes" if safe else "no")]
    return ", ".join(parts)


def manifest_table() -> str:
    """The record as a markdown table for docs/twins.md: one row per folder, with its source (maintainer tool)."""
    rows = ["| repo | classes | folder | weight files (size on the Hub) | fp16 / safetensors | source |",
            "|---|---|---|---|---|---|"]
    for repo in recorded_repos():
        entry = record(repo)
        classes = entry.get("pipeline") or entry.get("model")
        if entry.get("scheduler"):
            classes += f" · {entry['scheduler']}"
        for i, (folder, part) in enumerate(entry["folders"].items()):
            files = ", ".join(f"`{n}` ({s or '?'})" for n, s in part["files"].items())
            source = f"[source]({part['source']})" if part["source"].startswith("https://") else part["source"]
            rows.append(f"| {f'`{repo}`' if i == 0 else ''} | {classes if i == 0 else ''} | {folder or '(root)'} | "
                        f"{files} | {_kinds(list(part['files']))} | {source} |")
        for path, why in entry.get("unconfirmed", {}).items():
            rows.append(f"| | | | not confirmed, left out of the twin: `{path}` ({why}) | | |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(manifest_table())
