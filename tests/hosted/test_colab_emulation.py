"""Opt-in (`pytest --hosted tests/hosted`): chapter 1 on emulated Colab and Kaggle kernels, installed as they do.

The emulated machine is what a Colab learner starts from: Python 3.13, torch 2.11.0 (the CUDA build PyPI serves)
and ipywidgets 7.7.1. On "Colab", a stand-in `google.colab` module (with the `output.enable_custom_widget_manager`
the first cell calls) is imported at kernel start, and ipywidgets with it. On "Kaggle", KAGGLE_KERNEL_RUN_TYPE is
set and nothing is imported at start. The notebook sits in a copy of this checkout, so the first cell installs from
that clone, normally (not editable), into a fresh environment layered over the image.

The image (about 5 GB, downloaded from PyPI once) is kept in `.cache/hosted/`; each test installs the tutorial into
a new environment on top of it, so the image itself never changes. The three tests take about three minutes.

Each uses the kernel protocol's own "Run all" (every cell queued at once, stop_on_error) and checks:
* Colab: the first run stops at cell 1 with RestartNeeded and no later cell runs; after a restart cell 1 says
  nothing, torch is the image's, ipywidgets is 8.x, the chapter runs, and Save PNG lands in build/panel/ under the
  notebook's folder, where its message says; the twins go to the user cache folder, nothing into site-packages;
* Kaggle, a fresh install: cell 1 says only where it installs from, and the chapter runs straight through;
* Kaggle without internet: cell 1 names that cause and the switch to flip, and "Run all" stops there.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGE = ROOT / ".cache" / "hosted" / "colab-py3.13"
IMAGE_PACKAGES = ["torch==2.11.0", "ipywidgets==7.7.1", "ipykernel"]
CHAPTER = ROOT / "notebooks" / "01_guidance_scale.ipynb"

FAKE_COLAB = '''"""A stand-in for Colab's own module: the kernel imports it, and ipywidgets, at start."""
import ipywidgets  # noqa: F401  (Colab's kernel has ipywidgets 7.7.1 loaded before any cell runs)

WIDGET_MANAGER = []
'''
FAKE_OUTPUT = '''"""google.colab.output: only the switch the tutorial's first cell turns on."""
from google.colab import WIDGET_MANAGER


def enable_custom_widget_manager():
    WIDGET_MANAGER.append("on")
