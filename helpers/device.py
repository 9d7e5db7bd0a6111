"""Which device, dtype and seeded generator the chapter runs with, picked from the machine it runs on."""

from __future__ import annotations

import gc
import os
import re
import sys

import torch

from helpers.paths import OFF

DEVICES = ("cuda", "mps", "cpu")
# Set TUTORIAL_DECIDE_AS=cuda to take every decision a CUDA machine takes (fp16 dtype, fp16 files, sizes, steps)
# while still running on this machine: CI loads every chapter's checkpoints that way, against the twins.
DECIDE_AS_ENV = "TUTORIAL_DECIDE_AS"
# Set TUTORIAL_GPU_MEMORY=15GiB to plan as if the GPU had only that much memory (a free Colab T4 on a larger card).
GPU_MEMORY_ENV = "TUTORIAL_GPU_MEMORY"
_UNITS = {"": 2**30, "gib": 2**30, "gb": 10**9, "mib": 2**20, "mb": 10**6}
HALF_DTYPES = (torch.float16, torch.bfloat16)
SEED_LIMIT = 2**63


def _available(device: str) -> bool:
    if device == "cuda":
        return torch.cuda.is_available()
    if device == "mps":
        mps = getattr(torch.backends, "mps", None)
        return bool(mps is not None and mps.is_available())
    return device == "cpu"


def device_kind(device: str) -> str:
    """Reduce "cuda:1" to "cuda", checking the name is one the tutorial knows (ch. 1)."""
    if not isinstance(device, str):
        raise TypeError(f"device must be a string such as 'cuda' or 'cpu', got {type(device).__name__} {device!r}.")
    kind = device.split(":", 1)[0].strip().lower()
    if kind not in DEVICES:
        raise ValueError(f"device={device!r} is not one of {', '.join(DEVICES)}; pass e.g. device='cpu'.")
    return kind


def check_available(device: str, name: str = "device") -> str:
    """Refuse a device torch cannot use on this machine, with pick_device() as the fix; return its kind (ch. 1)."""
    kind = device_kind(device)
    if not _available(kind):
        raise ValueError(f"{name}={device!r}, but torch here has no {kind.upper()} device. Give the device this "
                         "machine has: device = pick_device() (helpers.device), the same as in the loading cell.")
    return kind


def pick_device(*chosen) -> str:
    """Return "cuda", "mps" or "cpu", whichever is best here; TUTORIAL_DEVICE overrides it (ch. 1)."""
    if chosen:  # pick_device("cuda"): meant to force a device
        said = "pick_device() takes no argument: it picks the best device here (cuda, then mps, then cpu)."
        word = chosen[0]
        if isinstance(word, str) and word.split(":", 1)[0].strip().lower() in DEVICES:
            raise TypeError(f"{said} To choose one yourself, skip it and write device = {word.strip().lower()!r}; "
                            "on a machine without that device the load or the call will say so.")
        raise TypeError(f"{said} {word!r} is not a torch device name: write device = 'cuda' (NVIDIA) or 'mps' "
                        "(Apple), or device = pick_device().")
    wanted = os.environ.get("TUTORIAL_DEVICE", "").strip()
    if wanted:
        if wanted.lower() not in DEVICES:
            raise ValueError(
                f"TUTORIAL_DEVICE={wanted!r} is not one of {', '.join(DEVICES)}; "
                "set it to e.g. TUTORIAL_DEVICE=cpu, or unset it to pick automatically."
            )
        wanted = wanted.lower()
        if not _available(wanted):
            raise ValueError(
                f"TUTORIAL_DEVICE={wanted!r} but this machine has no usable {wanted} device; "
                "unset TUTORIAL_DEVICE to pick automatically, or set TUTORIAL_DEVICE=cpu."
            )
        return wanted
    for device in DEVICES:
        if _available(device):
            return device
    return "cpu"


def decide_as() -> str | None:
    """"cuda" when TUTORIAL_DECIDE_AS asks to decide as on a CUDA machine, else None (every chapter)."""
    wanted = os.environ.get(DECIDE_AS_ENV, "").strip().lower()
    if wanted in OFF:
        return None
    if wanted != "cuda":
        raise ValueError(f"{DECIDE_AS_ENV}={wanted!r} is not supported; set {DECIDE_AS_ENV}=cuda to take a CUDA "
                         "machine's decisions on this one, or unset it.")
    return "cuda"


def gpu_memory_budget(value: int | str | None = None, name: str = GPU_MEMORY_ENV) -> int | None:
    """Bytes of GPU memory to plan within, from bytes or a text ("15GiB", "16 GB", "15"); None when unset (ch. 1)."""
    if value is None:
        value = os.environ.get(GPU_MEMORY_ENV, "")
    if isinstance(value, str):
        if not value.strip():
            return None
        found = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]*)", value.strip())
        unit = found.group(2).lower() if found else None
        amount = int(float(found.group(1)) * _UNITS[unit]) if found and unit in _UNITS else 0
    else:
        amount = value if isinstance(value, int) and not isinstance(value, bool) else 0
    if amount < 2**20:  # under a MiB is no budget a pipeline could run in: a typo
        raise ValueError(f"{name}={value!r} is not an amount of memory: it must be a number of bytes (at least a MiB) "
                         "or a text; write it like 15GiB, 16GB or 15000MiB (a bare number means GiB), or unset it to "
                         "plan with all the free GPU memory.")
    return amount


