"""Switch this process to the chosen weights: the hub cache huggingface_hub will read, and what is said about it.

helpers.modes decides which weights (twins or the real checkpoints) from the cache and the network; this module
acts on that once per process, before diffusers is imported, and says in one line which it chose (with the
download sizes for the real ones, from helpers.loading).
"""

from __future__ import annotations

import logging
import os
import sys

from helpers import modes
from helpers.i18n import set_language
from helpers.loading import download_summary


def use_models(mode: str | None = None, needs: tuple[str, ...] | list[str] = (), lang: str = "en") -> str:
    """Point Hugging Face loading at real weights or at the twins, and say which in one line (every chapter).

    `lang` is the chapter's language ("en", or "zh" in notebooks/zh/): the panels' labels and the error notes'
    headings follow it."""
    from helpers.checkpoints import checkpoint

    set_language(lang)  # first: a wrong lang= fails before anything is switched
    if isinstance(needs, str):  # needs="org/name" would be read one letter at a time
        raise TypeError(f"needs= takes a list of repo ids, and got one string: needs=[{needs!r}].")
    needs = tuple(checkpoint(r).repo_id for r in needs)  # unknown or dead ids fail here, with the fix
    chosen = modes.decide(mode, needs)
    if chosen == "twins":
        from helpers.twins import ensure_built, twin_cache

        env = {"HF_HUB_CACHE": str(twin_cache()), "HF_HUB_OFFLINE": "1"}
    else:
        env = {"HF_HUB_CACHE": str(modes.user_hub_cache())}
        if not modes.hub_offline() and not modes.hub_reachable():  # chosen for the cache: no network waits
            env["HF_HUB_OFFLINE"] = "1"
    _check_not_loaded_elsewhere(env["HF_HUB_CACHE"])
    os.environ.update(env)  # before anything imports huggingface_hub, which reads these once
    if chosen == "twins":
        ensure_built(log=lambda m: print(m, file=sys.stderr))
        _quiet_offline_loading()
    os.environ["TUTORIAL_MODE_ACTIVE"] = chosen
    modes._ACTIVE["mode"] = chosen  # what active_mode() reads
    if chosen == "twins":
        from helpers.twins import WHAT_TWINS_ARE

        print(f"Models: TWINS — {WHAT_TWINS_ARE}. They load offline under the real repo ids; the code is the real "
              "code.")
    else:
        where = "offline, from your Hugging Face cache" if modes.hub_offline() else "downloaded once into your HF cache"
        print(f"Models: HUB — the real checkpoints ({where}).")
        if needs:
            print(download_summary(needs))
    return chosen



def _check_not_loaded_elsewhere(cache: str) -> None:
    """huggingface_hub reads its cache path once, at import: refuse to switch after that."""
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is None:
        return
    if os.path.realpath(constants.HF_HUB_CACHE) != os.path.realpath(cache):
        modes._ACTIVE["refused"] = constants.HF_HUB_CACHE  # a later failed load is explained by this
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
