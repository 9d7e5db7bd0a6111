"""The notebooks' first cell on Colab, Kaggle and elsewhere, helpers.hosted's restart check, and the README badges."""

import ast
import importlib
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest

import helpers
from helpers import hosted

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CHAPTERS = [
    "01_guidance_scale",
    "02_negative_prompt",
    "03_chaining_pipelines",
    "04_controlling_generation",
    "05_inpainting",
]
DIST = "diffusers-img2img-tutorial"
MARKER = "google.colab"  # present in the hosted setup cell, absent from every other first cell
HOSTED_TORCH = "2.11.0+cu126"
COLAB_BADGE = re.compile(r"https://colab\.research\.google\.com/github/[^\s)\"'<>]+")
KAGGLE_LINK = re.compile(r"https://(?:www\.)?kaggle\.com/kernels/welcome\?src=[^\s)\"'<>]+")


def first_code_cell(notebook: Path) -> str:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    source = next(c["source"] for c in cells if c["cell_type"] == "code")
    return "".join(source) if isinstance(source, list) else source


def hosted_cells() -> dict[str, str]:
    """First code cells that are the hosted setup cell, by notebook name."""
    firsts = {nb.stem: first_code_cell(nb) for nb in NOTEBOOKS}
    return {name: src for name, src in firsts.items() if MARKER in src}


def cell_source() -> str:
    """The setup cell, as every chapter notebook starts with it."""
    cells = hosted_cells()
    assert set(cells) == set(CHAPTERS), f"every chapter must start with the hosted setup cell; found it in {cells}"
    return cells[min(cells)]


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def repository_url() -> str:
    url = project().get("urls", {}).get("Repository")
    if not url:
        pytest.fail("pyproject.toml has no [project.urls] Repository; the setup cell and the badges are built from it")
    return url


def literal_node(source: str, name: str) -> str:
    """The source text of the value assigned to `name` at the top level of the cell."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return ast.get_source_segment(source, node.value)
    pytest.fail(f"the setup cell assigns nothing to {name}")


def literal(source: str, name: str) -> str:
    """The string assigned to `name` at the top level of the cell."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            assert isinstance(node.value, ast.Constant) and isinstance(node.value.value, str), name
            return node.value.value
    pytest.fail(f"the setup cell assigns no string literal to {name}")


class Machine:
    """A hosted machine as the cell sees it: pip, installed versions, and Colab's widget switch."""

    def __init__(self, monkeypatch, source: str):
        self.monkeypatch = monkeypatch
        self.source = source
        self.installed: str | None = None  # version of the tutorial's distribution, None when absent
        self.torch = HOSTED_TORCH  # the platform's torch
        self.pip_result = (0, "")  # (exit code, what pip printed)
        self.pip_calls: list[dict] = []
        self.widget_calls = 0
        self.cache_invalidations = 0
        real_version = importlib.metadata.version

        def version(name):
            if name == DIST:
                if self.installed is None:
                    raise importlib.metadata.PackageNotFoundError(name)
                return self.installed
            return self.torch if name == "torch" else real_version(name)

        def run(cmd, *args, **kwargs):
            cmd = [str(c) for c in cmd]
            pins = Path(cmd[cmd.index("-c") + 1]).read_text() if "-c" in cmd else None
            self.pip_calls.append({"cmd": cmd, "pins": pins, "kwargs": kwargs})
            code, said = self.pip_result
            if code == 0:
                self.installed = literal(source, "VERSION")
            return subprocess.CompletedProcess(cmd, code, said, "")

        def invalidate():
            self.cache_invalidations += 1

        monkeypatch.setattr(importlib.metadata, "version", version)
        monkeypatch.setattr(subprocess, "run", run)
        monkeypatch.setattr(importlib, "invalidate_caches", invalidate)
        monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE", raising=False)
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
        monkeypatch.delitem(sys.modules, "google.colab.output", raising=False)

    def colab(self):
        output = types.ModuleType("google.colab.output")

        def enable_custom_widget_manager():
            self.widget_calls += 1

        output.enable_custom_widget_manager = enable_custom_widget_manager
        colab = types.ModuleType("google.colab")
        colab.output = output
        self.monkeypatch.setitem(sys.modules, "google.colab", colab)
        self.monkeypatch.setitem(sys.modules, "google.colab.output", output)
        return self

    def kaggle(self):
        self.monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")
        return self

    def run_cell(self, cwd: Path) -> dict:
        self.monkeypatch.chdir(cwd)
        namespace = {"__name__": "__main__"}
        exec(compile(self.source, "first_cell", "exec"), namespace)
        return namespace

    @property
    def target(self) -> str:
        (call,) = self.pip_calls
        return call["cmd"][-1]


