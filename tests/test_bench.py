"""Tests for helpers.bench and the full-size twins it measures: it runs, and its numbers are sane (never: fast)."""

import json
import math

import pytest
import torch

from helpers import bench
from helpers.twins.full_size import full_size_configs

SD15 = bench.SD15


def real_config(repo, folder):
    return full_size_configs()[repo][folder]["config"]


# ---------------------------------------------------------------- FLOPs, counted


def test_sd15_unet_flops_match_the_known_figure():
    # ≈ 0.80 TFLOP per sample per step at a 64x64 latent (512x512 image)
    flops = bench.unet_flops(real_config(SD15, "unet"), 64)
    assert flops == pytest.approx(0.80e12, rel=0.01)
    # convolutions and projections scale with the pixels, attention with their square: a quarter of the
    # pixels costs a bit less than a quarter of the FLOPs
    quarter = bench.unet_flops(real_config(SD15, "unet"), 32)
    assert flops / 5 < quarter < flops / 4


def test_sdxl_refiner_unet_is_bigger_per_step():
    cfg = real_config(bench.REFINER, "unet")
    from diffusers import UNet2DConditionModel
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(cfg)
        cond = {"text_embeds": torch.empty(1, 1280), "time_ids": torch.empty(1, 5)}
        with FlopCounterMode(display=False) as counter:
            unet(torch.empty(1, 4, 128, 128), torch.tensor([500]), encoder_hidden_states=torch.empty(1, 77, 1280),
                 added_cond_kwargs=cond)
    assert counter.get_total_flops() > 4 * bench.unet_flops(real_config(SD15, "unet"), 64)


@pytest.mark.parametrize(("repo", "folder"), [(r, f) for r, parts in full_size_configs().items() for f in parts])
def test_full_size_configs_give_the_recorded_parameter_counts(repo, folder):
    from helpers.twins.full_size import full_component

    entry = full_size_configs()[repo][folder]
    assert entry["source"].startswith("https://huggingface.co/"), "every config names where it comes from"
    with torch.device("meta"):
        model = full_component(repo, folder)
    assert sum(p.numel() for p in model.parameters()) == entry["params"]


def test_known_parameter_counts():
    counts = {(r, f): e["params"] for r, parts in full_size_configs().items() for f, e in parts.items()}
    assert counts[(SD15, "unet")] == 859_520_964  # the SD 1.5 UNet's well-known 859.52 M
    assert counts[(SD15, "vae")] == 83_653_863
    assert counts[(SD15, "text_encoder")] == 123_060_480


# ---------------------------------------------------------------- the benchmark on tiny twins


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "bench.md"
    assert bench.main(["--models", "twins", "--size", "128", "--steps", "4", "--repeats", "2", "--out", str(out)]) == 0
    return out, json.loads(out.with_suffix(".json").read_text())


def test_report_names_the_device_and_every_row(tiny_report):
    out, records = tiny_report
    text = out.read_text()
    assert f"device: **{bench.device_name('cpu')}**" in text
    assert "twins" in text and "noise" in text
    rows = records[0]["rows"]
    assert {(r["workload"], r["config"]) for r in rows} == {(w, c) for w in bench.WORKLOADS for c in bench.CONFIGS}


def test_chapter_settings_fail_on_cpu_and_say_why(tiny_report):
    for row in tiny_report[1][0]["rows"]:
        if row["config"] == "chapter":
            assert "enable_model_cpu_offload" in row["error"] and "accelerator" in row["error"]
            assert row["s_per_image"] is None


def test_numbers_are_sane(tiny_report):
    records = tiny_report[1][0]
    for row in records["rows"]:
        if row["config"] == "chapter":
            continue
        assert row["error"] is None, row
        assert 0 < row["s_per_image"] < 60 and len(row["s_per_image_all"]) == 2
        assert row["first_call_s"] > 0 and row["warmup_s"] >= 0 and row["load_s"] > 0
        assert row["unet_steps"] >= 1 and row["peak_bytes"] > 10 * 2**20
        assert 0 < row["compute_fraction"] < 1  # below the measured matmul peak
        if row["unet_steps"] > 1:
            assert row["unet_it_s"] > 0
    by = {(r["workload"], r["config"]): r for r in records["rows"]}
    for w in bench.WORKLOADS:  # same work under both settings: same steps, same FLOPs
        assert by[(w, "default")]["unet_steps"] == by[(w, "fast")]["unet_steps"]
        assert by[(w, "default")]["tflop_per_image"] == by[(w, "fast")]["tflop_per_image"]
    assert by[("controlnet_i2i", "default")]["tflop_per_image"] > by[("sd15_i2i", "default")]["tflop_per_image"]
    assert "controlnet" in records["flops"]["controlnet_i2i"]
    assert records["flops"]["_peak"]["source"].startswith("measured")


@pytest.mark.parametrize(("args", "match"), [
    (["--size", "100"], "multiple of 8"),
    (["--steps", "0"], "positive integer"),
    (["--workloads", "sd3"], "invalid choice"),
])
def test_bad_arguments(args, match, capsys):
    with pytest.raises(SystemExit):
        bench.main(args)
    assert match in capsys.readouterr().err


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
    from helpers.twins import full_twin_cache, is_twin

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
