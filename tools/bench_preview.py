"""The step preview's cost on a full-size model: the same run with and without StepPreview, timed.

Run: python -m tools.bench_preview [--device cpu] [--size 256] [--steps 10] [--repeats 2]
SD 1.5's full-size twin (the real architecture, random weights) is made in memory, and the preview decodes with
an AutoencoderTiny of taesd's real size (random weights too): decoding costs the same whatever the weights are.
Prints seconds per run with the preview off and on, and the preview's share of the run.
"""

from __future__ import annotations

import argparse
import json
import time

SD = "stable-diffusion-v1-5/stable-diffusion-v1-5"


def main(argv=None) -> int:
    """Time SD 1.5 runs with and without the step preview and print the preview's share (maintainer tool)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=256, help="picture side in pixels")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", help="also write the numbers as JSON here")
    args = parser.parse_args(argv)

    from helpers import use_models

    use_models("twins")
    import torch
    from diffusers import AutoencoderTiny

    from helpers.preview import StepPreview
    from tools.full_size import full_pipeline

    dtype = torch.float16 if args.device == "cuda" else torch.float32
    pipe = full_pipeline(SD, device=args.device, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    tiny = AutoencoderTiny().to(args.device, dtype).eval()  # diffusers' defaults are taesd's real layout

    def run(preview):
        generator = torch.Generator(args.device).manual_seed(0)
        start = time.perf_counter()
        pipe("a photo of an astronaut", height=args.size, width=args.size, num_inference_steps=args.steps,
             generator=generator, **({"callback_on_step_end": preview} if preview is not None else {}))
        if args.device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    run(None)  # warm-up
    with StepPreview(pipe, decoder=tiny) as preview:
        off = min(run(None) for _ in range(args.repeats))
        on = min(run(preview) for _ in range(args.repeats))
        frames = len(preview.frames)
    share = (on - off) / off
    print(f"SD 1.5 full size, {args.size}px, {args.steps} steps, {args.device} {str(dtype).removeprefix('torch.')}, "
          f"torch_threads={torch.get_num_threads()}")
    print(f"preview off: {off:.2f} s per run | preview on: {on:.2f} s ({frames} frames) | "
          f"preview share: {share:+.1%} of a run")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"size": args.size, "steps": args.steps, "device": args.device, "off_s": round(off, 3),
                       "on_s": round(on, 3), "share": round(share, 4), "frames": frames}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
