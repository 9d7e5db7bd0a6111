"""Chapters 1 and 5 in a real browser: JupyterLab on loopback, Debian's Chromium driven by Playwright.

Chapter 1, cut down to what its panel needs (setup, loading, the prompt, the panel; nbval runs the whole chapter):
move the guidance slider, click Generate, and check that the picture updates step by step during the run and shows
the picture, not noise, that the caption follows, and that the step slider goes back through the run. Chapter 5,
cut down to the mask painter and its panel: drag the mouse across the painter, and check in the kernel that the
mask is the stroke and that an inpainting run with it changes the picture inside the stroke, not outside.
Screenshots go to build/browser/. In CI a missing browser is a failure, never a silent skip.
"""

import os
import re
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
    """Chapter 1 with only the code its panel needs: setup and loading cells, `prompt` and `seed`, the panel."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    nb.cells = [c for c in code if {"setup", "load"} & set(c.metadata.get("tags", []))
                or c.source.startswith("prompt = ") or "Panel(" in c.source]
    for cell in nb.cells:  # the cell that sets `prompt` also makes the chapter's first picture: the panel needs neither
        if cell.source.startswith("prompt = "):
            kept = [line for line in cell.source.splitlines() if line.startswith(("prompt = ", "seed = "))]
            cell.source = "\n".join(kept)
    return nb


MEASURE = """# the browser test's own cell: on Run All nothing is painted yet; run again, it measures the painted mask
if "measuring" not in globals():
    measuring = True
    print("ready to measure")
else:
    mask = painter.mask
    panel5.controls["mask_image"].value = "painted"
    panel5.controls["strength"].value = 1.0
    result = panel5.generate(wait=True)
    inside, outside = change_inside_outside(init_image, result.image, mask)
    print(f"painted={painter.painted:.3f} bbox={mask.getbbox()} ratio={inside / max(outside, 1e-6):.2f}")
    panel5.controls["strength"].value = 0.6  # one more run, so the step slider starts from a noised start picture
    panel5.generate(wait=True)
    print("measured")
"""


def painter_cells(path: Path) -> list:
    """Chapter 5 cut down to the painter and its panel (`panel5`): the pictures and masks, SD inpainting, a measure."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    keep = [c for c in code if c.source.startswith(("SIZE = ", "box_mask = ")) or "MaskPainter(" in c.source
            or c.source.startswith("painted = painter.mask")
            or ("setup" in c.metadata.get("tags", []) and not c.source.startswith("# Colab and Kaggle only"))]
    [load] = [c for c in code if "sd_inpaint_id = " in c.source and "from_pretrained(" in c.source][:1]
    load.source = "\n".join(line for line in load.source.splitlines()  # the chapter frees the model before it
                            if not line.startswith(("del ", "free_memory(")))
    [panel] = [c for c in code if "Panel(" in c.source]
    panel.source = re.sub(r"(?<![\w.])panel\b", "panel5", panel.source)  # beside chapter 1's, in one kernel
    prompt = nbformat.v4.new_code_cell('prompt = "concept art digital painting of an elven castle"\n'
                                       "steps = 6  # fewer than the chapter's: the test needs the mask's effect only\n"
                                       "from helpers.compare import change_inside_outside")
    return [*keep, load, prompt, panel, nbformat.v4.new_code_cell(MEASURE)]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    _require_browser()
    port, token = _free_port(), secrets.token_hex(16)
    runtime = tmp_path_factory.mktemp("jupyter-runtime")
    root = tmp_path_factory.mktemp("lab-root")  # a copy: JupyterLab's autosave must not touch the repo
    (root / "notebooks").mkdir()
    # one notebook, one kernel: chapter 1's panel, then chapter 5's painter and panel (one kernel start saved)
    both = panel_cells(PROJECT_ROOT / "notebooks" / "01_guidance_scale.ipynb")
    both.cells += painter_cells(PROJECT_ROOT / "notebooks" / "05_inpainting.ipynb")
    nbformat.write(both, root / "notebooks" / "panels.ipynb")
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(runtime), "TUTORIAL_MODELS": "twins",
           # layouts and settings of this run only: nothing an earlier run saved reopens, nothing is left behind
           "JUPYTERLAB_WORKSPACES_DIR": str(runtime / "workspaces"),
           "JUPYTERLAB_SETTINGS_DIR": str(runtime / "settings")}
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


