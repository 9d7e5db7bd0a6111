"""Tests for helpers.speed: the policy on example machines, and fit_to_machine on a fake pipeline and a faked GPU."""

import importlib.util

import pytest
import torch

from helpers import policy, speed


class FakePipeline:
    """Stands in for a diffusers pipeline: one small module, and records of what was called."""

    def __init__(self):
        self.components = {"unet": torch.nn.Linear(10, 10), "scheduler": object(), "tokenizer": None}
        self.dtype = torch.float32
        self.calls = []

    def to(self, device):
        self.calls.append(("to", device))
        return self

    def enable_model_cpu_offload(self):
        self.calls.append(("offload",))

    def enable_xformers_memory_efficient_attention(self):
        self.calls.append(("xformers",))


@pytest.fixture
def fake_cuda(monkeypatch):
    """Pretend a CUDA GPU exists with `free` bytes of free memory; returns a setter for free memory."""
    state = {"free": 10**10}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda *a: (state["free"], 2 * state["free"]))
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "Fake GPU")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a: (8, 0))
    monkeypatch.setenv("TUTORIAL_DEVICE", "cuda")
    # the policy switches TF32 on for Ampere+; put the global switches back afterwards
    precision, cudnn_tf32 = torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32
    yield state
    torch.set_float32_matmul_precision(precision)
    torch.backends.cudnn.allow_tf32 = cudnn_tf32


@pytest.fixture
def xformers_installed(monkeypatch):
    real = importlib.util.find_spec
    fake = lambda name, *a: object() if name == "xformers" else real(name, *a)  # noqa: E731
    monkeypatch.setattr(importlib.util, "find_spec", fake)


@pytest.fixture
def no_xformers(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "xformers" else real(name, *a))


def test_pipeline_bytes():
    pipe = FakePipeline()
    pipe.components["vae"] = torch.nn.BatchNorm1d(5)  # 10 parameters + 11 buffer values
    linear = 10 * 10 * 4 + 10 * 4
    norm = 10 * 4 + 10 * 4 + 8  # weight+bias, running mean+var (fp32), num_batches_tracked (int64)
    assert speed.pipeline_bytes(pipe) == linear + norm


def test_pipeline_bytes_counts_shared_modules_once():
    pipe = FakePipeline()
    pipe.components["text_encoder"] = pipe.components["unet"]
    assert speed.pipeline_bytes(pipe) == 10 * 10 * 4 + 10 * 4


def test_pipeline_bytes_rejects_non_pipeline():
    with pytest.raises(TypeError, match="components"):
        speed.pipeline_bytes(torch.nn.Linear(2, 2))


def test_cpu_moves_and_never_offloads(capsys):
    pipe = FakePipeline()
    plan = speed.plan_for(pipe, "cpu")
    assert plan.offload is False and plan.attention == "SDPA" and plan.machine.kind == "cpu"
    assert pipe.calls == []  # planning does not touch the pipeline
    assert speed.fit_to_machine(pipe, "cpu") is pipe
    assert pipe.calls == [("to", "cpu")]
    out = capsys.readouterr().out
    assert out == speed.explain(plan, "cpu") + "\n"
    assert out.startswith("speed/memory on cpu:\n")
    assert "  placement: cpu (no CUDA device, so nothing to offload to)" in out
    assert "  attention: SDPA (PyTorch's fused kernel; xformers needs CUDA)" in out
    assert "GB" not in out  # notebook outputs are compared across machines: no machine-specific numbers on CPU


def test_quiet_prints_nothing(capsys):
    speed.fit_to_machine(FakePipeline(), "cpu", verbose=False)
    assert capsys.readouterr().out == ""


def test_fit_stores_nothing_on_the_pipeline():
    pipe = FakePipeline()
    before = set(vars(pipe))
    speed.fit_to_machine(pipe, "cpu", verbose=False)
    assert set(vars(pipe)) == before


def test_fit_is_plan_for_then_apply_plan(capsys):
    plan = speed.plan_for(FakePipeline(), "cpu", fast=True)
    pipe = FakePipeline()
    assert speed.fit_to_machine(pipe, "cpu", fast=True) is pipe
    assert capsys.readouterr().out == speed.explain(plan, "cpu") + "\n"
    applied = FakePipeline()
    speed.apply_plan(applied, plan, "cpu")
    assert applied.calls == pipe.calls == [("to", "cpu")]


