"""The GitHub workflows parse, and the GPU workflow keeps the promises README makes about it."""

from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML comes with requirements-dev.txt")

WORKFLOWS = Path(__file__).resolve().parent.parent / ".github" / "workflows"
FILES = sorted([*WORKFLOWS.glob("*.yml"), *WORKFLOWS.glob("*.yaml")])


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), f"{path.name} did not parse to a mapping"
    return data


def triggers(workflow: dict):
    # YAML 1.1 reads the bare key `on` as the boolean True.
    return workflow.get("on", workflow.get(True))


def test_there_are_workflows():
    assert FILES, f"no workflow files under {WORKFLOWS}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_workflow_parses_with_jobs_and_triggers(path):
    workflow = load(path)
    assert isinstance(workflow.get("jobs"), dict) and workflow["jobs"], f"{path.name} has no jobs"
    assert triggers(workflow), f"{path.name} has no `on:` triggers"
    for name, job in workflow["jobs"].items():
        assert isinstance(job.get("steps"), list) and job["steps"], f"{path.name}: job {name} has no steps"


@pytest.fixture(scope="module")
def gpu():
    workflow = load(WORKFLOWS / "gpu-notebooks.yml")
    (job,) = workflow["jobs"].values()
    return workflow, job, job["steps"]


def _index(steps, predicate, what):
    found = [i for i, step in enumerate(steps) if predicate(step)]
    assert found, f"gpu-notebooks.yml has no step that {what}"
    return found[0]


def _runs(text):
    return lambda step: text in str(step.get("run", ""))


def test_gpu_workflow_reads_the_repository_only(gpu):
    workflow, _, _ = gpu
    assert workflow.get("permissions") == {"contents": "read"}


def test_gpu_workflow_keeps_the_hub_on_the_runner_not_in_actions_cache(gpu):
    _, job, steps = gpu
    assert not [s for s in steps if str(s.get("uses", "")).startswith("actions/cache")]
    sets_hf_home = "HF_HOME" in job.get("env", {}) or any("HF_HOME=" in str(s.get("run", "")) for s in steps)
    assert sets_hf_home, "HF_HOME is not set, so the hub would land in the runner user's default cache"


def test_gpu_workflow_uploads_artifacts_even_after_a_failure(gpu):
    _, _, steps = gpu
    uploads = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert uploads
    for step in uploads:
        assert str(step.get("if", "")).replace("${{", "").replace("}}", "").strip() == "always()"


def test_gpu_workflow_sets_up_python(gpu):
    _, _, steps = gpu
    i = _index(steps, lambda s: str(s.get("uses", "")).startswith("actions/setup-python@"), "sets up Python")
    assert str(steps[i]["with"]["python-version"]) == "3.12"
    assert not any("python3.11" in str(s.get("run", "")) for s in steps)


def test_gpu_workflow_token_comes_from_secrets(gpu):
    _, job, steps = gpu
    envs = [job.get("env", {})] + [s.get("env", {}) for s in steps]
    tokens = [e["HF_TOKEN"] for e in envs if "HF_TOKEN" in e]
    assert tokens, "HF_TOKEN is not passed"
    assert all(t.replace(" ", "") == "${{secrets.HF_TOKEN}}" for t in tokens)


def test_gpu_workflow_installs_the_gpu_and_dev_requirements(gpu):
    _, _, steps = gpu
    i = _index(steps, _runs("requirements-gpu.txt"), "installs requirements-gpu.txt")
    assert "requirements-dev.txt" in steps[i]["run"]


def test_gpu_workflow_runs_preflight_before_the_notebooks(gpu):
    _, job, steps = gpu
    install = _index(steps, _runs("pip install"), "installs")
    preflight = _index(steps, _runs("python -m tools.preflight"), "runs python -m tools.preflight")
    notebooks = _index(steps, _runs("--nbval-lax notebooks/"), "runs the notebooks")
    gpu_tests = _index(steps, _runs("--gpu"), "runs the tests with --gpu")
    bench = _index(steps, _runs("tools.bench"), "runs the benchmark")
    assert install < preflight < notebooks < gpu_tests < bench
    assert job["env"]["TUTORIAL_MODELS"] == "hub"
