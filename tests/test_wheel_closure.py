"""tools/wheel_closure.py: only what the offline GPU machine lacks is carried to it, and never torch's tree."""

import json
import subprocess
import sys
from pathlib import Path

from packaging.specifiers import SpecifierSet

from tools.wheel_closure import closure, read_have

ROOT = Path(__file__).resolve().parent.parent


def item(name, version, requires=(), requested=False):
    return {"metadata": {"name": name, "version": version, "requires_dist": list(requires)}, "requested": requested}


REPORT = {"install": [
    item("diffusers", "0.42.1", ["huggingface-hub>=0.34", "numpy", "regex!=2019.12.17", "torch>=1.4"], True),
    item("huggingface_hub", "1.40.0", ["filelock"]),
    item("numpy", "2.3.0"), item("regex", "2026.1.1"), item("filelock", "3.20.0"),
    item("scikit-image", "0.28.0", ["lazy_loader>=0.4", "tifffile>=2022.8.12"], True),
    item("lazy_loader", "0.4"), item("tifffile", "2026.1.1"),
    item("matplotlib", "3.10.0", ["kiwisolver>=1.3.1"], True), item("kiwisolver", "1.4.9"),
    item("torch", "2.11.0+stub", ["nvidia-cublas"], True), item("nvidia-cublas", "13.0"),
    item("setuptools", "80.0.0", [], True),
]}
ASKED = {"diffusers": SpecifierSet(">=0.42,<0.45"), "scikit-image": SpecifierSet(">=0.25,<0.29"),
         "matplotlib": SpecifierSet(">=3.9,<4"), "setuptools": SpecifierSet(">=77")}
HAVE = read_have(["# the machine's packages", "huggingface-hub==1.33.0", "numpy", "scikit-image==0.24.0",
                  "matplotlib  # version not read", "setuptools", "torch==2.11.0"])


def test_the_machine_keeps_what_it_has_and_gets_what_it_lacks():
    pins, kept, carried = closure(REPORT, HAVE, ASKED)
    assert pins == {"diffusers": "0.42.1", "regex": "2026.1.1", "scikit-image": "0.28.0", "lazy-loader": "0.4",
                    "tifffile": "2026.1.1", "setuptools": "80.0.0"}
    # left out with everything below it: huggingface_hub's filelock, matplotlib's kiwisolver
    assert kept == {"huggingface-hub": "1.33.0", "numpy": "version not read", "matplotlib": "version not read",
                    "torch": "2.11.0"}
    # 0.24.0 is outside the range asked for, so the machine's copy would not do: carried, with its dependencies
    assert carried == {"scikit-image": "the machine's 0.24.0 is outside <0.29,>=0.25"}


def test_without_a_machine_list_everything_but_torch_is_carried():
    pins, kept, carried = closure(REPORT, {}, ASKED)
    assert set(pins) == {"diffusers", "huggingface-hub", "numpy", "regex", "filelock", "scikit-image", "lazy-loader",
                         "tifffile", "matplotlib", "kiwisolver", "setuptools"}
    assert not kept and not carried


def test_the_command_line_writes_pins_and_notes(tmp_path):
    (tmp_path / "report.json").write_text(json.dumps(REPORT))
    (tmp_path / "have.txt").write_text("numpy\nmatplotlib==3.8.0\n")
    (tmp_path / "req.txt").write_text("diffusers>=0.42,<0.45\nmatplotlib>=3.9,<4\nscikit-image>=0.25,<0.29\n")
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "wheel_closure.py"), *(str(tmp_path / n) for n in
                          ("report.json", "have.txt", "notes.txt", "req.txt"))], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "matplotlib==3.10.0\nkiwisolver==1.4.9\n" not in run.stdout and "matplotlib==3.10.0" in run.stdout
    notes = (tmp_path / "notes.txt").read_text()
    assert "left out: numpy (version not read)" in notes
    assert "carried although the machine has them: matplotlib: the machine's 3.8.0 is outside <4,>=3.9" in notes


def test_the_machine_list_names_its_python_and_torch():
    text = (ROOT / "tools" / "gpu_machine.txt").read_text()
    assert "# python: 3.12" in text and "# torch: 2.11.0" in text
    have = read_have(text.splitlines())
    assert have["torch"] == "2.11.0" and "diffusers" not in have and "nbval" not in have  # what it lacks is carried


def test_an_extra_of_a_package_the_machine_has_is_still_carried():
    report = {"install": [
        item("nbconvert", "7.17.2", ['bleach[css]!=5.0.0'], True),
        item("bleach", "6.4.0", ["webencodings", 'tinycss2<1.5,>=1.1.0; extra == "css"']),
        item("webencodings", "0.5.1"), item("tinycss2", "1.4.0", ["webencodings>=0.4"]),
    ]}
    pins, kept, _carried = closure(report, read_have(["bleach", "webencodings"]), {})
    assert pins == {"nbconvert": "7.17.2", "tinycss2": "1.4.0"}  # bleach itself and webencodings stay the machine's
    assert set(kept) == {"bleach", "webencodings"}