@pytest.fixture
def machine(monkeypatch):
    return Machine(monkeypatch, cell_source())


@pytest.fixture
def clone(tmp_path):
    """A clone of the repository with the learner working in its notebooks folder."""
    root = tmp_path / "diffusers-img2img-tutorial"
    (root / "helpers").mkdir(parents=True)
    (root / "notebooks").mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "diffusers-img2img-tutorial"\n')
    (root / "helpers" / "hosted.py").write_text("")
    return root


@pytest.fixture
def elsewhere(tmp_path):
    """A working folder with no clone around it, like Colab's /content or Kaggle's /kaggle/working."""
    folder = tmp_path / "content"
    folder.mkdir()
    return folder


# --- the cell in the notebooks ---------------------------------------------------------------------------------------


def test_every_notebook_opens_with_the_same_setup_cell():
    assert [nb.stem for nb in NOTEBOOKS] == CHAPTERS
    cells = hosted_cells()
    assert sorted(cells) == CHAPTERS, f"only {sorted(cells)} open with the setup cell"
    assert len(set(cells.values())) == 1, "the notebooks' setup cells differ; paste the same cell into all of them"


def test_cell_names_the_repository_and_version_in_pyproject():
    source = cell_source()
    assert literal(source, "REPO") == repository_url()
    assert literal(source, "VERSION") == project()["version"] == helpers.__version__


def test_cell_stays_short_and_plain():
    source = cell_source()
    assert len(source.strip().splitlines()) <= 82  # half of it tells a failed install's cause
    assert "import *" not in source and not re.search(r"^\s*[!%]pip", source, re.M)  # plain Python, no shell magic
    ast.parse(source)
    assert "-e" not in re.findall(r'"(-[a-z-]+)"', source), "an editable install needs a new interpreter to import"


# --- the cell on each kind of machine --------------------------------------------------------------------------------


def test_colab_installs_from_a_clone_around_the_notebook(machine, clone, capsys):
    machine.colab().run_cell(clone / "notebooks")
    (call,) = machine.pip_calls
    assert call["cmd"][:4] == [sys.executable, "-m", "pip", "install"]
    assert machine.target == str(clone.resolve())
    assert "-e" not in call["cmd"] and "--editable" not in call["cmd"]
    assert call["pins"].split() == [f"torch=={HOSTED_TORCH}"]
    assert machine.cache_invalidations == 1
    assert machine.widget_calls == 1
    assert str(clone.resolve()) in capsys.readouterr().out


def test_colab_installs_from_a_clone_made_in_the_working_folder(machine, clone):
    machine.colab().run_cell(clone.parent)  # `git clone <url>` in /content, notebook opened from elsewhere
    assert machine.target == str(clone.resolve())


def test_colab_installs_from_the_public_repository_without_a_clone(machine, elsewhere):
    machine.colab().run_cell(elsewhere)
    assert machine.target == f"git+{repository_url()}"
    assert machine.pip_calls[0]["pins"].split() == [f"torch=={HOSTED_TORCH}"]
    assert machine.widget_calls == 1


