"""`python -m tools.bench`: the chapter's settings vs the helpers' default vs fast mode, side by side.

One run, one device. For every workload it loads the pipeline three ways:
  (a) chapter - the book's lines: fp16 weights, enable_model_cpu_offload(), xformers;
  (b) default - fit_to_machine(pipeline), the helpers' policy;
  (c) fast    - fit_to_machine(pipeline, fast=True): fused QKV and torch.compile where it pays.
It reports seconds per image, UNet steps per second, peak memory, the first call's extra time (compile,
warm-up) and the share of the device's peak FLOP/s the run reaches. FLOPs are counted, not guessed:
torch.utils.flop_counter runs each model on shape-only "meta" tensors with the shapes seen in a real call.

On a GPU it runs on full-size twins (real architectures, random weights) unless --models hub is given.
On a CPU it runs the same code on the tiny twins plus a small full-size case (256x256, 2 steps).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"
CONTROLNET = "lllyasviel/control_v11f1p_sd15_depth"
REFINER = "stabilityai/stable-diffusion-xl-refiner-1.0"
CONFIGS = ("chapter", "default", "fast")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
# Dense fp16/bf16 tensor-core peaks from NVIDIA's data sheets (TFLOP/s, without sparsity).
PEAK_TFLOPS = {
    "H100 80GB HBM3": 989.4, "H100 SXM": 989.4, "H200": 989.4, "H100 NVL": 835.0, "H100 PCIe": 756.0,
    "A100": 312.0, "L40S": 362.0, "L4": 121.0, "A10G": 125.0, "V100": 125.0, "T4": 65.0,
}


@dataclass(frozen=True)
class Workload:
    """One benchmark case: which repo, which pipeline call, at what size and step count."""

    key: str
    title: str
    repo: str
    size: int
    steps: int
    guidance_scale: float
    strength: float | None = None  # None: text2img
    controlnet: str | None = None


WORKLOADS = {
    "sd15_t2i": Workload("sd15_t2i", "SD 1.5 text2img", SD15, 512, 50, 7.5),
    "sd15_i2i": Workload("sd15_i2i", "SD 1.5 img2img, strength 0.8", SD15, 512, 50, 7.5, strength=0.8),
    "controlnet_i2i": Workload("controlnet_i2i", "SD 1.5 + depth ControlNet img2img, strength 0.8", SD15, 512, 50,
                               7.5, strength=0.8, controlnet=CONTROLNET),
    "sdxl_refiner_i2i": Workload("sdxl_refiner_i2i", "SDXL refiner img2img, strength 0.3", REFINER, 1024, 50, 5.0,
                                 strength=0.3),
}


@dataclass
class Row:
    """One measured (workload, settings) pair; None where a number does not apply or the run failed."""

    workload: str
    config: str
    models: str
    size: int
    steps: int
    choices: str = ""
    error: str | None = None
    load_s: float | None = None
    first_call_s: float | None = None
    s_per_image: float | None = None
    s_per_image_all: list[float] = field(default_factory=list)
    unet_it_s: float | None = None
    unet_steps: int | None = None
    peak_bytes: int | None = None
    tflop_per_image: float | None = None
    peak_tflops: float | None = None
    compute_fraction: float | None = None
    top_kernels: list = field(default_factory=list)  # [name, ms, calls] of one UNet call, with --profile
    profile_error: str | None = None

    @property
    def warmup_s(self) -> float | None:
        """Extra time of the first call over a steady one: compilation, autotuning, lazy allocation."""
        if self.first_call_s is None or self.s_per_image is None:
            return None
        return max(0.0, self.first_call_s - self.s_per_image)


# ---------------------------------------------------------------- device facts


def device_name(device: str) -> str:
    """The accelerator's name, or the CPU model and core count (ch. 1)."""
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device).index or 0)
    model = "CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model} ({os.cpu_count()} cores)"


def versions() -> dict:
    """Python, torch, CUDA, diffusers and transformers versions, for the record beside the numbers (ch. 1)."""
    import platform

    import diffusers
    import torch
    import transformers

    return {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
            "diffusers": diffusers.__version__, "transformers": transformers.__version__}


