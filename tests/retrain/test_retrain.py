"""Opt-in (`pytest --retrain-twins tests/retrain`): retrain every twin from its script and check every target.

About an hour on 2 cores (the UNets 45 minutes, the depth twins 12). It proves that the committed weights come from
the committed, seeded scripts: the retrained twins must meet the same targets as the committed ones.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # `python -m tools.…` runs from the checkout


def test_retrained_twins_meet_every_target(tmp_path):
    weights = tmp_path / "weights"
    trained = subprocess.run([sys.executable, "-m", "tools.train_twins", "--out", str(weights)],
                             capture_output=True, text=True, timeout=3 * 3600, cwd=ROOT)
    assert trained.returncode == 0, trained.stderr[-3000:]
    # chapter 4's depth twins: the ControlNet learns beside the SD 1.5 UNet just retrained
    control = subprocess.run([sys.executable, "-m", "tools.train_control", "--out", str(weights)],
                             capture_output=True, text=True, timeout=3600, cwd=ROOT)
    assert control.returncode == 0, control.stderr[-3000:]
    assert f"beside {weights / 'sd15-unet.safetensors'}" in control.stdout
    measured = subprocess.run([sys.executable, "-m", "tools.twin_targets", "--weights", str(weights),
                               "--cache", str(tmp_path / "hub")], capture_output=True, text=True, timeout=3600,
                              cwd=ROOT)
    print(measured.stdout)
    assert measured.returncode == 0, measured.stdout + measured.stderr[-3000:]
    assert measured.stdout.count("| yes |") >= 40  # 30 rows for the UNets, 10 for the depth twins
