"""The speed and memory policy: fit a pipeline to the machine it runs on, and say what was chosen and why.

This stands in for the book's `enable_model_cpu_offload()` and `enable_xformers_memory_efficient_attention()`
lines. On a big GPU those are slow (offload moves every model over PCIe on every call), and on a machine without
CUDA they crash. `plan()` is the policy as a pure function of the machine, so it can be read and tested anywhere;
it calls one small `decide_*` function per choice. `plan_for()` makes the plan for a given pipeline without
changing it, `apply_plan()` carries it out, and `fit_to_machine()` does both and prints the plan.
`python -m helpers.speed` prints the policy as a table.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field, replace

import torch

from helpers.device import GPU_MEMORY_ENV, check_available, device_kind, gpu_memory_budget, module_bytes, pick_device

OFFLOAD_CHOICES = ("auto", "always", "never")
ATTENTION_CHOICES = ("auto", "xformers", "sdpa")
COMPILE_CHOICES = (None, True, False)
# Tricks that change the picture: used only when asked for by name, and labelled in every printout.
TRICKS = {
    "tiny_vae": "decode with a distilled tiny VAE (AutoencoderTiny): much faster decode, slightly softer detail",
}
# what a broken or mismatched xformers build raises when diffusers switches to it
XFORMERS_ERRORS = (ImportError, RuntimeError, ValueError, NotImplementedError, AttributeError)
FREE_MEMORY_SHARE = 0.8  # offload when the weights need more than this share of the free GPU memory
VAE_MEMORY_SHARE = 0.5  # tile the VAE when its decode would need more than this share of what is left
# Rough peak working memory of an SD-family VAE decode, in bytes per output pixel per byte of dtype
# (about 0.7 GB for one 512x512 image in fp16; the benchmark measures the real peak).
VAE_BYTES_PER_PIXEL_PER_DTYPE_BYTE = 1300
MPS_SLICING_BELOW = 64 * 2**30  # diffusers recommends attention slicing on Apple silicon with < 64 GB of RAM
COMPILE_MODE_CUDA = "max-autotune"  # autotuned kernels plus CUDA graphs
COMPILE_MODE_OTHER = "max-autotune-no-cudagraphs"


@dataclass(frozen=True)
class Machine:
    """What the policy needs to know about a machine (ch. 1)."""

    kind: str  # "cuda", "mps" or "cpu"
    name: str
    free_bytes: int | None  # free GPU memory on CUDA, available RAM elsewhere; None when unknown
    capability: tuple[int, int] | None = None  # CUDA compute capability
    has_xformers: bool = False
    budget_bytes: int | None = None  # a GPU memory budget (TUTORIAL_GPU_MEMORY), None when none; used on CUDA only


@dataclass(frozen=True)
class Choice:
    """One decision of the policy: what it is set to, and why (ch. 1)."""

    name: str
    value: str
    why: str
    changes_image: bool = False


@dataclass
class Plan:
    """Everything `fit_to_machine` will do to a pipeline, with the reasons (ch. 1)."""

    machine: Machine
    offload: bool = False
    attention: str = "SDPA"
    attention_slicing: bool = False
    channels_last: bool = False
    tf32: bool = False
    vae_tiling: bool = False
    vae_slicing: bool = False
    fuse_qkv: bool = False
    compile_mode: str | None = None
    tricks: tuple[str, ...] = ()
    choices: list[Choice] = field(default_factory=list)

    def add(self, name: str, value: str, why: str, changes_image: bool = False) -> None:
        self.choices.append(Choice(name, value, why, changes_image))


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


def vae_decode_bytes(height: int, width: int, dtype: torch.dtype | None, batch: int = 1) -> int:
    """Rough peak memory of decoding `batch` images of height x width with an SD-family VAE (ch. 1)."""
    size = torch.finfo(dtype).bits // 8 if isinstance(dtype, torch.dtype) and dtype.is_floating_point else 4
    return VAE_BYTES_PER_PIXEL_PER_DTYPE_BYTE * size * height * width * batch


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB"


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


def _check_choices(offload, attention, compile, tricks) -> None:
    if offload not in OFFLOAD_CHOICES:
        raise ValueError(f"offload={offload!r} is not one of {OFFLOAD_CHOICES}; pass offload='auto'.")
    if attention not in ATTENTION_CHOICES:
        raise ValueError(f"attention={attention!r} is not one of {ATTENTION_CHOICES}; pass attention='auto'.")
    if compile not in COMPILE_CHOICES:
        raise ValueError(f"compile={compile!r} must be None (decide for me), True or False; pass compile=None.")
    if isinstance(tricks, str):
        raise TypeError(f"tricks={tricks!r} must be a tuple of names, e.g. tricks=({tricks!r},).")
    for name in tricks:
        if name not in TRICKS:
            raise ValueError(f"tricks contains {name!r}, which is not one of {tuple(TRICKS)}; "
                             "tricks that change the image are only used when named exactly.")


# ---------------------------------------------------------------- one function per decision
# Each takes only what its decision depends on and returns its value(s) with the Choice that explains them
# (None where the decision does not apply to this machine), so it can be read and tested on its own.


def decide_offload(machine: Machine, weights_bytes: int, offload: str) -> tuple[bool, Choice]:
    """Placement: keep the weights on the GPU, or offload them when they would not fit (ch. 1)."""
    # the fastest place is the GPU itself; offload only when the weights would not fit
    if machine.kind != "cuda":
        if offload == "always":
            raise ValueError(
                f"offload='always' but the device is {machine.kind}: enable_model_cpu_offload() moves each model "
                "to a CUDA (accelerator) device only while it runs, so it needs one. Pass offload='auto' or "
                "offload='never'."
            )
        return False, Choice("placement", machine.kind, "no CUDA device, so nothing to offload to")
    if offload == "never":
        return False, Choice("placement", "GPU", "offload='never'")
    if offload == "always":
        return True, Choice("placement", "model CPU offload",
                            "offload='always' (slower: weights cross PCIe on every call)")
    free = machine.free_bytes
    if free is not None and weights_bytes > FREE_MEMORY_SHARE * free:
        return True, Choice("placement", "model CPU offload",
                            f"weights {_gb(weights_bytes)} > 80% of {_gb(free)} free GPU memory")
    fits = f" fit in {_gb(free)} free" if free is not None else ""
    return False, Choice("placement", "GPU", f"weights {_gb(weights_bytes)}{fits}; offload would only slow it down")


def decide_dtype(machine: Machine, dtype: torch.dtype | None) -> Choice:
    """Precision: say whether the dtype the pipeline was loaded with suits the device (ch. 1)."""
    # the dtype is chosen when loading (pick_dtype); here it is only judged
    name = str(dtype).replace("torch.", "") if dtype is not None else "unknown"
    half = dtype in (torch.float16, torch.bfloat16)
    if machine.kind == "cuda":
        why = "half precision runs on the tensor cores" if half else \
            "fp32 is ~2x slower here: load with dtype=torch.float16"
    elif half:
        why = "half precision as a CUDA machine would load it; slow or unsupported here, so load float32 to run"
    else:
        why = "what runs reliably on CPU" if machine.kind == "cpu" else "the dtype known to work on every MPS op here"
    return Choice("dtype", name, why)


def decide_tf32(machine: Machine) -> tuple[bool, Choice | None]:
    """TF32 matmuls: on for Ampere or newer CUDA GPUs (ch. 1)."""
    if machine.kind != "cuda":
        return False, None
    if machine.capability is not None and machine.capability >= (8, 0):
        return True, Choice("TF32 matmuls", "on",
                            "Ampere or newer: fp32 leftovers (e.g. an upcast VAE) use tensor cores")
    return False, Choice("TF32 matmuls", "n/a", "needs an Ampere (sm_80) or newer GPU")


def decide_attention(machine: Machine, attention: str) -> tuple[str, bool, Choice]:
    """Attention: the kernel (SDPA or xformers) and whether to slice it (ch. 1)."""
    # PyTorch 2's SDPA already has flash / memory-efficient kernels, so xformers is used only by name
    if attention == "xformers":
        if machine.kind != "cuda":
            raise ValueError("attention='xformers' needs a CUDA device; pass attention='sdpa' or attention='auto'.")
        if not machine.has_xformers:
            raise ValueError(
                "attention='xformers' but the xformers package is not installed; "
                "pip install xformers, or pass attention='sdpa' (PyTorch's built-in kernel)."
            )
        return "xformers", False, Choice("attention", "xformers", "attention='xformers'")
    if machine.kind == "cuda":
        note = " (xformers is installed; ask for it with attention='xformers' and compare in tools.bench)" \
            if machine.has_xformers and attention == "auto" else ""
        return "SDPA", False, Choice("attention", "SDPA", "PyTorch's fused flash / memory-efficient kernels" + note)
    if machine.kind == "mps":
        ram = machine.free_bytes
        slicing = ram is not None and ram < MPS_SLICING_BELOW
        why = "slicing keeps big attention maps within unified memory below 64 GB" if slicing \
            else "64 GB or more of unified memory: no slicing needed"
        return "SDPA", slicing, Choice("attention", "SDPA" + (" + slicing" if slicing else ""), why)
    return "SDPA", False, Choice("attention", "SDPA", "PyTorch's fused kernel; xformers needs CUDA")


def decide_channels_last(machine: Machine) -> tuple[bool, Choice | None]:
    """Memory layout: channels-last convolutions on CUDA (ch. 1)."""
    if machine.kind != "cuda":
        return False, None
    return True, Choice("channels_last", "on", "NHWC convolutions suit the tensor cores")


def decide_vae(machine: Machine, weights_bytes: int, dtype: torch.dtype | None, height: int, width: int,
               batch: int, offloaded: bool) -> tuple[bool, bool, Choice]:
    """VAE decode: whole image, sliced (one image at a time) or tiled; returns (tiling, slicing, choice) (ch. 1)."""
    # the VAE decode is the biggest single allocation at large sizes
    need = vae_decode_bytes(height, width, dtype, batch)
    if machine.free_bytes is None:
        return False, False, Choice("VAE", "whole image", "free memory unknown")
    # resident weights share the GPU with the decode; offloaded ones, and RAM elsewhere, are not counted
    left = machine.free_bytes if offloaded or machine.kind != "cuda" else machine.free_bytes - weights_bytes
    if need <= VAE_MEMORY_SHARE * left:
        return False, False, Choice("VAE", "whole image", f"a {width}x{height} decode fits")
    if batch > 1 and need / batch <= VAE_MEMORY_SHARE * left:
        return False, True, Choice("VAE", "sliced",
                                   f"{batch} images at {width}x{height} need ~{_gb(need)}; one at a time fits")
    return True, False, Choice("VAE", "tiled",
                               f"a {width}x{height} decode needs ~{_gb(need)} of {_gb(max(left, 0))} left")


def decide_fused_qkv(fast: bool, compile: bool | None) -> tuple[bool, Choice]:
    """Fast mode's first step: fuse the QKV projections, only when fast=True (ch. 1)."""
    # fast mode is opt-in, because compiling costs time up front
    if not fast:
        if compile:
            raise ValueError("compile=True only applies in fast mode; pass fast=True, compile=True.")
        return False, Choice("fast mode", "off", "pass fast=True for fused QKV projections and torch.compile")
    return True, Choice("fused QKV", "on", "one matmul instead of three in every attention layer")


