"""requirements.txt, environment.yml and pyproject.toml must describe the same dependencies."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _norm(spec: str) -> str:
    return re.sub(r"\s+", "", spec).lower().replace("_", "-")


def requirements() -> set[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return {_norm(x) for x in lines if x.strip() and not x.startswith("#")}


def conda_pip() -> set[str]:
    text = (ROOT / "environment.yml").read_text()
    block = text.split("- pip:", 1)[1]
    return {_norm(m) for m in re.findall(r"^\s+- (.+)$", block, flags=re.M)}


def test_environment_yml_matches_requirements():
    assert conda_pip() == requirements()
    assert "python=3.11" in (ROOT / "environment.yml").read_text()


def test_pyproject_matches_requirements():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_norm(d) for d in project["dependencies"] + project["optional-dependencies"]["test"]}
    assert declared | {"-e."} == requirements()


def test_torch_is_pinned_and_the_rest_have_ranges():
    reqs = requirements() - {"-e."}
    assert "torch==2.13.0" in reqs
    for spec in reqs - {"torch==2.13.0"}:
        assert "==" not in spec, f"{spec}: give a tested range, not an exact pin"
        assert ">=" in spec, f"{spec}: give a lower bound"


def test_xformers_is_gpu_only():
    assert not any(r.startswith("xformers") for r in requirements())
    assert "xformers" in (ROOT / "requirements-gpu.txt").read_text()
