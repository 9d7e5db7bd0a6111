"""Arguments a pipeline ignores or overrides without a word: each said once, as a CallWarning, before the call runs.

Part of the call check (helpers.callcheck runs it): latents whose size wins over height= and width=, prompt-weighting
syntax in a plain prompt (and A1111's or NovelAI's, which compel does not read either: helpers.compelcheck asks here),
a textual-inversion token written without its brackets, negative embeddings while classifier-free guidance is off,
prompt_2= where only the second text encoder is there, an A1111 embedding loaded without token=, and
denoising_start= on a picture or beside strength=. The scheduler's own checks are in helpers.schedulercheck, and run
from here.
"""

from __future__ import annotations

import inspect
import re

from helpers.callwarning import warn_call as _warn
from helpers.promptslips import check_prompt_slips
from helpers.schedulercheck import (
    check_combined_scheduler,
    check_eta,
    check_preset_timesteps,
    check_scheduler,
    check_setting_attributes,
)

# compel's weighting: word++ / word-- , (words)1.3 , .and( / .blend( ; A1111's (word:1.3) is read by neither
COMPEL = re.compile(r"\b\w+[+-]{1,3}(?=\s|,|$)|\([^()]+\)\d*\.?\d+|\.(and|blend)\(")
A1111 = re.compile(r"\([^()]+:\s*\d*\.?\d+\)")


def _latents_size(pipeline, args: dict) -> None:
    latents = args.get("latents")
    shape = getattr(latents, "shape", None)
    height, width = args.get("height"), args.get("width")
    if shape is None or len(shape) != 4 or not isinstance(height, int) or not isinstance(width, int):
        return
    scale = int(getattr(pipeline, "vae_scale_factor", None) or 8)
    made = (shape[2] * scale, shape[3] * scale)
    if made != (height, width) and "Upscale" not in type(pipeline).__name__:
        _warn(f"latents are {shape[2]}×{shape[3]}, which makes a {made[0]}×{made[1]} picture: height={height}, "
              f"width={width} are ignored, because the starting latents set the size. Make latents of "
              f"{height // scale}×{width // scale}, or pass height={made[0]}, width={made[1]}.")


def foreign_syntax(text: str) -> list[tuple[str, str, str, str]]:
    """A1111's [word] and BREAK and NovelAI's {word}: (what, how it is read, compel's spelling, a note) (ch. 4)."""
    found = []
    down = re.search(r"\[([^\[\]|:]+)\]", text)  # [a|b] and [a:b:0.5] are A1111's other brackets
    if down:
        words = down.group(1).strip()
        term = words if re.fullmatch(r"[A-Za-z]\w*", words) else f"({words})"
        found.append((f"A1111's [{down.group(1)}] (weight 0.91, a little weaker)", "plain words, brackets and all",
                      f"{term}- (weight 0.9) or ({words})0.9", ""))
    if re.search(r"\bBREAK\b", text):  # only A1111's capitals: "a wave about to break" is a word
        parts = [p.strip(" ,") for p in re.split(r"\bBREAK\b", text)]
        joined = ", ".join(f'"{p}"' for p in parts if p)
        found.append(("A1111's BREAK (each part in a chunk of its own)", "the word 'break'",
                      f"({joined}).and(), which encodes each part on its own and joins them (pad the negative to the "
                      "same length: compel.pad_conditioning_tensors_to_same_length([positive, negative]))", ""))
    up = re.search(r"\{([^{}|:]+)\}", text)
    if up:
        words = up.group(1).strip()
        term = words if re.fullmatch(r"[A-Za-z]\w*", words) else f"({words})"
        variable = (f" If {{{words}}} was meant as a Python variable, put an f before the quotes: "
                    f'f"...{{{words}}}...".' if words.isidentifier() else "")
        found.append((f"NovelAI's {{{up.group(1)}}} (weight 1.05, a little stronger)",
                      "plain words, braces and all", f"{term}+ (weight 1.1) or ({words})1.05", variable))
    return found


# words that end a bare phrase: "in a jungle++" weights the jungle, "cold color palette++" was meant as one phrase
LINKS = set("in on at of with by for from to into onto under over near behind above below beside through without and "
            "or but is are as like wearing holding against between while that who inside".split())


