"""Latency of the try-it-yourself panel: from a slider change to the new picture on screen.

Run: python -m tools.bench_panel [--changes 20] [--size 256] [--steps 4]
Uses the current mode (twins by default when offline). Prints the median and 90th percentile, with the step
preview off and on.
"""

from __future__ import annotations

import argparse
import statistics
import time

from helpers import use_models


def main() -> int:
    """Time slider changes to new pictures and print the median and 90th percentile (maintainer tool)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--size", type=int, default=256, help="init image side in pixels")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--strength", type=float, default=0.5)
    args = parser.parse_args()

    mode = use_models(needs=["stable-diffusion-v1-5/stable-diffusion-v1-5"])
    import torch
    from diffusers import AutoPipelineForImage2Image
    from PIL import Image

    from helpers.device import pick_device, pick_dtype
    from helpers.panel import Panel, Slider
    from helpers.speed import fit_to_machine

    device = pick_device()
    pipe = AutoPipelineForImage2Image.from_pretrained(
        "stable-diffusion-v1-5/stable-diffusion-v1-5", dtype=pick_dtype(device), use_safetensors=True,
        variant="fp16" if pick_dtype(device) == torch.float16 else None)
    pipe = fit_to_machine(pipe, device)
    pipe.set_progress_bar_config(disable=True)
    init = Image.new("RGB", (args.size, args.size), (90, 120, 60))
    print(f"mode={mode} device={device} image={args.size}px steps={args.steps} strength={args.strength} "
          f"torch_threads={torch.get_num_threads()}")
    for preview in (False, True):  # the step preview decodes a frame at every step: its cost is the difference
        panel = Panel(pipe, prompt="Astronaut in a jungle, cold color palette", num_inference_steps=args.steps,
                      extras=[Slider("strength", args.strength, 0.0, 1.0, step=0.05)], fixed={"image": init},
                      device=device, live=True, preview=preview)
        panel.generate(wait=True)  # warm-up: loads kernels and encodes the prompt once

        latencies = []
        for i in range(args.changes):
            before = panel.image.value
            start = time.perf_counter()
            panel.guidance_scale.value = 3.0 + (i % 10)  # a slider release; live mode starts a run
            panel.wait()
            assert panel.image.value != before or i == 0, "the picture did not update"
            latencies.append(time.perf_counter() - start)
        panel.steps.close()
        latencies.sort()
        median = statistics.median(latencies)
        p90 = latencies[int(0.9 * (len(latencies) - 1) + 0.5)]
        print(f"preview {'on ' if preview else 'off'}: slider change -> new picture, {len(latencies)} changes: "
              f"median {median:.3f} s, p90 {p90:.3f} s, min {latencies[0]:.3f} s, max {latencies[-1]:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
