"""The speed and memory policy: fit a pipeline to the machine it runs on, and say what was chosen and why.

This stands in for the book's `enable_model_cpu_offload()` and `enable_xformers_memory_efficient_attention()`
lines. On a big GPU those are slow (offload moves every model over PCIe on every call), and on a machine without
CUDA they crash. `plan()` is the policy as a pure function of the machine, so it can be read and tested anywhere;
`fit_to_machine()` applies it. `python -m helpers.speed` prints the policy as a table.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field

import torch

from helpers.device import _kind, pick_device

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


def this_machine(device: str | None = None) -> Machine:
    """Describe the machine `device` lives on, for `plan()` (ch. 1)."""
    device = device if device is not None else pick_device()
    kind = _kind(device)
    has_xformers = importlib.util.find_spec("xformers") is not None
    if kind == "cuda":
        index = torch.device(device).index or 0
        free, _total = torch.cuda.mem_get_info(index)
        capability = torch.cuda.get_device_capability(index)
        return Machine("cuda", torch.cuda.get_device_name(index), free, capability, has_xformers)
    name = "Apple GPU (mps)" if kind == "mps" else "CPU"
    return Machine(kind, name, _available_ram(), None, has_xformers)


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


def plan(machine: Machine, *, weights_bytes: int, dtype: torch.dtype | None, height: int = 512, width: int = 512,
         batch: int = 1, offload: str = "auto", attention: str = "auto", fast: bool = False,
         compile: bool | None = None, tricks: tuple[str, ...] = ()) -> Plan:
    """The speed and memory policy: what to switch on for this machine and workload, and why (ch. 1)."""
    _check_choices(offload, attention, compile, tricks)
    p = Plan(machine=machine, tricks=tuple(tricks))
    kind = machine.kind
    dtype_name = str(dtype).replace("torch.", "") if dtype is not None else "unknown"

    # placement: the fastest place is the GPU itself; offload only when the weights would not fit
    if kind != "cuda":
        if offload == "always":
            raise ValueError(
                f"offload='always' but the device is {kind}: enable_model_cpu_offload() moves each model to a "
                "CUDA (accelerator) device only while it runs, so it needs one. Pass offload='auto' or "
                "offload='never'."
            )
        p.add("placement", kind, "no CUDA device, so nothing to offload to")
    elif offload == "never":
        p.add("placement", "GPU", "offload='never'")
    elif offload == "always":
        p.offload = True
        p.add("placement", "model CPU offload", "offload='always' (slower: weights cross PCIe on every call)")
    elif machine.free_bytes is not None and weights_bytes > FREE_MEMORY_SHARE * machine.free_bytes:
        p.offload = True
        p.add("placement", "model CPU offload",
              f"weights {_gb(weights_bytes)} > 80% of {_gb(machine.free_bytes)} free GPU memory")
    else:
        free = f" fit in {_gb(machine.free_bytes)} free" if machine.free_bytes is not None else ""
        p.add("placement", "GPU", f"weights {_gb(weights_bytes)}{free}; offload would only slow it down")

    # precision: chosen when loading (pick_dtype); here we only say whether it suits the device
    if kind == "cuda":
        why = "half precision runs on the tensor cores" if dtype in (torch.float16, torch.bfloat16) else \
            "fp32 is ~2x slower here: load with dtype=torch.float16"
        p.add("dtype", dtype_name, why)
        if machine.capability is not None and machine.capability >= (8, 0):
            p.tf32 = True
            p.add("TF32 matmuls", "on", "Ampere or newer: fp32 leftovers (e.g. an upcast VAE) use tensor cores")
        else:
            p.add("TF32 matmuls", "n/a", "needs an Ampere (sm_80) or newer GPU")
    else:
        if dtype in (torch.float16, torch.bfloat16):
            why = "half precision as a CUDA machine would load it; slow or unsupported here, so load float32 to run"
        else:
            why = "what runs reliably on CPU" if kind == "cpu" else "the dtype known to work on every MPS op here"
        p.add("dtype", dtype_name, why)

    # attention kernel: PyTorch 2's SDPA already has flash / memory-efficient kernels
    if attention == "xformers":
        if kind != "cuda":
            raise ValueError("attention='xformers' needs a CUDA device; pass attention='sdpa' or attention='auto'.")
        if not machine.has_xformers:
            raise ValueError(
                "attention='xformers' but the xformers package is not installed; "
                "pip install xformers, or pass attention='sdpa' (PyTorch's built-in kernel)."
            )
        p.attention = "xformers"
        p.add("attention", "xformers", "attention='xformers'")
    elif kind == "cuda":
        note = " (xformers is installed; ask for it with attention='xformers' and compare in helpers.bench)" \
            if machine.has_xformers and attention == "auto" else ""
        p.add("attention", "SDPA", "PyTorch's fused flash / memory-efficient kernels" + note)
    elif kind == "mps":
        ram = machine.free_bytes
        p.attention_slicing = ram is not None and ram < MPS_SLICING_BELOW
        p.add("attention", "SDPA" + (" + slicing" if p.attention_slicing else ""),
              "slicing keeps big attention maps within unified memory below 64 GB" if p.attention_slicing
              else "64 GB or more of unified memory: no slicing needed")
    else:
        p.add("attention", "SDPA", "PyTorch's fused kernel; xformers needs CUDA")

    # memory layout
    if kind == "cuda":
        p.channels_last = True
        p.add("channels_last", "on", "NHWC convolutions suit the tensor cores")

    # the VAE decode is the biggest single allocation at large sizes
    need = vae_decode_bytes(height, width, dtype, batch)
    if machine.free_bytes is None:
        p.add("VAE", "whole image", "free memory unknown")
    else:
        left = machine.free_bytes if p.offload or kind != "cuda" else machine.free_bytes - weights_bytes
        if need > VAE_MEMORY_SHARE * left:
            if batch > 1 and need / batch <= VAE_MEMORY_SHARE * left:
                p.vae_slicing = True
                p.add("VAE", "sliced", f"{batch} images at {width}x{height} need ~{_gb(need)}; one at a time fits")
            else:
                p.vae_tiling = True
                p.add("VAE", "tiled", f"a {width}x{height} decode needs ~{_gb(need)} of {_gb(max(left, 0))} left")
        else:
            p.add("VAE", "whole image", f"a {width}x{height} decode fits")

    # fast mode: opt-in, because compiling costs time up front
    if not fast:
        if compile:
            raise ValueError("compile=True only applies in fast mode; pass fast=True, compile=True.")
        p.add("fast mode", "off", "pass fast=True for fused QKV projections and torch.compile")
    else:
        p.fuse_qkv = True
        p.add("fused QKV", "on", "one matmul instead of three in every attention layer")
        if kind == "cuda" and p.offload and compile:
            raise ValueError("compile=True with CPU offload: offload hooks move weights between calls, which "
                             "breaks compiled graphs. Free GPU memory, or pass offload='never'.")
        if compile is False:
            p.add("torch.compile", "off", "compile=False")
        elif kind == "cuda" and p.offload:
            p.add("torch.compile", "off", "offloaded weights move between calls, which compiled graphs cannot follow")
        elif kind == "cuda":
            p.compile_mode = COMPILE_MODE_CUDA
            p.add("torch.compile", COMPILE_MODE_CUDA,
                  "autotuned kernels + CUDA graphs; the first call compiles (minutes), later calls are fast")
        elif compile:
            p.compile_mode = COMPILE_MODE_OTHER
            p.add("torch.compile", COMPILE_MODE_OTHER, "compile=True; the first call compiles (minutes on CPU)")
        else:
            p.add("torch.compile", "off", f"on {kind} compiling takes longer than it saves; compile=True forces it")

    for name in tricks:
        p.add(name, "on", TRICKS[name], changes_image=True)
    return p


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

        from helpers.models import tiny_vae_for

        repo = tiny_vae_for(pipeline)
        pipeline.vae = AutoencoderTiny.from_pretrained(repo, dtype=pipeline.dtype, use_safetensors=True)


def fit_to_machine(pipeline, device: str | None = None, *, offload: str = "auto", attention: str = "auto",
                   fast: bool = False, compile: bool | None = None, height: int | None = None,
                   width: int | None = None, batch: int = 1, tricks: tuple[str, ...] = (), verbose: bool = True):
    """Apply the speed and memory policy to a pipeline and print what it chose and why (ch. 1)."""
    _check_choices(offload, attention, compile, tricks)
    device = device if device is not None else pick_device()
    machine = this_machine(device)
    dtype = getattr(pipeline, "dtype", None)
    default = _default_size(pipeline)
    p = plan(machine, weights_bytes=pipeline_bytes(pipeline), dtype=dtype, height=height or default,
             width=width or default, batch=batch, offload=offload, attention=attention, fast=fast,
             compile=compile, tricks=tricks)

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

    pipeline._tutorial_setup = {
        "device": device,
        "dtype": dtype,
        "attention": p.attention,
        "offload": p.offload,
        "plan": p,
    }
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
    lines = [f"speed/memory on {device}:"]
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