def test_a_plan_is_applied_only_on_its_kind_of_device():
    plan = speed.plan_for(FakePipeline(), "cpu")
    pipe = FakePipeline()
    with pytest.raises(ValueError, match="made for a cpu device but device='mps'"):
        speed.apply_plan(pipe, plan, "mps")
    assert pipe.calls == []


@pytest.mark.parametrize("device", ["cpu", "mps"])
def test_offload_always_without_accelerator(device, monkeypatch):
    monkeypatch.setattr("helpers.device._available", lambda d: d in ("cpu", "mps"))  # as on a Mac
    pipe = FakePipeline()
    with pytest.raises(ValueError, match="offload='auto' or offload='never'"):
        speed.fit_to_machine(pipe, device, offload="always")
    assert pipe.calls == []


def test_mps_moves_to_mps(monkeypatch):
    monkeypatch.setattr("helpers.device._available", lambda d: d in ("cpu", "mps"))  # as on a Mac
    pipe = speed.fit_to_machine(FakePipeline(), "mps", verbose=False)
    assert pipe.calls == [("to", "mps")]


@pytest.mark.parametrize(("kwargs", "word"), [({"offload": "yes"}, "offload="), ({"attention": "flash"}, "attention=")])
def test_bad_choices(kwargs, word):
    with pytest.raises(ValueError, match=word):
        speed.fit_to_machine(FakePipeline(), "cpu", **kwargs)


def test_plan_for_checks_the_options_before_the_pipeline():
    with pytest.raises(ValueError, match="pass offload='auto'"):
        speed.plan_for(object(), "cpu", offload="yes")  # not a pipeline, but the typo is reported first


def test_xformers_requires_cuda(xformers_installed):
    with pytest.raises(ValueError, match="attention='xformers' needs a CUDA"):
        speed.fit_to_machine(FakePipeline(), "cpu", attention="xformers")


def test_xformers_requires_package(fake_cuda, no_xformers):
    with pytest.raises(ValueError, match="pip install xformers"):
        speed.fit_to_machine(FakePipeline(), "cuda", attention="xformers")


def test_cuda_fits_moves(fake_cuda, no_xformers):
    plan = speed.plan_for(FakePipeline())
    assert plan.offload is False and plan.attention == "SDPA"
    assert plan.channels_last and plan.tf32 and not plan.compile_mode
    pipe = speed.fit_to_machine(FakePipeline(), verbose=False)
    assert pipe.calls == [("to", "cuda")]
    assert torch.get_float32_matmul_precision() == "high"


def test_cuda_too_big_offloads(fake_cuda, no_xformers, capsys):
    fake_cuda["free"] = 100  # the fake pipeline needs 440 bytes
    assert speed.plan_for(FakePipeline(), "cuda").offload is True
    pipe = speed.fit_to_machine(FakePipeline(), "cuda")
    assert pipe.calls == [("offload",)]
    assert "placement: model CPU offload (weights 0.0 GB > 80% of 0.0 GB free GPU memory)" in capsys.readouterr().out


def test_cuda_threshold_is_80_percent(fake_cuda, no_xformers):
    fake_cuda["free"] = 550  # 440 bytes = exactly 80% of 550: still fits
    assert speed.fit_to_machine(FakePipeline(), "cuda", verbose=False).calls == [("to", "cuda")]
    fake_cuda["free"] = 549
    assert speed.fit_to_machine(FakePipeline(), "cuda", verbose=False).calls == [("offload",)]


def test_cuda_offload_never_and_always(fake_cuda, no_xformers):
    fake_cuda["free"] = 1
    assert speed.fit_to_machine(FakePipeline(), "cuda", offload="never", verbose=False).calls == [("to", "cuda")]
    fake_cuda["free"] = 10**12
    assert speed.fit_to_machine(FakePipeline(), "cuda", offload="always", verbose=False).calls == [("offload",)]


def test_cuda_auto_prefers_sdpa_even_with_xformers(fake_cuda, xformers_installed):
    # PyTorch 2's SDPA has flash kernels: xformers is used only when asked for, and measured by tools.bench
    pipe = speed.fit_to_machine(FakePipeline(), "cuda", verbose=False)
    assert ("xformers",) not in pipe.calls
    plan = speed.plan_for(FakePipeline(), "cuda")
    assert plan.attention == "SDPA"
    why = next(c.why for c in plan.choices if c.name == "attention")
    assert "attention='xformers'" in why


def test_cuda_xformers_by_name(fake_cuda, xformers_installed):
    pipe = speed.fit_to_machine(FakePipeline(), "cuda", attention="xformers", verbose=False)
    assert pipe.calls == [("to", "cuda"), ("xformers",)]
    assert speed.plan_for(FakePipeline(), "cuda", attention="xformers").attention == "xformers"