def measured_matmul_tflops(device: str, dtype, n: int = 2048, seconds: float = 1.0) -> float:
    """Achieved TFLOP/s of a square matmul, the practical peak where no data sheet applies (ch. 1)."""
    import torch

    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(2):
        a @ b
    _sync(device)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
        if device.startswith("cuda") and count % 10:
            continue
        _sync(device)
    _sync(device)
    return 2 * n**3 * count / (time.perf_counter() - start) / 1e12


def peak_tflops(device: str, dtype) -> tuple[float, str]:
    """The device's peak TFLOP/s for this dtype and where the number comes from (ch. 1)."""
    import torch

    if device.startswith("cuda") and dtype in (torch.float16, torch.bfloat16):
        name = device_name(device)
        for key, value in PEAK_TFLOPS.items():
            if key in name:
                return value, f"data sheet, dense {str(dtype).replace('torch.', '')}"
        return measured_matmul_tflops(device, dtype, n=8192), "measured 8192² matmul"
    return measured_matmul_tflops(device, dtype), "measured 2048² matmul"


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


# ---------------------------------------------------------------- counting FLOPs


HOOKED = ("unet", "controlnet", "text_encoder", "text_encoder_2", "vae.encoder", "vae.decoder",
          "vae.post_quant_conv", "vae.quant_conv", "safety_checker.vision_model")


def _get(pipeline, dotted: str):
    import torch

    obj = pipeline.components.get(dotted.split(".")[0])
    for part in dotted.split(".")[1:]:
        obj = getattr(obj, part, None)
    return obj if isinstance(obj, torch.nn.Module) else None


def meta_twin(pipeline, dotted: str):
    """A shape-only copy of a pipeline module: same class, config and dtype, on the meta device (maintainer tool)."""
    import torch

    top_name, *rest = dotted.split(".")
    top = pipeline.components[top_name]
    with torch.device("meta"):
        if hasattr(top, "from_config") and hasattr(top, "register_to_config"):  # diffusers model
            copy = type(top).from_config(top.config)
        else:  # transformers model (and the safety checker, which takes a transformers config)
            copy = type(top)(top.config)
    for part in rest:
        copy = getattr(copy, part)
    # the dtype of the real module's weights: a plain nn.Module such as vae.decoder has no .dtype of its own, and a
    # float32 copy fed the recorded float16 inputs fails ("Input type (c10::Half) and bias type (float)")
    real = _get(pipeline, dotted)
    return copy.to(next((p.dtype for p in real.parameters()), torch.float32) if real is not None else torch.float32)


class FlopRecorder:
    """Record each hooked module's calls and first-call input shapes, then count FLOPs on meta copies (ch. 1)."""

    def __init__(self, pipeline):
        self.pipeline = pipeline
        self.calls: dict[str, int] = {}
        self.inputs: dict[str, tuple] = {}
        self.handles = []

    def __enter__(self):
        for name in HOOKED:
            module = _get(self.pipeline, name)
            if module is not None:
                self.handles.append(module.register_forward_pre_hook(self._hook(name), with_kwargs=True))
        return self

    def _hook(self, name):
        import torch
        from torch.utils._pytree import tree_map

        def to_meta(x):
            return torch.empty(x.shape, dtype=x.dtype, device="meta") if isinstance(x, torch.Tensor) else x

        def hook(_module, args, kwargs):
            self.calls[name] = self.calls.get(name, 0) + 1
            if name not in self.inputs:
                self.inputs[name] = (tree_map(to_meta, args), tree_map(to_meta, kwargs))

        return hook

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()

    def flops(self) -> dict[str, float]:
        """FLOPs per module name for all its recorded calls (calls x FLOPs of the first call)."""
        import torch
        from torch.utils.flop_counter import FlopCounterMode

        out = {}
        for name, (args, kwargs) in self.inputs.items():
            copy = meta_twin(self.pipeline, name)
            with FlopCounterMode(display=False) as counter, torch.no_grad():
                copy(*args, **kwargs)
            out[name] = counter.get_total_flops() * self.calls[name]
        return out


