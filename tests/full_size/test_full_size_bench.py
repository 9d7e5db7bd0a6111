"""The benchmark on a full-size twin (SD 1.5 at 256², 2 steps): it builds 8 GB of random weights, so it runs only
with `pytest --full-size` (tests/full_size). The default run checks the same configs on the meta device
(tests/test_bench.py), which needs no disk.
"""

import json
import math

import pytest

from tools import bench
from tools.full_size import full_size_configs

SD15 = bench.SD15


def real_config(repo, folder):
    return full_size_configs()[repo][folder]["config"]


# ---------------------------------------------------------------- full-size twins, small case


@pytest.fixture(scope="module")
def full_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench-full") / "bench.md"
    argv = ["--models", "full", "--workloads", "sd15_t2i", "--size", "256", "--steps", "2", "--repeats", "1",
            "--out", str(out)]
    assert bench.main(argv) == 0
    return json.loads(out.with_suffix(".json").read_text())[0]


def test_full_size_case_counts_the_real_flops(full_report):
    flops = full_report["flops"]["sd15_t2i"]
    steps = {r["config"]: r for r in full_report["rows"]}["default"]["unet_steps"]  # PNDM runs one extra step
    # classifier-free guidance: the UNet sees a batch of 2 (negative and positive prompt) at every step
    assert flops["unet"] == steps * bench.unet_flops(real_config(SD15, "unet"), 32, batch=2)
    assert flops["vae.decoder"] == pytest.approx(2.51e12 / 4, rel=0.01)  # ≈ 2.5 TFLOP at 512², a quarter at 256²


def test_full_size_case_is_sane(full_report):
    by = {r["config"]: r for r in full_report["rows"]}
    assert "accelerator" in by["chapter"]["error"]
    for config in ("default", "fast"):
        row = by[config]
        assert row["error"] is None, row
        # fp32 weights of the real architecture (4.3 GB) are resident while it runs
        assert row["peak_bytes"] > 4e9
        assert math.isclose(row["tflop_per_image"], sum(v for k, v in full_report["flops"]["sd15_t2i"].items()) / 1e12)
        assert 0 < row["compute_fraction"] <= 1.2  # the matmul probe is a practical peak, not a hard bound
        assert row["unet_it_s"] > 0


def test_full_size_twin_files_match_the_real_layout():
    from helpers.modes import snapshot_path
    from helpers.twins import is_twin
    from tools.full_size import full_twin_cache

    snap = snapshot_path(SD15, full_twin_cache())
    marker = json.loads((snap / "twin.json").read_text())
    assert marker["size"] == "full" and "noise" in marker["note"]
    unet = json.loads((snap / "unet" / "config.json").read_text())
    for key, value in real_config(SD15, "unet").items():
        if not key.startswith("_"):
            assert unet[key] == (list(value) if isinstance(value, tuple) else value), key
    assert (snap / "unet" / "diffusion_pytorch_model.fp16.safetensors").stat().st_size == pytest.approx(
        2 * 859_520_964, rel=0.001)
    assert json.loads((snap / "text_encoder" / "config.json").read_text())["dtype"] == "float32"
    assert is_twin(str(snap / "unet"))
    # the real repo's safetensors files, no pickle copies (a benchmark twin loads safetensors)
    from helpers.loading import WEIGHT_NAME
    from helpers.manifests import recorded_files

    weights = {p.relative_to(snap).as_posix() for p in snap.rglob("*") if WEIGHT_NAME.match(p.name)}
    assert weights == {p for p in recorded_files(SD15) if p.endswith(".safetensors")}
    non_ema = snap / "unet" / "diffusion_pytorch_model.non_ema.safetensors"
    assert non_ema.stat().st_ino == (snap / "unet" / "diffusion_pytorch_model.safetensors").stat().st_ino
