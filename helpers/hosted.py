"""Finish setting up a hosted notebook (Colab, Kaggle) after the first cell has installed the tutorial there."""

from __future__ import annotations

import importlib.metadata
import os
import sys
from typing import NamedTuple

from helpers.paths import DISTRIBUTION

# Packages a hosted kernel may already have imported before the first cell installs the tutorial:
# import name -> distribution name, as importlib.metadata knows it.
WATCHED = {
    "helpers": DISTRIBUTION,
    "ipywidgets": "ipywidgets",
    "numpy": "numpy",
    "transformers": "transformers",
    "diffusers": "diffusers",
    "huggingface_hub": "huggingface_hub",
    "accelerate": "accelerate",
    "safetensors": "safetensors",
    "tokenizers": "tokenizers",
    "PIL": "pillow",
    "packaging": "packaging",
}

RESTART = {
    "colab": "Runtime → Restart session",
    "kaggle": "Run → Restart & clear cell outputs",
}


class Stale(NamedTuple):
    """A package this kernel imported at one version while another version is now installed."""

    name: str
    old: str
    new: str


def platform() -> str | None:
    """Return "colab" or "kaggle" when the notebook runs there, else None (every chapter)."""
    if "google.colab" in sys.modules:
        return "colab"
    if "KAGGLE_KERNEL_RUN_TYPE" in os.environ:
        return "kaggle"
    return None


def _same(old: str, new: str) -> bool:
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:
        return old == new
    try:
        return Version(old) == Version(new)
    except InvalidVersion:
        return old == new


def stale_packages(watched: dict[str, str] | None = None) -> list[Stale]:
    """List the imported packages whose installed version is no longer the one loaded in this kernel (every chapter)."""
    found = []
    for module_name, dist in (WATCHED if watched is None else watched).items():
        module = sys.modules.get(module_name)
        old = getattr(module, "__version__", None)
        if not isinstance(old, str):
            continue
        try:
            new = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
        if not _same(old, new):
            found.append(Stale(dist, old, new))
    return found


class RestartNeeded(RuntimeError):
    """The install changed packages this kernel had already imported: raised so that "Run all" stops at cell 1."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows these lines instead of a stack trace: the learner reads what to do, not where it was raised
        return [f"\033[1;31m{type(self).__name__}\033[0m: {self}"]


def restart_message(stale: list[Stale], where: str | None = None) -> str:
    """Say which packages changed under the running kernel and how to restart it here (every chapter)."""
    how = RESTART.get(where or "", "restart the kernel")
    changed = "\n".join(f"  {s.name} {s.old} → {s.new}" for s in stale)
    return (
        "installing the tutorial changed packages this kernel had already imported:\n"
        f"{changed}\n"
        f"Restart the runtime ({how}), then run this notebook again from the top. "
        "\"Run all\" stops here: the cells below would have run with the old versions."
    )


def finish_setup(watched: dict[str, str] | None = None) -> None:
    """Switch on Colab's widget manager; raise RestartNeeded if the install changed an imported package (every chapter).

    Raising, not printing, is what stops "Run all" here: a printed note sits in cell 1 while every later cell runs
    with the old packages (ipywidgets 7 sliders, for one)."""
    where = platform()
    if where == "colab":
        from google.colab import output  # ipywidgets 8 widgets render on Colab only through its custom manager

        output.enable_custom_widget_manager()
    stale = stale_packages(watched)
    if stale:
        raise RestartNeeded(restart_message(stale, where))