def profile_unet_step(pipeline, kwargs: dict, device: str, top: int = 10) -> list[list]:
    """Top kernels (CUDA) or operators (CPU) of one UNet call, by their own time: [name, ms, calls] (ch. 1).

    The call's real inputs are caught by a pre-hook during one pipeline call; the UNet is then run once more under
    torch.profiler, already warm (compiled, autotuned), so the table shows what one denoising step spends time on.
    """
    import torch
    from torch.profiler import ProfilerActivity, profile

    unet, caught = pipeline.components["unet"], {}

    def catch(_module, args, kw):
        caught.setdefault("inputs", (args, kw))

    handle = unet.register_forward_pre_hook(catch, with_kwargs=True)
    try:
        pipeline(**kwargs)
    finally:
        handle.remove()
    args, kw = caught["inputs"]
    cuda = device.startswith("cuda")
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof, torch.no_grad():
        unet(*args, **kw)
        _sync(device)

    def own(event):
        if cuda:
            return getattr(event, "self_device_time_total", None) or getattr(event, "self_cuda_time_total", 0)
        return event.self_cpu_time_total

    from torch.autograd import DeviceType

    # on CUDA the kernels themselves: an operator's row would count its kernels' time a second time
    events = [e for e in prof.key_averages() if own(e) > 0 and (not cuda or e.device_type == DeviceType.CUDA)]
    events.sort(key=own, reverse=True)
    return [[e.key[:120], round(own(e) / 1000, 3), e.count] for e in events[:top]]


@contextlib.contextmanager
def _nothing():
    yield


def unet_flops(config: dict, latent: int, batch: int = 1, text_len: int = 77) -> float:
    """FLOPs of one SD-style UNet step on a latent x latent input, counted on the meta device (ch. 1)."""
    import torch
    from diffusers import UNet2DConditionModel
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(config)
        x = torch.empty(batch, unet.config.in_channels, latent, latent)
        text = torch.empty(batch, text_len, unet.config.cross_attention_dim)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            unet(x, torch.tensor([500] * batch), encoder_hidden_states=text)
    return counter.get_total_flops()


# ---------------------------------------------------------------- memory


class PeakMemory:
    """Peak GPU memory allocated (CUDA) or peak resident memory of this process (CPU) inside a `with` (ch. 1)."""

    def __init__(self, device: str):
        self.device = device
        self.peak = 0
        self._stop = threading.Event()

    def __enter__(self):
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        else:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        page = os.sysconf("SC_PAGE_SIZE")
        while not self._stop.is_set():
            try:
                with open("/proc/self/statm") as f:
                    self.peak = max(self.peak, int(f.read().split()[1]) * page)
            except OSError:
                return
            self._stop.wait(0.01)

    def __exit__(self, *exc):
        import torch

        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            self._thread.join()


# ---------------------------------------------------------------- loading, the three ways


def _from_pretrained(cls, repo: str, cache_dir, **kwargs):
    kwargs.setdefault("use_safetensors", True)
    return cls.from_pretrained(repo, cache_dir=cache_dir, **kwargs)


def _file_args(repo: str) -> dict:
    """variant= and use_safetensors= from the repo's recorded files, which the twins ship exactly."""
    from helpers.loading import choose
    from helpers.manifests import component_folders, recorded_files

    return choose(repo, recorded_files(repo), component_folders(repo)).kwargs


def _built(cls, repo: str, device: str, dtype, **extra):
    """A full-size twin made in memory on `device` (no files), as the pipeline class `cls` gives it."""
    from tools.full_size import full_pipeline

    made = full_pipeline(repo, device, dtype)
    return made if cls is None else cls.from_pipe(made, **extra)


