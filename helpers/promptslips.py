"""Prompt text that neither diffusers nor compel reads as it was meant, said once where the prompt goes in.

A Chinese keyboard's full-width punctuation in an English prompt (CLIP reads `，` as three rare byte pieces, not a
comma), A1111's prompt editing `[jungle:forest:0.5]` (a switch of words part-way through the steps, which neither
has), an A1111 negative embedding named in the text with none loaded (`EasyNegative` is read as "easy negative"),
a compel weight written as a percentage, `(jungle)150%` (compel reads weight 150, and the % as a word), and a prompt
copied whole from an A1111 picture's page, its "Negative prompt:" and "Steps: 20, Sampler: …" lines included.
helpers.ignored asks for plain prompts, helpers.compelcheck for compel's.
"""

from __future__ import annotations

import re

from helpers.callwarning import warn_call

CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")  # ideographs, kana, hangul
FULL_WIDTH = re.compile(r"[，、。：；！？（）「」『』【】《》“”‘’\u3000]")
PLAIN = str.maketrans({"，": ", ", "、": ", ", "。": ". ", "：": ": ", "；": "; ", "！": "! ", "？": "? ",
                       "（": "(", "）": ")", "\u3000": " "})
EDITING = re.compile(r"\[([^\[\]|:]*):([^\[\]|:]*):\s*(\d*\.?\d+)\]|\[([^\[\]|:]+):\s*(\d*\.?\d+)\]")
NEGATIVE_LINE = re.compile(r"(?:^|\n)\s*Negative prompt:\s*(.*)", re.I)
SETTINGS_LINE = re.compile(r"(?:^|[\n,])\s*Steps:\s*\d+\s*,.*(?:Sampler|CFG scale|Seed):", re.I)
PERCENT = re.compile(r"(\([^()]*\)|\"[^\"]*\")(\d+(?:\.\d+)?)\s*%")
# A1111 textual-inversion embeddings that prompts copied from model pages name (their files' usual names)
NEGATIVE_EMBEDDINGS = ("EasyNegative", "EasyNegativeV2", "badhandv4", "bad-hands-5", "bad_prompt_version2",
                       "ng_deepnegative_v1_75t", "verybadimagenegative_v1.3", "negative_hand-neg", "BadDream",
                       "UnrealisticDream", "FastNegativeV2", "bad-artist", "bad-picture-chill-75v")


def full_width(text: str) -> str | None:
    """A warning for a Chinese keyboard's punctuation in an otherwise English prompt, or None (ch. 1–5)."""
    found = FULL_WIDTH.search(text)
    if not found or CJK.search(text):  # Chinese words too: the Chinese-text warning says what matters
        return None
    plain = re.sub(r" {2,}", " ", text.translate(PLAIN)).strip()
    return (f"the prompt has {found.group(0)!r}, a Chinese keyboard's full-width punctuation: CLIP's tokenizer knows "
            "only the English forms, so it reads it as rare byte pieces, not as a pause between phrases. Write it "
            f"with an English keyboard's: {plain!r}.")


def editing(text: str) -> str | None:
    """A warning for A1111's prompt editing, [from:to:when] or [to:when], which nothing here reads, or None (ch. 4)."""
    found = EDITING.search(text)
    if not found:
        return None
    before, after, when = (found.group(1), found.group(2), found.group(3)) if found.group(3) else \
        ("", found.group(4), found.group(5))
    share = float(when)
    at = f"{share:.0%} of the steps" if share <= 1 else f"step {int(share)}"
    before, after = before.strip(), after.strip()
    change = f"from '{before}' to '{after}'" if before and after else f"adds '{after}'" if after else \
        f"drops '{before}'"
    fix = (f"write one of them, or mix them for every step with compel: (\"{before}\", \"{after}\").blend(0.5, 0.5) "
           "(chapter 4)" if before and after else "write the words in, or leave them out")
    return (f"{found.group(0)} is A1111's prompt editing ({change} at {at}); diffusers and compel have no such "
            f"switch and read the brackets, colons and number as words. Instead {fix}.")


def missing_embedding(pipeline, text: str) -> str | None:
    """A warning for an A1111 negative embedding named in the prompt while none is loaded, or None (ch. 2, 4)."""
    found = next((n for n in NEGATIVE_EMBEDDINGS if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text, re.I)),
                 None)
    if found is None:
        return None
    loaded = set()
    for part in ("tokenizer", "tokenizer_2"):
        tokenizer = getattr(pipeline, part, None)
        loaded |= {t.lower() for t in getattr(tokenizer, "added_tokens_encoder", {}) or {}}
    if found.lower() in loaded:
        return None
    return (f"'{found}' is the name of an A1111 textual-inversion embedding, and none of that name is loaded, so "
            f"the text encoder reads it as ordinary word pieces. Load the file first, "
            f"pipeline.load_textual_inversion('path/to/{found}.safetensors', token='{found}'), or leave the name "
            "out.")


def percent_weight(text: str) -> str | None:
    """A warning for a compel weight written as a percentage, (jungle)150%, or None (ch. 4)."""
    found = PERCENT.search(text)
    if not found:
        return None
    group, weight = found.group(1), found.group(2)
    return (f"compel reads {found.group(0)} as weight {weight} and the '%' as a word: its weights are factors, not "
            f"percentages. Write {group}{float(weight) / 100:g} for {weight}%.")


def pasted_settings(name: str, text: str) -> str | None:
    """A warning for an A1111 page's "Negative prompt:" or settings line pasted into a prompt, or None (ch. 1–5)."""
    negative, settings = NEGATIVE_LINE.search(text), SETTINGS_LINE.search(text)
    if not negative and not settings:
        return None
    said = []
    if negative and name in ("prompt", "prompt_2"):
        words = negative.group(1).split("\n")[0].strip()
        words = SETTINGS_LINE.split(words)[0].strip().rstrip(",")
        said.append("it holds A1111's \"Negative prompt:\" line, as copied from a picture's page, so the words after "
                    "it are drawn, not kept out. Pass them as negative_prompt="
                    f"{(words[:90] + '…' if len(words) > 90 else words)!r} and keep only the line above in prompt=")
    if settings:
        said.append("it holds A1111's settings line (Steps:, Sampler:, CFG scale:, Seed:), read as words. Those are "
                    "call arguments here: num_inference_steps=, guidance_scale=, generator=make_generator(seed, "
                    "device); a sampler is a scheduler (pipeline.scheduler)")
    return "; and ".join(said) + "." if said else None


def check_prompt_slips(pipeline, args: dict) -> None:
    """Say once each prompt text that a plain prompt string does not carry as meant (ch. 1–5)."""
    for name in ("prompt", "negative_prompt", "prompt_2", "negative_prompt_2"):
        value = args.get(name)
        for text in value if isinstance(value, (list, tuple)) else [value]:
            if not isinstance(text, str):
                continue
            for said in (full_width(text), editing(text), missing_embedding(pipeline, text),
                         pasted_settings(name, text)):
                if said:
                    warn_call(f"{name}: {said}")
