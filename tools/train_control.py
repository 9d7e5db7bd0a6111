"""Teach chapter 4's depth twins: Depth Anything to read depth, the depth ControlNet to follow a depth map.

Maintainer tool: `python -m tools.train_control [depth|controlnet ...]` rewrites
`helpers/twins/weights/depth-anything.safetensors` and `controlnet-depth.safetensors`. Both learn from procedural
scenes of known geometry (helpers/twins/scenes.py, seeds below HELD_OUT_SEED); `measure()` judges them on scenes
they never saw and on the chapter's astronaut. Everything is seeded, and the builder only loads the committed files.
"""

from __future__ import annotations

import argparse
import functools
import time
from pathlib import Path

from helpers.twins.parts import WEIGHTS
from tools.train_twins import fit_step, write_fp16

DEPTH_REPO = "depth-anything/Depth-Anything-V2-Small-hf"
CONTROL_REPO = "lllyasviel/control_v11f1p_sd15_depth"
SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"
FILES = {"depth": "depth-anything", "controlnet": "controlnet-depth"}
STEPS = {"depth": 1200, "controlnet": 800}
POOL = 320  # training scenes rendered once per run, then cropped, flipped and recoloured
POOL_PX = 224
HELD_OUT_SEED = 1_000_000  # training scenes use seeds below this, measurements seeds from it on
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # the processor's normalisation

# targets measure() checks
DEPTH_SPEARMAN = 0.7
GRID_ENERGY = 1.3  # a smooth map scores about 1; the untrained twin 1.5-2.8
FRAME_DROP = 0.05
CONTROL_CORRELATION = 0.5
CONTROL_GAIN = 0.2


def scene_pool(n: int, size: int, first_seed: int = 0):
    """n rendered scenes: pictures (n, 3, size, size), inverse depths (n, 1, size, size), 0-1 (maintainer tool)"""
    import numpy as np
    import torch

    from helpers.twins.scenes import render

    pics, inverse = zip(*(render(first_seed + i, size, size) for i in range(n)), strict=True)
    return (torch.from_numpy(np.stack(pics)).permute(0, 3, 1, 2).contiguous(),
            torch.from_numpy(np.stack(inverse))[:, None].contiguous())