def phrase_weight(text: str) -> tuple[str, str, str, str] | None:
    """compel's word++ ending a bare phrase, which weights that word alone: (part, words before, word, signs) (ch. 4)"""
    for part in text.split(","):
        found = re.fullmatch(r"\s*([A-Za-z][\w' ]*?)\s+([A-Za-z]\w*)(\+{1,3}|-{1,3})\s*", part)
        if not found or re.search(r"[()\"\[\]{}]", part):
            continue
        before = found.group(1).split()
        words = before[1:] if before[0].lower() in ("a", "an", "the") else before
        if words and not any(w.lower() in LINKS for w in words):  # "a cat++" and "in a jungle++" are meant so
            return part.strip(), " ".join(before), found.group(2), found.group(3)
    return None


def _weighting(args: dict) -> None:
    for name in ("prompt", "negative_prompt"):
        value = args.get(name)
        for text in value if isinstance(value, (list, tuple)) else [value]:
            if not isinstance(text, str):
                continue
            if A1111.search(text):
                _warn(f"{name} uses A1111's (word:1.5) weighting, which diffusers and compel read as plain text. "
                      "With compel write (word)1.5 or word++, build prompt_embeds, and pass those (chapter 4).")
            elif COMPEL.search(text):
                _warn(f"{name} uses compel's weighting syntax ({COMPEL.search(text).group(0)}), but a plain prompt "
                      "string goes to the text encoder as it is: the signs are read as words. Build prompt_embeds "
                      "with compel and pass those instead (chapter 4).")
            for what, read_as, spelling, note in foreign_syntax(text):  # A1111's [word] and BREAK, NovelAI's {word}
                _warn(f"{name} uses {what}, which diffusers reads as {read_as}, at weight 1.0. With compel write "
                      f"{spelling}, build prompt_embeds, and pass those (chapter 4).{note}")
            _repeated_ending(name, text)


def _repeated_ending(name: str, text: str) -> None:
    """prompt += ", watercolor" in a cell run again: the same last part, added once per run."""
    parts = [p.strip().lower() for p in text.split(",")]
    if len(parts) < 3 or not parts[-1]:
        return
    times = 1
    while times < len(parts) and parts[-1 - times] == parts[-1]:
        times += 1
    if times > 1:
        _warn(f"{name} ends with {parts[-1]!r} {times} times in a row. If a cell adds it with {name} += "
              f"', {parts[-1]}', each run of that cell adds it again: build it from the start each time, {name} = "
              f"base_{name} + ', {parts[-1]}'. If the repeat is on purpose, nothing is wrong.")


# only "without X": "no parking", "not only", "No Man's Sky" are ordinary words in prompts
NEGATION = re.compile(r"\b(without)\s+(?:(?:a|an|the|any)\s+)?([a-z][a-z-]+)")


def _negation(args: dict) -> None:
    text = args.get("prompt")
    found = NEGATION.search(text) if isinstance(text, str) else None
    if found:
        _warn(f"prompt says '{found.group(0)}': CLIP's text encoder hardly reads negation, so '{found.group(2)}' "
              f"pulls the picture towards {found.group(2)}. To keep it out, name it in negative_prompt="
              f"'{found.group(2)}' (chapter 2) and leave it out of the prompt.")


def _negative_embeds(args: dict) -> None:
    guidance = args.get("guidance_scale")
    if args.get("negative_prompt_embeds") is not None and guidance is not None and guidance <= 1:
        _warn(f"negative_prompt_embeds are ignored: guidance_scale={guidance} ≤ 1 switches classifier-free "
              "guidance off, and the negative side only acts through it. Raise guidance_scale (7.5 is usual).")


def check_weighting(args: dict) -> None:
    """Say when a prompt uses compel's or A1111's weighting syntax, which a plain string does not apply (ch. 4)."""
    _weighting(args)


def _added_tokens(pipeline) -> list[str]:
    """Every token added to the pipeline's tokenizers, CLIP's own <|startoftext|> and <|endoftext|> included."""
    found = []
    for name in ("tokenizer", "tokenizer_2"):
        added = getattr(getattr(pipeline, name, None), "added_tokens_encoder", None)
        found += list(added) if isinstance(added, dict) else []
    return found


