"""Fit a pipeline to the machine it runs on: measure the machine and the pipeline, then carry out the policy.

This stands in for the book's `enable_model_cpu_offload()` and `enable_xformers_memory_efficient_attention()`
lines. On a big GPU those are slow (offload moves every model over PCIe on every call), and on a machine without
CUDA they crash. The policy itself is `helpers.policy.plan()`, a pure function of the machine. `plan_for()` makes
the plan for a given pipeline without changing it, `apply_plan()` carries it out, and `fit_to_machine()` does both
and prints the plan.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import replace

import torch

from helpers.device import GPU_MEMORY_ENV, check_available, device_kind, gpu_memory_budget, module_bytes, pick_device
from helpers.policy import Machine, Plan, check_choices, plan

# what a broken or mismatched xformers build raises when diffusers switches to it
XFORMERS_ERRORS = (ImportError, RuntimeError, ValueError, NotImplementedError, AttributeError)


def pipeline_bytes(pipeline) -> int:
    """Return the bytes taken by the parameters and buffers of every nn.Module in the pipeline (ch. 1)."""
    components = getattr(pipeline, "components", None)
    if not isinstance(components, dict):
        raise TypeError(
            f"pipeline must be a diffusers pipeline with a .components dict, got {type(pipeline).__name__}; "
            "pass e.g. AutoPipelineForImage2Image.from_pretrained(...)."
        )
    return module_bytes(*(m for m in components.values() if isinstance(m, torch.nn.Module)))


def resident_bytes(pipeline, device: str) -> int:
    """Bytes of the pipeline's parameters and buffers that already sit on `device` ("cuda" means cuda:0) (ch. 1)."""
    target = torch.device(device)
    index = (target.index or 0) if target.type == "cuda" else target.index
    modules = [m for m in pipeline.components.values() if isinstance(m, torch.nn.Module)]
    seen: dict[int, int] = {}
    for module in modules:
        for tensor in (*module.parameters(), *module.buffers()):
            where = tensor.device
            if where.type == target.type and ((where.index or 0) if where.type == "cuda" else where.index) == index:
                seen[id(tensor)] = tensor.numel() * tensor.element_size()
    return sum(seen.values())

def _available_ram() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def this_machine(device: str | None = None, memory_budget: int | str | None = None) -> Machine:
    """Describe the machine `device` lives on, for `plan()`; on CUDA within a memory budget if one is set (ch. 1).

    The budget (bytes, or TUTORIAL_GPU_MEMORY) caps the free memory the policy sees at the budget minus what this
    process has reserved already: a per-process memory fraction alone leaves torch.cuda.mem_get_info unchanged."""
    device = device if device is not None else pick_device()
    kind = device_kind(device)
    has_xformers = importlib.util.find_spec("xformers") is not None
    # read on every machine, so that a typo fails here too; the argument wins over TUTORIAL_GPU_MEMORY
    budget = gpu_memory_budget(memory_budget, "memory_budget") if memory_budget is not None else gpu_memory_budget()
    if kind == "cuda":
        index = torch.device(device).index or 0
        free, _total = torch.cuda.mem_get_info(index)
        if budget is not None:
            free = max(0, min(free, budget - torch.cuda.memory_reserved(index)))
        capability = torch.cuda.get_device_capability(index)
        return Machine("cuda", torch.cuda.get_device_name(index), free, capability, has_xformers, budget)
    name = "Apple GPU (mps)" if kind == "mps" else "CPU"
    return Machine(kind, name, _available_ram(), None, has_xformers, budget)  # kept only to say it is ignored


def _modules(pipeline, names=("unet", "controlnet", "vae")):
    components = pipeline.components
    return [(n, components[n]) for n in names if isinstance(components.get(n), torch.nn.Module)]


def _apply_attention(pipeline, p: Plan) -> None:
    if p.attention == "xformers":
        try:
            pipeline.enable_xformers_memory_efficient_attention()
        except XFORMERS_ERRORS as err:
            raise RuntimeError(
                f"attention='xformers' failed: {err}. Pass attention='sdpa' to use PyTorch's built-in kernel."
            ) from err
    if p.attention_slicing and hasattr(pipeline, "enable_attention_slicing"):
        pipeline.enable_attention_slicing()