def test_cuda_sdpa_skips_xformers(fake_cuda, xformers_installed):
    pipe = speed.fit_to_machine(FakePipeline(), "cuda", attention="sdpa", verbose=False)
    assert ("xformers",) not in pipe.calls
    assert speed.plan_for(FakePipeline(), "cuda", attention="sdpa").attention == "SDPA"


def test_broken_xformers_explicit_raises(fake_cuda, xformers_installed):
    pipe = FakePipeline()

    def broken():
        raise ImportError("xformers built for another torch")

    pipe.enable_xformers_memory_efficient_attention = broken
    with pytest.raises(RuntimeError, match="attention='sdpa'"):
        speed.fit_to_machine(pipe, "cuda", attention="xformers")


def test_dtype_unknown_when_missing(capsys):
    pipe = FakePipeline()
    del pipe.dtype
    speed.fit_to_machine(pipe, "cpu")
    assert "dtype: unknown" in capsys.readouterr().out
    assert next(c.value for c in speed.plan_for(pipe, "cpu").choices if c.name == "dtype") == "unknown"


# ---------------------------------------------------------------- a GPU memory budget (a free Colab T4 on a big card)

GIB = 2**30


@pytest.mark.parametrize("text, expected", [("15GiB", 15 * GIB), ("16 GB", 16 * 10**9), ("15", 15 * GIB),
                                            ("1500MiB", 1500 * 2**20), ("7.5gib", int(7.5 * GIB)), ("", None)])
def test_gpu_memory_budget_reads_the_usual_units(text, expected):
    from helpers.device import gpu_memory_budget

    assert gpu_memory_budget(text) == expected


@pytest.mark.parametrize("text", ["lots", "15TB", "0", "-3GiB", "15 GiB of it", "0.0000000001"])
def test_a_bad_gpu_memory_budget_names_the_variable_and_the_form(text):
    from helpers.device import gpu_memory_budget

    with pytest.raises(ValueError, match=r"TUTORIAL_GPU_MEMORY=.* write it like 15GiB"):
        gpu_memory_budget(text)


@pytest.fixture
def big_card(fake_cuda, monkeypatch):
    """An H200's free memory, as a per-process memory fraction leaves it: mem_get_info still says 139 GiB."""
    fake_cuda["free"] = 139 * GIB
    reserved = {"bytes": 0, "asked": []}

    def memory_reserved(index=None):
        reserved["asked"].append(index)
        return reserved["bytes"]

    monkeypatch.setattr(torch.cuda, "memory_reserved", memory_reserved)
    monkeypatch.delenv("TUTORIAL_GPU_MEMORY", raising=False)
    return reserved


SDXL_INPAINT_FP16 = 6_900_000_000  # about: UNet 2.57 B parameters plus both text encoders and the VAE, in fp16


def t4_choices(machine) -> dict:
    p = policy.plan(machine, weights_bytes=SDXL_INPAINT_FP16, dtype=torch.float16, height=1024, width=1024)
    return {c.name: c.value for c in p.choices}


def test_a_budget_makes_the_policy_decide_as_on_a_smaller_card(big_card):
    unbounded = speed.this_machine("cuda")
    assert unbounded.free_bytes == 139 * GIB and unbounded.budget_bytes is None
    assert t4_choices(unbounded)["placement"] == "GPU"
    t4 = speed.this_machine("cuda", memory_budget=15 * GIB)  # a free Colab T4's usable memory
    assert t4.free_bytes == 15 * GIB and t4.budget_bytes == 15 * GIB
    assert t4_choices(t4) == {**t4_choices(unbounded), "placement": "GPU", "VAE": "whole image"}
    tight = speed.this_machine("cuda", memory_budget=8 * GIB)  # the weights no longer fit beside the work
    assert t4_choices(tight)["placement"] == "model CPU offload"
    tiny = speed.this_machine("cuda", memory_budget=4 * GIB)  # and the 1024² decode no longer fits either
    assert t4_choices(tiny)["placement"] == "model CPU offload" and t4_choices(tiny)["VAE"] == "tiled"