def _a1111_token(added: list[str], args: dict) -> None:
    """An A1111 embedding loaded without token=: diffusers names the token after the file's one key, emb_params."""
    tokens = [t for t in added if re.fullmatch(r"emb_params(_\d+)?", t)]
    texts = [v for n in ("prompt", "negative_prompt", "prompt_2", "negative_prompt_2")
             for v in (args.get(n) if isinstance(args.get(n), (list, tuple)) else [args.get(n)]) if isinstance(v, str)]
    if "emb_params" in tokens and not any("emb_params" in text for text in texts):
        unload = repr(tokens[0] if len(tokens) == 1 else sorted(set(tokens)))
        _warn("load_textual_inversion added the token 'emb_params': the file is an A1111 embedding, and without "
              "token= diffusers names the token after the file's one key, emb_params, so the embedding's own name "
              "in the prompt is read as ordinary words and the embedding is never used. Load it again with a name: "
              f"pipeline.unload_textual_inversion({unload}), then pipeline.load_textual_inversion(path, "
              "token='<name>'), and write <name> in the prompt.")


def check_loaded_tokens(pipeline, args: dict) -> None:
    """A textual-inversion token written without its brackets, or one this pipeline never loaded (ch. 4)."""
    added = _added_tokens(pipeline)
    _a1111_token(added, args)
    # CLIP's start and end markers, <|startoftext|> and <|endoftext|>, are added tokens too
    tokens = [t for t in added if len(t) > 2 and t[0] == "<" and t[-1] == ">" and t[1] != "|"]
    has_tokenizer = any(getattr(pipeline, n, None) is not None for n in ("tokenizer", "tokenizer_2"))
    for name in ("prompt", "negative_prompt", "prompt_2", "negative_prompt_2") if has_tokenizer else ():
        value = args.get(name)
        for text in value if isinstance(value, (list, tuple)) else [value]:
            unknown = re.search(r"<[A-Za-z][\w-]*>", text) if isinstance(text, str) else None
            if unknown and unknown.group(0) not in tokens:  # CLIP cuts it into <, word pieces and >
                _warn(f"{name} has {unknown.group(0)}, a textual-inversion token this pipeline's tokenizer does "
                      "not know: none of that name is loaded here (it was loaded into another pipeline, which has "
                      "a tokenizer of its own, or unloaded), so it is read as ordinary word pieces. Load it into "
                      f"this pipeline: pipeline.load_textual_inversion(path, token={unknown.group(0)!r}).")
            for token in tokens if isinstance(text, str) else ():
                bare = re.search(rf"(?<![\w<-]){re.escape(token[1:-1])}(?![\w>-])", text, re.IGNORECASE)
                if bare and token not in text:
                    _warn(f"{name} has {bare.group(0)!r}, but the token load_textual_inversion added is {token}: "
                          "without its angle brackets the tokenizer cuts it into ordinary word pieces, and the "
                          f"loaded embedding is never used. Write the loaded token with its brackets: {token}.")


def _latents_as_noise(pipeline, args: dict) -> None:
    from helpers.chain import latents_mark

    latents = args.get("latents")
    if latents is not None and hasattr(latents, "shape") and latents_mark(latents) is not None:
        _warn("latents= holds a pipeline's output latents, but latents= is the starting noise of a new run: the "
              "picture in them is not continued, it is denoised again from step one as if it were noise. To go on "
              "from them, pass them as image= to an img2img pipeline (chapter 3).")


def check_second_prompt(pipeline, args: dict) -> None:
    """prompt_2= or negative_prompt_2= where only the second text encoder is there: said as ignored (ch. 3)."""
    if getattr(pipeline, "text_encoder", "none") is not None or getattr(pipeline, "text_encoder_2", None) is None:
        return
    given = [n for n in ("prompt_2", "negative_prompt_2") if args.get(n) is not None]
    if given:  # encode_prompt pairs the prompts with the encoders present: prompt goes to text_encoder_2
        _warn(f"{' and '.join(n + '=' for n in given)} {'are' if len(given) > 1 else 'is'} ignored: "
              f"{type(pipeline).__name__} has only its second text encoder here (text_encoder is None), and it "
              "reads prompt= and negative_prompt=. Put those words in prompt= (and negative_prompt=).")


_START_FACTS: dict = {}  # pipeline class -> (denoising_start= switches the start noise off, it overrides strength=)