def _augment(pics, inverse, size: int, gen):
    """Random crops resized to size, flips and channel swaps; the crop's inverse depth is rescaled to max 1."""
    import torch
    import torch.nn.functional as F

    n, _, full, _ = pics.shape
    out_p, out_d = [], []
    for i in range(n):
        crop = int(torch.randint(full * 3 // 4, full + 1, (1,), generator=gen))
        top, left = (int(v) for v in torch.randint(0, full - crop + 1, (2,), generator=gen))
        p = pics[i:i + 1, :, top:top + crop, left:left + crop]
        d = inverse[i:i + 1, :, top:top + crop, left:left + crop]
        p = F.interpolate(p, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        d = F.interpolate(d, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        if torch.rand(1, generator=gen) < 0.5:
            p, d = p.flip(-1), d.flip(-1)
        p = p[:, torch.randperm(3, generator=gen)]
        out_p.append(p)
        out_d.append(d / d.amax().clamp(min=1e-6))
    return torch.cat(out_p), torch.cat(out_d)


def _soften(pics, gen):
    """Blur some pictures as the twin VAE's decoder does (8-pixel cells), so the estimator reads generated ones too."""
    import torch
    import torch.nn.functional as F

    size = pics.shape[-1]
    cells = F.interpolate(F.avg_pool2d(pics, 8, ceil_mode=True), size=(size, size), mode="bilinear",
                          align_corners=False)
    pick = (torch.rand(pics.shape[0], 1, 1, 1, generator=gen) < 0.4).float()
    return pick * cells + (1 - pick) * pics


def _normalise(pics):
    """Pictures in [0, 1] as the image processor hands them to the model."""
    import torch

    return (pics - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)


def train_depth(steps: int | None = None, batch: int = 8, seed: int = 0, log=print):
    """Train the depth twin from its seeded start on rendered scenes; return it (maintainer tool)."""
    import torch
    import torch.nn.functional as F

    from helpers.twins.recipes import build_depth

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model, _ = build_depth(DEPTH_REPO, taught_weights=False)
    with torch.no_grad():  # the seeded start predicts depths near 100; start the last layer near the targets' scale
        model.head.conv3.weight.mul_(0.01)
    model.train()
    pics, inverse = scene_pool(POOL, POOL_PX)
    steps = steps or STEPS["depth"]
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps, pct_start=0.05)
    start, running = time.time(), None
    for step in range(steps):
        size = (168, 224)[step % 2]  # two patch grids, so the position embeddings generalise to others
        idx = torch.randint(0, POOL, (batch,), generator=gen)
        p, d = _augment(pics[idx], inverse[idx], size, gen)
        p = _soften(p, gen)
        p = (p * (0.7 + 0.6 * torch.rand(batch, 1, 1, 1, generator=gen))).clamp(0, 1)  # exposure
        pred = model(pixel_values=_normalise(p)).predicted_depth[:, None]
        loss = F.mse_loss(pred, d)
        # matching gradients keeps edges where the depth jumps and leaves flat areas flat (no patch texture)
        loss = loss + 0.5 * (F.l1_loss(pred.diff(dim=-1), d.diff(dim=-1)) + F.l1_loss(pred.diff(dim=-2),
                                                                                         d.diff(dim=-2)))
        value = fit_step(loss, opt, sched, model.parameters())
        running = value if running is None else 0.98 * running + 0.02 * value
        if step % 100 == 0 or step == steps - 1:
            log(f"  depth step {step:5d}  loss {running:.4f}  {time.time() - start:5.0f} s")
    return model.eval()


# scikit-image photos for the start pictures img2img noises; the chapters' start photos are left out on purpose
PHOTOS = ("rocket", "camera", "brick", "grass", "moon", "clock", "coins", "page", "immunohistochemistry", "retina")


@functools.cache
def _photos(size: int = 256) -> list:
    """The PHOTOS as (1, 3, h, w) tensors in [-1, 1], the longer side shrunk to `size` pixels."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from skimage import data

    out = []
    for name in PHOTOS:
        a = getattr(data, name)()
        a = np.stack([a] * 3, -1) if a.ndim == 2 else a[..., :3]
        t = torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].float() / 127.5 - 1
        scale = size / max(t.shape[-2:])
        out.append(F.interpolate(t, size=(max(size * 3 // 4, round(t.shape[-2] * scale)),
                                          max(size * 3 // 4, round(t.shape[-1] * scale))), mode="area"))
    return out


def photo_crops(n: int, size: int, gen):
    """n random crops of the PHOTOS, colours swapped, as (n, 3, size, size) in [-1, 1] (maintainer tool)"""
    import torch

    photos, out = _photos(), []
    for i in torch.randint(0, len(photos), (n,), generator=gen).tolist():
        t = photos[i]
        top = int(torch.randint(0, t.shape[-2] - size + 1, (1,), generator=gen))
        left = int(torch.randint(0, t.shape[-1] - size + 1, (1,), generator=gen))
        out.append(t[..., top:top + size, left:left + size][:, torch.randperm(3, generator=gen)])
    return torch.cat(out)


def _controlnet_parts():
    """The SD 1.5 twin's committed UNet (frozen), VAE and scheduler, and the ControlNet's seeded start."""
    from helpers.twins import parts
    from helpers.twins.facts import FACTS
    from helpers.twins.recipes import build_controlnet

    unet = parts.taught(SD15, parts.sd_unet(f"{SD15}/unet")).requires_grad_(False)
    vae = parts.vae("sd15-vae").requires_grad_(False)
    controlnet = build_controlnet(CONTROL_REPO, taught_weights=False)
    # start from the UNet's encoder, as ControlNets are made; the zero convolutions keep its output at zero
    controlnet.load_state_dict(unet.state_dict(), strict=False)
    return unet, vae, parts.scheduler(FACTS[SD15]["scheduler"]), controlnet


def _prompt_encodings():
    """The twin SD 1.5 text encoder's encodings of a few prompts, with and without the words it knows (ch. 4)."""
    import tempfile

    import torch
    from transformers import CLIPTokenizer

    from helpers.twins import parts, twin_root
    from helpers.twins.build import make_tokenizers

    tok_dir, _ = make_tokenizers(twin_root() / "src", Path(tempfile.mkdtemp(prefix="twin-tokenizers-")))
    tokenizer, encoder = CLIPTokenizer.from_pretrained(tok_dir), parts.text_encoder("CLIPTextModel", parts.CLIP_L)
    texts = ["", "a photo", "Astronaut in a jungle, cold color palette, muted colors, detailed, 8k",
             "a lecture hall, sunset", "night, castle", "watercolor"]  # the UNet's words stay as it learned them
    ids = tokenizer(texts, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
    with torch.no_grad():
        return encoder(ids)[0]


def train_controlnet(steps: int | None = None, batch: int = 8, seed: int = 0, log=print):
    """Train the depth ControlNet beside the frozen SD 1.5 twin UNet on (scene, depth map) pairs (maintainer tool)"""
    import torch

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    unet, vae, sched, controlnet = _controlnet_parts()
    controlnet.train()
    prompts = _prompt_encodings()
    pics, inverse = scene_pool(POOL, POOL_PX)
    abar_all = sched.alphas_cumprod.float()
    steps = steps or STEPS["controlnet"]
    opt = torch.optim.AdamW(controlnet.parameters(), lr=1e-3, weight_decay=0.0)
    lr = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=1e-3, total_steps=steps, pct_start=0.05)
    start, running = time.time(), None
    for step in range(steps):
        size = (128, 192)[step % 2]
        idx = torch.randint(0, POOL, (batch,), generator=gen)
        p, d = _augment(pics[idx], inverse[idx], size, gen)
        low, high = d.amin((1, 2, 3), keepdim=True), d.amax((1, 2, 3), keepdim=True)
        control = ((d - low) / (high - low).clamp(min=1e-6)).expand(-1, 3, -1, -1)  # as the pipeline's grey map
        with torch.no_grad():
            z0 = vae.encode(p * 2 - 1).latent_dist.mode() * vae.config.scaling_factor
            other = vae.encode(photo_crops(batch, size, gen)).latent_dist.mode() * vae.config.scaling_factor
        t = torch.randint(0, len(abar_all), (batch,), generator=gen)
        abar = abar_all[t].view(-1, 1, 1, 1)
        eps = torch.randn(z0.shape, generator=gen)
        # img2img starts from the start photo's noised latents: at high noise, half the samples carry a photo in
        # x_t while the target stays this scene, so the layout must come from the depth map, not from x_t
        swap = ((t >= 300) & (torch.rand(batch, generator=gen) < 0.5)).view(-1, 1, 1, 1)
        x_t = abar.sqrt() * torch.where(swap, other, z0) + (1 - abar).sqrt() * eps
        target = (x_t - abar.sqrt() * z0) / (1 - abar).sqrt()
        text = prompts[torch.randint(0, len(prompts), (batch,), generator=gen)]
        down, mid = controlnet(x_t, t, encoder_hidden_states=text, controlnet_cond=control, return_dict=False)
        out = unet(x_t, t, encoder_hidden_states=text, down_block_additional_residuals=down,
                   mid_block_additional_residual=mid).sample
        # errors at high noise decide the layout, yet plain noise-prediction loss barely sees them: weigh them up
        weight = 1 + ((1 - abar) / abar).clamp(max=10.0)
        loss = (weight * (out - target) ** 2).mean() / weight.mean()
        value = fit_step(loss, opt, lr, controlnet.parameters())
        running = value if running is None else 0.98 * running + 0.02 * value
        if step % 100 == 0 or step == steps - 1:
            log(f"  controlnet step {step:5d}  loss {running:.4f}  {time.time() - start:5.0f} s")
    return controlnet.eval()


def save(model, name: str, folder: Path | None = None) -> Path:
    """Write a model's weights as fp16 safetensors into `folder`, by default the committed one (maintainer tool)."""
    return write_fp16(model, (folder or WEIGHTS) / f"{FILES[name]}.safetensors",
                      {"recipe": name, "trainer": "tools/train_control.py"})


# ---------------------------------------------------------------- measurements


def load_depth(cache=None):
    """transformers' depth-estimation pipeline on the twin, from a hub cache or the current one (maintainer tool)"""
    from transformers import DepthAnythingForDepthEstimation, DPTImageProcessor
    from transformers import pipeline as transformers_pipeline

    where = {"cache_dir": str(cache), "local_files_only": True} if cache else {}
    model = DepthAnythingForDepthEstimation.from_pretrained(DEPTH_REPO, **where).eval()
    processor = DPTImageProcessor.from_pretrained(DEPTH_REPO, **where)
    return transformers_pipeline("depth-estimation", model=model, image_processor=processor, device="cpu")


def grid_energy(estimator, image) -> float:
    """Raw map's power at the 14-px patch grid's frequencies over that beside them: 1 = no grid (maintainer tool)"""
    import numpy as np
    import torch

    inputs = estimator.image_processor(image, return_tensors="pt")
    with torch.no_grad():
        raw = estimator.model(**inputs).predicted_depth[0].double().numpy()
    raw = raw - raw.mean()
    ratios = []
    for spectrum in ((np.abs(np.fft.rfft2(raw)) ** 2).sum(0), (np.abs(np.fft.rfft2(raw.T)) ** 2).sum(0)):
        for k in range(1, 8):  # the neck upsamples patches 2x and 4x, so their textures repeat at 14, 7, 3.5 px
            f = round(k * raw.shape[-1] / 14)
            if f + 3 < len(spectrum):
                beside = spectrum[[f - 3, f - 2, f + 2, f + 3]].mean()
                ratios.append(spectrum[f - 1:f + 2].mean() / max(beside, 1e-30))
    return float(np.mean(ratios))


def frame_drop(depth) -> float:
    """How much darker a 0-1 map's outer 4 px are than the ring 6-16 px in: > 0 is a dark frame (maintainer tool)"""
    import numpy as np

    d = np.asarray(depth.convert("L"), dtype=np.float64) / 255.0
    inner = np.zeros(d.shape, bool)
    inner[6:-6, 6:-6] = True
    inner[16:-16, 16:-16] = False
    outer = np.ones(d.shape, bool)
    outer[4:-4, 4:-4] = False
    return float(d[inner].mean() - d[outer].mean())


def depth_scores(estimator, seeds, size: int = 512) -> dict[str, float]:
    """Mean Spearman, Pearson with the true inverse depth, grid energy and frame drop on scenes (maintainer tool)"""
    import numpy as np
    from PIL import Image
    from scipy.stats import spearmanr

    from helpers.twins.scenes import render

    rows = []
    for seed in seeds:
        rgb, truth = render(seed, size, size)
        image = Image.fromarray((rgb * 255).round().astype(np.uint8))
        out = estimator(image)
        pred = out["predicted_depth"].squeeze().numpy().astype(np.float64)
        small = (slice(None, None, 4), slice(None, None, 4))  # every 4th pixel: the same answer, 16 x faster
        rows.append((spearmanr(pred[small].ravel(), truth[small].ravel())[0],
                     np.corrcoef(pred.ravel(), truth.ravel())[0, 1], grid_energy(estimator, image),
                     frame_drop(out["depth"])))
    spear, pear, grid, frame = np.nanmean(np.array(rows, dtype=np.float64), axis=0)
    return {"spearman": spear, "pearson": pear, "grid": grid, "frame": frame}


PROMPT = "Astronaut in a jungle, cold color palette, muted colors, detailed, 8k"  # chapter 4's ControlNet prompt


def load_control(cache=None):
    """The chapter's ControlNet img2img pipeline on the twins, from a hub cache or the current one (maintainer tool)"""
    from diffusers import AutoPipelineForImage2Image, ControlNetModel

    where = {"cache_dir": str(cache), "local_files_only": True} if cache else {}
    controlnet = ControlNetModel.from_pretrained(CONTROL_REPO, **where)
    pipe = AutoPipelineForImage2Image.from_pretrained(SD15, controlnet=controlnet, **where)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def controlled(pipe, start, control, steps: int = 15, seed: int = 0, **kwargs):
    """The chapter's ControlNet img2img call (default strength and scale unless given) from `start` (maintainer tool)"""
    import torch

    generator = torch.Generator().manual_seed(seed)
    return pipe(PROMPT, image=start, control_image=control, num_inference_steps=steps, generator=generator,
                **kwargs).images[0]


def grain(image) -> float:
    """Mean absolute difference (0-255) of a picture from its 2-pixel blur: noise and fine texture (maintainer tool)"""
    import numpy as np
    from PIL import ImageFilter

    a = np.asarray(image.convert("L"), dtype=np.float64)
    return float(np.abs(a - np.asarray(image.convert("L").filter(ImageFilter.GaussianBlur(2)), dtype=np.float64))
                 .mean())


def measure(cache=None, size: int = 512, scenes: int = 12, steps: int = 15, log=print) -> list:
    """Every depth and ControlNet target on held-out scenes and the chapter's pictures, as rows (maintainer tool)"""
    from helpers.compare import correlation
    from helpers.images import load_chapter_image
    from tools.twin_targets import Row

    rows = []

    def row(model, target, value, threshold, ok):
        rows.append(Row(model, target, float(value), threshold, bool(ok)))
        log(str(rows[-1]))

    estimator = load_depth(cache)
    got = depth_scores(estimator, range(HELD_OUT_SEED, HELD_OUT_SEED + scenes), size)
    where = f"{scenes} held-out scenes, {size}²"
    row(DEPTH_REPO, f"Spearman with the true inverse depth, {where}", got["spearman"], f">= {DEPTH_SPEARMAN}",
        got["spearman"] >= DEPTH_SPEARMAN)
    row(DEPTH_REPO, f"Pearson with the true inverse depth, {where}", got["pearson"], "(shown)", True)
    row(DEPTH_REPO, f"14-px patch-grid energy, {where}", got["grid"], f"<= {GRID_ENERGY}", got["grid"] <= GRID_ENERGY)
    row(DEPTH_REPO, f"dark frame (ring 6-16 px minus outer 4 px), {where}", got["frame"], f"<= {FRAME_DROP}",
        got["frame"] <= FRAME_DROP)
    start = load_chapter_image("img2img-init", size=(size, size), offline=True)
    own = estimator(start)["depth"]
    energy, drop = grid_energy(estimator, start), frame_drop(own)
    row(DEPTH_REPO, "14-px patch-grid energy, astronaut (ch. 4 start)", energy, f"<= {GRID_ENERGY}",
        energy <= GRID_ENERGY)
    row(DEPTH_REPO, "dark frame, astronaut (ch. 4 start)", drop, f"<= {FRAME_DROP}", drop <= FRAME_DROP)

    pipe = load_control(cache)
    control = load_chapter_image("control", size=(size, size), offline=True)  # another scene's depth map
    follows = correlation(estimator(controlled(pipe, start, control, steps))["depth"], control)
    ignored = correlation(estimator(controlled(pipe, start, control, steps, controlnet_conditioning_scale=0.0))
                          ["depth"], control)
    model = f"{CONTROL_REPO} + SD 1.5 twin"
    what = f"depth of the result vs the control map (control.png stand-in), astronaut start, {steps} steps"
    row(model, f"{what}, scale 0.8", follows, f">= {CONTROL_CORRELATION}", follows >= CONTROL_CORRELATION)
    row(model, f"{what}: gain over scale 0 ({ignored:.2f})", follows - ignored, f">= {CONTROL_GAIN}",
        follows - ignored >= CONTROL_GAIN)
    picture = controlled(pipe, start, own.convert("RGB"), steps)
    kept = correlation(picture, start)
    row(model, "with the start's own depth map: layout correlation with the start", kept, ">= 0.5", kept >= 0.5)
    noise, base = grain(picture), grain(start)
    row(model, f"with the start's own depth map: grain (start {base:.1f})", noise, f"<= {2 * base:.1f}",
        noise <= 2 * base)
    return rows


def measure_built(log=print) -> list:
    """Build the three twins from the committed weights into a temporary cache and measure them (maintainer tool)"""
    import shutil
    import tempfile

    from helpers.twins import twin_root
    from helpers.twins.build import build_cache

    folder = Path(tempfile.mkdtemp(prefix="control-targets-"))
    try:
        build_cache(folder / "hub", twin_root() / "src", repos=[SD15, CONTROL_REPO, DEPTH_REPO], log=lambda *_: None)
        return measure(folder / "hub", log=log)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main(argv=None) -> int:
    """Command line: train depth and/or controlnet (default: both), or measure them (maintainer tool)"""
    parser = argparse.ArgumentParser(prog="python -m tools.train_control", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="name",
                        help="depth, controlnet (default: both), or measure: print the targets table")
    parser.add_argument("--steps", type=int, default=None, help="override the step count")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"weights folder (default: {WEIGHTS}): the ControlNet learns beside the SD 1.5 UNet "
                        "there (e.g. one `python -m tools.train_twins --out` retrained), and both files are written "
                        "there")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in (*FILES, "measure")]
    if unknown:
        parser.error(f"unknown name {', '.join(unknown)}; choose from {', '.join(FILES)} or measure")
    import torch

    torch.set_num_threads(1)  # tiny models: more threads gain nothing on a shared machine
    if args.out is not None and args.names != ["measure"]:
        from helpers.twins import parts

        args.out.mkdir(parents=True, exist_ok=True)
        if (args.out / "sd15-unet.safetensors").is_file():
            parts.WEIGHTS = args.out  # parts.taught() reads the SD 1.5 UNet from here at training time
        if "controlnet" in (args.names or FILES):
            print(f"the ControlNet learns beside {parts.WEIGHTS / 'sd15-unet.safetensors'}")
    if args.names == ["measure"]:
        print("| model | target | value | threshold | met |\n|---|---|---|---|---|")
        return 0 if all(row.ok for row in measure_built()) else 1
    for name in args.names or list(FILES):
        start = time.time()
        model = train_depth(args.steps) if name == "depth" else train_controlnet(args.steps)
        path = save(model, name, args.out)
        print(f"{name}: {path.stat().st_size / 1e6:.2f} MB in {time.time() - start:.0f} s -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