def load(workload: Workload, config: str, device: str, cache_dir, models: str = "twins",
         compile_mode: str | None = None):
    """Load the workload's pipeline with one of the three settings; return (pipeline, choices text) (ch. 1).

    models="built" makes full-size twins on the device instead of reading files; compile_mode replaces fast mode's
    torch.compile mode for this run only (the policy's default stays what users get).
    """
    import torch
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForText2Image, ControlNetModel

    from helpers.device import pick_dtype
    from helpers.speed import apply_plan, plan_for

    cls = AutoPipelineForText2Image if workload.strength is None else AutoPipelineForImage2Image
    built = models == "built"
    if config == "chapter":
        # the book's lines, as printed (only torch_dtype= is spelled dtype=, its current name)
        extra = {}
        if workload.controlnet:
            extra["controlnet"] = _built(None, workload.controlnet, device, torch.float16) if built else \
                _from_pretrained(ControlNetModel, workload.controlnet, cache_dir, dtype=torch.float16, variant="fp16")
        if built:
            pipeline = _built(cls, workload.repo, device, torch.float16, **extra)
        else:
            pipeline = _from_pretrained(cls, workload.repo, cache_dir, dtype=torch.float16, variant="fp16", **extra)
        pipeline.enable_model_cpu_offload()
        try:
            pipeline.enable_xformers_memory_efficient_attention()
            attention = "xformers"
        except ModuleNotFoundError:
            attention = "SDPA (xformers is not installed, so the book's xformers line was left out)"
        pipeline.set_progress_bar_config(disable=True)
        return pipeline, f"fp16 · model CPU offload · {attention}"

    dtype = pick_dtype(device)
    extra = {}
    if workload.controlnet:
        extra["controlnet"] = _built(None, workload.controlnet, device, dtype) if built else \
            _from_pretrained(ControlNetModel, workload.controlnet, cache_dir, dtype=dtype,
                             **_file_args(workload.controlnet))
    if built:
        pipeline = _built(cls, workload.repo, device, dtype, **extra)
    else:
        pipeline = _from_pretrained(cls, workload.repo, cache_dir, dtype=dtype, **_file_args(workload.repo), **extra)
    plan = plan_for(pipeline, device, fast=config == "fast", height=workload.size, width=workload.size)
    if compile_mode and plan.compile_mode:
        plan.compile_mode = compile_mode
        plan.choices = [c if c.name != "torch.compile" else replace(c, value=f"{compile_mode} (--compile-mode)")
                        for c in plan.choices]
    apply_plan(pipeline, plan, device)
    pipeline.set_progress_bar_config(disable=True)
    # read after fitting: a model that cannot fuse its QKV projections adds a "skipped" choice to the plan
    shown = [f"{c.name}={c.value}" for c in plan.choices if c.name not in ("fast mode",) and c.value != "n/a"]
    if plan.machine.budget_bytes is not None and plan.machine.kind == "cuda":  # TUTORIAL_GPU_MEMORY shapes the plan
        shown.insert(0, f"GPU memory budget={plan.machine.budget_bytes / 2**30:.1f} GiB")
    return pipeline, " · ".join(shown)


def call_kwargs(workload: Workload, device: str, seed: int = 0) -> dict:
    """The arguments of one benchmark call: fixed prompt, seed, size and steps (ch. 1)."""
    from PIL import Image

    from helpers.device import make_generator

    kwargs = dict(prompt="Astronaut in a jungle, cold color palette, muted colors, detailed, 8k",
                  negative_prompt="ugly, deformed, disfigured, poor details, bad anatomy",
                  num_inference_steps=workload.steps, guidance_scale=workload.guidance_scale,
                  generator=make_generator(seed, device))
    side = workload.size
    if workload.strength is None:
        kwargs.update(height=side, width=side)
    else:
        kwargs.update(image=Image.new("RGB", (side, side), (90, 120, 150)), strength=workload.strength)
    if workload.controlnet:
        kwargs["control_image"] = Image.new("RGB", (side, side), (128, 128, 128))
    return kwargs


# ---------------------------------------------------------------- one measurement


