"""Chapter 1 in a real browser: JupyterLab on loopback, Debian's Chromium driven by Playwright.

Runs all cells of chapter 1 cut down to what its panel needs (setup, loading, the first picture, the panel; nbval
runs the whole chapter), moves the guidance slider of the try-it-yourself panel, clicks Generate, and checks that
the picture and its caption update. A screenshot goes to build/browser/. In CI a missing browser is a
failure, never a silent skip.
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

from helpers.paths import PROJECT_ROOT, build_dir

CHROMIUM = os.environ.get("TUTORIAL_CHROMIUM", "/usr/bin/chromium")
QUIET_FLAGS = [
    "--no-sandbox", "--headless=new", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--metrics-recording-only",
]


def _missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"no browser at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -r requirements-dev.txt)"
    return None


def _require_browser():
    why = _missing()
    if why and os.environ.get("CI"):
        pytest.fail(f"browser test cannot run in CI: {why}")
    if why:
        pytest.skip(why)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def panel_cells(path: Path):
    """Chapter 1 with only the code its panel needs: setup and loading cells, the one that sets `prompt`, the panel."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    nb.cells = [c for c in code if {"setup", "load"} & set(c.metadata.get("tags", []))
                or c.source.startswith("prompt = ") or "Panel(" in c.source]
    return nb


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    _require_browser()
    port, token = _free_port(), secrets.token_hex(16)
    runtime = tmp_path_factory.mktemp("jupyter-runtime")
    root = tmp_path_factory.mktemp("lab-root")  # a copy: JupyterLab's autosave must not touch the repo
    (root / "notebooks").mkdir()
    nbformat.write(panel_cells(PROJECT_ROOT / "notebooks" / "01_guidance_scale.ipynb"),
                   root / "notebooks" / "01_guidance_scale.ipynb")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime), "TUTORIAL_MODELS": "twins"}
    log = open(runtime / "lab.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         "--ServerApp.open_browser=False", "--LabApp.news_url=", "--LabApp.extension_manager=readonly",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         *(["--allow-root"] if os.geteuid() == 0 else [])],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail("JupyterLab did not start on loopback within 60 s")
    if proc.poll() is not None:
        pytest.fail(f"JupyterLab exited: {(runtime / 'lab.log').read_text()[-2000:]}")
    yield base, token
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_chapter1_panel_updates_in_a_real_browser(lab):
    from playwright.sync_api import expect, sync_playwright

    base, token = lab
    shots = build_dir() / "browser"
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=QUIET_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(240_000)
        page.goto(f"{base}/lab/tree/notebooks/01_guidance_scale.ipynb?token={token}")
        page.locator(".jp-Notebook").first.wait_for()
        select = page.locator(".jp-Dialog").get_by_role("button", name="Select")
        idle = page.get_by_text("Python 3 (ipykernel) | Idle").first
        # a fresh JupyterLab may ask which kernel to start: wait for that question or for the kernel, not a fixed time
        select.or_(idle).first.wait_for(timeout=120_000)
        if select.is_visible():
            select.click()
        idle.wait_for(timeout=120_000)
        # Run ▸ Run All Cells, as a learner would
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()

        panel = page.locator(".widget-vbox").filter(has=page.locator("button", has_text="Generate")).last
        caption = panel.locator(".widget-html").filter(has_text="guidance=")
        try:
            expect(caption.first).to_contain_text("guidance=7.5", timeout=300_000)  # all cells ran
        except AssertionError:
            page.screenshot(path=str(shots / "chapter1-failed.png"), full_page=True)
            raise
        first_picture = panel.locator("img").first.get_attribute("src")

        slider = panel.locator(".widget-slider").filter(has_text="guidance_scale")
        readout = slider.locator(".widget-readout")
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("12")
        page.keyboard.press("Enter")
        expect(readout).to_have_text("12.00", timeout=10_000)

        panel.locator("button", has_text="Generate").click()
        expect(caption.first).to_contain_text("guidance=12.0", timeout=120_000)
        expect(panel.locator("img").first).not_to_have_attribute("src", first_picture or "", timeout=10_000)
        panel.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / "chapter1-panel.png"), full_page=False)
        browser.close()
    assert (shots / "chapter1-panel.png").stat().st_size > 10_000
