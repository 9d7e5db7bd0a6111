"""Measure what the twins teach: VAE round trips, img2img strength, inpainting, chains, upscalers and words.

Maintainer tool: `python -m tools.twin_targets` builds the twins it needs into a temporary cache (or uses
`--cache`), prints one table row per model and target, and exits 1 when a target is missed. Every picture it
measures on is one the twins never learned from (train_twins.py's HELD_OUT), the chapters' start pictures among them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

SEEDS = (0, 1, 2)
STRENGTHS = (0.2, 0.5, 0.8)
VAE_PSNR_DB = 20.0
UPSCALE_PSNR_DB = 18.0
INPAINT_RATIO = 3.0
CHAIN_CORRELATION = 0.5  # above any two unrelated scikit-image sample photos (at most 0.43)

IMG2IMG = {
    "stable-diffusion-v1-5/stable-diffusion-v1-5": "StableDiffusionImg2ImgPipeline",
    "stabilityai/stable-diffusion-xl-refiner-1.0": "StableDiffusionXLImg2ImgPipeline",
    "kandinsky-community/kandinsky-2-2-decoder": "KandinskyV22Img2ImgCombinedPipeline",
}
INPAINT = ("stable-diffusion-v1-5/stable-diffusion-inpainting", "diffusers/stable-diffusion-xl-1.0-inpainting-0.1",
           "kandinsky-community/kandinsky-2-2-decoder-inpaint")
X2, X4 = "stabilityai/sd-x2-latent-upscaler", "stabilityai/stable-diffusion-x4-upscaler"
CHAIN = ("stable-diffusion-v1-5/stable-diffusion-v1-5", "ogkalu/Comic-Diffusion", "kohbanye/pixel-art-style")


@dataclass
class Row:
    """One measured target."""

    model: str
    target: str
    value: float
    threshold: str
    ok: bool

    def __str__(self) -> str:
        return f"| {self.model} | {self.target} | {self.value:.2f} | {self.threshold} | {'yes' if self.ok else 'NO'} |"


def held_out(size: int = 512):
    """The held-out photos at size x size: the chapters' start pictures and scikit-image's coffee (maintainer tool)."""
    from PIL import Image
    from skimage import data

    from helpers.images import load_chapter_image

    out = {"astronaut (ch. 2-4 start)": load_chapter_image("img2img-init", size=(size, size), offline=True),
           "cat (ch. 5 start)": load_chapter_image("inpaint", size=(size, size), offline=True)}
    coffee = data.coffee()
    side = min(coffee.shape[:2])
    left = (coffee.shape[1] - side) // 2
    out["coffee"] = Image.fromarray(coffee[:, left:left + side]).resize((size, size), Image.LANCZOS)
    return out


def vae_rows(photos) -> list[Row]:
    """PSNR of each twin VAE's encode-decode round trip at full size, target 1 (maintainer tool)."""
    from diffusers import AutoencoderKL, VQModel

    from helpers.compare import psnr
    from helpers.twins.codec import round_trip

    rows = []
    parts = [("SD 1.5-family AutoencoderKL", AutoencoderKL, "stable-diffusion-v1-5/stable-diffusion-v1-5", "vae"),
             ("SDXL AutoencoderKL", AutoencoderKL, "stabilityai/stable-diffusion-xl-refiner-1.0", "vae"),
             ("Kandinsky 2.2 MoVQ", VQModel, "kandinsky-community/kandinsky-2-2-decoder", "movq"),
             ("x4 upscaler AutoencoderKL", AutoencoderKL, X4, "vae")]
    for label, cls, repo, folder in parts:
        vae = cls.from_pretrained(repo, subfolder=folder).eval()
        for name, photo in photos.items():
            _, back = round_trip(vae, photo)
            value = psnr(back, photo, size=None)
            rows.append(Row(label, f"round-trip PSNR, {name}, 512²", value, f">= {VAE_PSNR_DB}", value >= VAE_PSNR_DB))
    return rows


