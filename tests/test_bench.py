"""Tests for tools.bench: it runs on the tiny twins, its FLOP counts and the full-size configs are right.

Building and measuring the full-size twins (8 GB of disk) is in tests/full_size, run with --full-size.
"""

import json
import re

import pytest
import torch

from tools import bench
from tools.full_size import full_size_configs

SD15 = bench.SD15


def real_config(repo, folder):
    return full_size_configs()[repo][folder]["config"]


# ---------------------------------------------------------------- FLOPs, counted


@pytest.fixture(scope="module")
def sd15_step_flops():
    """FLOPs of one SD 1.5 UNet step at a 64x64 latent (512x512 image), counted once for the module."""
    return bench.unet_flops(real_config(SD15, "unet"), 64)


def test_sd15_unet_flops_match_the_known_figure(sd15_step_flops):
    # ≈ 0.80 TFLOP per sample per step at a 64x64 latent (512x512 image)
    flops = sd15_step_flops
    assert flops == pytest.approx(0.80e12, rel=0.01)
    # convolutions and projections scale with the pixels, attention with their square: a quarter of the
    # pixels costs a bit less than a quarter of the FLOPs
    quarter = bench.unet_flops(real_config(SD15, "unet"), 32)
    assert flops / 5 < quarter < flops / 4


def test_sdxl_refiner_unet_is_bigger_per_step(sd15_step_flops):
    cfg = real_config(bench.REFINER, "unet")
    from diffusers import UNet2DConditionModel
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(cfg)
        cond = {"text_embeds": torch.empty(1, 1280), "time_ids": torch.empty(1, 5)}
        with FlopCounterMode(display=False) as counter:
            unet(torch.empty(1, 4, 128, 128), torch.tensor([500]), encoder_hidden_states=torch.empty(1, 77, 1280),
                 added_cond_kwargs=cond)
    assert counter.get_total_flops() > 4 * sd15_step_flops


@pytest.mark.parametrize(("repo", "folder"), [(r, f) for r, parts in full_size_configs().items() for f in parts])
def test_full_size_configs_give_the_recorded_parameter_counts(repo, folder):
    from tools.full_size import full_component

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
    assert bench.main(["--models", "twins", "--size", "64", "--steps", "4", "--repeats", "2", "--out", str(out)]) == 0
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


def test_meta_copies_take_the_dtype_of_the_real_weights():
    # a CUDA run loads float16 weights; a float32 copy fed the recorded float16 inputs cannot count their FLOPs
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(SD15, dtype=torch.float16, variant="fp16", use_safetensors=True)
    for name in ("unet", "vae.decoder", "vae.post_quant_conv", "text_encoder"):
        copy = bench.meta_twin(pipe, name)
        assert {(p.dtype, p.device.type) for p in copy.parameters()} == {(torch.float16, "meta")}, name


def test_compile_mode_changes_fast_mode_for_this_run_only(tiny_report, monkeypatch):
    from helpers import policy, speed

    real_plan_for, applied = speed.plan_for, []

    def compiling_plan_for(*args, **kwargs):  # fast mode as on CUDA, where the policy compiles
        p = real_plan_for(*args, **kwargs)
        p.compile_mode = policy.COMPILE_MODE_CUDA
        p.add("torch.compile", policy.COMPILE_MODE_CUDA, "CUDA")
        return p

    monkeypatch.setattr(speed, "plan_for", compiling_plan_for)
    monkeypatch.setattr(speed, "apply_plan", lambda pipeline, p, device: applied.append(p))
    _pipeline, choices = bench.load(bench.WORKLOADS["sd15_t2i"], "fast", "cpu", None, "twins", "default")
    assert applied[-1].compile_mode == "default" and "torch.compile=default (--compile-mode)" in choices
    bench.load(bench.WORKLOADS["sd15_t2i"], "fast", "cpu", None, "twins")
    assert applied[-1].compile_mode == policy.COMPILE_MODE_CUDA == "max-autotune"  # users' fast mode is unchanged