def test_kaggle_installs_without_touching_colab(machine, elsewhere):
    machine.kaggle().run_cell(elsewhere)
    assert machine.target == f"git+{repository_url()}"
    assert machine.pip_calls[0]["pins"].split() == [f"torch=={HOSTED_TORCH}"]
    assert machine.widget_calls == 0
    assert "google.colab" not in sys.modules


def test_a_second_run_installs_nothing(machine, elsewhere, capsys):
    machine.colab()
    machine.installed = literal(machine.source, "VERSION")
    machine.run_cell(elsewhere)
    assert machine.pip_calls == []
    assert machine.widget_calls == 1
    assert capsys.readouterr().out == ""


def test_another_installed_version_is_replaced(machine, elsewhere):
    machine.kaggle().installed = "0.0.1"
    machine.run_cell(elsewhere)
    assert machine.target == f"git+{repository_url()}"


PIP_SAID = ROOT / "tests" / "data" / "pip"  # real pip output, one file per way the install fails (README.md there)
COLAB_NET = "it could not reach PyPI or GitHub from this runtime. Wait a minute, then run this cell again"
KAGGLE_NET = "Kaggle notebooks have no internet until you turn it on: if Internet is off, switch it on in the notebook"
CLONE = "could not be cloned. Upload a copy of the project so that {here}/pyproject.toml exists, then run this cell"
# file -> (where it happened, the cause the message must name, the line it must quote, what it must not blame)
FAILURES = {
    "no_network_git.txt": ("colab", COLAB_NET, "Could not resolve host: github.com", "could not be cloned"),
    "no_network_index.txt": ("kaggle", KAGGLE_NET, "Failed to resolve 'pypi.org'", "version conflict"),
    "no_network_build_deps.txt": ("kaggle", KAGGLE_NET, "Failed to establish a new connection", "could not be"),
    "network_timeout.txt": ("colab", COLAB_NET, "Read timed out", "version conflict"),
    "repo_asks_for_login.txt": ("colab", CLONE, "fatal: could not read Username", "could not reach"),
    "repo_not_found.txt": ("kaggle", CLONE, "fatal: repository 'https://github.com/img2img-tutorial/"
                                            "diffusers-img2img-tutorial/' not found", "could not reach"),
    "conflict_platform_pin.txt": ("kaggle", "it found a version conflict with packages Kaggle already has (its torch "
                                            f"{HOSTED_TORCH} stays)", "The user requested (constraint) numpy==1.24.4",
                                  "could not reach"),
}


def fail_with(machine, elsewhere, where: str, said: str) -> str:
    machine.pip_result = (1, said)
    with pytest.raises(RuntimeError) as info:
        getattr(machine, where)().run_cell(elsewhere)
    message = str(info.value)
    assert type(info.value).__name__ == "InstallFailed"
    assert info.value._render_traceback_() == [f"InstallFailed: {message}"]  # what Jupyter shows: no stack
    assert machine.cache_invalidations == 0
    return message


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_a_failed_install_names_its_cause_and_quotes_only_pips_last_lines(machine, elsewhere, name):
    where, cause, quoted, wrong = FAILURES[name]
    said = (PIP_SAID / name).read_text(encoding="utf-8")
    message = fail_with(machine, elsewhere, where, said)
    assert message.startswith("pip could not install the tutorial helpers: ")
    assert cause.format(here=elsewhere.resolve() / "diffusers-img2img-tutorial") in message
    assert "then run this cell again" in message
    assert wrong not in message  # a note that names the wrong cause is worse than none
    pip_lines = [line for line in message.splitlines() if line.startswith("  pip: ")]
    assert any(quoted in line for line in pip_lines), message
    quoted_chars = sum(len(line) for line in pip_lines)
    assert 1 <= len(pip_lines) <= 4 and quoted_chars < len(said) / 2, "quote pip's last relevant lines, not all"