'''


def python313() -> str:
    pyenv = sorted(Path.home().glob(".pyenv/versions/3.13*/bin/python3.13"))
    candidates = [*map(str, pyenv), shutil.which("python3.13")]
    for found in filter(None, candidates):  # a pyenv shim may exist and still refuse to run
        if subprocess.run([found, "--version"], capture_output=True).returncode == 0:
            return found
    pytest.fail("The hosted emulation needs Python 3.13 (Colab's). Install it (pyenv install 3.13), then rerun.")


def run(cmd, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{cmd} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done


def site_packages(venv: Path) -> Path:
    return next(venv.glob("lib/python3.*/site-packages"))


@pytest.fixture(scope="module")
def image() -> Path:
    """The Colab-like image: Python 3.13 with torch 2.11 and ipywidgets 7.7.1 (made once, reused)."""
    if not (IMAGE / "bin" / "python").exists():
        run([python313(), "-m", "venv", IMAGE])
        run([IMAGE / "bin" / "python", "-m", "pip", "install", "-q", "--upgrade", "pip"])
        run([IMAGE / "bin" / "python", "-m", "pip", "install", "-q", *IMAGE_PACKAGES], timeout=1800)
    return IMAGE


def make_machine(image: Path, base: Path, host: str, env: dict | None = None) -> dict:
    """A fresh environment over the image, a clone with the notebook in it, and a kernel spec for both.

    host "colab": a stand-in google.colab is imported at kernel start, and with it ipywidgets 7.7.1.
    host "kaggle": KAGGLE_KERNEL_RUN_TYPE is set and nothing is imported at start."""
    env_dir = base / "venv"
    run([python313(), "-m", "venv", env_dir])
    # the image's packages come after the environment's own, as Colab's preinstalled ones do: an upgrade lands in
    # the environment and wins, and the image stays as it was for the next run
    (site_packages(env_dir) / "colab_image.pth").write_text(str(site_packages(image)) + "\n")
    ipython_dir = base / "ipython"
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True)
    kernel_env = {"IPYTHONDIR": str(ipython_dir), "XDG_CACHE_HOME": str(base / "cache"), "TUTORIAL_MODELS": "twins",
                  "PYTHONNOUSERSITE": "1", "MPLBACKEND": "Agg", **(env or {})}
    if host == "colab":
        fake = base / "fake"
        (fake / "google" / "colab").mkdir(parents=True)
        (fake / "google" / "colab" / "__init__.py").write_text(FAKE_COLAB)
        (fake / "google" / "colab" / "output.py").write_text(FAKE_OUTPUT)
        (startup / "00-colab.py").write_text("import google.colab  # as Colab's kernel does at start\n")
        kernel_env["PYTHONPATH"] = str(fake)
    else:
        kernel_env["KAGGLE_KERNEL_RUN_TYPE"] = "Interactive"
    clone = base / "content" / "diffusers-img2img-tutorial"
    files = run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT).stdout.splitlines()
    for rel in files:
        if (ROOT / rel).is_file():
            (clone / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, clone / rel)
    kernels = base / "kernels" / "kernels" / "hosted"
    kernels.mkdir(parents=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [str(env_dir / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"emulated {host}", "language": "python", "env": kernel_env}))
    return {"base": base, "venv": env_dir, "clone": clone, "kernels": base / "kernels", "env": kernel_env}


@contextlib.contextmanager
def kernel(machine: dict):
    """Start the emulated kernel in the clone's notebooks folder, as opening the notebook there does."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    specs = KernelSpecManager(kernel_dirs=[str(machine["kernels"] / "kernels")])
    km = KernelManager(kernel_name="hosted", kernel_spec_manager=specs)
    km.start_kernel(cwd=str(machine["clone"] / "notebooks"))
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=120)
        yield km, kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def chapter_cells() -> list[str]:
    nb = json.loads(CHAPTER.read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert "google.colab" in code[0]
    return code


CHECK = ("import ipywidgets, torch, helpers, sys\n"
         "colab = sys.modules.get('google.colab')\n"
         "print('torch', torch.__version__, '| ipywidgets', ipywidgets.__version__, '| widget manager',\n"
         "      getattr(colab, 'WIDGET_MANAGER', None), '| helpers', helpers.__file__,\n"
         "      '| torch from', torch.__file__)\n"
         "from helpers.paths import places\nprint(places())")
SAVE = ("panel.num_inference_steps.value = 2\npanel.generate(wait=True)\nsaved = panel.save()\n"
        "print('returned', saved)\nprint('status', panel.status.value)")


def check_chapter_ran(machine: dict, results: list[dict], torch_before: str, widget_manager: str) -> None:
    """Every cell ran; torch is the image's, ipywidgets 8; Save PNG and the caches are where they belong."""
    for i, r in enumerate(results):
        assert r["status"] == "ok", f"cell {i}: {text_of(r)[-3000:]}"
    versions = text_of(results[1])
    print("--- versions and places ---\n" + versions)
    assert f"torch {torch_before} " in versions, "the platform's torch must stay"
    torch_file = Path(versions.split("| torch from ")[1].split()[0])
    assert torch_file.is_relative_to(site_packages(IMAGE)), "the platform's own torch, not a second copy"
    assert "| ipywidgets 8." in versions and f"| widget manager {widget_manager} |" in versions
    helpers_file = Path(versions.split("| helpers ")[1].split()[0])
    assert helpers_file.is_relative_to(site_packages(machine["venv"])), "a normal install, not the clone"
    saved_text = text_of(results[-1])
    print("--- Save PNG ---\n" + saved_text)
    saved = Path(saved_text.split("returned ")[1].split()[0])
    assert saved.is_file() and saved.parent == (machine["clone"] / "notebooks" / "build" / "panel").resolve()
    assert f"status saved {saved}" in saved_text, "the panel says the full path it saved to"
    twins = Path(machine["env"]["XDG_CACHE_HOME"]) / "diffusers-img2img-tutorial" / "twins" / "hub"
    assert (twins / "BUILD_INFO.json").is_file(), "the twins belong in the user cache folder"
    site = site_packages(machine["venv"])
    assert not (site / "build").exists() and not (site / ".cache").exists(), "nothing written into site-packages"
    (record,) = site.glob("diffusers_img2img_tutorial-*.dist-info/RECORD")
    installed = {line.split(",")[0] for line in record.read_text().splitlines()}
    present = {p.relative_to(site).as_posix() for p in (site / "helpers").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert present <= installed, f"files the install did not put there: {sorted(present - installed)}"


def run_all(kc, cells: list[str], timeout: int) -> list[dict]:
    """Queue every cell at once, as Jupyter's "Run all" does, and collect each one's reply and outputs."""
    ids = [kc.execute(code, stop_on_error=True) for code in cells]
    outputs, replies, idle = {i: [] for i in ids}, {}, set()
    deadline = time.monotonic() + timeout
    # done when every cell has its reply, and every cell that ran has gone idle (its outputs are all in)
    while len(replies) < len(ids) or any(r["status"] != "aborted" and i not in idle for i, r in replies.items()):
        assert time.monotonic() < deadline, f"the cells did not finish in {timeout} s"
        try:
            msg = kc.get_iopub_msg(timeout=0.2)
        except queue.Empty:
            msg = None
        if msg is not None:
            parent = msg["parent_header"].get("msg_id")
            if parent in outputs and msg["msg_type"] in ("stream", "error", "execute_result"):
                outputs[parent].append(msg["content"])
            elif parent in outputs and msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                idle.add(parent)
        while True:
            try:
                reply = kc.get_shell_msg(timeout=0.01)
            except queue.Empty:
                break
            replies[reply["parent_header"]["msg_id"]] = reply["content"]
    return [{"status": replies[i]["status"], "outputs": outputs[i], "reply": replies[i]} for i in ids]


def text_of(result: dict) -> str:
    parts = []
    for out in result["outputs"]:
        parts.append(out.get("text", "") + "\n".join(out.get("traceback", [])))
        parts.append(str(out.get("data", {}).get("text/plain", "")))
    return "\n".join(parts)


def image_torch(image: Path) -> str:
    return run([image / "bin" / "python", "-c", "import torch; print(torch.__version__)"]).stdout.strip()


def test_colab_restart_stops_run_all_then_the_chapter_runs(image, tmp_path):
    machine = make_machine(image, tmp_path, "colab")
    code, torch_before = chapter_cells(), image_torch(image)
    with kernel(machine) as (km, kc):
        # 1. "Run all" on a fresh runtime: cell 1 installs, finds ipywidgets upgraded under the kernel, and stops
        first = run_all(kc, code[:3], timeout=900)
        said = text_of(first[0])
        print("--- cell 1, a restart needed ---\n" + said)
        assert first[0]["status"] == "error" and first[0]["reply"]["ename"] == "RestartNeeded", said
        assert "ipywidgets 7.7.1 → 8." in said and "Runtime → Restart session" in said
        assert "Traceback" not in said  # the message alone: what to do, not where it was raised
        assert [r["status"] for r in first[1:]] == ["aborted", "aborted"], "Run all went on past the restart"

        # 2. Restart, "Run all" again: cell 1 is silent, and the whole chapter runs
        km.restart_kernel(now=True)
        kc.wait_for_ready(timeout=120)
        second = run_all(kc, [code[0], CHECK, *code[1:], SAVE], timeout=900)
        assert text_of(second[0]).strip() == "", "after a restart the first cell says nothing"
        check_chapter_ran(machine, second, torch_before, "['on']")


def test_kaggle_fresh_install_runs_straight_through(image, tmp_path):
    machine = make_machine(image, tmp_path, "kaggle")  # nothing imported at start: no restart is needed
    code, torch_before = chapter_cells(), image_torch(image)
    with kernel(machine) as (km, kc):
        results = run_all(kc, [code[0], CHECK, *code[1:], SAVE], timeout=900)
    said = text_of(results[0])
    print("--- cell 1, a fresh install ---\n" + said)
    assert said.strip() == f"Installing the tutorial helpers from {machine['clone']} (a minute or two) ..."
    check_chapter_ran(machine, results, torch_before, "None")


def test_kaggle_without_internet_says_so_and_stops(image, tmp_path):
    # Kaggle's Internet switch off: the clone is found, but none of its dependencies can be fetched
    machine = make_machine(image, tmp_path, "kaggle", env={"PIP_INDEX_URL": "https://pypi.invalid/simple",
                                                          "PIP_CONFIG_FILE": os.devnull, "PIP_NO_CACHE_DIR": "1"})
    with kernel(machine) as (km, kc):
        results = run_all(kc, chapter_cells()[:3], timeout=300)
    said, reply = text_of(results[0]), results[0]["reply"]
    print("--- cell 1, a failed install ---\n" + said)
    assert results[0]["status"] == "error" and reply["ename"] == "InstallFailed"
    assert "Traceback" not in said and "raise InstallFailed" not in said  # the message alone, no code to read
    assert reply["evalue"].startswith("pip could not install the tutorial helpers: it could not reach PyPI or GitHub. "
                                      "Kaggle notebooks have no internet until you turn it on")
    assert "pip: NewConnectionError" in reply["evalue"] and "establish a new connection" in reply["evalue"]
    assert "\x1b[" not in reply["evalue"], "pip's words in plain text: ipykernel's FORCE_COLOR must not reach pip"
    assert "conflict" not in reply["evalue"]  # offline, pip reports a conflict too; the cause is the network
    assert [r["status"] for r in results[1:]] == ["aborted", "aborted"]
    assert not list(site_packages(machine["venv"]).glob("diffusers_img2img_tutorial*"))