def img2img_rows(start, steps: int = 20) -> list[Row]:
    """Similarity to the start falls strictly over strength 0.2, 0.5, 0.8 for 3 seeds, target 2 (maintainer tool)."""
    import diffusers
    import torch

    from helpers.compare import falls_strictly, psnr

    rows = []
    for repo, cls_name in IMG2IMG.items():
        pipe = getattr(diffusers, cls_name).from_pretrained(repo)
        pipe.set_progress_bar_config(disable=True)
        # Kandinsky's combined pipeline also runs its prior, 25 steps by default: as many as the decoder here
        extra = {"prior_num_inference_steps": steps} if "kandinsky" in repo else {}
        for seed in SEEDS:
            values = []
            for strength in STRENGTHS:
                image = pipe("a photo", image=start, strength=strength, num_inference_steps=steps,
                             generator=torch.Generator().manual_seed(seed), **extra).images[0]
                values.append(psnr(image, start))
            text = " > ".join(f"{v:.1f}" for v in values)
            rows.append(Row(repo, f"img2img PSNR to start at 0.2/0.5/0.8, seed {seed}: {text} dB",
                            values[0] - values[-1], "falls strictly", falls_strictly(values)))
    return rows


def inpaint_rows(start, mask, steps: int = 20) -> list[Row]:
    """Change inside the mask must be >= 3x the change outside, per inpainting model, target 3 (maintainer tool)."""
    import diffusers
    import torch

    from helpers.compare import change_inside_outside

    rows = []
    for repo in INPAINT:
        pipe = diffusers.AutoPipelineForInpainting.from_pretrained(repo)
        pipe.set_progress_bar_config(disable=True)
        image = pipe("a photo", image=start, mask_image=mask, height=start.height, width=start.width,
                     num_inference_steps=steps, generator=torch.Generator().manual_seed(0)).images[0]
        inside, outside = change_inside_outside(start, image.resize(start.size), mask)
        rows.append(Row(repo, f"change inside {inside:.1f} / outside {outside:.1f}", inside / max(outside, 1e-9),
                        f">= {INPAINT_RATIO}", inside >= INPAINT_RATIO * outside))
    return rows