def _start_facts(pipeline) -> tuple[bool, bool]:
    """Read once per class from diffusers 0.42's SDXL img2img and inpaint: "add_noise = True if self.denoising_st…"."""
    cls = type(pipeline)
    if cls not in _START_FACTS:
        try:
            call, timesteps = inspect.getsource(cls.__call__), inspect.getsource(cls.get_timesteps)
        except (AttributeError, OSError, TypeError):
            call = timesteps = ""
        # get_timesteps: "Strength is irrelevant if we directly request a timestep to start at"
        _START_FACTS[cls] = (bool(re.search(r"add_noise = True if self\.denoising_start is None else False", call)),
                             "denoising_start is None" in timesteps)
    return _START_FACTS[cls]


def _is_picture(image) -> bool:
    """True for pixels: a PIL picture (or a list of them), an (H, W, 3) array, a 3-channel tensor; not latents."""
    from PIL import Image

    first = image[0] if isinstance(image, (list, tuple)) and image else image
    shape = getattr(first, "shape", None)
    if isinstance(first, Image.Image):
        return True
    if shape is None or len(shape) not in (3, 4):
        return False
    if type(first).__module__ == "numpy":
        return shape[-1] == 3
    return shape[-3] == 3  # torch: (3, H, W) or (B, 3, H, W)


def _strength_with_start(pipeline, args: dict) -> None:
    """denoising_start= on a picture, which gets no noise; strength= beside it, which it overrides."""
    start, strength = args.get("denoising_start"), args.get("strength")
    if start is None or isinstance(start, bool) or not isinstance(start, (int, float)):
        return
    cls = type(pipeline).__name__
    no_noise, ignores = _start_facts(pipeline)
    if _is_picture(args.get("image")) and no_noise:
        ignored, keep = "", "set how much to change with strength= (e.g. strength=0.3)"
        if strength is not None:
            ignored, keep = f" strength={strength} is ignored beside it.", f"keep strength={strength}"
        _warn(f"image= is a picture, and with denoising_start={start} {cls} adds no noise to it: denoising_start "
              "continues a base pipeline's run that stopped at denoising_end, from the noisy latents it returned "
              f"(output_type='latent'), so a finished picture is denoised over the last {1 - start:.0%} of the "
              f"schedule with no noise added, which mostly smooths it and adds no new detail.{ignored} For a "
              f"picture, leave denoising_start out and {keep}; to hand over instead, run the base with "
              f"denoising_end={start}, output_type='latent' and pass its .images as image=.")
        return
    latents = args.get("image")
    made = [getattr(c, "_tutorial_denoising_end", "unknown") for c in (latents, getattr(latents, "_base", None))
            if c is not None and hasattr(c, "_tutorial_denoising_end")]  # the tensor a call returned, or its view
    if no_noise and made and made[0] is None:  # the latents of a run that was not stopped early
        _warn(f"image= holds the latents of a finished run (its call had no denoising_end=), and with "
              f"denoising_start={start} {cls} adds no noise to them, so it mostly smooths them. To hand over, stop "
              f"the base run early: denoising_end={start}, output_type='latent'; to refine a finished result, leave "
              "denoising_start out and set strength=.")
        return
    if strength is not None and ignores:  # latents (a picture is said above): moving the start is the fix
        _warn(f"strength={strength} is ignored: with denoising_start={start} {cls} starts "
              f"{start:.0%} of the way through the schedule and runs the rest ({1 - start:.0%}), whatever strength "
              f"says. To change less of the picture, raise denoising_start (denoising_start={1 - strength:g} runs "
              f"about what strength={strength} would); or leave denoising_start out and keep strength.")


def check_ignored(pipeline, args: dict, defaults: dict | None = None) -> None:
    """Say once each argument the pipeline would ignore or override without a word (ch. 1–5)."""
    _latents_size(pipeline, args)
    _latents_as_noise(pipeline, args)
    check_combined_scheduler(pipeline)
    check_preset_timesteps(pipeline, args, args.get("num_inference_steps", (defaults or {}).get("num_inference_steps")))
    check_scheduler(pipeline)
    check_setting_attributes(pipeline)
    check_eta(pipeline, args)
    check_weighting(args)
    check_prompt_slips(pipeline, args)
    check_loaded_tokens(pipeline, args)
    _negation(args)
    _negative_embeds(args)
    check_second_prompt(pipeline, args)
    _strength_with_start(pipeline, args)
