"""tools/gpu_check.sh: its stages in priority order, each recorded as it finishes, within one budget.

The stages themselves are tested where their code lives (tools.t4_check, tools.bench, tools.nbval_outputs);
here the script runs as a rehearsal on this CPU with the slow stages left out.
"""

import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "tools" / "gpu_check.sh"
PRIORITY = ["install", "header", "twins", "notebooks", "sweep", "t4", "bench", "preview", "gpu_tests"]


def rehearse(tmp_path, **env):
    out, work = tmp_path / "out", tmp_path / "work"
    run = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=120, cwd=ROOT,
                         env={**os.environ, "REHEARSE": "1", "PYTHON": sys.executable, "OUT": str(out),
                              "WORK": str(work), **env})
    return run, out


def stages(timings: Path) -> list[list[str]]:
    return [line.split() for line in timings.read_text().splitlines()[1:] if not line.startswith("total")]


def test_the_stages_run_in_priority_order_and_each_is_recorded_afresh(tmp_path):
    out, work = tmp_path / "out", tmp_path / "work"
    out.mkdir()
    (out / "bench-cuda.json").write_text("[] from an earlier run")  # a rerun must never return this as new
    run, out = rehearse(tmp_path, SKIP="twins notebooks sweep t4 bench preview")
    assert run.returncode == 0, run.stdout[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["gpu_check.log", "gpu_check.tar.gz", "timings.txt"]
    rows = stages(out / "timings.txt")
    assert [r[0] for r in rows] == PRIORITY
    assert {r[0]: r[3] for r in rows} == {"install": "0", "header": "0", "twins": "skipped", "notebooks": "skipped",
                                          "sweep": "skipped", "t4": "skipped", "bench": "skipped",
                                          "preview": "skipped", "gpu_tests": "not-run"}
    assert "gpu_tests: not run (a rehearsal: pytest --gpu needs a CUDA device)" in run.stdout
    with tarfile.open(out / "gpu_check.tar.gz") as archive:  # one archive holds the rest
        names = {Path(n).name for n in archive.getnames()}
    assert {"pip-freeze-machine.txt", "timings.txt", "gpu_check.log"} <= names
    (work / "timings.txt").unlink()
    (work / "mine.txt").write_text("not the script's")  # a folder it did not make is refused, not emptied
    again = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=120, cwd=ROOT,
                           env={**os.environ, "REHEARSE": "1", "PYTHON": sys.executable, "OUT": str(out),
                                "WORK": str(work), "SKIP": "twins notebooks sweep t4 bench preview"})
    assert again.returncode == 2 and "holds files that this script did not write" in again.stdout
    assert (work / "mine.txt").read_text() == "not the script's"


def test_a_spent_budget_skips_what_is_left_and_fails_the_run(tmp_path):
    run, out = rehearse(tmp_path, BUDGET="3")
    assert run.returncode == 1
    assert "SKIPPED: under 5 s left for it" in run.stdout and "gpu_check: FAILED" in run.stdout
    assert [r[3] for r in stages(out / "timings.txt")][:1] == ["125"]


def test_the_header_lists_the_stages_the_script_runs():
    text = SCRIPT.read_text()
    listed = re.findall(r"^#   (\w+) {2,}", text.split("# Environment knobs:")[0], flags=re.M)
    assert listed == PRIORITY
    called = re.findall(r"^\s*(?:if )?stage (\w+) \"\$\{T_", text, flags=re.M)
    assert [s for s in PRIORITY if s in called] == called and set(called) == set(PRIORITY)


def test_the_gpu_tests_stage_is_a_program_timeout_can_run(tmp_path):
    fake = tmp_path / "python"  # stands in for the CUDA machine's interpreter: says how it was called
    fake.write_text('#!/usr/bin/env bash\necho "ran: $*"\nexit 4\n')
    fake.chmod(0o755)
    run = subprocess.run(["timeout", "60", "bash", str(SCRIPT), "--gpu-tests"], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "VENV": "none", "PYTHON": str(fake),
                                        "OUT": str(tmp_path), "WORK": str(tmp_path)})
    assert run.returncode == 4, run.stderr  # pytest's own exit code; 127 would mean `timeout` found no program
    assert "ran: -m pytest -o addopts= tests/gpu --gpu" in run.stdout
    assert not (tmp_path / "gpu_tests_passed.txt").exists()  # only a pass is recorded
