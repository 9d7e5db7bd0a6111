"""Train the twins' UNets into small denoisers of photos, so that their pictures show each lesson's mechanism.

Maintainer tool: `python -m tools.train_twins [name ...]` rewrites `helpers/twins/weights/<name>.safetensors`.
Everything is seeded; a run on another machine gives nearly the same weights, and the builder only ever loads the
committed files, so every machine builds identical twins without training.

The UNets learn from crops of scikit-image's sample photos and of random shapes, never from the pictures the
chapters start from (astronaut, chelsea the cat, coffee): those measure the twins. Most recipes see random text
and image conditioning, so it ends up barely moving their output. The recipes with `word_steps` instead learn a few
words (tools/twin_words.py) from their first step: the prompt is encoded by the twin's own text encoder, exactly as
its pipeline encodes it, and the picture to denoise carries the signatures of the learned words in it. Other words,
random words of CLIP's vocabulary among them, carry none, so the twins learn to ignore them.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

from helpers.twins.parts import WEIGHTS

# scikit-image's bundled photos the twins learn from; the chapters' own start pictures are left out on purpose
TRAIN_PHOTOS = ("rocket", "hubble_deep_field", "immunohistochemistry", "retina", "colorwheel", "camera", "brick",
                "grass", "moon", "clock", "coins", "cell", "page")
HELD_OUT = ("astronaut", "chelsea", "cat", "coffee")


@dataclass(frozen=True)
class Recipe:
    """How one shared UNet is made and taught."""

    repo: str  # the checkpoint whose twin architecture, scheduler and VAE it uses
    task: str  # denoise, inpaint_sd, inpaint_kandinsky, upscale_x4, upscale_x2
    steps: int
    word_steps: int = 0  # second phase: learn the words of tools/twin_words.py from real prompt encodings
    word_scale: dict | None = None  # word -> times its amount in tools/twin_words.py (default 1)
    word_shift: bool = False  # a word shifts every pixel by the same step instead of blending it towards the colour
    pooled_gain: float = 1.0  # times the pooled prompt's weights into the time embedding, set after training


# SD 1.5 draws the book's prompt from noise at guidance 7.5, which multiplies a word's change 7.5 times. Learned as
# full-amount blends, the words turned that picture into a flat cast with no layout left for chapter 3's chains. So
# its words shift every pixel (the layout stays) by less, each by what makes it show at the default guidance:
# "cold color palette" shifts blue strongly at 0.4, the one-token "jungle" and the pale "watercolor" need more.
SD15_WORD_SCALE = {"jungle": 0.55, "cold color palette": 0.4, "castle": 0.5, "watercolor": 1.6, "sunset": 0.4,
                   "night": 0.4}

# Set by hand after training, on the weights through which a UNet reads the pooled prompt (docs/twins.md, "Six
# words"). The refiner's pooled prompt is the end-of-text token's vector, and an unknown word moves that token on, so
# it changes although the word's own rows are zero (ΔE 5.1): its words reach it mostly through cross-attention, so
# half its reading of the pooled prompt brings unknown words to 2.2 and keeps every learned word above 22. SD 1.5
# reads its words mostly through the pooled prompt; 1.3 times that lifts img2img at strength 0.8, where the start
# photo's colours survive, from ΔE 18–19 to 21–23 for jungle, cold color palette and night.
REFINER_POOLED_GAIN = 0.5
SD15_POOLED_GAIN = 1.3

# one recipe per committed weight file; helpers.twins.parts.TAUGHT says which twins load it
RECIPES: dict[str, Recipe] = {
    "sd15-unet": Recipe("stable-diffusion-v1-5/stable-diffusion-v1-5", "denoise", 1500, 2000, SD15_WORD_SCALE, True,
                        pooled_gain=SD15_POOLED_GAIN),
    "sdxl-refiner-unet": Recipe("stabilityai/stable-diffusion-xl-refiner-1.0", "denoise", 1500, 2000,
                                pooled_gain=REFINER_POOLED_GAIN),
    "kandinsky-unet": Recipe("kandinsky-community/kandinsky-2-2-decoder", "denoise", 1500),
    "sd15-inpaint-unet": Recipe("stable-diffusion-v1-5/stable-diffusion-inpainting", "inpaint_sd", 3000, 2000),
    "sdxl-inpaint-unet": Recipe("diffusers/stable-diffusion-xl-1.0-inpainting-0.1", "inpaint_sd", 3000),
    "kandinsky-inpaint-unet": Recipe("kandinsky-community/kandinsky-2-2-decoder-inpaint", "inpaint_kandinsky", 1500),
    "x4-unet": Recipe("stabilityai/stable-diffusion-x4-upscaler", "upscale_x4", 1500),
    "x2-unet": Recipe("stabilityai/sd-x2-latent-upscaler", "upscale_x2", 1500),
}



# ---------------------------------------------------------------- pictures to learn from


class Pictures:
    """Seeded random crops of the training photos and of random shapes, as [-1, 1] tensors."""

    def __init__(self, seed: int):
        import numpy as np
        from PIL import Image
        from skimage import data

        self.rng = np.random.RandomState(seed)
        self.photos = []
        for name in TRAIN_PHOTOS:
            a = getattr(data, name)()
            a = np.stack([a] * 3, -1) if a.ndim == 2 else a[..., :3]
            image = Image.fromarray(a.astype(np.uint8))
            for scale in (1.0, 0.6):  # two scales: the longer side 512 and about 300 pixels
                side = 512 * scale / max(image.size)
                size = (max(CROP + 32, round(image.size[0] * side)), max(CROP + 32, round(image.size[1] * side)))
                self.photos.append(np.asarray(image.resize(size, Image.LANCZOS)))

    def _shapes(self, size: int):
        import numpy as np
        from PIL import Image, ImageDraw, ImageFilter

        rng = self.rng
        image = Image.new("RGB", (size, size), tuple(int(v) for v in rng.randint(0, 256, 3)))
        draw = ImageDraw.Draw(image)
        for _ in range(rng.randint(2, 9)):
            x, y = rng.randint(-size // 4, size, 2)
            w, h = rng.randint(size // 8, size, 2)
            shape = draw.ellipse if rng.rand() < 0.5 else draw.rectangle
            shape([int(x), int(y), int(x + w), int(y + h)], fill=tuple(int(v) for v in rng.randint(0, 256, 3)))
        return np.asarray(image.filter(ImageFilter.GaussianBlur(float(rng.rand() * 2))))

    def batch(self, n: int, size: int):
        """n crops of size x size pixels, shape (n, 3, size, size), values in [-1, 1]."""
        import numpy as np
        import torch

        rng, out = self.rng, []
        for _ in range(n):
            if rng.rand() < 0.3:
                crop = self._shapes(size)
            else:
                photo = self.photos[rng.randint(len(self.photos))]
                top = rng.randint(0, photo.shape[0] - size + 1)
                left = rng.randint(0, photo.shape[1] - size + 1)
                crop = photo[top:top + size, left:left + size]
                if rng.rand() < 0.5:
                    crop = crop[:, ::-1]
                crop = crop[..., rng.permutation(3)]  # colours the grey and single-hue photos lack
            out.append(crop)
        return torch.from_numpy(np.stack(out).astype(np.float32)).permute(0, 3, 1, 2) / 127.5 - 1.0

    def masks(self, n: int, size: int):
        """n random boxes or ellipses covering 5-40 % of the picture, 1 = repaint, shape (n, 1, size, size)."""
        import numpy as np
        import torch
        from PIL import Image, ImageDraw

        rng, out = self.rng, []
        for _ in range(n):
            mask = Image.new("L", (size, size), 0)
            w, h = (rng.uniform(0.25, 0.6, 2) * size).astype(int)
            x, y = rng.randint(0, size - w), rng.randint(0, size - h)
            (ImageDraw.Draw(mask).ellipse if rng.rand() < 0.5 else ImageDraw.Draw(mask).rectangle)(
                [int(x), int(y), int(x + w), int(y + h)], fill=255)
            out.append(np.asarray(mask, dtype=np.float32) / 255.0)
        return torch.from_numpy(np.stack(out))[:, None]


# ---------------------------------------------------------------- the twins' parts


def _parts(recipe: Recipe):
    """The twin's freshly built UNet, VAE and scheduler for a recipe's repo."""
    from helpers.twins import parts
    from helpers.twins.facts import FACTS

    repo = recipe.repo
    facts = FACTS[repo]
    sched = parts.scheduler(facts["scheduler"])
    if recipe.task in ("denoise", "inpaint_sd") and "xl" in repo:
        unet = parts.sdxl_unet(repo, facts["unet_in"], parts.TEXT_DIM * (2 if recipe.task == "inpaint_sd" else 1),
                               aesthetics=recipe.task == "denoise")
        return unet, parts.vae("sdxl-vae", scaling_factor=0.13025, force_upcast=True), sched
    if "kandinsky" in repo:
        return parts.kandinsky_unet(repo, facts["unet_in"]), parts.movq(), sched
    if recipe.task == "upscale_x4":
        return parts.x4_unet(repo), parts.vae(f"{repo}/vae", blocks=3, scaling_factor=0.08333), sched
    if recipe.task == "upscale_x2":
        return parts.x2_unet(repo), parts.vae("sd15-vae"), sched
    return parts.sd_unet(f"{repo}/unet", in_channels=facts["unet_in"]), parts.vae("sd15-vae"), sched


def _encode(vae, pixels):
    """Latents as the pipelines feed them to the UNet (scaled by the VAE's scaling factor)."""
    if hasattr(vae, "quantize"):  # Kandinsky's MoVQ: no scaling factor
        return vae.encode(pixels).latents
    return vae.encode(pixels).latent_dist.mode() * vae.config.scaling_factor


def _conditioning(unet, n: int, gen):
    """Random prompt or image conditioning of the shapes this UNet expects: it learns to barely use it."""
    import torch

    cfg = unet.config
    scale = torch.rand(n, 1, 1, generator=gen) * 2.5 + 0.3
    kwargs = {}
    if cfg.addition_embed_type == "image":  # Kandinsky: everything comes from the prior's image embedding
        kwargs["encoder_hidden_states"] = None
        kwargs["added_cond_kwargs"] = {"image_embeds": torch.randn(n, cfg.encoder_hid_dim, generator=gen)}
        return kwargs
    kwargs["encoder_hidden_states"] = torch.randn(n, 77, cfg.cross_attention_dim, generator=gen) * scale
    if cfg.addition_embed_type == "text_time":  # SDXL: pooled text plus (size, crop, score or target size) ids
        from helpers.twins.parts import TEXT_DIM

        n_ids = (cfg.projection_class_embeddings_input_dim - TEXT_DIM) // cfg.addition_time_embed_dim
        sizes = torch.tensor([512.0, 768.0, 1024.0])[torch.randint(0, 3, (n, 2), generator=gen)]
        last = torch.where(torch.rand(n, 1, generator=gen) < 0.5, 6.0, 2.5) if n_ids == 5 else sizes
        ids = torch.cat([sizes, torch.zeros(n, 2), last], 1)  # 5 ids for the refiner, 6 for SDXL inpainting
        kwargs["added_cond_kwargs"] = {"text_embeds": torch.randn(n, TEXT_DIM, generator=gen), "time_ids": ids}
    return kwargs


class Prompts:
    """Random training prompts, encoded by a twin's own text encoder exactly as its pipeline encodes them."""

    def __init__(self, recipe: Recipe, seed: int):
        import tempfile

        import numpy as np

        from helpers.twins import parts, twin_root
        from helpers.twins.build import make_tokenizers
        from helpers.twins.recipes import pipeline_for
        from tools.twin_words import plain_vocabulary

        def text_parts_only(repo, folder):  # the builder's current text encoders (parts.WORD_TOKENS included)
            if folder == "text_encoder":
                return parts.text_encoder("CLIPTextModel", parts.CLIP_L)
            if folder == "text_encoder_2":
                return parts.text_encoder("CLIPTextModelWithProjection", parts.CLIP_BIGG, pad_token_id=0)
            return None  # no UNet, VAE or safety checker: a UNet of another shape may not fit the committed file

        work = Path(tempfile.mkdtemp(prefix="twin-tokenizers-"))
        self.pipe = pipeline_for(recipe.repo, *make_tokenizers(twin_root() / "src", work), part=text_parts_only)
        self.xl = hasattr(self.pipe, "text_encoder_2")
        tokenizer = self.pipe.tokenizer_2 if self.xl else self.pipe.tokenizer
        self.tokenizer = tokenizer
        self.rng = np.random.RandomState(seed + 7)
        self.vocabulary = plain_vocabulary(tokenizer, seed=seed)
        self.empty = self._encode([""])[0][0] if not self.xl else None

    def _encode(self, prompts):
        import torch

        with torch.no_grad():
            out = self.pipe.encode_prompt(prompt=prompts, device="cpu", num_images_per_prompt=1,
                                          do_classifier_free_guidance=False)
        return out[0], (out[2] if self.xl else None)

    def _positions(self, ids, word: str):
        """Token positions of `word` in one prompt's ids."""
        want = self.tokenizer(word, add_special_tokens=False).input_ids
        ids = ids.tolist()
        return [i + k for i in range(len(ids) - len(want) + 1) if ids[i:i + len(want)] == want
                for k in range(len(want))]

    def batch(self, n: int):
        """Encoded prompts for n samples, the learned words of each, and each word's strength."""
        from tools.twin_words import sample_prompt

        texts, words, amounts = [], [], []
        for _ in range(n):
            text, chosen = sample_prompt(self.rng, self.vocabulary)
            texts.append(text)
            words.append(chosen)
            amounts.append({})
        embeds, pooled = self._encode(texts)
        if not self.xl:  # compel's weighting moves a word's own rows away from the empty prompt's: learn to follow
            ids = self.tokenizer(texts, padding="max_length", max_length=77, truncation=True,
                                 return_tensors="pt").input_ids
            for i, chosen in enumerate(words):
                if chosen and self.rng.rand() < 0.4:
                    word = chosen[self.rng.randint(len(chosen))]
                    weight = float(self.rng.uniform(0.4, 1.6))
                    for pos in self._positions(ids[i], word):
                        embeds[i, pos] = self.empty[pos] + weight * (embeds[i, pos] - self.empty[pos])
                    amounts[i][word] = weight
        return embeds, pooled, words, amounts


def _noisy(sched, z0, gen):
    """DDPM-form noising x_t = sqrt(abar) z0 + sqrt(1 - abar) eps at a random step t, as every scheduler here uses."""
    import torch

    abar_all = sched.alphas_cumprod
    t = torch.randint(0, len(abar_all), (z0.shape[0],), generator=gen)
    abar = abar_all[t].float().view(-1, 1, 1, 1)
    eps = torch.randn(z0.shape, generator=gen)
    return abar.sqrt() * z0 + (1 - abar).sqrt() * eps, t, eps, abar


CROP = 128  # pixels per side of each training crop
X0_WEIGHT_CAP = 10.0
WORD_X0_WEIGHT_CAP = 30.0
WORD_EDIT_SHARE = 0.3  # of the samples with learned words
WORD_EDIT_FROM = 300  # timestep: below it x_t always shows the target picture, so the last steps only sharpen
WORD_LR = 2e-3


def _loss(recipe: Recipe, unet, vae, sched, pictures: Pictures, gen, batch: int, prompts: Prompts | None = None):
    """One training batch's loss for the recipe's task; with `prompts`, the words' phase."""
    import torch
    import torch.nn.functional as F

    if prompts is not None:
        return _word_loss(recipe, unet, vae, sched, pictures, gen, batch, prompts)
    with torch.no_grad():
        if recipe.task == "upscale_x2":
            pixels = pictures.batch(batch, CROP)
            small = F.interpolate(pixels, scale_factor=0.5, mode="area")
            z0, low = _encode(vae, pixels), _encode(vae, small)
        elif recipe.task == "upscale_x4":
            pixels = pictures.batch(batch, CROP)
            z0 = _encode(vae, pixels)
            low = F.interpolate(pixels, scale_factor=0.25, mode="area")
        else:
            pixels = pictures.batch(batch, CROP)
            z0 = _encode(vae, pixels)
    cond = _conditioning(unet, batch, gen)
    if recipe.task == "upscale_x2":
        # the pipeline's Karras preconditioning: denoised = x / (s^2 + 1) + s / sqrt(s^2 + 1) * F(x / sqrt(s^2 + 1))
        sigmas = sched.sigmas[:-1]
        log_lo, log_hi = sigmas.min().log(), sigmas.max().log()
        sigma = (log_lo + (log_hi - log_lo) * torch.rand(batch, generator=gen)).exp().view(-1, 1, 1, 1)
        x = z0 + sigma * torch.randn(z0.shape, generator=gen)
        model_in = torch.cat([x / (sigma**2 + 1).sqrt(), F.interpolate(low, scale_factor=2, mode="nearest")], 1)
        pooled = torch.randn(batch, unet.config.time_cond_proj_dim - 128, generator=gen)
        noise_level = torch.cat([torch.ones(batch, 64), torch.zeros(batch, 64)], 1)
        out = unet(model_in, sigma.flatten().log() * 0.25, encoder_hidden_states=cond["encoder_hidden_states"],
                   timestep_cond=torch.cat([noise_level, pooled], 1)).sample[:, :-1]
        denoised = x / (sigma**2 + 1) + sigma / (sigma**2 + 1).sqrt() * out
        return F.mse_loss(denoised, z0)
    x_t, t, eps, abar = _noisy(sched, z0, gen)
    target = eps
    inpainting = recipe.task.startswith("inpaint")
    if inpainting:
        # Sampling starts from pure noise, so at high noise the picture in x_t is the UNet's own earlier guess, not
        # the kept area. Half the high-noise samples therefore carry another crop's latents in x_t, with the target
        # still pointing at this crop: the UNet learns to take the kept area from the masked picture's latents.
        swap = ((t >= 500) & (torch.rand(batch, generator=gen) < 0.5)).view(-1, 1, 1, 1)
        x_t = torch.where(swap, abar.sqrt() * z0.roll(1, 0) + (1 - abar).sqrt() * eps, x_t)
        target = (x_t - abar.sqrt() * z0) / (1 - abar).sqrt()
    if recipe.task == "upscale_x4":
        level = torch.randint(0, 120, (batch,), generator=gen)
        low_abar = low_res_alphas_cumprod()[level].view(-1, 1, 1, 1)
        low = low_abar.sqrt() * low + (1 - low_abar).sqrt() * torch.randn(low.shape, generator=gen)
        model_in = torch.cat([x_t, low], 1)
        cond["class_labels"] = level
        target = abar.sqrt() * eps - (1 - abar).sqrt() * z0  # v-prediction
    elif recipe.task == "inpaint_sd":
        mask = pictures.masks(batch, CROP)
        with torch.no_grad():
            masked = _encode(vae, pixels * (mask < 0.5))
        small_mask = F.interpolate(mask, size=z0.shape[-2:])
        model_in = torch.cat([x_t, small_mask, masked], 1)
    elif recipe.task == "inpaint_kandinsky":
        keep = 1 - (F.interpolate(pictures.masks(batch, CROP), size=z0.shape[-2:], mode="nearest") >= 0.5).float()
        keep = 1 - F.max_pool2d(1 - keep, 3, stride=1, padding=1)  # the pipeline's prepare_mask widens the hole
        model_in = torch.cat([x_t, z0 * keep, keep], 1)
    else:
        model_in = x_t
    out = unet(model_in, t, **cond).sample[:, :4]
    if not inpainting:
        return F.mse_loss(out, target)
    # weight each sample by 1 + its x0 error factor (1 - abar) / abar, capped: plain noise-prediction loss barely
    # notices errors at high noise, yet they decide whether the kept area is copied; the cap keeps the low-noise
    # steps, which remove the last grain, in the loss too
    weight = 1 + ((1 - abar) / abar).clamp(max=X0_WEIGHT_CAP)
    return (weight * (out - target) ** 2).mean() / weight.mean()


def _word_loss(recipe: Recipe, unet, vae, sched, pictures: Pictures, gen, batch: int, prompts: Prompts):
    """One batch of the words' phase: the picture carries the signatures of the prompt's learned words."""
    import torch
    import torch.nn.functional as F

    from tools.twin_words import signature

    embeds, pooled, words, amounts = prompts.batch(batch)
    pixels = pictures.batch(batch, CROP)
    marked = torch.cat([signature(pixels[i:i + 1], words[i], amounts[i], recipe.word_scale, recipe.word_shift)
                        for i in range(batch)])
    cond = _conditioning(unet, batch, gen)
    cond["encoder_hidden_states"] = embeds
    if pooled is not None:
        cond["added_cond_kwargs"]["text_embeds"] = pooled
    inpainting = recipe.task == "inpaint_sd"
    if inpainting:  # the words describe what fills the hole: the kept area stays as it is
        mask = pictures.masks(batch, CROP)
        with torch.no_grad():
            masked = _encode(vae, pixels * (mask < 0.5))
            z0 = _encode(vae, pixels * (1 - mask) + marked * mask)
    else:
        with torch.no_grad():
            z0 = _encode(vae, marked)
    x_t, t, eps, abar = _noisy(sched, z0, gen)
    # A share of the samples with learned words (WORD_EDIT_SHARE) carry the picture without the words' signatures in
    # x_t, while the target still points at the picture with them: a denoiser that only guessed the colour from x_t
    # would learn that the words change nothing once the picture shows through the noise. So the UNet learns to pull
    # what it sees towards the words' colours at every noise level, as a prompt steers a real model's every step.
    with torch.no_grad():
        plain = _encode(vae, pixels)
    edit = torch.tensor([bool(w) for w in words]) & (torch.rand(batch, generator=gen) < WORD_EDIT_SHARE)
    edit = (edit & (t >= WORD_EDIT_FROM)).view(-1, 1, 1, 1)
    x_t = torch.where(edit, abar.sqrt() * plain + (1 - abar).sqrt() * eps, x_t)
    target = (x_t - abar.sqrt() * z0) / (1 - abar).sqrt()
    if inpainting:
        swap = ((t >= 500) & (torch.rand(batch, generator=gen) < 0.5)).view(-1, 1, 1, 1)
        x_t = torch.where(swap, abar.sqrt() * z0.roll(1, 0) + (1 - abar).sqrt() * eps, x_t)
        target = (x_t - abar.sqrt() * z0) / (1 - abar).sqrt()
        model_in = torch.cat([x_t, F.interpolate(mask, size=z0.shape[-2:]), masked], 1)
    else:
        model_in = x_t
    out = unet(model_in, t, **cond).sample[:, :4]
    # weigh errors by how much they move the predicted picture, capped higher than for inpainting: a word's colour
    # is decided at high noise, where plain noise-prediction loss hardly notices it
    weight = 1 + ((1 - abar) / abar).clamp(max=WORD_X0_WEIGHT_CAP)
    return (weight * (out - target) ** 2).mean() / weight.mean()


def low_res_alphas_cumprod():
    """Cumulative alphas of the x4 upscaler's low-resolution noise scheduler (maintainer tool)."""
    from helpers.twins.facts import FACTS
    from helpers.twins.parts import scheduler

    return scheduler(FACTS["stabilityai/stable-diffusion-x4-upscaler"]["low_res_scheduler"]).alphas_cumprod


def _phase(name, recipe, unet, vae, sched, pictures, gen, steps, batch, max_lr, prompts=None, log=print):
    """Run one training phase of `steps` batches on `unet`."""
    import torch

    opt = torch.optim.AdamW(unet.parameters(), lr=max_lr, weight_decay=0.0)
    lr = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=steps, pct_start=0.05)
    start, running = time.time(), None
    label = f"{name} words" if prompts is not None else name
    for step in range(steps):
        value = fit_step(_loss(recipe, unet, vae, sched, pictures, gen, batch, prompts), opt, lr, unet.parameters())
        running = value if running is None else 0.98 * running + 0.02 * value
        if step % 250 == 0 or step == steps - 1:
            log(f"  {label} step {step:5d}  loss {running:.4f}  {time.time() - start:5.0f} s")


