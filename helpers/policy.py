"""The speed and memory policy as pure functions: from what a machine has to what to switch on, and why.

`plan()` calls one small `decide_*` function per choice and reads only the numbers in a `Machine`, so it can be
read and tested on any machine. `helpers.speed` measures the real machine and pipeline and carries a plan out.
`python -m helpers.policy` prints the policy as a table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

OFFLOAD_CHOICES = ("auto", "always", "never")
ATTENTION_CHOICES = ("auto", "xformers", "sdpa")
COMPILE_CHOICES = (None, True, False)
# Tricks that change the picture: used only when asked for by name, and labelled in every printout.
TRICKS = {
    "tiny_vae": "decode with a distilled tiny VAE (AutoencoderTiny): much faster decode, slightly softer detail",
}
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

def vae_decode_bytes(height: int, width: int, dtype: torch.dtype | None, batch: int = 1) -> int:
    """Rough peak memory of decoding `batch` images of height x width with an SD-family VAE (ch. 1)."""
    size = torch.finfo(dtype).bits // 8 if isinstance(dtype, torch.dtype) and dtype.is_floating_point else 4
    return VAE_BYTES_PER_PIXEL_PER_DTYPE_BYTE * size * height * width * batch


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB"


def check_choices(offload, attention, compile, tricks) -> None:
    """Refuse an unknown offload=, attention=, compile= or trick before anything is measured (ch. 1)."""
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
    check_choices(offload, attention, compile, tricks)
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
    """`python -m helpers.policy`: print the policy table, default and fast mode (ch. 1)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m helpers.policy", description=main.__doc__)
    parser.add_argument("--fast", action="store_true", help="show fast mode's choices")
    args = parser.parse_args(argv)
    print(policy_table(fast=args.fast))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