def decide_compile(machine: Machine, fast: bool, compile: bool | None,
                   offloaded: bool) -> tuple[str | None, Choice | None]:
    """torch.compile in fast mode: its mode, or why it stays off (ch. 1)."""
    if not fast:
        return None, None
    kind = machine.kind
    if kind == "cuda" and offloaded and compile:
        raise ValueError("compile=True with CPU offload: offload hooks move weights between calls, which "
                         "breaks compiled graphs. Free GPU memory, or pass offload='never'.")
    if compile is False:
        return None, Choice("torch.compile", "off", "compile=False")
    if kind == "cuda" and offloaded:
        return None, Choice("torch.compile", "off",
                            "offloaded weights move between calls, which compiled graphs cannot follow")
    if kind == "cuda":
        return COMPILE_MODE_CUDA, Choice(
            "torch.compile", COMPILE_MODE_CUDA,
            "autotuned kernels + CUDA graphs; the first call compiles (minutes), later calls are fast")
    if compile:
        return COMPILE_MODE_OTHER, Choice("torch.compile", COMPILE_MODE_OTHER,
                                          "compile=True; the first call compiles (minutes on CPU)")
    return None, Choice("torch.compile", "off",
                        f"on {kind} compiling takes longer than it saves; compile=True forces it")


def decide_tricks(tricks: tuple[str, ...]) -> list[Choice]:
    """Tricks that change the picture: one labelled choice per trick named (ch. 1)."""
    return [Choice(name, "on", TRICKS[name], changes_image=True) for name in tricks]


