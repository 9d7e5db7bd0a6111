"""pyproject.toml is the source of truth; the requirements files and environment.yml must mirror it.

Also checks the promises the packaging makes: a torch range that keeps the torch Colab, Kaggle and CUDA machines
already have, CI's exact torch in constraints.txt, the Pythons claimed, and upper bounds that leave room for
the next minor release of every dependency.
"""

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
CI_TORCH = "2.13.0"


def _norm(spec: str) -> str:
    return re.sub(r"\s+", "", spec).lower().replace("_", "-")


def _lines(name: str) -> list[str]:
    """A requirements file's entries (comments and blank lines dropped), normalized."""
    lines = (ROOT / name).read_text().splitlines()
    return [_norm(x) for x in lines if x.strip() and not x.lstrip().startswith("#")]


def runtime() -> set[str]:
    return {_norm(d) for d in PROJECT["dependencies"]}


def extra(name: str) -> set[str]:
    return {_norm(d) for d in PROJECT["optional-dependencies"][name]}


def conda_pip() -> list[str]:
    text = (ROOT / "environment.yml").read_text()
    block = text.split("- pip:", 1)[1]
    return [_norm(m) for m in re.findall(r"^\s+- (.+)$", block, flags=re.M)]


def every_requirement() -> list[Requirement]:
    """Everything a user or CI installs from pyproject, as parsed requirements."""
    specs = PROJECT["dependencies"] + [d for deps in PROJECT["optional-dependencies"].values() for d in deps]
    return [Requirement(s) for s in specs]


def _by_name(name: str) -> Requirement:
    found = [r for r in every_requirement() if _norm(r.name) == _norm(name)]
    assert len(found) == 1, f"{name} is declared {len(found)} times"
    return found[0]


def _next_minor(v: Version) -> Version:
    major, minor = (v.release + (0,))[:2]
    return Version(f"{major}.{minor + 1}")


# --- the files stay in step ------------------------------------------------------------------------------


def test_requirements_txt_is_the_runtime_list_plus_the_package():
    lines = _lines("requirements.txt")
    assert len(lines) == len(set(lines)), "a requirement is listed twice"
    assert set(lines) == runtime() | {"-e."}


def test_requirements_dev_is_requirements_txt_plus_the_dev_extra():
    lines = _lines("requirements-dev.txt")
    assert lines[0] == "-rrequirements.txt"
    assert set(lines[1:]) == extra("dev")
    assert len(lines[1:]) == len(extra("dev"))


def test_requirements_gpu_is_requirements_txt_plus_the_gpu_extra():
    lines = _lines("requirements-gpu.txt")
    assert lines[0] == "-rrequirements.txt"
    assert set(lines[1:]) == extra("gpu")


def test_environment_yml_mirrors_requirements_dev():
    assert sorted(conda_pip()) == sorted(runtime() | extra("dev") | {"-e."})


def test_environment_yml_python_matches_requires_python():
    text = (ROOT / "environment.yml").read_text()
    found = re.search(r"^\s+- python([<>=!~][^\s#]*)\s*$", text, flags=re.M)
    assert found, "environment.yml names no Python range"
    assert SpecifierSet(found.group(1)) == SpecifierSet(PROJECT["requires-python"])


def test_runtime_holds_no_test_or_notebook_tooling():
    moved = {"pytest", "nbval", "ruff", "playwright", "jupyterlab", "nbclient", "nbconvert", "nbformat", "pyyaml"}
    names = {_norm(Requirement(d).name) for d in PROJECT["dependencies"]}
    assert not names & moved, f"{sorted(names & moved)} belong in the dev extra"
    assert {_norm(Requirement(d).name) for d in PROJECT["optional-dependencies"]["dev"]} >= moved


def test_xformers_is_gpu_only():
    assert not any(r.startswith("xformers") for r in _lines("requirements.txt"))
    assert not any(r.startswith("xformers") for r in _lines("requirements-dev.txt"))
    assert any(r.startswith("xformers") for r in _lines("requirements-gpu.txt"))


# --- what the ranges promise -----------------------------------------------------------------------------