def measure(workload: Workload, config: str, device: str, models: str, cache_dir, repeats: int,
            count_flops: bool, compile_mode: str | None = None, profile: bool = False) -> tuple[Row, dict | None]:
    """Load, warm up, time `repeats` calls, time the UNet steps, and count FLOPs; never raises (ch. 1)."""
    import torch

    row = Row(workload.key, config, models, workload.size, workload.steps)
    pipeline = flops = None
    try:
        start = time.perf_counter()
        pipeline, row.choices = load(workload, config, device, cache_dir, models, compile_mode)
        row.load_s = time.perf_counter() - start

        start = time.perf_counter()
        pipeline(**call_kwargs(workload, device))
        _sync(device)
        row.first_call_s = time.perf_counter() - start

        stamps = []

        def on_step(_pipe, _step, _timestep, callback_kwargs):
            _sync(device)
            stamps.append(time.perf_counter())
            return callback_kwargs

        recorder = FlopRecorder(pipeline) if count_flops else None
        # On a GPU, the steps are timed in an extra call: a sync per step would slow the timed ones. On a CPU
        # nothing runs asynchronously, so the last timed call is also the instrumented one.
        cuda = device.startswith("cuda")
        with PeakMemory(device) as peak:
            for i in range(repeats):
                instrumented = not cuda and i == repeats - 1
                kwargs = call_kwargs(workload, device)
                if instrumented:
                    kwargs["callback_on_step_end"] = on_step
                with recorder if (instrumented and recorder) else _nothing():
                    start = time.perf_counter()
                    pipeline(**kwargs)
                    _sync(device)
                    row.s_per_image_all.append(time.perf_counter() - start)
        row.s_per_image = statistics.median(row.s_per_image_all)
        row.peak_bytes = peak.peak
        if cuda:
            with recorder or _nothing():
                pipeline(**call_kwargs(workload, device), callback_on_step_end=on_step)
        row.unet_steps = len(stamps)
        gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
        if gaps:
            row.unet_it_s = 1.0 / statistics.median(gaps)
        if recorder:
            flops = recorder.flops()
        if profile and config != "chapter":  # offload moves the UNet in and out: its step is not one kernel story
            try:
                row.top_kernels = profile_unet_step(pipeline, call_kwargs(workload, device), device)
            except Exception as err:  # the timings above stand; only the profile is missing
                row.profile_error = f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"
    except Exception as err:  # a failing setting is a result too: it goes in the table
        row.error = f"{type(err).__name__}: {str(err).splitlines()[0][:160]}"
    finally:
        del pipeline
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return row, flops


def run(workloads, configs, device: str, models: str, repeats: int, size: int | None = None,
        steps: int | None = None, log=print, compile_mode: str | None = None,
        profile: bool = False, on_row=None) -> tuple[list[Row], dict]:
    """Measure every workload under every setting on one device; return rows and FLOP breakdowns (ch. 1)."""
    import dataclasses

    from helpers.device import pick_dtype
    from tools.full_size import ensure_full_built, full_twin_cache

    cache_dir = None
    if models == "full":
        repos = sorted({w.repo for w in workloads} | {w.controlnet for w in workloads if w.controlnet})
        ensure_full_built(repos, log=log)
        cache_dir = str(full_twin_cache())
    peak, peak_source = peak_tflops(device, pick_dtype(device))
    rows, breakdowns = [], {"_peak": {"tflops": peak, "source": peak_source}}
    for w in workloads:
        w = dataclasses.replace(w, size=size or w.size, steps=steps or w.steps)
        flops_total = None
        for config in configs:
            log(f"  {w.key} · {config} ...")
            row, flops = measure(w, config, device, models, cache_dir, repeats,
                                 count_flops=flops_total is None and config != "chapter", compile_mode=compile_mode,
                                 profile=profile)
            if flops is not None:
                breakdowns[w.key] = flops
                flops_total = sum(flops.values())
            rows.append(row)
            for done in rows:
                if done.workload == w.key and flops_total is not None and done.s_per_image:
                    done.tflop_per_image = flops_total / 1e12
                    done.peak_tflops = peak
                    done.compute_fraction = flops_total / done.s_per_image / (peak * 1e12)
            if on_row:  # written after every row: a run stopped by its time limit keeps what it measured
                on_row(rows, breakdowns)
    return rows, breakdowns