FRAMES_JS = """img => {
    // count every new picture the panel shows, and keep a 16 x 16 colour thumbnail of each, to compare them
    window.__shown = 0; window.__frames = [];
    new MutationObserver(() => {
        window.__shown += 1;
        const probe = new Image();
        probe.onload = () => {
            const c = document.createElement("canvas"); c.width = 16; c.height = 16;
            const g = c.getContext("2d"); g.drawImage(probe, 0, 0, 16, 16);
            const d = g.getImageData(0, 0, 16, 16).data, rgb = [];
            for (let i = 0; i < d.length; i += 4) rgb.push(d[i], d[i + 1], d[i + 2]);
            window.__frames.push({width: probe.width, rgb: rgb});
        };
        probe.src = img.src;
    }).observe(img, {attributes: true, attributeFilter: ["src"]});
}"""


def _open_and_run_all(page, base: str, token: str, name: str) -> None:
    """Open a notebook in JupyterLab, start its kernel and run every cell, as a learner would."""
    # a workspace of its own, reset: only this notebook open, whatever an earlier run left in the saved layout
    page.goto(f"{base}/lab/workspaces/browser-test/tree/notebooks/{name}?reset&token={token}")
    page.locator(".jp-Notebook:visible").first.wait_for()
    select = page.locator(".jp-Dialog").get_by_role("button", name="Select")
    idle = page.get_by_text("Python 3 (ipykernel) | Idle").first
    # a fresh JupyterLab may ask which kernel to start: wait for that question or for the kernel, not a fixed time
    select.or_(idle).first.wait_for(timeout=120_000)
    if select.is_visible():
        select.click()
    idle.wait_for(timeout=120_000)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    news = page.locator(".jp-toast-button", has_text="No")  # JupyterLab asks about its news once: not now
    if news.count():
        news.first.click()


def _set_slider(slider, text: str) -> None:
    readout = slider.locator(".widget-readout")
    readout.click()
    slider.page.keyboard.press("Control+A")
    slider.page.keyboard.type(text)
    slider.page.keyboard.press("Enter")


def _scrubber(panel):
    """The panel's step slider (its label is exactly "step"; num_inference_steps has a slider of its own)."""
    label = panel.page.locator(".widget-label", has_text=re.compile("^step$"))
    return panel.locator(".widget-slider").filter(has=label)


@pytest.fixture(scope="module")
def shots():
    folder = build_dir() / "browser"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


@pytest.fixture(scope="module")
def page(lab, shots):
    """The two panels' notebook open in Chromium, every cell run once."""
    from playwright.sync_api import expect, sync_playwright

    base, token = lab
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=QUIET_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.set_default_timeout(240_000)
        _open_and_run_all(page, base, token, "panels.ipynb")
        try:
            expect(page.locator(".jp-CodeCell").last.locator(".jp-OutputArea")).to_contain_text(
                "ready to measure", timeout=300_000)  # all cells ran
        except AssertionError:
            page.screenshot(path=str(shots / "panels-failed.png"), full_page=True)
            raise
        yield page
        browser.close()


def _panel(page, index: int):
    """The n-th panel on the page: 0 is chapter 1's, 1 is chapter 5's."""
    return page.locator(".widget-vbox").filter(has=page.locator("button", has_text="Generate")).nth(index)