def test_a_network_hiccup_that_pip_got_over_is_not_the_cause(machine, elsewhere):
    # one early retry (total=4), then pip reached the index and found a real conflict: blame the conflict
    hiccup = (PIP_SAID / "no_network_index.txt").read_text(encoding="utf-8").splitlines()[7]
    assert "Retry(total=4" in hiccup
    said = hiccup + "\n" + (PIP_SAID / "conflict_platform_pin.txt").read_text(encoding="utf-8")
    message = fail_with(machine, elsewhere, "colab", said)
    assert "a version conflict with packages Colab already has" in message and "could not reach" not in message


@pytest.mark.parametrize("torch_version", ["2.10.0+cu126", "2.11.0a0+git1234", "2.6.0"])
def test_a_torch_older_than_the_floor_is_said_before_pip_runs(machine, elsewhere, torch_version):
    machine.torch = torch_version  # a pre-release of 2.11 is older than 2.11 too: pip would refuse it
    with pytest.raises(RuntimeError, match=rf"Kaggle's torch {re.escape(torch_version)} is older than the torch>=2\.11 "
                                           r"these notebooks need.*torchvision torchaudio, so that the three match"):
        machine.kaggle().run_cell(elsewhere)
    assert machine.pip_calls == []  # a minute of pip would end in a conflict that says less


@pytest.mark.parametrize("torch_version", ["2.11.0+cu130", "2.12.0.dev20260101+cu130", "2.15.1"])
def test_a_torch_at_or_above_the_floor_goes_on_to_pip(machine, elsewhere, torch_version):
    machine.torch = torch_version
    machine.colab().run_cell(elsewhere)
    assert machine.pip_calls[0]["pins"].split() == [f"torch=={torch_version}"]


@pytest.mark.parametrize("python", [(3, 10), (3, 14)])
def test_a_python_outside_the_tested_range_is_said_before_pip_runs(machine, elsewhere, monkeypatch, python):
    monkeypatch.setattr(sys, "version_info", (*python, 0, "final", 0))
    with pytest.raises(RuntimeError, match=rf"Colab's Python {python[0]}\.{python[1]} is outside the 3\.11 to 3\.13"):
        machine.colab().run_cell(elsewhere)
    assert machine.pip_calls == []


def test_the_torch_floor_and_pythons_are_pyprojects():
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    (torch_req,) = [Requirement(r) for r in project()["dependencies"] if r.startswith("torch")]
    floor = ast.literal_eval(literal_node(cell_source(), "TORCH_FLOOR"))
    assert f">={floor}" in str(torch_req.specifier)
    low, high = ast.literal_eval(literal_node(cell_source(), "PYTHONS"))
    admitted = SpecifierSet(project()["requires-python"])
    assert [f"3.{minor}" in admitted for minor in range(low[1] - 1, high[1] + 2)] == [False, *[True] * (
        high[1] - low[1] + 1), False]


# git failures that are neither the network nor a missing repository: composed from git's own messages
DISK_FULL = ("  Running command git clone --filter=blob:none --quiet https://github.com/img2img-tutorial/"
             "diffusers-img2img-tutorial /tmp/pip-req-build-x\n  fatal: could not create work tree dir "
             "'/tmp/pip-req-build-x': No space left on device\nERROR: Failed to build 'git+https://github.com/x'\n")
RESET = ("  fatal: unable to access 'https://github.com/img2img-tutorial/diffusers-img2img-tutorial/': Recv failure: "
         "Connection reset by peer\nERROR: Failed to build 'git+https://github.com/x'\n")
GITHUB_503 = ("  fatal: unable to access 'https://github.com/img2img-tutorial/diffusers-img2img-tutorial/': The "
              "requested URL returned error: 503\nERROR: Failed to build 'git+https://github.com/x'\n")


@pytest.mark.parametrize("said, cause, wrong", [
    (DISK_FULL, "the disk is full. Delete files you do not need in", "could not be cloned"),
    (RESET, "it could not reach PyPI or GitHub from this runtime", "could not be cloned"),
    (GITHUB_503, "it could not reach PyPI or GitHub from this runtime", "could not be cloned"),
])
def test_other_git_failures_are_not_blamed_on_a_missing_repository(machine, elsewhere, said, cause, wrong):
    message = fail_with(machine, elsewhere, "colab", said)
    assert cause in message and wrong not in message