def test_no_exact_pins_where_users_install_and_every_dependency_has_a_floor():
    for req in every_requirement():
        for spec in req.specifier:
            assert spec.operator not in ("==", "==="), f"{req}: give a range, not an exact pin"
        assert any(s.operator in (">=", ">", "~=") for s in req.specifier), f"{req}: give a lower bound"


@pytest.mark.parametrize("torch", ["2.11.0", "2.13.0", "2.15.0", "2.16.0"])
def test_torch_range_keeps_the_torch_machines_already_have(torch):
    # 2.11: Colab and the CUDA test machines; 2.13: CI; 2.15: newest on PyPI; 2.16: the next one.
    assert _by_name("torch").specifier.contains(torch, prereleases=True)


def test_constraints_pin_the_ci_torch():
    lines = _lines("constraints.txt")
    assert f"torch=={CI_TORCH}" in lines
    assert _by_name("torch").specifier.contains(CI_TORCH)


@pytest.mark.parametrize("python", ["3.11", "3.12", "3.13"])
def test_requires_python_admits(python):
    assert SpecifierSet(PROJECT["requires-python"]).contains(python)


def test_requires_python_has_an_upper_bound():
    # Only versions the project has been installed and tested on are claimed.
    assert not SpecifierSet(PROJECT["requires-python"]).contains("3.14")


def test_upper_bounds_admit_the_next_minor_release():
    """An upper bound must not sit on the installed release: the next minor after it stays allowed."""
    checked = 0
    for req in every_requirement():
        if not any(s.operator in ("<", "<=") for s in req.specifier):
            continue
        if _norm(req.name) == "torch":
            continue  # CI pins an older torch on purpose; the torch tests above cover its range
        try:
            installed = Version(version(req.name))
        except PackageNotFoundError:
            continue  # an extra not installed here (xformers on a CPU machine)
        following = _next_minor(installed)
        assert req.specifier.contains(following, prereleases=True), (
            f"{req}: {req.name} {installed} is installed and {following} would be refused; raise the bound"
        )
        checked += 1
    assert checked, "no bounded dependency is installed; run the tests in the project's environment"


def test_build_backend_reads_an_spdx_license():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert isinstance(PROJECT["license"], str), "use an SPDX string, not a table"
    setuptools = [Requirement(r) for r in pyproject["build-system"]["requires"] if r.startswith("setuptools")]
    assert setuptools and not setuptools[0].specifier.contains("76.9"), "SPDX licenses need setuptools>=77"


def test_repository_url_is_recorded():
    urls = PROJECT["urls"]
    assert urls["Repository"].startswith("https://github.com/")
    assert urls["Homepage"] == urls["Repository"]


def test_the_twins_trained_weights_ship_in_the_wheel():
    # the builder loads them on every machine: `pip install .` on Colab and Kaggle must carry them too
    import fnmatch

    from helpers.twins.parts import TAUGHT, WEIGHTS
    from tools.train_twins import RECIPES

    assert set(RECIPES) == set(TAUGHT), "each committed weight file has one training recipe"
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    patterns = data["helpers.twins"]
    for name in RECIPES:
        rel = (WEIGHTS / f"{name}.safetensors").relative_to(ROOT / "helpers" / "twins").as_posix()
        assert any(fnmatch.fnmatch(rel, p) for p in patterns), f"{rel} is not in helpers.twins package-data"
    total = sum(p.stat().st_size for p in WEIGHTS.glob("*.safetensors"))
    assert total <= 8 * 10**6, f"the twins' trained weights take {total / 1e6:.1f} MB; keep them under 8 MB"


def test_prepare_wheels_reads_the_clip_checksum_where_it_is_defined():
    # the offline wheel script greps the builder's source for the CLIP wheel's sha256: the file must still hold it
    script = (ROOT / "tools" / "prepare_wheels.sh").read_text()
    source = re.search(r"CLIP_WHEEL_SHA256 = .*?\$/\\1/p' (\S+)\)", script).group(1)
    from helpers.twins.tokenizer import CLIP_WHEEL_SHA256

    assert f'CLIP_WHEEL_SHA256 = "{CLIP_WHEEL_SHA256}"' in (ROOT / source).read_text()
