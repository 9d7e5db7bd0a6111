"""`python -m tools.t4_check`: do the chapters' heaviest steps fit a free Colab T4? Measured on a bigger card.

The process is capped at the budget (15 GiB: what a T4's 16 GB leaves usable) with
torch.cuda.set_per_process_memory_fraction, and the same budget is handed to the speed policy (memory_budget=),
which would otherwise plan with the whole card's free memory. Then each heavy step runs once at the chapters'
CUDA settings: fp16, fit_to_machine's choices, the chapter's image size. Its peak GPU memory is recorded, or the
out-of-memory error that a T4 would have given.

    python -m tools.t4_check                     # on a GPU: full-size twins built in fp16 on the card, no files
    python -m tools.t4_check --models twins      # the same code on the tiny twins (any machine; a rehearsal)

The number of denoising steps does not change the peak (every step needs the same memory), so few are run.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"
X4 = "stabilityai/stable-diffusion-x4-upscaler"
SDXL_INPAINT = "diffusers/stable-diffusion-xl-1.0-inpainting-0.1"
STRENGTH = 0.8  # img2img's strength in the chapters' SD 1.5 steps
T4_USABLE = "15GiB"  # a free Colab T4: 16 GB on the box, about 15 GiB usable by one process


@dataclass(frozen=True)
class Step:
    """One heavy step of a chapter: which repo, which pipeline, at what size."""

    key: str
    title: str
    repo: str
    task: str  # img2img, upscale, inpaint
    size: int  # the side of the picture the pipeline is given
    out: int  # the side of the picture it returns


STEPS = {
    "sd15_img2img": Step("sd15_img2img", "SD 1.5 img2img, 512² (ch. 1-4)", SD15, "img2img", 512, 512),
    "x4_upscale": Step("x4_upscale", "x4 upscaler, 256 px in, 1024 px out (ch. 3)", X4, "upscale", 256, 1024),
    "sdxl_inpaint": Step("sdxl_inpaint", "SDXL inpainting, 1024² (ch. 5)", SDXL_INPAINT, "inpaint", 1024, 1024),
}


@dataclass
class Result:
    """What one step measured; `error` holds the first line of a failure (an out-of-memory one above all)."""

    step: str
    title: str
    models: str
    device: str
    budget_gib: float
    steps: int
    choices: str = ""
    build_s: float | None = None
    call_s: float | None = None
    peak_allocated: int | None = None  # CUDA: torch.cuda.max_memory_allocated; elsewhere the process's peak RSS
    peak_reserved: int | None = None  # CUDA only: what the allocator held, which the cap limits
    fits: bool | None = None
    error: str | None = None


def cap_process(device: str, budget: int) -> str:
    """Cap this process's CUDA allocator at `budget` bytes; say what was done (maintainer tool)."""
    import torch

    if not device.startswith("cuda"):
        return f"no cap on {device}: the allocator cap is CUDA's; the budget still shapes the policy's decisions"
    index = torch.device(device).index
    index = torch.cuda.current_device() if index is None else index  # the cap needs a device with its index
    total = torch.cuda.get_device_properties(index).total_memory
    fraction = min(1.0, budget / total)
    torch.cuda.set_per_process_memory_fraction(fraction, index)
    return f"allocator capped at {budget / 2**30:.1f} GiB = {fraction:.3f} of {total / 2**30:.1f} GiB"


def build(step: Step, models: str, device: str):
    """The step's pipeline: full-size weights made on `device`, or the tiny twin from its files (maintainer tool)."""
    import torch
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting

    from helpers.device import pick_dtype

    if models == "built":
        from tools.full_size import full_pipeline

        pipeline = full_pipeline(step.repo, device, torch.float16)
    else:
        from diffusers import DiffusionPipeline

        from helpers.loading import load_args

        pipeline = DiffusionPipeline.from_pretrained(step.repo, dtype=pick_dtype(device), **load_args(step.repo))
    if step.task == "img2img":
        return AutoPipelineForImage2Image.from_pipe(pipeline)
    if step.task == "inpaint":
        return AutoPipelineForInpainting.from_pipe(pipeline)
    return pipeline