def test_with_a_clone_nearby_no_failure_says_to_upload_one(machine, clone):
    said = (PIP_SAID / "repo_not_found.txt").read_text(encoding="utf-8")
    message = fail_with(machine, clone / "notebooks", "colab", said)
    assert "Upload a copy" not in message  # the copy is already here: the clone advice would go in a circle


def test_a_full_disk_is_said_as_such(machine, elsewhere):
    said = ("Processing ./x\nERROR: Could not install packages due to an OSError: [Errno 28] No space left on device\n")
    message = fail_with(machine, elsewhere, "colab", said)
    assert "the disk is full. Delete files you do not need in" in message and "No space left on device" in message


def test_an_unknown_failure_quotes_pips_errors(machine, elsewhere):
    machine.pip_result = (1, "Building wheel for x (pyproject.toml): finished with status 'error'\n"
                             "ERROR: Failed to build installable wheels for some pyproject.toml based projects (x)\n")
    with pytest.raises(RuntimeError, match=r"pip's own words follow.\n  pip: ERROR: Failed to build installable"):
        machine.colab().run_cell(elsewhere)


def test_the_install_never_waits_for_a_password_and_prints_plain_text(machine, elsewhere, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")  # ipykernel sets it for its own subprocesses: pip would answer in colour
    machine.colab().run_cell(elsewhere)
    env = machine.pip_calls[0]["kwargs"]["env"]
    assert env["GIT_TERMINAL_PROMPT"] == "0"  # git would otherwise ask for a password on a URL that answers 401
    assert "FORCE_COLOR" not in env and "CLICOLOR_FORCE" not in env  # a pipe, no colour: pip writes plain text
    assert "--no-input" in machine.pip_calls[0]["cmd"]  # nor does pip stop to ask anything


def test_elsewhere_the_cell_does_nothing(machine, clone, capsys):
    machine.run_cell(clone / "notebooks")
    assert machine.pip_calls == []
    assert machine.widget_calls == 0
    assert capsys.readouterr() == ("", "")


# --- helpers.hosted.finish_setup -------------------------------------------------------------------------------------


def fake_module(name: str, version) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__version__ = version
    return module


def test_upgraded_imported_packages_stop_the_notebook_with_a_restart(monkeypatch):
    Machine(monkeypatch, "").colab()
    monkeypatch.setitem(sys.modules, "safetensors", fake_module("safetensors", "0.0.1"))
    monkeypatch.setitem(sys.modules, "PIL", fake_module("PIL", "9.0.0"))
    with pytest.raises(hosted.RestartNeeded) as info:  # raised, so that "Run all" stops at the first cell
        hosted.finish_setup()
    pillow, safetensors = importlib.metadata.version("pillow"), importlib.metadata.version("safetensors")
    out = str(info.value)
    assert f"pillow 9.0.0 → {pillow}" in out and f"safetensors 0.0.1 → {safetensors}" in out
    assert "Restart the runtime (Runtime → Restart session)" in out and "from the top" in out
    assert '"Run all" stops here' in out


def test_kaggle_names_its_own_restart(monkeypatch):
    Machine(monkeypatch, "").kaggle()
    monkeypatch.setitem(sys.modules, "fake_widgets", fake_module("fake_widgets", "7.7.1"))
    with pytest.raises(hosted.RestartNeeded, match=r"(?s)pytest 7\.7\.1 → .*Run → Restart & clear cell outputs"):
        hosted.finish_setup({"fake_widgets": "pytest"})


def test_matching_versions_need_no_restart(monkeypatch, capsys):
    Machine(monkeypatch, "").colab()
    same = importlib.metadata.version("pytest")
    monkeypatch.setitem(sys.modules, "fake_same", fake_module("fake_same", same))
    monkeypatch.setitem(sys.modules, "fake_padded", fake_module("fake_padded", same + ".0"))  # 9.2 == 9.2.0
    monkeypatch.setitem(sys.modules, "fake_unversioned", fake_module("fake_unversioned", None))
    monkeypatch.setitem(sys.modules, "fake_gone", fake_module("fake_gone", "1.0"))
    watched = {"fake_same": "pytest", "fake_padded": "pytest", "fake_unversioned": "pytest",
               "fake_gone": "no-such-distribution-here", "fake_never_imported": "pytest"}
    hosted.finish_setup(watched)
    hosted.finish_setup()  # this test environment itself is consistent
    assert capsys.readouterr().out == ""  # nothing to restart: the cell says nothing


def test_in_a_notebook_the_restart_shows_only_what_to_do(monkeypatch):
    # IPython shows an exception's _render_traceback_() in place of the stack: the learner reads the message alone
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    Machine(monkeypatch, "").colab()
    monkeypatch.setitem(sys.modules, "fake_widgets", fake_module("fake_widgets", "7.7.1"))
    shell = InteractiveShell.instance()
    try:
        with capture_output() as cap:
            result = shell.run_cell("from helpers.hosted import finish_setup\n"
                                    "finish_setup({'fake_widgets': 'ipywidgets'})")
        text = cap.stdout + cap.stderr
    finally:
        InteractiveShell.clear_instance()
    assert isinstance(result.error_in_exec, hosted.RestartNeeded)  # the cell failed: Jupyter runs no later cell
    assert "RestartNeeded" in text and "ipywidgets 7.7.1 → " in text and "Runtime → Restart session" in text
    assert "Traceback" not in text and "hosted.py" not in text


def test_watched_names_are_real_distributions():
    for module_name, dist in hosted.WATCHED.items():
        importlib.import_module(module_name)
        assert importlib.metadata.version(dist), (module_name, dist)


# --- the badges ------------------------------------------------------------------------------------------------------


def expected_links(chapter: str, folder: str = "notebooks") -> tuple[str, str]:
    repo = repository_url().removesuffix(".git").rstrip("/")
    slug = repo.removeprefix("https://github.com/")
    path = f"blob/main/{folder}/{chapter}.ipynb"
    return (f"https://colab.research.google.com/github/{slug}/{path}",
            f"https://kaggle.com/kernels/welcome?src={repo}/{path}")


def check_badges(text: str, where: str, kaggle: bool, folder: str = "notebooks"):
    colab_links = COLAB_BADGE.findall(text)
    kaggle_links = KAGGLE_LINK.findall(text)
    for chapter in CHAPTERS:
        colab, kaggle_link = expected_links(chapter, folder)
        mine = [u for u in colab_links if u.endswith(f"/{chapter}.ipynb")]
        assert mine == [colab], f"{where}: want exactly one Colab badge for {chapter}, linking {colab}; got {mine}"
        if kaggle:
            assert kaggle_links.count(kaggle_link) == 1, f"{where}: want one Kaggle link {kaggle_link}"
    assert len(colab_links) == len(CHAPTERS), f"{where}: Colab badges for unknown notebooks: {colab_links}"
    assert text.count("colab.research.google.com/assets/colab-badge.svg") >= len(CHAPTERS), where


def test_badges_open_the_notebooks_of_this_repository():
    check_badges((ROOT / "README.md").read_text(encoding="utf-8"), "README.md", kaggle=True)
    chinese = (ROOT / "README.zh-CN.md").read_text(encoding="utf-8")
    check_badges(chinese, "README.zh-CN.md", kaggle=True, folder="notebooks/zh")  # the Chinese chapters
    assert "[English](README.md)" in chinese.split("\n## ")[0]
    assert "[中文](README.zh-CN.md)" in (ROOT / "README.md").read_text(encoding="utf-8").split("\n## ")[0]
