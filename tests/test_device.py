"""Tests for helpers.device: device/dtype choice, generator seeding, env override."""

import pytest
import torch

from helpers import device as dev


@pytest.fixture
def cpu_only(monkeypatch):
    monkeypatch.delenv("TUTORIAL_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def test_pick_device_cpu_only(cpu_only):
    assert dev.pick_device() == "cpu"


def test_pick_device_prefers_cuda(cpu_only, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert dev.pick_device() == "cuda"


def test_pick_device_mps(cpu_only, monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert dev.pick_device() == "mps"


def test_env_override(cpu_only, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("TUTORIAL_DEVICE", "CPU")
    assert dev.pick_device() == "cpu"


def test_env_override_unknown(cpu_only, monkeypatch):
    monkeypatch.setenv("TUTORIAL_DEVICE", "tpu")
    with pytest.raises(ValueError, match="TUTORIAL_DEVICE='tpu'"):
        dev.pick_device()


def test_env_override_unavailable(cpu_only, monkeypatch):
    monkeypatch.setenv("TUTORIAL_DEVICE", "cuda")
    with pytest.raises(ValueError, match="no usable cuda"):
        dev.pick_device()


def test_pick_dtype_defaults():
    assert dev.pick_dtype("cuda") == torch.float16
    assert dev.pick_dtype("cuda:1") == torch.float16
    assert dev.pick_dtype("mps") == torch.float32
    assert dev.pick_dtype("cpu") == torch.float32


def test_pick_dtype_no_device_uses_pick_device(cpu_only):
    assert dev.pick_dtype() == torch.float32


@pytest.mark.parametrize("half", [torch.float16, torch.bfloat16])
def test_half_on_cpu_falls_back(half, capsys):
    assert dev.pick_dtype("cpu", half) == torch.float32
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert f"{str(half).removeprefix('torch.')} asked for on cpu: running in float32 instead" in out


def test_requested_valid_is_kept(capsys):
    assert dev.pick_dtype("cuda", torch.bfloat16) == torch.bfloat16
    assert dev.pick_dtype("cuda", torch.float32) == torch.float32
    assert dev.pick_dtype("cpu", torch.float32) == torch.float32
    assert capsys.readouterr().out == ""


def test_requested_not_dtype():
    with pytest.raises(TypeError, match="torch.float16"):
        dev.pick_dtype("cpu", "float16")


def test_requested_not_float():
    with pytest.raises(ValueError, match="floating-point"):
        dev.pick_dtype("cpu", torch.int64)


def test_unknown_device():
    with pytest.raises(ValueError, match="device='tpu'"):
        dev.pick_dtype("tpu")


def test_generator_reproducible():
    a = torch.randn(4, generator=dev.make_generator(7, "cpu"))
    b = torch.randn(4, generator=dev.make_generator(7, "cpu"))
    c = torch.randn(4, generator=dev.make_generator(8, "cpu"))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_generator_mps_is_cpu():
    assert dev.make_generator(0, "mps").device.type == "cpu"


@pytest.mark.parametrize("seed", [True, 1.0, "1", None])
def test_generator_bad_seed_type(seed):
    with pytest.raises(TypeError, match="seed"):
        dev.make_generator(seed, "cpu")


@pytest.mark.parametrize("seed", [-1, 2**63])
def test_generator_seed_range(seed):
    with pytest.raises(ValueError, match="seed="):
        dev.make_generator(seed, "cpu")


def test_generator_largest_seed():
    assert dev.make_generator(2**63 - 1, "cpu").initial_seed() == 2**63 - 1


def test_describe(cpu_only):
    assert dev.describe() == "device: cpu · dtype: torch.float32"  # no torch version: it differs per machine


def test_decide_as_cuda_takes_a_gpus_decisions_on_the_cpu(cpu_only, monkeypatch):
    monkeypatch.setenv("TUTORIAL_DECIDE_AS", "cuda")
    assert dev.pick_device() == "cpu"  # it still runs here
    assert dev.pick_dtype("cpu") == torch.float16
    assert dev.for_device(cuda=1024, cpu=512) == 1024
    assert dev.describe().startswith("device: cpu · dtype: torch.float16 · decisions as on cuda")
    monkeypatch.setenv("TUTORIAL_DECIDE_AS", "tpu")
    with pytest.raises(ValueError, match="TUTORIAL_DECIDE_AS='tpu' is not supported"):
        dev.pick_dtype("cpu")


def test_for_device_picks_the_setting_of_this_machine(cpu_only, monkeypatch):
    monkeypatch.delenv("TUTORIAL_DECIDE_AS", raising=False)
    assert dev.for_device(cuda=50, cpu=15) == 15
    assert dev.for_device(cuda=50, cpu=15, mps=20) == 15
    monkeypatch.setattr(dev, "pick_device", lambda: "mps")
    assert dev.for_device(cuda=50, cpu=15, mps=20) == 20
    assert dev.for_device(cuda=50, cpu=15) == 15


def test_free_memory_empties_the_cuda_cache_when_there_is_one(monkeypatch):
    emptied = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))
    dev.free_memory()
    assert emptied == [True]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    dev.free_memory()
    assert emptied == [True]


def test_module_bytes_counts_a_shared_tensor_once():
    import torch

    a = torch.nn.Linear(4, 4)  # 16 + 4 float32 parameters
    b = torch.nn.Sequential(a, torch.nn.Linear(4, 2, bias=False))  # holds `a` again, plus 8 more
    b.register_buffer("steps", torch.zeros(3, dtype=torch.int64))
    assert dev.module_bytes(a) == 20 * 4
    assert dev.module_bytes(a, b) == 28 * 4 + 3 * 8
