"""The few words the twins learn, each with a plain visual signature, and the prompts they learn them from.

Maintainer tool, used by tools/train_twins.py (to teach) and tools/twin_targets.py and the tests (to measure).
Each word is taken from the chapters' own prompts, negative prompts and try-it lists. Its signature is a colour
change of the whole picture, because the twins' autoencoders carry colour and layout but no fine texture. A twin
learns it in one of two forms: a shift of every pixel by the same step towards the colour (the picture keeps its
layout and contrast; SD 1.5, which draws from noise and hands its pictures down chapter 3's chains), or a blend of
every pixel part of the way to the colour (the refiner and SD 1.5 inpainting). A prompt with several words gets
their changes one after another, in the order below. (A pull towards grey, "muted colors", is left out: guidance
multiplies a word's pull, and multiplied it overshoots grey and turns the hues around.)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Word:
    """One learned word (or phrase) and what it does to a picture."""

    text: str
    colour: tuple[float, float, float]  # RGB in 0..1 the picture is pulled towards
    amount: float  # how far: 0 = unchanged, 1 = the plain colour


WORDS = (
    Word("jungle", (0.10, 0.48, 0.12), 0.5),  # ch. 1-4 prompt, ch. 2 negative prompt, compel's jungle++
    Word("cold color palette", (0.18, 0.38, 0.85), 0.45),  # ch. 1-4 prompt
    Word("castle", (0.86, 0.64, 0.28), 0.6),  # ch. 5 prompt and its negative prompt 'castle, tower'
    Word("watercolor", (0.97, 0.94, 0.88), 0.6),  # ch. 4 blend ("watercolor painting of a jungle")
    Word("sunset", (1.00, 0.45, 0.10), 0.5),  # try-it contrast word: warm against the cold palette
    Word("night", (0.03, 0.05, 0.20), 0.55),  # try-it contrast word: dark
)
# How often a training prompt holds each word. A one-token word carries less of a signal than a phrase's two or
# three tokens, so it comes more often; about one learned word per prompt keeps each word's own change clear.
WORD_SHARE = {"jungle": 0.22, "cold color palette": 0.12, "castle": 0.22, "watercolor": 0.2, "sunset": 0.22,
              "night": 0.15}
UNKNOWN = ("zebra", "violin", "origami")  # never in a training prompt: they must leave the picture alone

# words that fill the training prompts without a signature: the chapters' other words and their neighbours
FILLERS = (
    "astronaut", "a", "in", "of", "the", "with", "detailed", "highly detailed", "8k", "concept art",
    "digital painting", "elven", "inspired by lord of the rings", "ugly", "deformed", "disfigured", "poor details",
    "bad anatomy", "cute", "adorable", "disney", "pixar", "glowing eyes", "photo", "portrait", "a quiet mountain lake",
    "at sunrise", "tower", "elden ring style", "charliebo artstyle", "pixelartstyle", "a man", "a woman", "a dog",
    "trees", "sky", "city", "street", "car", "flowers", "house", "painting", "art", "realistic", "beautiful",
    "standing", "sitting", "close up", "wide angle", "masterpiece", "best quality", "blurry", "lowres",
)


def signature(pixels, words, amounts=None, scale=None, shift: bool = False):
    """`pixels` (n, 3, h, w) in [-1, 1] with each word's colour change applied in WORDS order (maintainer tool).

    `amounts` and `scale` multiply a word's amount (compel's weight on it, the twin's own scale); `shift` moves
    every pixel by the same step instead of blending it towards the colour.
    """
    import torch

    x = (pixels + 1) / 2
    for word in WORDS:
        if word.text not in words:
            continue
        amount = word.amount * (scale or {}).get(word.text, 1.0) * (amounts or {}).get(word.text, 1.0)
        colour = torch.tensor(word.colour, dtype=x.dtype).view(1, 3, 1, 1)
        if shift:  # the same step for every pixel: the picture keeps its layout and contrast
            x = x + amount * (colour - 0.5)
        else:  # a blend: every pixel moves part of the way to the colour, so the picture also loses contrast
            x = x + amount * (colour - x)
    return (x.clamp(0, 1) * 2 - 1).to(pixels.dtype)


def sample_prompt(rng, vocab_tokens=()):
    """A random training prompt and the learned words in it; about one in five is empty (maintainer tool)."""
    if rng.rand() < 0.2:
        return "", ()
    parts = [FILLERS[i] for i in rng.choice(len(FILLERS), rng.randint(0, 5), replace=False)]
    if vocab_tokens and rng.rand() < 0.5:  # any other word of CLIP's vocabulary means nothing to the twins
        parts += [vocab_tokens[i] for i in rng.randint(0, len(vocab_tokens), rng.randint(1, 4))]
    chosen = tuple(w.text for w in WORDS if rng.rand() < WORD_SHARE[w.text])
    parts += list(chosen)
    rng.shuffle(parts)
    return (", " if rng.rand() < 0.5 else " ").join(parts), chosen


def plain_vocabulary(tokenizer, n: int = 2000, seed: int = 0):
    """n whole words from the tokenizer's vocabulary that are not learned or test words (maintainer tool)."""
    import numpy as np

    avoid = {t for w in WORDS for t in w.text.split()} | set(UNKNOWN) | {"color", "colors", "palette"}
    words = sorted(k[:-4] for k in tokenizer.get_vocab() if k.endswith("</w>") and k[:-4].isalpha()
                   and len(k) > 6 and k[:-4] not in avoid)
    rng = np.random.RandomState(seed)
    return tuple(words[i] for i in rng.choice(len(words), n, replace=False))


def mean_lab(image):
    """Mean colour of a PIL picture in CIELAB (maintainer tool)."""
    import numpy as np
    from skimage.color import rgb2lab

    return rgb2lab(np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0).reshape(-1, 3).mean(0)


def delta_e(a, b, mask=None):
    """CIE76 distance between the mean colours of two pictures, inside `mask` (white) if given (maintainer tool)."""
    import numpy as np
    from skimage.color import rgb2lab

    la = rgb2lab(np.asarray(a.convert("RGB"), dtype=np.float64) / 255.0)
    lb = rgb2lab(np.asarray(b.convert("RGB"), dtype=np.float64) / 255.0)
    if mask is not None:
        keep = np.asarray(mask.convert("L").resize(a.size)) >= 128
        la, lb = la[keep], lb[keep]
    return float(np.linalg.norm(la.reshape(-1, 3).mean(0) - lb.reshape(-1, 3).mean(0)))