def test_built_models_are_made_on_the_device_with_the_real_architecture(monkeypatch):
    import tools.full_size

    made = []

    def on_meta(repo, device, dtype):  # shapes only: the same code path without gigabytes of memory
        made.append((repo, device, dtype))
        return real_full_pipeline(repo, "meta", dtype)

    real_full_pipeline = tools.full_size.full_pipeline
    monkeypatch.setattr(tools.full_size, "full_pipeline", on_meta)
    pipeline = bench._built(None, SD15, "cpu", torch.float16)
    assert made == [(SD15, "cpu", torch.float16)]
    assert sum(p.numel() for p in pipeline.unet.parameters()) == 859_520_964
    assert pipeline.unet.dtype == torch.float16 and pipeline.unet.device.type == "meta"


def test_the_sdxl_inpainting_twin_is_built_whole_in_fp16_on_the_device():
    from tools.full_size import full_pipeline

    repo = "diffusers/stable-diffusion-xl-1.0-inpainting-0.1"
    pipeline = full_pipeline(repo, "meta")
    assert type(pipeline).__name__ == "StableDiffusionXLInpaintPipeline"
    assert pipeline.unet.config.in_channels == 9  # 4 latent + 4 masked-image latent + 1 mask channels
    recorded = full_size_configs()[repo]
    for folder in ("unet", "vae", "text_encoder", "text_encoder_2"):
        model = getattr(pipeline, folder)
        assert sum(p.numel() for p in model.parameters()) == recorded[folder]["params"], folder
        assert {p.dtype for p in model.parameters()} == {torch.float16}, folder
        assert {p.device.type for p in model.parameters()} == {"meta"}, folder
    assert torch.get_default_dtype() == torch.float32  # the build leaves the process's default as it was


def test_profile_names_the_top_operators_of_one_unet_call(tiny_report):
    import dataclasses

    workload = dataclasses.replace(bench.WORKLOADS["sd15_t2i"], size=64, steps=2)
    pipeline, _choices = bench.load(workload, "default", "cpu", None)
    top = bench.profile_unet_step(pipeline, bench.call_kwargs(workload, "cpu"), "cpu")
    names = [name for name, _ms, _calls in top]
    assert 1 <= len(names) <= 10 and all(ms > 0 and calls >= 1 for _n, ms, calls in top)
    assert any("conv" in n or "mm" in n or "linear" in n for n in names), names  # a UNet's time goes to these
    row = bench.Row("sd15_t2i", "default", "twins", 64, 2, top_kernels=top)
    text = bench.markdown([row], {}, "cpu", "profile")
    assert f"Top kernels of one UNet call, sd15_t2i · default (own time, ms × calls):\n\n1. `{names[0]}`" in text


def test_bench_preview_times_runs_with_and_without_the_preview(monkeypatch, tmp_path, capsys):
    from diffusers import AutoencoderTiny, StableDiffusionPipeline

    from helpers.loading import load_args
    from tools import bench_preview, full_size

    twin = StableDiffusionPipeline.from_pretrained(SD15, **load_args(SD15))  # the full-size build is too big here
    monkeypatch.setattr(full_size, "full_pipeline", lambda repo, device, dtype: twin)
    monkeypatch.setattr(AutoencoderTiny, "__init__", _small_tiny(AutoencoderTiny.__init__))
    out = tmp_path / "preview.json"
    assert bench_preview.main(["--size", "64", "--steps", "2", "--repeats", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    record = json.loads(out.read_text())
    assert record["frames"] == 4 and record["off_s"] > 0 and record["on_s"] > 0  # the start and 3 PNDM calls
    assert re.search(r"preview off: [\d.]+ s per run \| preview on: [\d.]+ s \(4 frames\) \| preview share: "
                     r"[+-][\d.]+% of a run", printed), printed


def _small_tiny(init):
    """AutoencoderTiny() as the benchmark makes it, but narrow: the test times nothing, it checks the wiring."""
    def small(self, **kwargs):
        kwargs = {"encoder_block_out_channels": (8,) * 4, "decoder_block_out_channels": (8,) * 4, **kwargs}
        init(self, **kwargs)
    return small