def _apply_fast(pipeline, p: Plan) -> None:
    if p.fuse_qkv:
        for name, module in _modules(pipeline, ("unet", "vae")):
            fuse = getattr(module, "fuse_qkv_projections", None)
            if fuse is None:
                continue
            try:
                fuse()
            except ValueError as err:  # e.g. Kandinsky's UNet with added KV projections
                # noted on the plan, so the printout and a caller holding the plan both show it
                p.add("fused QKV", f"skipped for {name}", str(err).split(".")[0])
    if p.compile_mode:
        import torch._inductor.config as inductor

        # settings from the diffusers speed-up guide: 1x1 convolutions as matmuls, wider kernel search
        inductor.conv_1x1_as_mm = True
        inductor.coordinate_descent_tuning = True
        inductor.epilogue_fusion = False
        inductor.coordinate_descent_check_all_directions = True
        for _name, module in _modules(pipeline, ("unet", "controlnet")):
            module.compile(mode=p.compile_mode, fullgraph=True)
        vae = pipeline.components.get("vae")
        if isinstance(vae, torch.nn.Module) and hasattr(vae, "decode"):
            vae.decode = torch.compile(vae.decode, mode=p.compile_mode, fullgraph=True)


def _apply_tricks(pipeline, p: Plan) -> None:
    if "tiny_vae" in p.tricks:
        from diffusers import AutoencoderTiny

        from helpers.checkpoints import tiny_vae_for

        repo = tiny_vae_for(pipeline)
        pipeline.vae = AutoencoderTiny.from_pretrained(repo, dtype=pipeline.dtype, use_safetensors=True)


def plan_for(pipeline, device: str | None = None, *, offload: str = "auto", attention: str = "auto",
             fast: bool = False, compile: bool | None = None, height: int | None = None, width: int | None = None,
             batch: int = 1, tricks: tuple[str, ...] = (), memory_budget: int | str | None = None) -> Plan:
    """The plan `fit_to_machine` would apply to this pipeline on this device, without changing the pipeline (ch. 1)."""
    from helpers.explain import wrap_if_enabled

    check_choices(offload, attention, compile, tricks)  # before measuring anything, so a typo fails first
    wrap_if_enabled()  # explain_errors() may have run before diffusers was imported (a plain script)
    device = device if device is not None else pick_device()
    default = _default_size(pipeline)
    machine = this_machine(device, memory_budget)
    if machine.kind == "cuda" and machine.free_bytes is not None:
        # weights already on this GPU are in the memory it reports used (and in the process's reservations): they
        # need no new room, so a pipeline moved with .to("cuda") first is not offloaded for taking its own space
        machine = replace(machine, free_bytes=machine.free_bytes + resident_bytes(pipeline, device))
    return plan(machine, weights_bytes=pipeline_bytes(pipeline),
                dtype=getattr(pipeline, "dtype", None),
                height=height or default, width=width or default, batch=batch, offload=offload,
                attention=attention, fast=fast, compile=compile, tricks=tricks)


def apply_plan(pipeline, p: Plan, device: str) -> None:
    """Carry out a plan from plan_for on the pipeline, in the order that keeps each step valid (ch. 1)."""
    if p.machine.kind != device_kind(device):
        raise ValueError(f"the plan was made for a {p.machine.kind} device but device={device!r}; pass the same "
                         "device to plan_for() and apply_plan().")
    if p.tf32:  # global switches: every fp32 matmul and convolution in this process may use TF32 from now on
        torch.set_float32_matmul_precision("high")
        torch.backends.cudnn.allow_tf32 = True
    _apply_tricks(pipeline, p)  # before placement, so a swapped-in model is moved or offloaded with the rest
    if p.offload:
        pipeline.enable_model_cpu_offload()
    else:
        pipeline.to(device)
    if p.channels_last:
        for _name, module in _modules(pipeline):
            module.to(memory_format=torch.channels_last)
    vae = pipeline.components.get("vae")
    if p.vae_tiling and hasattr(vae, "enable_tiling"):
        vae.enable_tiling()
    if p.vae_slicing and hasattr(vae, "enable_slicing"):
        vae.enable_slicing()
    _apply_attention(pipeline, p)
    _apply_fast(pipeline, p)


