"""Where files go: a checkout keeps .cache/ and build/ beside it; an installed copy uses the user's places."""

import json
import os
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.version import Version

from helpers import paths

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No TUTORIAL_CACHE or TUTORIAL_BUILD, a user cache folder of the test's own, and a working folder."""
    monkeypatch.delenv("TUTORIAL_CACHE", raising=False)
    monkeypatch.delenv("TUTORIAL_BUILD", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


@pytest.fixture
def installed(clean_env, monkeypatch):
    """helpers as pip installs it: a folder in site-packages, with no pyproject.toml beside it."""
    site = clean_env / "lib" / "python3.13" / "site-packages"
    (site / "helpers").mkdir(parents=True)
    (site / "helpers" / "paths.py").write_text("")
    monkeypatch.setattr(paths, "PROJECT_ROOT", site)
    return site


def test_this_checkout_is_recognised():
    assert paths.is_checkout(ROOT) and paths.checkout() == ROOT


@pytest.mark.parametrize("pyproject", [None, '[project]\nname = "someone-else"\n', "not toml ["])
def test_other_folders_are_not_a_checkout(tmp_path, pyproject):
    (tmp_path / "helpers").mkdir()
    (tmp_path / "helpers" / "paths.py").write_text("")
    if pyproject is not None:
        (tmp_path / "pyproject.toml").write_text(pyproject)
    assert not paths.is_checkout(tmp_path)


def test_a_checkout_keeps_todays_places(clean_env):
    assert paths.cache_dir() == ROOT / ".cache"
    assert paths.build_dir() == ROOT / "build"  # README's commands and CI are unchanged
    assert str(ROOT / ".cache") in paths.places() and "the checkout" in paths.places()


def user_cache(clean_env) -> Path:
    """The user cache folder platformdirs names here; on Linux (CI, Colab, Kaggle) it is under $XDG_CACHE_HOME."""
    from platformdirs import user_cache_path

    expected = user_cache_path("diffusers-img2img-tutorial", appauthor=False).resolve()
    if sys.platform.startswith("linux"):
        assert expected == clean_env / "xdg" / "diffusers-img2img-tutorial"
    return expected


def test_an_installed_copy_writes_nothing_beside_itself(installed, clean_env):
    assert paths.checkout() is None
    assert paths.cache_dir() == user_cache(clean_env)
    assert paths.build_dir() == clean_env / "work" / "build"  # the notebook's working folder
    for place in (paths.cache_dir(), paths.build_dir()):
        assert not place.is_relative_to(installed)
    said = paths.places()
    assert "an installed copy" in said and str(user_cache(clean_env)) in said
    assert str(clean_env / "work" / "build") in said


def test_the_twins_and_chapter_images_follow_the_cache(installed, clean_env):
    from helpers.twins import twin_cache

    assert twin_cache() == user_cache(clean_env) / "twins" / "hub"


@pytest.mark.parametrize("kind", ["checkout", "installed"])
def test_the_learners_folders_win_over_both(kind, clean_env, request, monkeypatch):
    if kind == "installed":
        request.getfixturevalue("installed")
    monkeypatch.setenv("TUTORIAL_CACHE", "~/tutorial-cache")
    monkeypatch.setenv("HOME", str(clean_env / "home"))
    monkeypatch.setenv("TUTORIAL_BUILD", "out")  # relative: to the working folder
    assert paths.cache_dir() == clean_env / "home" / "tutorial-cache"
    assert paths.build_dir() == clean_env / "work" / "out"
    assert "from TUTORIAL_CACHE" in paths.places() and "from TUTORIAL_BUILD" in paths.places()


def test_a_build_folder_that_is_a_file_is_refused_by_name(clean_env, monkeypatch):
    mine = clean_env / "work" / "out"
    mine.write_text("the learner's notes")
    monkeypatch.setenv("TUTORIAL_BUILD", "out")
    with pytest.raises(ValueError, match=r"TUTORIAL_BUILD='out' is a file \(.*out\); it must name a folder"):
        paths.build_dir()
    assert mine.read_text() == "the learner's notes"


def test_an_empty_variable_means_unset(clean_env, monkeypatch):
    monkeypatch.setenv("TUTORIAL_CACHE", "")  # once this meant the working folder itself
    assert paths.cache_dir() == ROOT / ".cache"


def test_a_wheel_install_keeps_files_out_of_site_packages(tmp_path):
    """The real thing once: build the wheel, install it as pip does, and ask it where it would write."""
    src = tmp_path / "src"
    files = subprocess.run(["git", "ls-files", "helpers", "pyproject.toml", "README.md"], cwd=ROOT,
                           capture_output=True, text=True, check=True).stdout.split()
    for rel in files:  # built from a copy: setuptools writes build/ and *.egg-info where it builds
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes((ROOT / rel).read_bytes())
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    # the build backend this environment already has, when it is new enough: a second faster than an isolated build
    try:
        isolation = [] if Version(version("setuptools")) < Version("77") else ["--no-build-isolation"]
    except PackageNotFoundError:
        isolation = []
    built = subprocess.run([*pip, "wheel", "--no-deps", *isolation, "-w", tmp_path / "dist", src],
                           capture_output=True, text=True)
    assert built.returncode == 0, f"pip wheel failed (its build needs setuptools>=77 from the index):\n{built.stderr}"
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    site = tmp_path / "site-packages"
    done = subprocess.run([*pip, "install", "--no-deps", "--no-compile", "--target", site, wheel],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    work = tmp_path / "content"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("TUTORIAL_CACHE", "TUTORIAL_BUILD")}
    env.update(PYTHONPATH=str(site), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    probe = ("import json, helpers, helpers.paths as p, helpers.twins as t\n"
             "print(json.dumps({'helpers': helpers.__file__, 'checkout': str(p.checkout()),"
             " 'cache': str(p.cache_dir()),"
             " 'build': str(p.build_dir()), 'twins': str(t.twin_cache())}))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=work, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert Path(seen["helpers"]).is_relative_to(site), "the probe must import the installed copy"
    assert seen["checkout"] == "None"
    user_cache = tmp_path / "xdg" / "diffusers-img2img-tutorial"
    assert seen["cache"] == str(user_cache) and seen["twins"] == str(user_cache / "twins" / "hub")
    assert seen["build"] == str(work / "build")
    assert (site / "helpers" / "manifests.json").is_file() and any((site / "helpers" / "twins" / "weights").iterdir())
    assert (site / "helpers" / "locale" / "zh_CN" / "LC_MESSAGES" / "tutorial.mo").is_file()  # use_models(lang="zh")
    assert sorted(p.name for p in site.iterdir() if not p.name.endswith(".dist-info")) == ["helpers"]
