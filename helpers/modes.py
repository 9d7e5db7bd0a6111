"""Choose where the chapter's weights come from: real checkpoints from the Hub, or offline twins."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

from helpers.paths import env_flag, repo_folder

MODES = ("auto", "twins", "hub")
_ACTIVE: dict[str, str] = {}


class HubUnavailableError(RuntimeError):
    """Raised in hub mode when the real weights can neither be downloaded nor found in the cache."""


def user_hub_cache() -> Path:
    """The learner's own Hugging Face hub cache (never written to by twins) (ch. 1)."""
    if os.environ.get("HF_HUB_CACHE") and not os.environ.get("TUTORIAL_MODE_ACTIVE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME", os.path.join(os.path.expanduser("~"), ".cache", "huggingface"))
    return Path(home).expanduser() / "hub"


def active_hub_cache() -> Path:
    """The hub cache loading reads from now: the twins' after use_models("twins"), else the learner's (ch. 1)."""
    return Path(os.environ["HF_HUB_CACHE"]).expanduser() if os.environ.get("HF_HUB_CACHE") else user_hub_cache()


def snapshot_path(repo_id: str, cache: Path | None = None) -> Path | None:
    """Folder of the snapshot `refs/main` points to in a hub cache, or None if it is not there (ch. 1)."""
    root = (cache or active_hub_cache()) / repo_folder(repo_id)
    ref = root / "refs" / "main"
    if not ref.is_file():
        return None
    snapshot = root / "snapshots" / ref.read_text().strip()
    return snapshot if snapshot.is_dir() else None


def is_cached(repo_id: str, cache: Path | None = None) -> bool:
    """True if a snapshot of `repo_id` is in the learner's hub cache (ch. 1)."""
    snapshots = (cache or user_hub_cache()) / repo_folder(repo_id) / "snapshots"
    return snapshots.is_dir() and any(snapshots.iterdir())


def hub_offline() -> bool:
    """True when HF_HUB_OFFLINE says not to use the network (1, true, yes or on) (ch. 1)."""
    return env_flag("HF_HUB_OFFLINE")


def hub_reachable(timeout: float = 3.0) -> bool:
    """True if the Hugging Face Hub answers within `timeout` seconds (ch. 1)."""
    if hub_offline():
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint + "/api/whoami-v2", method="HEAD"), timeout=timeout)
        return True
    except urllib.error.HTTPError:
        return True  # the server answered (401 without a token): it is reachable
    except (OSError, ValueError):
        return False


def decide(mode: str | None, needs: tuple[str, ...] | list[str] = (), *, reachable=None, cached=None) -> str:
    """Resolve auto|twins|hub to twins or hub; raise HubUnavailableError when hub cannot work (ch. 1)."""
    mode = (mode or os.environ.get("TUTORIAL_MODELS") or "auto").strip().lower()
    if mode not in MODES:
        raise ValueError(f"TUTORIAL_MODELS={mode!r} is not a mode. Use one of: auto (default), twins, hub.")
    if mode == "twins":
        return "twins"
    reachable = hub_reachable() if reachable is None else reachable
    cached = all(is_cached(r) for r in needs) if cached is None else cached
    if reachable or (cached and needs):
        return "hub"
    if mode == "hub":
        raise HubUnavailableError(
            "TUTORIAL_MODELS=hub, but the Hugging Face Hub cannot be reached and these checkpoints are not in "
            f"your cache ({user_hub_cache()}): {', '.join(needs) or '(none named)'}.\n"
            "Fix: connect to the internet once to download them, or run on the offline twins instead: "
            "set TUTORIAL_MODELS=twins (in a notebook: `%env TUTORIAL_MODELS=twins`, then restart the kernel)."
        )
    return "twins"


def active_mode() -> str | None:
    """The mode chosen by use_models() in this process, or None before it ran (every chapter)."""
    return _ACTIVE.get("mode") or os.environ.get("TUTORIAL_MODE_ACTIVE")