def call_kwargs(step: Step, device: str, steps: int) -> dict:
    """The step's call with the chapter's arguments, on plain pictures: the weights are random (maintainer tool)."""
    from PIL import Image

    from helpers.device import make_generator

    side = step.size
    kwargs = dict(prompt="a castle on a hill at sunset", image=Image.new("RGB", (side, side), (90, 120, 150)),
                  num_inference_steps=steps, generator=make_generator(0, device), output_type="pil")
    if step.task == "img2img":
        kwargs["strength"] = STRENGTH
    if step.task == "inpaint":
        mask = Image.new("L", (side, side), 0)
        mask.paste(255, (side // 4, side // 4, 3 * side // 4, 3 * side // 4))
        kwargs.update(mask_image=mask, height=side, width=side)
    return kwargs


def measure(step: Step, models: str, device: str, budget: int, steps: int) -> Result:
    """Build, fit within the budget, run once, and record peak memory; never raises (maintainer tool)."""
    import torch

    from helpers.device import free_memory
    from helpers.speed import apply_plan, plan_for
    from tools.bench import PeakMemory

    result = Result(step.key, step.title, models, device, budget / 2**30, steps)
    pipeline = None
    try:
        start = time.perf_counter()
        pipeline = build(step, models, device)
        plan = plan_for(pipeline, device, height=step.out, width=step.out, memory_budget=budget)
        apply_plan(pipeline, plan, device)
        pipeline.set_progress_bar_config(disable=True)
        result.build_s = time.perf_counter() - start
        result.choices = " · ".join(f"{c.name}={c.value}" for c in plan.choices if c.value != "n/a")
        cuda = device.startswith("cuda")
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        with PeakMemory(device) as peak:
            image = pipeline(**call_kwargs(step, device, steps)).images[0]
        result.call_s = time.perf_counter() - start
        if image.size != (step.out, step.out):
            raise RuntimeError(f"expected a {step.out}x{step.out} picture, got {image.size[0]}x{image.size[1]}")
        result.peak_allocated = peak.peak
        result.peak_reserved = torch.cuda.max_memory_reserved() if cuda else None
        result.fits = result.peak_reserved <= budget if cuda else None  # off CUDA the peak is the process's RAM
    except Exception as err:  # an out-of-memory error is the result a T4 would give: recorded, not raised
        result.error = f"{type(err).__name__}: {str(err).strip().splitlines()[0][:200]}"
        result.fits = False if "OutOfMemory" in type(err).__name__ else None
    finally:
        del pipeline
        gc.collect()
        free_memory()
    return result


def markdown(results: list[Result], card: str, cap: str) -> str:
    """The peak-memory table, one row per step, as docs/performance.md shows it (maintainer tool)."""
    def gib(n):
        return "—" if n is None else f"{n / 2**30:.2f} GiB"

    lines = [f"- card: **{card}**; {cap}", "",
             "| step | models | steps | peak allocated | peak reserved | fits | build s | call s | choices / error |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        fits = {True: "yes", False: "**no**", None: "—"}[r.fits]
        tail = f"**{r.error}**" if r.error else r.choices
        lines.append(f"| {r.title} | {r.models} | {r.steps} | {gib(r.peak_allocated)} | {gib(r.peak_reserved)} | "
                     f"{fits} | {r.build_s or 0:.1f} | {r.call_s or 0:.1f} | {tail} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    """Run every heavy step within the budget; write JSON and markdown after each step (maintainer tool)."""
    parser = argparse.ArgumentParser(prog="python -m tools.t4_check", description=__doc__.splitlines()[0])
    parser.add_argument("--models", choices=["built", "twins"], default=None,
                        help="built: full-size random weights made on the device (default on CUDA); "
                             "twins: the tiny twins (default elsewhere)")
    parser.add_argument("--budget", default=T4_USABLE, help=f"GPU memory to fit in (default {T4_USABLE})")
    parser.add_argument("--steps", type=int, default=4, help="denoising steps per call (default 4)")
    parser.add_argument("--only", nargs="+", choices=list(STEPS), help="run only these steps")
    parser.add_argument("--device", default=None, help="cuda or cpu (default: the best one here)")
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write (default build/t4-check.json)")
    args = parser.parse_args(argv)
    if int(args.steps * STRENGTH) < 1:
        parser.error(f"--steps must be at least 2, got {args.steps}: img2img at strength {STRENGTH} runs "
                     f"int(steps x {STRENGTH}) denoising steps, and none would be run")

    from helpers.device import gpu_memory_budget, pick_device
    from helpers.paths import build_dir
    from tools.bench import device_name

    try:
        budget = gpu_memory_budget(args.budget, "--budget")
    except ValueError as err:
        parser.error(str(err))
    device = args.device or pick_device()
    models = args.models or ("built" if device.startswith("cuda") else "twins")
    if models == "twins":
        from helpers.models import use_models

        use_models("twins")  # the tiny twins' own hub cache, never the learner's
    out = args.out or build_dir() / "t4-check.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    cap = cap_process(device, budget)
    card = device_name(device)
    print(f"{card}: {cap}", file=sys.stderr)
    results = []
    for key in args.only or STEPS:
        print(f"  {STEPS[key].title} ...", file=sys.stderr, flush=True)
        results.append(measure(STEPS[key], models, device, budget, args.steps))
        r = results[-1]
        print(f"    {'error: ' + r.error if r.error else 'peak %.2f GiB' % ((r.peak_allocated or 0) / 2**30)}",
              file=sys.stderr, flush=True)
        # written after every step: a run stopped by its time limit still leaves what it measured
        out.write_text(json.dumps({"card": card, "cap": cap, "results": [asdict(x) for x in results]}, indent=2))
        out.with_suffix(".md").write_text(markdown(results, card, cap))
    print(markdown(results, card, cap))
    print(f"written: {out.resolve()}", file=sys.stderr)
    return 0 if all(r.error is None and r.fits is not False for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
