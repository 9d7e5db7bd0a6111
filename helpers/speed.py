"""Fit a pipeline to the machine: place it, offload it if it does not fit, and pick the attention kernel.

This stands in for the book's `enable_model_cpu_offload()` and `enable_xformers_memory_efficient_attention()` lines,
which fail on a machine without CUDA.
"""

from __future__ import annotations

import importlib.util

import torch

from helpers.device import _kind, pick_device

OFFLOAD_CHOICES = ("auto", "always", "never")
ATTENTION_CHOICES = ("auto", "xformers", "sdpa")
# what a broken or mismatched xformers build raises when diffusers switches to it
XFORMERS_ERRORS = (ImportError, RuntimeError, ValueError, NotImplementedError, AttributeError)
FREE_MEMORY_SHARE = 0.8  # offload when the weights need more than this share of the free GPU memory


def pipeline_bytes(pipeline) -> int:
    """Return the bytes taken by the parameters and buffers of every nn.Module in the pipeline (ch. 1)."""
    components = getattr(pipeline, "components", None)
    if not isinstance(components, dict):
        raise TypeError(
            f"pipeline must be a diffusers pipeline with a .components dict, got {type(pipeline).__name__}; "
            "pass e.g. AutoPipelineForImage2Image.from_pretrained(...)."
        )
    seen: set[int] = set()
    total = 0
    for module in components.values():
        if not isinstance(module, torch.nn.Module):
            continue
        for tensor in (*module.parameters(), *module.buffers()):
            if id(tensor) not in seen:
                seen.add(id(tensor))
                total += tensor.numel() * tensor.element_size()
    return total


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB"


def _check_choices(offload: str, attention: str) -> None:
    if offload not in OFFLOAD_CHOICES:
        raise ValueError(f"offload={offload!r} is not one of {OFFLOAD_CHOICES}; pass offload='auto'.")
    if attention not in ATTENTION_CHOICES:
        raise ValueError(f"attention={attention!r} is not one of {ATTENTION_CHOICES}; pass attention='auto'.")


def _place(pipeline, device: str, kind: str, offload: str) -> tuple[bool, str]:
    """Move or offload the pipeline; return (offloaded, why)."""
    if kind != "cuda":
        if offload == "always":
            raise ValueError(
                f"offload='always' but device={device!r}: enable_model_cpu_offload() moves each model to a CUDA "
                "(accelerator) device only while it runs, so it needs one. Pass offload='auto' or offload='never'."
            )
        pipeline.to(device)
        return False, "no accelerator"
    if offload == "never":
        pipeline.to(device)
        return False, "offload='never'"
    if offload == "always":
        pipeline.enable_model_cpu_offload()
        return True, "offload='always'"
    need = pipeline_bytes(pipeline)
    free, _total = torch.cuda.mem_get_info()
    if need > FREE_MEMORY_SHARE * free:
        pipeline.enable_model_cpu_offload()
        return True, f"weights {_gb(need)} > 80% of {_gb(free)} free"
    pipeline.to(device)
    return False, f"weights {_gb(need)} fit in {_gb(free)} free"


def _pick_attention(pipeline, kind: str, attention: str) -> tuple[str, str]:
    """Switch to xformers where asked for or worthwhile; return (kernel, why)."""
    if attention == "sdpa":
        return "SDPA", "attention='sdpa'"
    has_xformers = importlib.util.find_spec("xformers") is not None
    if attention == "xformers":
        if kind != "cuda":
            raise ValueError("attention='xformers' needs a CUDA device; pass attention='sdpa' or attention='auto'.")
        if not has_xformers:
            raise ValueError(
                "attention='xformers' but the xformers package is not installed; "
                "pip install xformers, or pass attention='sdpa' (PyTorch's built-in kernel, just as fast)."
            )
        try:
            pipeline.enable_xformers_memory_efficient_attention()
        except XFORMERS_ERRORS as err:
            raise RuntimeError(
                f"attention='xformers' failed: {err}. Pass attention='sdpa' to use PyTorch's built-in kernel."
            ) from err
        return "xformers", "attention='xformers'"
    if kind != "cuda":
        return "SDPA", "xformers needs CUDA"
    if not has_xformers:
        return "SDPA", "xformers not installed"
    try:
        pipeline.enable_xformers_memory_efficient_attention()
    except XFORMERS_ERRORS as err:  # a broken xformers build must not stop the lesson
        return "SDPA", f"xformers failed: {type(err).__name__}: {err}"
    return "xformers", "xformers installed"


def fit_to_machine(pipeline, device: str | None = None, *, offload: str = "auto", attention: str = "auto",
                   verbose: bool = True):
    """Place the pipeline on the device, offload it if it will not fit, pick the attention kernel (ch. 1)."""
    _check_choices(offload, attention)
    device = device if device is not None else pick_device()
    kind = _kind(device)
    offloaded, offload_why = _place(pipeline, device, kind, offload)
    kernel, attention_why = _pick_attention(pipeline, kind, attention)
    dtype = getattr(pipeline, "dtype", None)
    dtype_name = str(dtype).replace("torch.", "") if dtype is not None else "dtype unknown"
    setup = {
        "device": device,
        "dtype": dtype,
        "attention": kernel,
        "attention_reason": attention_why,
        "offload": offloaded,
        "offload_reason": offload_why,
    }
    pipeline._tutorial_setup = setup
    if verbose:
        print(
            f"speed/memory: {device} · {dtype_name} · attention={kernel} ({attention_why}) · "
            f"offload={'on' if offloaded else 'off'} ({offload_why})"
        )
    return pipeline