def decision_kind(device: str | None = None) -> str:
    """The device kind whose decisions apply: "cuda" under TUTORIAL_DECIDE_AS=cuda, else the device's (ch. 1)."""
    return decide_as() or (device_kind(device) if device is not None else pick_device())


def for_device(*, cuda, cpu, mps=None):
    """The setting for this machine: `cuda` on a GPU, `mps` (or `cpu`) on Apple silicon, `cpu` else (ch. 3-5)."""
    kind = decision_kind()
    if kind == "cuda":
        return cuda
    return cpu if kind == "cpu" or mps is None else mps


def free_memory(*held) -> None:
    """Collect deleted pipelines now and hand cached CUDA memory back; call it after every `del` (ch. 3-5)."""
    if held:  # free_memory(pipeline): the name still holds it, so nothing could be freed
        raise TypeError("free_memory() frees what no name holds any more, so it takes no arguments: first "
                        "`del pipeline` (every name that holds it), then call free_memory().")
    gc.collect()
    if "helpers.panel_save" in sys.modules or "helpers.preview" in sys.modules:  # a panel or preview may hold one
        from helpers.panel_save import still_held

        for line in still_held():  # `del pipeline` freed nothing while a panel still holds the pipeline
            print(line)
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif _available("mps"):
        torch.mps.empty_cache()


def pick_dtype(device: str | None = None, requested=None) -> torch.dtype:
    """Return the dtype to load weights in: fp16 on cuda, fp32 on mps/cpu, or a valid `requested` one (ch. 1)."""
    kind = decision_kind(device)
    if requested is None:
        return torch.float16 if kind == "cuda" else torch.float32
    if not isinstance(requested, torch.dtype):
        aliases = {"fp16": "float16", "half": "float16", "float16": "float16", "fp32": "float32", "float": "float32",
                   "float32": "float32", "bf16": "bfloat16", "bfloat16": "bfloat16"}
        text = str(requested).strip().lower().removeprefix("torch.")
        named = aliases.get(text) if isinstance(requested, str) else None
        hint = f"torch.{named}" if named else "torch.float16 or torch.float32"
        raise TypeError(
            f"requested must be a torch.dtype such as {hint}, got {type(requested).__name__} {requested!r}."
        )
    if not requested.is_floating_point:
        raise ValueError(
            f"requested={requested} is not a floating-point dtype; model weights need e.g. "
            "torch.float16 or torch.float32."
        )
    if kind == "cpu" and requested in HALF_DTYPES:
        name = str(requested).removeprefix("torch.")
        print(f"{name} asked for on cpu: running in float32 instead (half precision is slow or unsupported on CPU)")
        return torch.float32
    return requested


def make_generator(seed: int, device: str | None = None) -> torch.Generator:
    """Return a torch.Generator seeded with `seed` on the device (CPU generator for mps) (ch. 1)."""
    import numbers

    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and type(seed).__name__ != "bool_":
        seed = int(seed)  # np.arange(3) gives numpy integers: seeds all the same, as the panel takes them
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be a plain int such as 0 or 42, got {type(seed).__name__} {seed!r}.")
    if not 0 <= seed < SEED_LIMIT:
        raise ValueError(f"seed={seed} is outside [0, 2**63); pass a non-negative int such as 42.")
    # a device copied from a GPU notebook: refused here, where torch's own words would be a linker's
    kind = device_kind(device) if device is not None else pick_device()
    if kind == "cuda":
        check_available(device)  # mps needs no check: its generators are made on the CPU anyway
    where = device if kind == "cuda" else "cpu"  # mps generators are unreliable; diffusers accepts CPU ones
    return torch.Generator(device=where).manual_seed(seed)


def describe() -> str:
    """Return one line naming the device and the dtype in use, and any decisions taken as on CUDA (ch. 1)."""
    device = pick_device()
    line = f"device: {device} · dtype: {pick_dtype(device)}"
    if decide_as() and device != "cuda":
        line += f" · decisions as on cuda ({DECIDE_AS_ENV}=cuda): fp16 weights, CUDA sizes and steps"
    return line


def module_bytes(*modules: torch.nn.Module) -> int:
    """Bytes held by the parameters and buffers of `modules`, each tensor counted once (ch. 1, 3)."""
    seen: dict[int, int] = {}
    for module in modules:
        for tensor in (*module.parameters(), *module.buffers()):
            seen[id(tensor)] = tensor.numel() * tensor.element_size()
    return sum(seen.values())