def plan(machine: Machine, *, weights_bytes: int, dtype: torch.dtype | None, height: int = 512, width: int = 512,
         batch: int = 1, offload: str = "auto", attention: str = "auto", fast: bool = False,
         compile: bool | None = None, tricks: tuple[str, ...] = ()) -> Plan:
    """The speed and memory policy: what to switch on for this machine and workload, and why (ch. 1)."""
    _check_choices(offload, attention, compile, tricks)
    # in this order, which is also the order of the printed lines and of the errors raised
    offloaded, placement = decide_offload(machine, weights_bytes, offload)
    precision = decide_dtype(machine, dtype)
    tf32, tf32_choice = decide_tf32(machine)
    kernel, attention_slicing, attention_choice = decide_attention(machine, attention)
    channels_last, layout = decide_channels_last(machine)
    vae_tiling, vae_slicing, vae = decide_vae(machine, weights_bytes, dtype, height, width, batch, offloaded)
    fuse_qkv, fast_choice = decide_fused_qkv(fast, compile)
    compile_mode, compile_choice = decide_compile(machine, fast, compile, offloaded)
    choices = [placement, precision, tf32_choice, attention_choice, layout, vae, fast_choice, compile_choice,
               *decide_tricks(tricks)]
    return Plan(machine=machine, offload=offloaded, attention=kernel, attention_slicing=attention_slicing,
                channels_last=channels_last, tf32=tf32, vae_tiling=vae_tiling, vae_slicing=vae_slicing,
                fuse_qkv=fuse_qkv, compile_mode=compile_mode, tricks=tuple(tricks),
                choices=[c for c in choices if c is not None])


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

    _check_choices(offload, attention, compile, tricks)  # before measuring anything, so a typo fails first
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


