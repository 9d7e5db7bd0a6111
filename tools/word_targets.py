"""Measure what the twins learned of words: each learned word moves the picture, unknown words do not, and
guidance, negative prompts and compel's weights act through them.

Maintainer tool, called by tools/twin_targets.py (group `words`). ΔE is the CIE76 distance between two pictures'
mean colours in CIELAB. Every picture starts from a held-out photo or from seeds the targets use nowhere else.
"""

from __future__ import annotations

from helpers.compare import greenness
from tools.twin_targets import Row
from tools.twin_words import UNKNOWN, WORDS, delta_e

SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"
REFINER = "stabilityai/stable-diffusion-xl-refiner-1.0"
SD15_INPAINT = "stable-diffusion-v1-5/stable-diffusion-inpainting"
BOOK_PROMPT = "Astronaut in a jungle, cold color palette, muted colors, detailed, 8k"  # ch. 1, 2 and 4
CASTLE_PROMPT = ("concept art digital painting of an elven castle, inspired by lord of the rings, highly detailed, "
                 "8k")  # ch. 5
BASE = "a photo of an astronaut"
SEEDS = (11, 12, 13)
WORD_DE = 20.0
UNKNOWN_DE = 5.0
NEGATIVE_DE = 10.0
GUIDANCE_TILES_DE = 10.0
COLOUR_WORDS = tuple(w.text for w in WORDS)


def _gen(seed):
    import torch

    return torch.Generator().manual_seed(seed)


def _runs(start, mask, steps: int, size: int):
    """One function per measured pipeline: prompt, seed, extra arguments -> picture (maintainer tool)."""
    import diffusers

    t2i = diffusers.AutoPipelineForText2Image.from_pretrained(SD15)
    img2img = diffusers.AutoPipelineForImage2Image.from_pipe(t2i)
    refiner = diffusers.AutoPipelineForImage2Image.from_pretrained(REFINER)
    inpaint = diffusers.AutoPipelineForInpainting.from_pretrained(SD15_INPAINT)
    for pipe in (t2i, img2img, refiner, inpaint):
        pipe.set_progress_bar_config(disable=True)
    return {
        "SD 1.5 text-to-image": lambda p, s, **k: t2i(p, height=size, width=size, num_inference_steps=steps,
                                                      generator=_gen(s), **k).images[0],
        "SD 1.5 img2img, strength 0.8": lambda p, s, **k: img2img(p, image=start, strength=0.8,
                                                                  num_inference_steps=steps, generator=_gen(s),
                                                                  **k).images[0],
        "SDXL refiner, strength 0.5": lambda p, s, **k: refiner(p, image=start, strength=0.5,
                                                                num_inference_steps=steps, generator=_gen(s),
                                                                **k).images[0],
        "SD 1.5 inpainting, inside the mask": lambda p, s, **k: inpaint(p, image=mask[0], mask_image=mask[1],
                                                                        num_inference_steps=steps,
                                                                        generator=_gen(s), **k).images[0],
    }


def word_rows(start, mask, steps: int = 20, size: int = 512, seeds=SEEDS) -> list[Row]:
    """Learned words move each pipeline's picture by ΔE >= 20, unknown ones by < 5, target 1 (maintainer tool)."""
    rows = []
    for label, run in _runs(start, mask, steps, size).items():
        inside = mask[1] if "inpainting" in label else None
        base = {s: run(BASE, s) for s in seeds}
        for word in COLOUR_WORDS:
            value = min(delta_e(base[s], run(f"{BASE}, {word}", s), inside) for s in seeds)
            rows.append(Row(label, f"ΔE for '{word}' added, least of {len(seeds)} seeds", value, f">= {WORD_DE}",
                            value >= WORD_DE))
        value = max(delta_e(base[s], run(f"{BASE}, {word}", s), inside) for s in seeds for word in UNKNOWN)
        rows.append(Row(label, f"ΔE for an unknown word added ({', '.join(UNKNOWN)}), largest", value,
                        f"< {UNKNOWN_DE}", value < UNKNOWN_DE))
    return rows