def train(name: str, steps: int | None = None, batch: int = 24, seed: int = 0, log=print,
          start: Path | None = None, word_steps: int | None = None):
    """Train one recipe's UNet from its seeded start, or from phase 1's weights in `start` (maintainer tool)."""
    import torch

    recipe = RECIPES[name]
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    unet, vae, sched = _parts(recipe)
    unet.train()
    vae.requires_grad_(False)
    pictures = Pictures(seed)
    word_steps = recipe.word_steps if word_steps is None else word_steps
    if start is None and word_steps:  # the words from the first step: conditioning it learned to ignore stays ignored
        _phase(name, recipe, unet, vae, sched, pictures, gen, word_steps, batch, 2e-3, Prompts(recipe, seed), log=log)
        return scale_pooled(unet, recipe.pooled_gain).eval()
    if start is None:
        _phase(name, recipe, unet, vae, sched, pictures, gen, steps or recipe.steps, batch, 2e-3, log=log)
    else:  # phase 1 is done: go on from its weights
        from safetensors.torch import load_file

        missing, unexpected = unet.load_state_dict({k: v.float() for k, v in load_file(start).items()}, strict=False)
        if unexpected or any(not k.startswith("add_embedding.") for k in missing):
            raise RuntimeError(f"{start} does not fit {name}'s UNet: missing {missing[:3]}, "
                               f"unexpected {unexpected[:3]}")
    if word_steps:
        torch.manual_seed(seed + 1)
        gen = torch.Generator().manual_seed(seed + 1)
        _phase(name, recipe, unet, vae, sched, Pictures(seed + 1), gen, word_steps, batch, WORD_LR,
               Prompts(recipe, seed), log=log)
    return scale_pooled(unet, recipe.pooled_gain).eval()