def test_memory_this_process_holds_already_counts_against_the_budget(big_card, fake_cuda):
    big_card["bytes"] = 3 * GIB
    assert speed.this_machine("cuda", memory_budget=15 * GIB).free_bytes == 12 * GIB
    assert big_card["asked"] == [0]  # the device's own reservations
    fake_cuda["free"] = 10 * GIB  # another process holds most of the card: the budget never adds memory
    assert speed.this_machine("cuda", memory_budget=15 * GIB).free_bytes == 10 * GIB
    fake_cuda["free"] = 139 * GIB
    big_card["bytes"] = 20 * GIB
    assert speed.this_machine("cuda", memory_budget=15 * GIB).free_bytes == 0


def test_weights_already_on_the_gpu_need_no_new_room(big_card, monkeypatch):
    # SDXL inpainting built straight on the card: mem_get_info and the reservations count its weights already
    big_card["bytes"] = SDXL_INPAINT_FP16
    monkeypatch.setattr(speed, "pipeline_bytes", lambda _p: SDXL_INPAINT_FP16)
    monkeypatch.setattr(speed, "resident_bytes", lambda _p, _d: SDXL_INPAINT_FP16)
    pipe = FakePipeline()
    pipe.dtype = torch.float16

    def choices():
        p = speed.plan_for(pipe, "cuda", memory_budget=15 * GIB, height=1024, width=1024)
        return p.machine.free_bytes, {c.name: c.value for c in p.choices}

    on_gpu = choices()
    big_card["bytes"] = 0
    monkeypatch.setattr(speed, "resident_bytes", lambda _p, _d: 0)
    assert on_gpu == choices()  # the same plan as for the same weights loaded on the CPU first
    assert on_gpu[0] == 15 * GIB and on_gpu[1]["placement"] == "GPU" and on_gpu[1]["VAE"] == "whole image"
    big_card["bytes"] = SDXL_INPAINT_FP16  # counted twice, the weights would leave too little for the decode
    assert choices()[1]["VAE"] == "tiled"


def test_resident_bytes_counts_only_what_is_on_that_device():
    pipe = FakePipeline()  # a 10x10 Linear on the CPU: 110 float32 numbers
    with torch.device("meta"):
        pipe.components["vae"] = torch.nn.Linear(100, 100)
    assert speed.resident_bytes(pipe, "cpu") == 110 * 4
    assert speed.resident_bytes(pipe, "meta") == 10100 * 4
    assert speed.resident_bytes(pipe, "cuda") == 0


def test_the_budget_comes_from_the_environment_and_is_said(big_card, monkeypatch, capsys):
    monkeypatch.setenv("TUTORIAL_GPU_MEMORY", "4GiB")
    pipe = FakePipeline()
    assert speed.plan_for(pipe, "cuda").machine.free_bytes == 4 * GIB
    speed.fit_to_machine(pipe, "cuda")
    assert "speed/memory on cuda (within a 4.0 GiB GPU memory budget (TUTORIAL_GPU_MEMORY" in capsys.readouterr().out
    assert speed.plan_for(pipe, "cuda", memory_budget=15 * GIB).machine.free_bytes == 15 * GIB  # the argument wins
    assert speed.plan_for(pipe, "cuda", memory_budget="8GiB").machine.free_bytes == 8 * GIB


@pytest.mark.parametrize("bad", [0, -5, True, 2.5e10, [15]])
def test_a_bad_memory_budget_argument_names_itself(big_card, bad):
    with pytest.raises(ValueError, match=r"memory_budget=.* must be a number of bytes"):
        speed.plan_for(FakePipeline(), "cuda", memory_budget=bad)


def test_off_cuda_the_budget_is_checked_and_said_to_be_ignored(monkeypatch, capsys):
    monkeypatch.setenv("TUTORIAL_GPU_MEMORY", "lots")
    with pytest.raises(ValueError, match="TUTORIAL_GPU_MEMORY='lots'"):  # a typo fails on a laptop too
        speed.plan_for(FakePipeline(), "cpu")
    monkeypatch.setenv("TUTORIAL_GPU_MEMORY", "15GiB")
    speed.fit_to_machine(FakePipeline(), "cpu")
    assert "speed/memory on cpu (a 15.0 GiB GPU memory budget (TUTORIAL_GPU_MEMORY or memory_budget=) ignored: it " \
           "applies to CUDA only):" in capsys.readouterr().out


def test_a_device_this_machine_lacks_is_refused_with_pick_device(monkeypatch):
    monkeypatch.setattr("helpers.device._available", lambda d: d == "cpu")
    with pytest.raises(ValueError, match=r"device='cuda', but torch here has no CUDA device.*pick_device\(\)"):
        speed.fit_to_machine(FakePipeline(), "cuda")
