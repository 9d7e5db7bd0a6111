"""The project's places and switches: its cache and build folders, hub folder names, on/off environment variables.

Where files go depends on how the helpers were installed (`places()` says which, and why):

* from a checkout (README's `pip install -e .`, or running inside the clone): caches in `<checkout>/.cache`, outputs
  in `<checkout>/build`, as the README's commands expect;
* as an installed copy (`pip install .` or a wheel, as the Colab and Kaggle setup cell does): caches in the user's
  cache folder (platformdirs: `~/.cache/diffusers-img2img-tutorial` on Linux, `$XDG_CACHE_HOME` if set) and outputs
  in `build/` under the working folder of the notebook or job. Nothing is ever written into site-packages, where
  a learner cannot find it and `pip uninstall` would delete it.

`TUTORIAL_CACHE` and `TUTORIAL_BUILD` name other folders, whatever the install.
"""

from __future__ import annotations

import functools
import os
import tomllib
from pathlib import Path

DISTRIBUTION = "diffusers-img2img-tutorial"  # pyproject.toml's [project] name, and the user cache folder's name
PROJECT_ROOT = Path(__file__).resolve().parent.parent  # the checkout in a checkout; site-packages in an installed copy


@functools.lru_cache(maxsize=8)
def is_checkout(root: Path) -> bool:
    """True if `root` is this project's source tree (its pyproject.toml names it), not site-packages (ch. 1)."""
    try:
        project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8")).get("project", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return project.get("name") == DISTRIBUTION and (root / "helpers" / "paths.py").is_file()


def checkout() -> Path | None:
    """The checkout these helpers were imported from, or None for an installed copy (every chapter)."""
    return PROJECT_ROOT if is_checkout(PROJECT_ROOT) else None


def _from_env(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser().resolve() if value else None


def user_cache_root() -> Path:
    """The platform's user cache folder for this project (platformdirs; honours $XDG_CACHE_HOME) (every chapter)."""
    from platformdirs import user_cache_path

    return user_cache_path(DISTRIBUTION, appauthor=False).resolve()


def cache_dir() -> Path:
    """Root of the project's own caches: twins, chapter images, the CLIP vocabulary (every chapter)."""
    chosen = _from_env("TUTORIAL_CACHE")
    if chosen is not None:
        return chosen
    root = checkout()
    return root / ".cache" if root is not None else user_cache_root()


def build_dir() -> Path:
    """Folder for what a learner or the main job makes: saved pictures, executed notebooks, reports (every chapter)."""
    chosen = _from_env("TUTORIAL_BUILD")
    if chosen is not None:
        if chosen.exists() and not chosen.is_dir():
            raise ValueError(f"TUTORIAL_BUILD={os.environ['TUTORIAL_BUILD']!r} is a file ({chosen}); it must "
                             "name a folder, or be unset for the default place (build/).")
        return chosen
    root = checkout()
    return root / "build" if root is not None else Path.cwd().resolve() / "build"


def places() -> str:
    """Say where this install keeps its caches and writes its outputs, and why (every chapter)."""
    root = checkout()
    if root is not None:
        lines = [f"helpers: imported from the checkout {root}"]
        defaults = ("the checkout's .cache", "the checkout's build/")
    else:
        lines = [f"helpers: an installed copy in {PROJECT_ROOT / 'helpers'}, which is never written to"]
        defaults = ("the user cache folder", "build/ in the working folder")
    for label, var, path, default in (("caches (twins, chapter images)", "TUTORIAL_CACHE", cache_dir(), defaults[0]),
                                      ("outputs (saved pictures, build/)", "TUTORIAL_BUILD", build_dir(), defaults[1])):
        lines.append(f"{label}: {path} ({'from ' + var if os.environ.get(var, '').strip() else default})")
    return "\n".join(lines)


def repo_folder(repo_id: str) -> str:
    """The folder a hub cache keeps a model repo in: "org/name" -> "models--org--name" (every chapter)."""
    return "models--" + repo_id.replace("/", "--")


ON = ("1", "true", "yes", "on")
OFF = ("", "0", "false", "no", "off")


def env_flag(name: str) -> bool:
    """Read an on/off environment variable: 1/true/yes/on or 0/false/no/off (any case), unset is off (every chapter)."""
    value = os.environ.get(name, "").strip().lower()
    if value in ON:
        return True
    if value in OFF:
        return False
    raise ValueError(f"{name}={os.environ[name]!r} is neither on nor off; set {name}=1 to switch it on, "
                     f"or {name}=0 (or unset it) to switch it off.")