# ---------------------------------------------------------------- the policy as a table

EXAMPLE_MACHINES = (
    Machine("cuda", "H100 80GB", 79 * 10**9, (9, 0), True),
    Machine("cuda", "RTX 3060 12GB", 11 * 10**9, (8, 6), False),
    Machine("cuda", "T4 16GB", 15 * 10**9, (7, 5), False),
    Machine("cuda", "laptop GPU 4GB", 3 * 10**9, (8, 6), False),
    Machine("mps", "Apple M2, 16 GB", 12 * 10**9),
    Machine("mps", "Apple M2 Ultra, 128 GB", 100 * 10**9),
    Machine("cpu", "CPU, 16 GB RAM", 12 * 10**9),
)
# (name, fp16 weight bytes, default side) of two chapter models; fp32 doubles the weights
EXAMPLE_WORKLOADS = (("SD 1.5 at 512²", 2_130_000_000, 512), ("SDXL refiner at 1024²", 4_500_000_000, 1024))


def policy_table(fast: bool = False) -> str:
    """The policy as a markdown table: example machine and workload -> choices (ch. 1)."""
    rows = ["| machine | workload | choices |", "|---|---|---|"]
    for machine in EXAMPLE_MACHINES:
        for workload, fp16_bytes, side in EXAMPLE_WORKLOADS:
            dtype = torch.float16 if machine.kind == "cuda" else torch.float32
            weights = fp16_bytes if dtype == torch.float16 else 2 * fp16_bytes
            p = plan(machine, weights_bytes=weights, dtype=dtype, height=side, width=side, fast=fast)
            shown = [f"{c.name}: {c.value}" for c in p.choices if c.value not in ("n/a", "off")]
            rows.append(f"| {machine.name} | {workload} | {'; '.join(shown)} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    """`python -m helpers.speed`: print the policy table, default and fast mode (ch. 1)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m helpers.speed", description=main.__doc__)
    parser.add_argument("--fast", action="store_true", help="show fast mode's choices")
    args = parser.parse_args(argv)
    print(policy_table(fast=args.fast))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
