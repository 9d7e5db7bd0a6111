"""Tests for the speed and memory policy (helpers.policy.plan) on example machines, and fast mode on a real twin."""

import pytest
import torch

from helpers import policy, speed
from helpers.policy import Machine, plan

H100 = Machine("cuda", "H100 80GB HBM3", 79 * 10**9, (9, 0), has_xformers=True)
T4 = Machine("cuda", "T4", 15 * 10**9, (7, 5))
LAPTOP = Machine("cuda", "laptop GPU 4GB", 3 * 10**9, (8, 6))
MPS_SMALL = Machine("mps", "M2 16GB", 12 * 10**9)
MPS_BIG = Machine("mps", "M2 Ultra", 100 * 10**9)
CPU = Machine("cpu", "CPU", 12 * 10**9)
SD15_FP16 = 2_130_000_000
SDXL_REFINER_FP16 = 4_500_000_000


def choice(p, name):
    return next(c for c in p.choices if c.name == name)


def test_h100_runs_everything_on_the_gpu():
    p = plan(H100, weights_bytes=SD15_FP16, dtype=torch.float16)
    assert not p.offload and p.channels_last and p.tf32
    assert p.attention == "SDPA"  # xformers is installed, but only used when asked for
    assert not p.vae_tiling and not p.vae_slicing
    assert not p.fuse_qkv and p.compile_mode is None  # fast mode is opt-in
    assert "offload would only slow it down" in choice(p, "placement").why


def test_small_gpu_offloads_a_model_that_does_not_fit():
    p = plan(LAPTOP, weights_bytes=SDXL_REFINER_FP16, dtype=torch.float16, height=1024, width=1024)
    assert p.offload
    assert "> 80% of 3.0 GB free" in choice(p, "placement").why


def test_pre_ampere_gpu_gets_no_tf32():
    p = plan(T4, weights_bytes=SD15_FP16, dtype=torch.float16)
    assert not p.tf32 and choice(p, "TF32 matmuls").value == "n/a"


def test_fp32_on_cuda_is_called_out():
    p = plan(H100, weights_bytes=2 * SD15_FP16, dtype=torch.float32)
    assert "dtype=torch.float16" in choice(p, "dtype").why


def test_vae_tiling_only_when_the_size_needs_it():
    small = plan(T4, weights_bytes=SD15_FP16, dtype=torch.float16, height=1024, width=1024)
    assert not small.vae_tiling
    huge = plan(T4, weights_bytes=SD15_FP16, dtype=torch.float16, height=4096, width=4096)
    assert huge.vae_tiling and choice(huge, "VAE").value == "tiled"


def test_vae_slicing_for_a_batch_that_fits_one_at_a_time():
    p = plan(LAPTOP, weights_bytes=SD15_FP16 // 4, dtype=torch.float16, height=512, width=512, batch=8)
    assert p.vae_slicing and not p.vae_tiling


def test_vae_estimate_scales_with_pixels_and_dtype():
    one = policy.vae_decode_bytes(512, 512, torch.float16)
    assert 0.3e9 < one < 1.5e9
    assert policy.vae_decode_bytes(1024, 1024, torch.float16) == 4 * one
    assert policy.vae_decode_bytes(512, 512, torch.float32) == 2 * one
    assert policy.vae_decode_bytes(512, 512, torch.float16, batch=3) == 3 * one


@pytest.mark.parametrize(("machine", "sliced"), [(MPS_SMALL, True), (MPS_BIG, False)])
def test_mps_slices_attention_below_64_gb(machine, sliced):
    p = plan(machine, weights_bytes=2 * SD15_FP16, dtype=torch.float32)
    assert p.attention_slicing is sliced
    assert not p.offload and not p.channels_last


def test_cpu_plan():
    p = plan(CPU, weights_bytes=2 * SD15_FP16, dtype=torch.float32)
    assert not p.offload and not p.channels_last and not p.tf32
    assert [c.name for c in p.choices] == ["placement", "dtype", "attention", "VAE", "fast mode"]


def test_fast_mode_on_cuda_compiles_with_cuda_graphs():
    p = plan(H100, weights_bytes=SD15_FP16, dtype=torch.float16, fast=True)
    assert p.fuse_qkv and p.compile_mode == "max-autotune"
    assert "CUDA graphs" in choice(p, "torch.compile").why


def test_fast_mode_with_offload_does_not_compile():
    p = plan(LAPTOP, weights_bytes=SDXL_REFINER_FP16, dtype=torch.float16, fast=True)
    assert p.offload and p.compile_mode is None
    with pytest.raises(ValueError, match="offload='never'"):
        plan(LAPTOP, weights_bytes=SDXL_REFINER_FP16, dtype=torch.float16, fast=True, compile=True)


def test_fast_mode_on_cpu_compiles_only_when_forced():
    p = plan(CPU, weights_bytes=SD15_FP16, dtype=torch.float32, fast=True)
    assert p.fuse_qkv and p.compile_mode is None
    assert "compile=True forces it" in choice(p, "torch.compile").why
    forced = plan(CPU, weights_bytes=SD15_FP16, dtype=torch.float32, fast=True, compile=True)
    assert forced.compile_mode == "max-autotune-no-cudagraphs"


def test_compile_needs_fast_mode():
    with pytest.raises(ValueError, match="fast=True, compile=True"):
        plan(H100, weights_bytes=SD15_FP16, dtype=torch.float16, compile=True)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"compile": "yes"}, "compile='yes'"),
    ({"tricks": "tiny_vae"}, r"tricks=\('tiny_vae',\)"),
    ({"tricks": ("deep_cache",)}, "only used when named exactly"),
])
def test_bad_policy_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        plan(CPU, weights_bytes=1, dtype=torch.float32, **kwargs)