def test_chapter1_panel_updates_in_a_real_browser(page, shots):
    from playwright.sync_api import expect

    panel = _panel(page, 0)
    panel.scroll_into_view_if_needed()
    caption = panel.locator(".widget-html").filter(has_text="guidance=")
    expect(caption.first).to_contain_text("guidance=7.5", timeout=60_000)
    picture = panel.locator("img").first
    first_picture = picture.get_attribute("src")

    guidance = panel.locator(".widget-slider").filter(has_text="guidance_scale")
    _set_slider(guidance, "12")
    expect(guidance.locator(".widget-readout")).to_have_text("12.00", timeout=10_000)
    _set_slider(panel.locator(".widget-slider").filter(has_text="num_inference_steps"), "12")

    picture.evaluate(FRAMES_JS)
    panel.locator("button", has_text="Generate").click()
    picture.evaluate("img => img.scrollIntoView({block: 'center'})")  # the picture, its caption and the step line
    page.wait_for_function("window.__shown >= 4", timeout=120_000)
    page.screenshot(path=str(shots / "chapter1-preview-midrun.png"), full_page=False)  # a frame mid-run
    expect(caption.first).to_contain_text("guidance=12.0", timeout=120_000)
    expect(picture).not_to_have_attribute("src", first_picture or "", timeout=10_000)
    page.wait_for_function("window.__frames.some(f => f.width > 160)", timeout=10_000)  # the finished picture, read
    frames = page.evaluate("window.__frames")
    page.screenshot(path=str(shots / "chapter1-panel.png"), full_page=False)

    scrubber = _scrubber(panel)
    expect(scrubber.locator(".widget-readout")).to_have_text("13")  # the start and 13 UNet calls (PNDM: 12 + 1)
    finished = picture.get_attribute("src")
    _set_slider(scrubber, "7")
    expect(picture).not_to_have_attribute("src", finished or "", timeout=10_000)
    expect(panel.locator(".widget-html").filter(has_text="step 7/13").first).to_be_visible()
    assert (shots / "chapter1-panel.png").stat().st_size > 10_000

    import numpy as np

    previews = [np.array(f["rgb"], float) for f in frames if f["width"] <= 160]  # the finished picture is larger
    final = np.array(frames[-1]["rgb"], float)
    assert len(previews) >= 3 and frames[-1]["width"] > 160, [f["width"] for f in frames]
    apart = [float(np.abs(p - final).mean()) for p in previews]  # mean colour difference to the finished picture
    # the start is noise; from a third of the way on, the estimates show the picture the run ends with
    later = apart[len(apart) // 3:]
    assert max(later) < 0.5 * apart[0], [round(a, 1) for a in apart]


def test_chapter5_painted_mask_reaches_the_kernel_and_the_inpainting(page, shots):
    from playwright.sync_api import expect

    measure = page.locator(".jp-CodeCell").last
    canvas = page.locator("canvas.tutorial-mask-canvas").first
    canvas.scroll_into_view_if_needed()
    expect(page.locator(".tutorial-mask-painted").first).not_to_be_empty(timeout=30_000)
    page.locator(".tutorial-mask-clear").first.click()
    box = canvas.bounding_box()
    y = box["y"] + 0.5 * box["height"]
    page.mouse.move(box["x"] + 0.3 * box["width"], y)
    page.mouse.down()
    for i in range(1, 21):  # a stroke across the middle, as a hand would draw it
        page.mouse.move(box["x"] + (0.3 + 0.02 * i) * box["width"], y)
    page.mouse.up()
    expect(page.locator(".tutorial-mask-painted").first).not_to_contain_text(" 0.0 %", timeout=10_000)
    page.screenshot(path=str(shots / "chapter5-painted.png"), full_page=False)

    measure.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")  # run the measuring cell again, in place, with the painted mask
    try:
        expect(measure.locator(".jp-OutputArea")).to_contain_text("measured", timeout=120_000)
    except AssertionError:
        page.screenshot(path=str(shots / "chapter5-failed.png"), full_page=True)
        raise
    said = measure.locator(".jp-OutputArea").inner_text()

    panel = _panel(page, 1)
    panel.locator("img").first.evaluate("img => img.scrollIntoView({block: 'center'})")
    page.screenshot(path=str(shots / "chapter5-painted-result.png"), full_page=False)
    _set_slider(_scrubber(panel), "0")
    expect(panel.locator(".widget-html").filter(has_text="noised for step").first).to_be_visible(timeout=10_000)
    page.screenshot(path=str(shots / "chapter5-scrubber-start.png"), full_page=False)
    found = re.search(r"painted=([\d.]+) bbox=\((\d+), (\d+), (\d+), (\d+)\) ratio=([\d.]+)", said)
    assert found, said
    painted, left, top, right, bottom, ratio = (float(v) for v in found.groups())
    assert 0.01 < painted < 0.2, said  # the stroke, not the chapter's mask (cleared) nor nothing
    assert 130 < left < 180 and 330 < right < 380 and 200 < top < 256 < bottom < 312, said  # where it was drawn
    assert ratio >= 3, said  # the picture changed inside the painted area, not outside
