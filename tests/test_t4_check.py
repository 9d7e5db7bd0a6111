"""tools.t4_check: the heaviest steps within a free Colab T4's 15 GiB, recorded step by step."""

import json
from types import SimpleNamespace

import pytest
import torch

from tools import t4_check

GIB = 2**30


def test_the_cap_is_the_budget_as_a_share_of_the_card(monkeypatch):
    asked = []

    def set_fraction(fraction, device):  # torch refuses a device without its index ("cuda" alone)
        assert isinstance(device, int), f"set_per_process_memory_fraction needs an index, got {device!r}"
        asked.append((fraction, device))

    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda _d: SimpleNamespace(total_memory=80 * GIB))
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction", set_fraction)
    said = t4_check.cap_process("cuda", 15 * GIB)
    t4_check.cap_process("cuda:1", 15 * GIB)
    assert asked == [(15 / 80, 0), (15 / 80, 1)]
    assert said == "allocator capped at 15.0 GiB = 0.188 of 80.0 GiB"
    assert t4_check.cap_process("cpu", 15 * GIB).startswith("no cap on cpu")


def test_out_of_memory_is_a_result_not_a_crash(monkeypatch):
    def no_room(*_args):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.50 GiB")

    monkeypatch.setattr(t4_check, "build", no_room)
    result = t4_check.measure(t4_check.STEPS["sdxl_inpaint"], "built", "cpu", 15 * GIB, 4)
    assert result.fits is False and result.error == "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.50 GiB"
    assert "**no**" in t4_check.markdown([result], "Fake GPU", "capped") and "**OutOfMemoryError" in \
        t4_check.markdown([result], "Fake GPU", "capped")


def test_a_step_runs_on_the_twins_and_is_written_as_it_finishes(tmp_path, monkeypatch):
    out = tmp_path / "t4.json"
    small = t4_check.Step("sd15_img2img", "SD 1.5 img2img, 512² (ch. 1-4)", t4_check.SD15, "img2img", 64, 64)
    monkeypatch.setitem(t4_check.STEPS, "sd15_img2img", small)  # the same code path at 64 px: seconds, not minutes
    code = t4_check.main(["--only", "sd15_img2img", "--steps", "2", "--device", "cpu", "--out", str(out)])
    assert code == 0
    record = json.loads(out.read_text())
    (row,) = record["results"]
    assert row["models"] == "twins" and row["error"] is None and row["budget_gib"] == 15.0
    assert row["peak_allocated"] > 50 * 2**20 and row["fits"] is None  # off CUDA the peak is RAM: no verdict
    assert "placement=cpu" in row["choices"]
    assert "| SD 1.5 img2img, 512² (ch. 1-4) | twins | 2 |" in out.with_suffix(".md").read_text()


@pytest.mark.parametrize("bad", ["lots", "0"])
def test_a_bad_budget_names_the_option(bad, capsys):
    with pytest.raises(SystemExit):
        t4_check.main(["--budget", bad, "--device", "cpu"])
    assert "--budget=" in capsys.readouterr().err


def test_too_few_steps_for_img2img_are_refused(capsys):
    with pytest.raises(SystemExit):
        t4_check.main(["--steps", "1", "--device", "cpu"])
    assert "--steps must be at least 2, got 1" in capsys.readouterr().err