def test_image_changing_tricks_are_labelled():
    p = plan(H100, weights_bytes=SD15_FP16, dtype=torch.float16, tricks=("tiny_vae",))
    assert choice(p, "tiny_vae").changes_image
    assert "[CHANGES THE IMAGE]" in speed.explain(p, "cuda")
    assert not any(c.changes_image for c in plan(H100, weights_bytes=1, dtype=torch.float16).choices)


def test_offload_decision_at_the_80_percent_line():
    gpu = Machine("cuda", "GPU", 1000, (8, 0))
    assert policy.decide_offload(gpu, 800, "auto")[0] is False
    offloaded, why = policy.decide_offload(gpu, 801, "auto")
    assert offloaded and why.value == "model CPU offload"
    assert policy.decide_offload(gpu, 10**6, "never")[0] is False


def test_vae_decision_counts_only_resident_weights():
    gpu = Machine("cuda", "GPU", 10**10, (8, 0))
    weights = 9 * 10**9  # leaves 1 GB beside the weights, less than twice a 512² fp16 decode
    tiling, slicing, _ = policy.decide_vae(gpu, weights, torch.float16, 512, 512, 1, offloaded=False)
    assert tiling and not slicing
    tiling, slicing, why = policy.decide_vae(gpu, weights, torch.float16, 512, 512, 1, offloaded=True)
    assert not tiling and not slicing and why.value == "whole image"


def test_compile_decision_only_in_fast_mode():
    assert policy.decide_compile(H100, False, None, offloaded=False) == (None, None)
    mode, why = policy.decide_compile(H100, True, None, offloaded=False)
    assert mode == "max-autotune" and why.name == "torch.compile"
    assert policy.decide_tf32(CPU) == (False, None) and policy.decide_channels_last(CPU) == (False, None)


def test_policy_table_lists_every_example_machine():
    table = policy.policy_table()
    for machine in policy.EXAMPLE_MACHINES:
        assert f"| {machine.name} |" in table
    assert table.count("\n") + 1 == 2 + len(policy.EXAMPLE_MACHINES) * len(policy.EXAMPLE_WORKLOADS)
    assert "torch.compile: max-autotune" in policy.policy_table(fast=True)


def test_policy_command_prints_the_table(capsys):
    assert policy.main(["--fast"]) == 0
    assert "| H100 80GB | SD 1.5 at 512² |" in capsys.readouterr().out


# ---------------------------------------------------------------- on a real (twin) pipeline


@pytest.fixture
def twin_pipeline():
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained("stable-diffusion-v1-5/stable-diffusion-v1-5", use_safetensors=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _run(pipe):
    from helpers.device import make_generator

    return pipe("a", num_inference_steps=2, height=64, width=64, generator=make_generator(0, "cpu"),
                output_type="np").images


def test_fast_mode_fuses_qkv_and_keeps_the_picture(twin_pipeline):
    before = _run(twin_pipeline)
    plan = speed.plan_for(twin_pipeline, "cpu", fast=True)
    assert plan.fuse_qkv and plan.compile_mode is None
    speed.apply_plan(twin_pipeline, plan, "cpu")
    processors = {type(p).__name__ for p in twin_pipeline.unet.attn_processors.values()}
    assert processors == {"FusedAttnProcessor2_0"}
    # fusing reorders float sums only: the picture stays the same to rounding
    assert abs(_run(twin_pipeline) - before).max() < 1e-4


def test_forced_compile_wraps_unet_and_vae_decode(twin_pipeline):
    speed.fit_to_machine(twin_pipeline, "cpu", fast=True, compile=True, verbose=False)
    # compiling happens lazily on the first call (minutes on a CPU), so only the wiring is checked here
    assert twin_pipeline.unet._compiled_call_impl is not None
    assert "torch._dynamo" in type(twin_pipeline.vae.decode).__module__ or hasattr(twin_pipeline.vae.decode,
                                                                                   "_torchdynamo_orig_callable")


def test_tiny_vae_trick_swaps_the_decoder_and_says_so(twin_pipeline, capsys):
    from helpers.twins import is_twin

    before = _run(twin_pipeline)
    speed.fit_to_machine(twin_pipeline, "cpu", tricks=("tiny_vae",))
    assert type(twin_pipeline.vae).__name__ == "AutoencoderTiny" and is_twin(twin_pipeline.vae)
    assert "tiny_vae: on (" in capsys.readouterr().out
    after = _run(twin_pipeline)
    assert after.shape == before.shape and abs(after - before).max() > 1e-3  # a different decoder, a different picture


def test_tiny_vae_needs_an_sd_style_vae():
    from helpers.checkpoints import tiny_vae_for

    class NoVae:
        vae = None

    with pytest.raises(ValueError, match="Leave the trick out"):
        tiny_vae_for(NoVae())
