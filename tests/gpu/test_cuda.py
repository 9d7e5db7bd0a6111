"""CUDA-only checks, run with `pytest tests --gpu` on a GPU machine (tools/gpu_check.sh): fp16, offload, xformers.

They use the tiny twins, so they are quick; tools.bench measures the full-size ones.
"""

import importlib.util
import json

import numpy as np
import pytest
import torch

from helpers import speed
from helpers.device import make_generator, pick_device, pick_dtype

SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"


def load_fp16():
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(SD15, dtype=torch.float16, variant="fp16", use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def generate(pipe):
    out = pipe("an astronaut", num_inference_steps=4, height=128, width=128, output_type="np",
               generator=make_generator(0, "cuda"))
    return out.images


def test_device_and_dtype_pick_cuda_fp16():
    assert pick_device() == "cuda"
    assert pick_dtype("cuda") == torch.float16
    assert make_generator(0, "cuda").device.type == "cuda"


def test_default_policy_on_this_gpu():
    pipe = load_fp16()
    plan = speed.plan_for(pipe, "cuda")
    speed.apply_plan(pipe, plan, "cuda")
    assert not plan.offload and plan.channels_last and plan.attention == "SDPA"
    assert plan.tf32 == (torch.cuda.get_device_capability() >= (8, 0))
    assert pipe.unet.device.type == "cuda" and pipe.unet.dtype == torch.float16
    assert pipe.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    images = generate(pipe)
    assert images.shape == (1, 128, 128, 3)


def test_offload_gives_the_same_picture():
    on_gpu = generate(speed.fit_to_machine(load_fp16(), "cuda", verbose=False))
    offloaded = load_fp16()
    plan = speed.plan_for(offloaded, "cuda", offload="always")
    assert plan.offload is True
    speed.apply_plan(offloaded, plan, "cuda")
    assert offloaded.unet.device.type == "cpu"  # parked on the CPU between calls
    assert np.allclose(generate(offloaded), on_gpu, atol=2e-2, equal_nan=True)


def test_xformers_by_name():
    pipe = load_fp16()
    if importlib.util.find_spec("xformers") is None:
        with pytest.raises(ValueError, match="pip install xformers"):
            speed.fit_to_machine(pipe, "cuda", attention="xformers", verbose=False)
        return
    reference = generate(speed.fit_to_machine(load_fp16(), "cuda", verbose=False))
    plan = speed.plan_for(pipe, "cuda", attention="xformers")
    assert plan.attention == "xformers"
    speed.apply_plan(pipe, plan, "cuda")
    assert np.allclose(generate(pipe), reference, atol=2e-2, equal_nan=True)


def test_fast_mode_without_compile_keeps_the_picture():
    reference = generate(speed.fit_to_machine(load_fp16(), "cuda", verbose=False))
    pipe = speed.fit_to_machine(load_fp16(), "cuda", fast=True, compile=False, verbose=False)
    assert {type(p).__name__ for p in pipe.unet.attn_processors.values()} == {"FusedAttnProcessor2_0"}
    assert np.allclose(generate(pipe), reference, atol=2e-2, equal_nan=True)


def test_bench_runs_all_three_settings_on_cuda(tmp_path):
    from tools import bench

    out = tmp_path / "bench.md"
    assert bench.main(["--models", "twins", "--workloads", "sd15_t2i", "--size", "128", "--steps", "4",
                       "--repeats", "2", "--out", str(out)]) == 0
    rows = {r["config"]: r for r in json.loads(out.with_suffix(".json").read_text())[0]["rows"]}
    assert set(rows) == {"chapter", "default", "fast"}
    for config, row in rows.items():
        assert row["error"] is None, (config, row["error"])
        assert row["s_per_image"] > 0 and row["peak_bytes"] > 0 and row["unet_it_s"] > 0
        assert 0 < row["compute_fraction"] < 1
    assert "model CPU offload" in rows["chapter"]["choices"]
    assert "torch.compile=max-autotune" in rows["fast"]["choices"]


def test_checked_calls_work_with_offload_and_compile():
    """explain_errors() on, as in the notebooks: the checks must not refuse or break the GPU's own tricks."""
    from helpers import explain

    explain.enable()  # diffusers is imported by now (load_fp16 above), so every pipeline class is wrapped
    try:
        reference = generate(speed.fit_to_machine(load_fp16(), "cuda", verbose=False))
        # model offload: the weights wait on the CPU, the steps run on the GPU, and so does the cuda generator
        offloaded = speed.fit_to_machine(load_fp16(), "cuda", offload="always", verbose=False)
        assert np.allclose(generate(offloaded), reference, atol=2e-2, equal_nan=True)
        # fast mode compiles the UNet with fullgraph=True: the progress clock must not hook into that graph
        fast = speed.fit_to_machine(load_fp16(), "cuda", fast=True, compile=True, verbose=False)
        assert generate(fast).shape == (1, 128, 128, 3)
    finally:
        explain.disable()