def scale_pooled(unet, gain: float):
    """Scale what a UNet adds to its time embedding from the pooled prompt by `gain` (maintainer tool)."""
    import torch

    from helpers.twins.parts import TEXT_DIM

    if gain == 1.0:
        return unet
    with torch.no_grad():
        if unet.config.addition_embed_type == "text_time":  # SDXL: add_embedding reads concat(pooled, time ids)
            unet.add_embedding.linear_1.weight[:, :TEXT_DIM] *= gain
        elif unet.config.addition_embed_type == "text":  # SD 1.x twins: TextTimeEmbedding ends in a layer norm
            unet.add_embedding.norm2.weight *= gain
            unet.add_embedding.norm2.bias *= gain
    return unet


def fit_step(loss, opt, lr, params) -> float:
    """One optimiser step on `loss`, gradients clipped to norm 1; return the loss's value (maintainer tool)."""
    import torch

    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    lr.step()
    return loss.item()


def write_fp16(model, path: Path, metadata: dict) -> Path:
    """Write a model's weights to `path` as fp16 safetensors, making its folder (maintainer tool)."""
    import torch
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to(torch.float16).contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, path, metadata=metadata)
    return path


def save(unet, name: str, folder: Path | None = None) -> Path:
    """Write a UNet's weights as fp16 safetensors, by default into the committed weights folder (maintainer tool)."""
    return write_fp16(unet, (folder or WEIGHTS) / f"{name}.safetensors", {"recipe": name, "repo": RECIPES[name].repo})


def main(argv=None) -> int:
    """Command line: train the named recipes (default: all) and write their weights (maintainer tool)."""
    parser = argparse.ArgumentParser(prog="python -m tools.train_twins", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="name",
                        help=f"recipes to train: {', '.join(RECIPES)} (default: all)")
    parser.add_argument("--steps", type=int, default=None, help="override every recipe's step count")
    parser.add_argument("--out", type=Path, default=WEIGHTS, help=f"folder for the weights (default: {WEIGHTS})")
    parser.add_argument("--start", type=Path, default=None,
                        help="skip phase 1: go on from the weights in this folder (<name>.safetensors)")
    parser.add_argument("--word-steps", type=int, default=None, help="override the words phase's step count")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in RECIPES]
    if unknown:
        parser.error(f"unknown recipe {', '.join(unknown)}; choose from {', '.join(RECIPES)}")
    for name in args.names or list(RECIPES):
        start = time.time()
        start_file = args.start / f"{name}.safetensors" if args.start else None
        path = save(train(name, args.steps, start=start_file, word_steps=args.word_steps), name, args.out)
        print(f"{name}: {path.stat().st_size / 1e6:.2f} MB in {time.time() - start:.0f} s -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
