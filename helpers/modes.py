"""Choose where the chapter's weights come from: real checkpoints from the Hub, or offline twins."""

from __future__ import annotations

import logging
import os
import sys
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


def use_models(mode: str | None = None, needs: tuple[str, ...] | list[str] = ()) -> str:
    """Point Hugging Face loading at real weights or at the twins, and say which in one line (every chapter)."""
    from helpers.checkpoints import checkpoint

    needs = tuple(checkpoint(r).repo_id for r in needs)  # unknown or dead ids fail here, with the fix
    chosen = decide(mode, needs)
    if chosen == "twins":
        from helpers.twins import ensure_built, twin_cache

        env = {"HF_HUB_CACHE": str(twin_cache()), "HF_HUB_OFFLINE": "1"}
    else:
        env = {"HF_HUB_CACHE": str(user_hub_cache())}
        if not hub_offline() and not hub_reachable():  # chosen for the cache: load from it without network waits
            env["HF_HUB_OFFLINE"] = "1"
    _check_not_loaded_elsewhere(env["HF_HUB_CACHE"])
    os.environ.update(env)  # before anything imports huggingface_hub, which reads these once
    if chosen == "twins":
        ensure_built(log=lambda m: print(m, file=sys.stderr))
        _quiet_offline_loading()
    os.environ["TUTORIAL_MODE_ACTIVE"] = chosen
    _ACTIVE["mode"] = chosen
    if chosen == "twins":
        from helpers.twins import WHAT_TWINS_ARE

        print(f"Models: TWINS — {WHAT_TWINS_ARE}. They load offline under the real repo ids; the code is the real "
              "code.")
    else:
        where = "offline, from your Hugging Face cache" if hub_offline() else "downloaded once into your HF cache"
        print(f"Models: HUB — the real checkpoints ({where}).")
        if needs:
            from helpers.loading import download_summary

            print(download_summary(needs))
    return chosen


def active_mode() -> str | None:
    """The mode chosen by use_models() in this process, or None before it ran (every chapter)."""
    return _ACTIVE.get("mode") or os.environ.get("TUTORIAL_MODE_ACTIVE")


def _check_not_loaded_elsewhere(cache: str) -> None:
    """huggingface_hub reads its cache path once, at import: refuse to switch after that."""
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is None:
        return
    if os.path.realpath(constants.HF_HUB_CACHE) != os.path.realpath(cache):
        raise RuntimeError(
            "huggingface_hub was imported before use_models() chose a cache, so it would load from "
            f"{constants.HF_HUB_CACHE} instead of {cache}.\n"
            "Fix: restart the kernel and run the `use_models(...)` cell before importing diffusers or transformers."
        )


class _TwinChatter(logging.Filter):
    """Drop diffusers' notes that say nothing new on the twins: no Hub, so the local cache; files load_args named."""

    NOISE = ("Couldn't connect to the Hub", "Will try to load from local cache", "should be kept in float32: []",
             # chapter 3 shares SD 1.5's safety checker: diffusers cannot look its class up and prints the module
             "You have passed a non-standard module StableDiffusionSafetyChecker(",
             # load_args has already said which parts load fp16 files and which full precision
             "A mixture of fp16 and non-fp16 filenames will be loaded")

    def filter(self, record) -> bool:
        message = record.getMessage()
        return not any(noise in message for noise in self.NOISE)


def _quiet_offline_loading() -> None:
    """Twins load offline in a blink: hide the 'could not reach the Hub' notes and loading bars they cause."""
    import warnings

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    warnings.filterwarnings("ignore", message=".*local_dir_use_symlinks.*")
    from diffusers.utils import logging as diffusers_logging
    from huggingface_hub.utils import logging as hub_logging
    from transformers.utils import logging as transformers_logging

    hub_logging.set_verbosity_error()

    # diffusers stays at WARNING, so that a learner's mistakes still show (an argument from_pretrained ignores,
    # a prompt cut at 77 tokens); only the notes that offline twins cause on every load are dropped
    diffusers_logging.set_verbosity_warning()
    for handler in logging.getLogger("diffusers").handlers:  # records from diffusers.* reach it through these
        if not any(isinstance(f, _TwinChatter) for f in handler.filters):
            handler.addFilter(_TwinChatter())
    diffusers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
