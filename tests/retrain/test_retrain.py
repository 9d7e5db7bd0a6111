"""Opt-in (`pytest --retrain-twins tests/retrain`): retrain every twin UNet from train.py and check every target.

About 45 minutes on 2 cores. It proves that the committed weights come from the committed, seeded script: the
retrained twins must meet the same targets as the committed ones.
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
    measured = subprocess.run([sys.executable, "-m", "tools.twin_targets", "--weights", str(weights),
                               "--cache", str(tmp_path / "hub")], capture_output=True, text=True, timeout=3600,
                              cwd=ROOT)
    print(measured.stdout)
    assert measured.returncode == 0, measured.stdout + measured.stderr[-3000:]
    assert measured.stdout.count("| yes |") >= 30