def fit_to_machine(pipeline, device: str | None = None, *, offload: str = "auto", attention: str = "auto",
                   fast: bool = False, compile: bool | None = None, height: int | None = None,
                   width: int | None = None, batch: int = 1, tricks: tuple[str, ...] = (), verbose: bool = True,
                   memory_budget: int | str | None = None):
    """Apply the speed and memory policy to a pipeline, print what it chose and why, and return it (ch. 1).

    It is plan_for() then apply_plan(); nothing is stored on the pipeline. A caller that records the plan (the
    benchmark) calls those two itself.
    """
    _check_pipeline(pipeline)
    switches = {"fast": fast, "verbose": verbose, **({"compile": compile} if compile is not None else {})}
    for name, value in switches.items():
        if not isinstance(value, bool):  # fast="no" would read as True
            raise TypeError(f"{name}={value!r} is a switch: pass True or False (text such as 'no' would count as "
                            "True).")
    device = device if device is not None else pick_device()
    check_available(device)  # "cuda" on a machine without it: said here, not as a linker error later
    p = plan_for(pipeline, device, offload=offload, attention=attention, fast=fast, compile=compile, height=height,
                 width=width, batch=batch, tricks=tricks, memory_budget=memory_budget)
    apply_plan(pipeline, p, device)
    if verbose:
        print(explain(p, device))
    return pipeline


def _check_pipeline(pipeline) -> None:
    """Refuse what is not a diffusers pipeline (one with .components) before the policy reads its parts."""
    if isinstance(getattr(pipeline, "components", None), dict):
        return
    kind = type(pipeline).__name__
    if type(pipeline).__module__.startswith("transformers"):
        raise TypeError(f"fit_to_machine takes a diffusers pipeline, and got a transformers {kind}. A transformers "
                        "pipeline is placed by its own device= argument: transformers_pipeline(..., device=device, "
                        "dtype=dtype) already put it on the device; leave it as it is.")
    if isinstance(pipeline, str):
        raise TypeError(f"fit_to_machine takes a loaded diffusers pipeline, and got the text {pipeline!r}. Load it "
                        "first: pipeline = AutoPipelineForText2Image.from_pretrained(repo_id, **load_args(repo_id)), "
                        "then pipeline = fit_to_machine(pipeline, device).")
    raise TypeError(f"fit_to_machine takes a diffusers pipeline (one with .components), and got a {kind}. A single "
                    "model (a ControlNet, a VAE) goes to the device with model.to(device), or is placed with the "
                    "pipeline it is part of.")


def _default_size(pipeline) -> int:
    """The pipeline's default image side: UNet sample size x VAE scale factor (512 for SD 1.5)."""
    unet = pipeline.components.get("unet")
    sample = getattr(getattr(unet, "config", None), "sample_size", None)
    scale = getattr(pipeline, "vae_scale_factor", 8)
    if isinstance(sample, int) and isinstance(scale, int):
        return sample * scale
    return 512


def explain(p: Plan, device: str) -> str:
    """The plan as a few lines: each choice and why; image-changing tricks are marked (ch. 1)."""
    budget, within = p.machine.budget_bytes, ""
    if budget is not None:
        where = f"a {budget / 2**30:.1f} GiB GPU memory budget ({GPU_MEMORY_ENV} or memory_budget=)"
        within = f" (within {where})" if p.machine.kind == "cuda" else f" ({where} ignored: it applies to CUDA only)"
    lines = [f"speed/memory on {device}{within}:"]
    for c in p.choices:
        mark = "  [CHANGES THE IMAGE]" if c.changes_image else ""
        lines.append(f"  {c.name}: {c.value} ({c.why}){mark}")
    return "\n".join(lines)