def guidance_rows(steps: int = 20, size: int = 512, seeds=(0, 42, 7)) -> list[Row]:
    """ΔE to the guidance-1 picture grows over 3.5, 5, 10; 图3-41 vs 图3-43 >= 10, target 2 (maintainer tool)."""
    import diffusers

    pipe = diffusers.AutoPipelineForText2Image.from_pretrained(SD15)
    pipe.set_progress_bar_config(disable=True)
    rows = []
    for seed in seeds:
        pictures = {g: pipe(BOOK_PROMPT, guidance_scale=g, height=size, width=size, num_inference_steps=steps,
                            generator=_gen(seed)).images[0] for g in (1.0, 3.5, 5.0, 10.0)}
        values = [delta_e(pictures[1.0], pictures[g]) for g in (3.5, 5.0, 10.0)]
        grows = values[0] < values[1] < values[2]
        rows.append(Row(SD15, f"book prompt, seed {seed}: ΔE to guidance 1 at 3.5 / 5 / 10: "
                        f"{' < '.join(f'{v:.1f}' for v in values)}", values[2] - values[0], "grows strictly", grows))
        tiles = delta_e(pictures[3.5], pictures[10.0])
        rows.append(Row(SD15, f"book prompt, seed {seed}: ΔE between 图3-41 (3.5) and 图3-43 (10)", tiles,
                        f">= {GUIDANCE_TILES_DE}", tiles >= GUIDANCE_TILES_DE))
    return rows


def negative_rows(start, mask, steps: int = 20) -> list[Row]:
    """A learned word as negative prompt moves the picture away from it by ΔE >= 10, target 3 (maintainer tool)."""
    import diffusers

    rows = []
    refiner = diffusers.AutoPipelineForImage2Image.from_pretrained(REFINER)
    refiner.set_progress_bar_config(disable=True)
    for strength in (0.3, 0.75):  # ch. 2's two rows
        plain, negative = (refiner(BOOK_PROMPT, negative_prompt=n, image=start, strength=strength,
                                   num_inference_steps=steps, generator=_gen(0)).images[0] for n in (None, "jungle"))
        value = delta_e(plain, negative)
        greener = greenness(plain) - greenness(negative)
        rows.append(Row(REFINER, f"book prompt, strength {strength}: negative_prompt='jungle' vs none, ΔE "
                        f"(less green by {greener:.1f} in -a*)", value, f">= {NEGATIVE_DE}, less green",
                        value >= NEGATIVE_DE and greener > 0))
    inpaint = diffusers.AutoPipelineForInpainting.from_pretrained(SD15_INPAINT)
    inpaint.set_progress_bar_config(disable=True)
    plain, negative = (inpaint(CASTLE_PROMPT, negative_prompt=n, image=mask[0], mask_image=mask[1],
                               num_inference_steps=steps, generator=_gen(0)).images[0]
                       for n in (None, "castle, tower"))
    value = delta_e(plain, negative, mask[1])
    rows.append(Row(SD15_INPAINT, "castle prompt: negative_prompt='castle, tower' vs none, ΔE inside the mask", value,
                    f">= {NEGATIVE_DE}", value >= NEGATIVE_DE))
    return rows


def compel_rows(start, steps: int = 15) -> list[Row]:
    """jungle-- < jungle and jungle < jungle++ in greenness through compel's embeddings, target 4 (maintainer tool)."""
    import diffusers
    from compel import Compel

    pipe = diffusers.AutoPipelineForImage2Image.from_pretrained(SD15)
    pipe.set_progress_bar_config(disable=True)
    compel = Compel(tokenizer=pipe.tokenizer, text_encoder=pipe.text_encoder)
    negative = compel("ugly, deformed, disfigured, poor details, bad anatomy")
    rows = []
    for seed in (0, 5):
        green = []
        for weighted in ("jungle--", "jungle", "jungle++"):
            embeds = compel(BOOK_PROMPT.replace("jungle", weighted))
            image = pipe(prompt_embeds=embeds, negative_prompt_embeds=negative, image=start,
                         num_inference_steps=steps, generator=_gen(seed)).images[0]
            green.append(greenness(image))
        shown = " / ".join(f"{g:.2f}" for g in green)
        # two rows: `--` (compel blends with a copy of the prompt whose word is masked out) and `++` (compel moves
        # the word's vector further from the empty prompt's, which the twins' text pooling normalises away, so the
        # row asks only that it does not undo the word: docs/twins.md)
        rows.append(Row(SD15, f"compel, seed {seed}: greenness (-a*) for jungle-- / jungle / jungle++: {shown}; "
                        "jungle minus jungle--", green[1] - green[0], "> 0", green[1] > green[0]))
        rows.append(Row(SD15, f"compel, seed {seed}: jungle++ minus jungle", green[2] - green[1], "> -0.5",
                        green[2] > green[1] - 0.5))
    return rows