def upscale_rows(start, steps: int = 20) -> list[Row]:
    """x2 and x4 outputs against a Lanczos upscale of their input, target 4 (maintainer tool)."""
    import diffusers
    import torch
    from PIL import Image

    from helpers.compare import psnr

    rows = []
    small = start.resize((start.width // 4, start.height // 4), Image.LANCZOS)
    x4 = diffusers.StableDiffusionUpscalePipeline.from_pretrained(X4)
    x4.set_progress_bar_config(disable=True)
    out = x4("a photo", image=small, num_inference_steps=steps, generator=torch.Generator().manual_seed(0)).images[0]
    value = psnr(out, small.resize(out.size, Image.LANCZOS), size=None)
    rows.append(Row(X4, f"x4 PSNR vs Lanczos, {small.width}² -> {out.width}²", value, f">= {UPSCALE_PSNR_DB}",
                    value >= UPSCALE_PSNR_DB))
    x2 = diffusers.StableDiffusionLatentUpscalePipeline.from_pretrained(X2)
    x2.set_progress_bar_config(disable=True)
    small = start.resize((start.width // 2, start.height // 2), Image.LANCZOS)
    out = x2("a photo", image=small, num_inference_steps=steps, generator=torch.Generator().manual_seed(0)).images[0]
    value = psnr(out, small.resize(out.size, Image.LANCZOS), size=None)
    rows.append(Row(X2, f"x2 PSNR vs Lanczos, {small.width}² -> {out.width}²", value, f">= {UPSCALE_PSNR_DB}",
                    value >= UPSCALE_PSNR_DB))
    return rows


def chain_rows(start, steps: int = 20) -> list[Row]:
    """Each of three SD 1.5-family img2img stages keeps the layout it was handed, target 4 (maintainer tool)."""
    import diffusers
    import torch

    from helpers.compare import correlation

    rows, latents, handed = [], None, start
    for repo in CHAIN:
        pipe = diffusers.AutoPipelineForImage2Image.from_pretrained(repo)
        pipe.set_progress_bar_config(disable=True)
        latents = pipe("a photo", image=start if latents is None else latents, num_inference_steps=steps,
                       output_type="latent", generator=torch.Generator().manual_seed(0)).images
        with torch.no_grad():
            view = pipe.image_processor.postprocess(pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample)[0]
        value = correlation(view, handed)
        rows.append(Row(repo, f"latent chain at strength 0.8: layout correlation with the picture handed over "
                        f"({correlation(view, start):.2f} with the start)", value, f"> {CHAIN_CORRELATION}",
                        value > CHAIN_CORRELATION))
        handed = view
    return rows


GROUPS = ("vae", "img2img", "inpaint", "chain", "upscale", "control", "words", "guidance", "negative", "compel")


def measure(groups=GROUPS) -> list[Row]:
    """Every target row for the twins in the current HF_HUB_CACHE (maintainer tool)."""
    from helpers.images import load_chapter_image

    photos = held_out()
    start = photos["astronaut (ch. 2-4 start)"]
    rows = []
    if "vae" in groups:
        rows += vae_rows(photos)
    if "img2img" in groups:
        rows += img2img_rows(start)
    if "inpaint" in groups:
        mask = load_chapter_image("inpaint_mask", size=(512, 512), offline=True).convert("L")
        rows += inpaint_rows(photos["cat (ch. 5 start)"], mask)
    if "chain" in groups:
        rows += chain_rows(start)
    if "upscale" in groups:
        rows += upscale_rows(start)
    if "control" in groups:  # chapter 4's depth twins (tools/train_control.py), in the same cache
        from tools.train_control import measure as control_rows

        rows += control_rows(log=lambda *_: None)
    if {"words", "negative", "compel", "guidance"} & set(groups):
        from tools import word_targets

        masked = (photos["cat (ch. 5 start)"],
                  load_chapter_image("inpaint_mask", size=(512, 512), offline=True).convert("L"))
        if "words" in groups:
            rows += word_targets.word_rows(start, masked)
        if "guidance" in groups:
            rows += word_targets.guidance_rows()
        if "negative" in groups:
            rows += word_targets.negative_rows(start, masked)
        if "compel" in groups:
            rows += word_targets.compel_rows(start)
    return rows


def main(argv=None) -> int:
    """Command line: build (or use) a twin cache, measure, print the table (maintainer tool)."""
    parser = argparse.ArgumentParser(prog="python -m tools.twin_targets", description=__doc__.split("\n")[0])
    parser.add_argument("--cache", type=Path, help="a twin hub cache, built there first if the folder does not exist "
                        "(default: build one in a temporary folder)")
    parser.add_argument("--weights", type=Path, help="build from the UNet weights in this folder (default: the "
                        "committed helpers/twins/weights), e.g. those `python -m tools.train_twins --out` wrote")
    parser.add_argument("groups", nargs="*", default=list(GROUPS), help=f"any of {', '.join(GROUPS)} (default: all)")
    args = parser.parse_args(argv)
    cache = args.cache or Path(tempfile.mkdtemp(prefix="twins-")) / "hub"
    # before anything imports huggingface_hub, which reads these once
    os.environ["HF_HUB_CACHE"] = str(cache)
    os.environ["HF_HUB_OFFLINE"] = "1"
    import diffusers

    from helpers.twins import parts, twin_root
    from helpers.twins.build import build_cache

    if args.weights is not None:
        parts.WEIGHTS = args.weights  # weights_for() reads it at build time
    if not cache.exists():
        build_cache(cache, twin_root() / "src", log=lambda *_: None)

    diffusers.utils.logging.set_verbosity_error()
    rows = measure(tuple(args.groups))
    print("| model | target | value | threshold | met |\n|---|---|---|---|---|")
    for row in rows:
        print(row)
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