# ---------------------------------------------------------------- report


def _fmt(x, spec: str, unit: str = "") -> str:
    return "—" if x is None else f"{x:{spec}}{unit}"


def markdown(rows: list[Row], breakdowns: dict, device: str, title: str) -> str:
    """The results as a markdown table, with the device, versions and FLOP sources named (ch. 1)."""
    import diffusers
    import torch

    peak = breakdowns.get("_peak", {})
    lines = [
        f"## {title}", "",
        f"- device: **{device_name(device)}** (`{device}`), torch {torch.__version__} (CUDA {torch.version.cuda}), "
        f"diffusers {diffusers.__version__}",
        f"- peak used for the compute share: {_fmt(peak.get('tflops'), '.1f')} TFLOP/s ({peak.get('source', '—')})",
        "- FLOPs: counted with torch.utils.flop_counter on meta-device copies of each model, with the input "
        "shapes of a real call (UNet, ControlNet, text encoders, VAE, safety checker).",
        *(["- load s: built models are made on the device from their configs (random weights, no files), so this "
           "is the time to make them, not to read a checkpoint."] if any(r.models == "built" for r in rows) else []),
        "",
        "| workload | settings | size · steps | UNet steps | load s | first call s | warm-up s | s/image "
        "| UNet it/s | peak memory | TFLOP/image | % of peak | choices |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r.error:
            lines.append(f"| {r.workload} | {r.config} | {r.size}² · {r.steps} | — | {_fmt(r.load_s, '.1f')} "
                         f"| — | — | **fails**: {r.error} | — | — | — | — | {r.choices} |")
            continue
        peak_mem = "—" if r.peak_bytes is None else f"{r.peak_bytes / 2**30:.2f} GiB"
        share = "—" if r.compute_fraction is None else f"{100 * r.compute_fraction:.1f}%"
        if r.compute_fraction is not None and r.compute_fraction > 1:  # e.g. fp16 on a CPU: its matmul is no peak
            share = "above the measured peak (no true peak known in this dtype here)"
        lines.append(
            f"| {r.workload} | {r.config} | {r.size}² · {r.steps} | {_fmt(r.unet_steps, 'd')} "
            f"| {_fmt(r.load_s, '.1f')} "
            f"| {_fmt(r.first_call_s, '.2f')} | {_fmt(r.warmup_s, '.2f')} | **{_fmt(r.s_per_image, '.3f')}** "
            f"| {_fmt(r.unet_it_s, '.2f')} | {peak_mem} | {_fmt(r.tflop_per_image, '.3g')} | {share} | {r.choices} |"
        )
    lines += ["", "Speed-ups (s/image of the chapter's settings or the default, divided by this one's):", ""]
    for key in dict.fromkeys(r.workload for r in rows):
        by = {r.config: r for r in rows if r.workload == key and r.s_per_image}
        parts = []
        for a, b in (("chapter", "default"), ("default", "fast"), ("chapter", "fast")):
            if a in by and b in by:
                parts.append(f"{b} vs {a}: {by[a].s_per_image / by[b].s_per_image:.2f}×")
        lines.append(f"- {key}: " + ("; ".join(parts) if parts else "not comparable (a setting failed)"))
    lines += ["", "FLOPs per image by model (TFLOP):", ""]
    for key, parts in breakdowns.items():
        if key.startswith("_"):
            continue
        lines.append(f"- {key}: " + ", ".join(f"{name} {value / 1e12:.3g}" for name, value in parts.items()))
    for r in rows:
        if r.profile_error:
            lines += ["", f"Profile of {r.workload} · {r.config} failed: {r.profile_error}"]
        if r.top_kernels:
            lines += ["", f"Top kernels of one UNet call, {r.workload} · {r.config} (own time, ms × calls):", ""]
            lines += [f"{i}. `{name}` {ms:.3f} ms × {calls}" for i, (name, ms, calls) in enumerate(r.top_kernels, 1)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    """Run the benchmark and write build/bench-<device>.md and .json (ch. 1)."""
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", choices=["twins", "full", "built", "hub"],
                        help="twins: tiny twins; full: full-size twins (files, built once); built: full-size twins "
                             "made in memory on the device, no files; hub: the real weights "
                             "(default: full on a GPU; on a CPU, tiny twins plus a small full-size case)")
    parser.add_argument("--profile", action="store_true",
                        help="also profile one UNet call of the default and fast settings: top kernels by time")
    parser.add_argument("--compile-mode", choices=COMPILE_MODES, default=None,
                        help="torch.compile mode for fast mode in this run only (the policy's own: "
                             "max-autotune on CUDA); e.g. default compiles in a fraction of the time")
    parser.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=None)
    parser.add_argument("--configs", nargs="+", choices=CONFIGS, default=list(CONFIGS))
    parser.add_argument("--size", type=int, help="override every workload's image side (pixels)")
    parser.add_argument("--steps", type=int, help="override every workload's num_inference_steps")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls after the first (default 3, CPU 1)")
    parser.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best one here)")
    parser.add_argument("--out", type=Path, default=None,
                        help="markdown file to write (default build/bench-<device>.md)")
    args = parser.parse_args(argv)
    for name in ("size", "steps", "repeats"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be a positive integer, got {value}")
    if args.size is not None and args.size % 8:
        parser.error(f"--size must be a multiple of 8 (the VAE downsamples 8x), got {args.size}; "
                     f"try {args.size // 8 * 8 or 8}")

    from helpers.models import use_models

    use_models("hub" if args.models == "hub" else "twins")  # full-size twins are loaded with an explicit cache_dir

    from helpers.device import pick_device
    from helpers.paths import build_dir

    device = args.device or pick_device()
    cpu = not device.startswith("cuda")
    repeats = args.repeats or (1 if cpu else 3)
    workloads = [WORKLOADS[k] for k in (args.workloads or WORKLOADS)]
    plans = []  # (title, models, workloads, size, steps)
    if args.models or not cpu:
        models = args.models or "full"
        plans.append((f"{models} models", models, workloads, args.size, args.steps))
    else:  # the CPU preset: every workload on tiny twins, and one small full-size case
        plans.append(("tiny twins (CPU preset)", "twins", workloads, args.size, args.steps))
        plans.append(("full-size twins, small case (CPU preset)", "full", [WORKLOADS["sd15_t2i"]],
                      args.size or 256, args.steps or 2))

    out = args.out or build_dir() / f"bench-{device.split(':')[0]}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    header = "# tools.bench\n\nImages from twins are noise: these numbers measure speed, not quality.\n\n"
    sections, records = [], []

    def write(title, rows, breakdowns, final=False):
        section = markdown(rows, breakdowns, device, title)
        record = {"title": title, "device": device, "device_name": device_name(device),
                  "compile_mode": args.compile_mode, "versions": versions(),
                  "rows": [asdict(r) | {"warmup_s": r.warmup_s} for r in rows], "flops": dict(breakdowns)}
        out.write_text(header + "\n".join([*sections, section]))
        out.with_suffix(".json").write_text(json.dumps([*records, record], indent=2) + "\n")
        if final:
            sections.append(section)
            records.append(record)

    for title, models, chosen, size, steps in plans:
        print(f"{title} on {device_name(device)}:", file=sys.stderr)
        rows, breakdowns = run(chosen, args.configs, device, models, repeats, size, steps,
                               log=lambda m: print(m, file=sys.stderr), compile_mode=args.compile_mode,
                               profile=args.profile, on_row=lambda r, b, t=title: write(t, r, b))
        write(title, rows, breakdowns, final=True)
    print(header + "\n".join(sections))
    print(f"written: {Path(out).resolve()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
