"""compel's prompts checked as it reads them: A1111's (word:1.5) syntax, a prompt cut at 77 tokens, padding (ch. 4).

compel returns bare tensors, so the pipeline call cannot see the words any more. helpers.explain wraps
`Compel.build_conditioning_tensor` (the step every prompt goes through, one string at a time) with this check
while explain_errors() is on; each problem is said once as a CallWarning, and the prompt is encoded as before.
`pad_conditioning_tensors_to_same_length` given tensors one by one instead of a list, which compel would return
unpadded without a word, is refused.
"""

from __future__ import annotations

import functools
import re

from helpers.callwarning import warn_call
from helpers.compelgroups import check_groups
from helpers.ignored import foreign_syntax, phrase_weight

A1111 = re.compile(r"\(([^()]+?):\s*(\d*\.?\d+)\)")
# compel's weight after a term is "+"/"-" runs or a number, tried in that order: "-0.5" matches "-" first
NEGATIVE = re.compile(r"(?:(?<!\\)\(([^()]+)(?<!\\)\)|\"([^\"]+)\")-(\d*\.?\d+)")
_STATE = {"original": None, "init": None, "pad": None}


def _fragment_texts(node) -> list[str]:
    """The plain words of a parsed compel prompt, weighting syntax removed."""
    texts = [node.text] if isinstance(getattr(node, "text", None), str) else []
    for attribute in ("prompts", "children"):
        for child in getattr(node, attribute, None) or []:
            texts += _fragment_texts(child)
    return texts


_VOCAB: dict = {}  # id(tokenizer) -> CLIP's whole words (no '</w>'), read once
WEIGHTED = re.compile(r"\(([^()]+)\)\s*(?:[+-]+|\d*\.?\d+)|\b([A-Za-z]+)(?:\+\+?|--?)(?![\w+-])")


def _whole_words(compel) -> set | None:
    provider = getattr(compel, "conditioning_provider", None)
    tokenizer = getattr(provider, "tokenizer", None)
    if tokenizer is None or not hasattr(tokenizer, "get_vocab"):
        return None
    if id(tokenizer) not in _VOCAB:
        _VOCAB[id(tokenizer)] = {w[:-4] for w in tokenizer.get_vocab() if w.endswith("</w>") and w[:-4].isalpha()}
    return _VOCAB[id(tokenizer)]


_TYPOS: dict = {}  # word -> the one CLIP word it is a typo of, or None


def _typo_of(word: str, words: set) -> str | None:
    """The CLIP word one swapped or changed letter away (jungel, jungke -> jungle), if exactly one is."""
    if word not in _TYPOS:
        letters = "abcdefghijklmnopqrstuvwxyz"
        swapped = {word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(len(word) - 1)}
        # not the first letter: slips there are rare, and real words differ there (deformed vs reformed)
        changed = {word[:i] + c + word[i + 1:] for i in range(1, len(word)) for c in letters}
        found = (swapped | changed) & words - {word}
        _TYPOS[word] = found.pop() if len(found) == 1 else None
    return _TYPOS[word]


def _misspelt_weighted(compel, text: str) -> None:
    """A weighted word that is not one of CLIP's words but one swapped or changed letter from one: a typo."""
    words = _whole_words(compel)
    if not words:
        return
    for found in WEIGHTED.finditer(text):
        for word in re.findall(r"[A-Za-z]{5,}", found.group(1) or found.group(2) or ""):
            if word.lower() in words:
                continue
            close = [_typo_of(word.lower(), words)] if _typo_of(word.lower(), words) else None
            if close:
                warn_call(f"compel weighs {word!r}, which is not one of CLIP's words, so the weight goes to the "
                          f"pieces it is cut into; did you mean {close[0]!r}?")
                return


def _multi_vector(compel, text: str) -> None:
    """A multi-vector textual-inversion token given to a compel without the pipeline's textual-inversion manager."""
    provider = getattr(compel, "conditioning_provider", None)
    for one in getattr(provider, "embedding_providers", None) or [provider]:
        added = getattr(getattr(one, "tokenizer", None), "added_tokens_encoder", None)
        if not isinstance(added, dict) or getattr(one, "textual_inversion_manager", "none") is not None:
            continue
        for token in [t for t in added if f"{t}_1" in added and t in text and f"{t}_1" not in text]:
            count = 1 + sum(1 for t in added if re.fullmatch(re.escape(token) + r"_\d+", t))
            warn_call(f"compel uses only the first of {token}'s {count} vectors: load_textual_inversion added them "
                      f"as {token}, {token}_1 and so on, and the pipeline's own prompt expands {token} to all of "
                      "them, but compel does so only with the pipeline's textual-inversion manager. Make compel "
                      "with it: from compel import DiffusersTextualInversionManager; Compel(tokenizer=..., "
                      "text_encoder=..., textual_inversion_manager=DiffusersTextualInversionManager(pipeline)).")
            return


def check_compel_text(compel, text) -> None:
    """Warn about A1111 weighting and about words past compel's 77-token cut in one prompt string (ch. 4)."""
    if not isinstance(text, str):
        return
    wide = re.search(r"[（）＋－]", text)
    if wide:  # what a Chinese or Japanese keyboard types for ( ) + -
        plain = text.translate(str.maketrans("（）＋－", "()+-"))
        warn_call(f"this prompt writes compel's syntax with full-width {wide.group(0)!r}; compel reads only the "
                  f"plain ( ) + - of an English keyboard, so it sees plain words at weight 1.0. Write: {plain!r}.")
    from helpers.promptslips import editing, full_width, percent_weight

    for said in (None if wide else full_width(text), editing(text), percent_weight(text)):
        if said:
            warn_call(said)
    from helpers.callcheck import CJK, CJK_ADVICE

    if CJK.search(text):
        warn_call(f"this prompt contains Chinese, Japanese or Korean characters. {CJK_ADVICE}")
    found = A1111.search(text)
    if found:
        words, weight = found.group(1).strip(), found.group(2)
        warn_call(f"compel reads A1111's ({found.group(1)}:{weight}) as plain words at weight 1.0 (the colon and the "
                  f"number become tokens too); compel writes that weight as ({words}){weight}, or {words}+ / "
                  f"{words}++ for 1.1 / 1.21.")
    swap = re.search(r"(\([^()]*\)|\w+)\.swap\(", text)
    if swap:  # compel 2.5, Compel.build_conditioning_tensor_for_conjunction: cac_args.original_conditioning
        warn_call(f"compel's {swap.group(0)}...) is cross-attention control, which needs an attention processor that "
                  "diffusers' pipelines do not have: compel hands back the embeddings of the original words only, "
                  "so the swap does nothing. To change a word, write the new prompt; to mix two prompts, compel "
                  'writes ("a cat", "a dog").blend(0.5, 0.5).')
    heavy = re.search(r"(?<!\\)[)\"](\d+(?:\.\d+)?)(?=[\s,;]|$)", text)  # compel's (word)1.5, written (word)15
    if heavy and float(heavy.group(1)) > 3:
        weight = heavy.group(1)
        warn_call(f"compel weight {weight} multiplies the word's vector {weight} times, which swamps the rest of the "
                  "prompt; weights of 0.5–1.5 are usual" + (f" (did you mean {weight[0]}.{weight[1:]}?)" if
                                                             len(weight) == 2 and weight.isdigit() else "") + ".")
    _misspelt_weighted(compel, text)
    alternation = re.search(r"\[([^\[\]|]+)\|([^\[\]]+)\]", text)
    if alternation:
        warn_call(f"compel reads A1111's [{alternation.group(1)}|{alternation.group(2)}] (switch words every step) as "
                  "plain words and brackets; it has no such switch. To mix two prompts, compel writes "
                  f'("{alternation.group(1)}", "{alternation.group(2)}").blend(0.5, 0.5).')
    check_groups(text)  # curly quotes, a .blend() inside a longer prompt, A1111's ((word))
    for what, read_as, spelling, note in foreign_syntax(text):
        warn_call(f"compel does not know {what}: it sees {read_as}, at weight 1.0. compel writes it {spelling}.{note}")
    if re.search(r"[a-z0-9,)\"]\s+AND\s+[a-z(\"]", text):  # A1111's composable AND, not a caps title (ROCK AND ROLL)
        parts = [p.strip(" ,") for p in re.split(r"\sAND\s", text) if p.strip(" ,")]
        warn_call("compel reads AND as the word 'and', one more word in a single prompt; A1111's composable AND "
                  "(each part encoded on its own) is compel's .and(): (" + ", ".join(f'"{p}"' for p in parts)
                  + ").and().")
    negative = NEGATIVE.search(text)
    if negative:
        words, number = negative.group(1) or negative.group(2), negative.group(3)
        term, weaker = negative.group(0)[:-len(number) - 1], number if 0 < float(number) < 1 else "0.5"
        warn_call(f"compel has no negative weight: {term}-{number} reads as {term}- (weight 0.9, a little "
                  f"weaker) followed by the word \"{number}\" in the prompt. To weaken {words}, give a weight below "
                  f"1: ({words}){weaker}; to steer the picture away from it, put it in the negative prompt: "
                  f"negative_prompt_embeds = compel(\"{words}\").")
    spaced = re.search(r"\(([^()]+)\)\s+(\d*\.\d+|\d+)(?=[\s,;]|$)", text)  # (jungle) 1.5: a word "1.5"
    if spaced:
        warn_call(f"compel reads a weight only right after the bracket: in ({spaced.group(1)}) {spaced.group(2)} the "
                  f"space makes {spaced.group(2)} a word of the prompt, and the words get weight 1.0. Write "
                  f"({spaced.group(1)}){spaced.group(2)}.")
    comma = re.search(r"\)(\d+),(\d+)", text)  # a decimal comma: (jungle)1,5
    if comma:
        warn_call(f"compel reads the weight ){comma.group(1)},{comma.group(2)} as {comma.group(1)} followed by the "
                  f"word \"{comma.group(2)}\": a weight takes a decimal point. Write ){comma.group(1)}."
                  f"{comma.group(2)}.")
    lora = re.search(r"<lora:([^:>]+):?([\d.]*)>", text)
    if lora:  # A1111's LoRA tag: no library here reads it
        strength = lora.group(2) or "1.0"
        warn_call(f"{lora.group(0)} is A1111's LoRA tag; compel and diffusers read it as plain words. Load the LoRA "
                  f"with pipeline.load_lora_weights(...) and give its strength in the call: "
                  f"cross_attention_kwargs={{'scale': {strength}}}.")
    bare = None if found else re.search(r"(?<![<:\w])([A-Za-z]\w*):(\d*\.\d+)(?![\w.>])", re.sub(r"<[^>]*>", "", text))
    if bare:  # word:1.5 without brackets: A1111's weight written loose
        words, weight = bare.group(1).strip(), bare.group(2)
        warn_call(f"compel reads {bare.group(0)!r} as plain words at weight 1.0 (the colon and the number become "
                  f"tokens too); compel writes that weight as ({words}){weight}.")
    opened, closed = len(re.findall(r"(?<!\\)\(", text)), len(re.findall(r"(?<!\\)\)", text))
    weighted = re.search(r"\)(\d|[+-])|\w[+-]{2}", text)  # compel's weight syntax somewhere in the prompt
    if opened != closed and weighted:
        warn_call(f"this prompt opens {opened} bracket(s) and closes {closed}; where they do not pair up, compel's "
                  "parser may read part of the prompt as plain words, and a weight there is lost. Close each ( "
                  "with a ) (a bracket meant as text is written \\( or \\)).")
    loose = re.search(r"(\w+)\s+(\+{1,3})(?=\s|,|$)", text)  # a spaced "-" is usually a separator
    if loose:
        warn_call(f"'{loose.group(2)}' after a space is read as a word, not as a weight: compel weighs the word it is "
                  f"written on. Write {loose.group(1)}{loose.group(2)}, or ({loose.group(1)}){loose.group(2)}.")
    phrase = phrase_weight(text)
    if phrase:  # "cold color palette++"
        part, before, word, signs = phrase
        warn_call(f"compel weights only the word its signs are written on: in '{part}' only '{word}' gets {signs} "
                  f"(weight {(1.1 if signs[0] == '+' else 0.9) ** len(signs):.3g}), and '{before}' stays at 1.0. To "
                  f"weight the whole phrase, bracket it: ({before} {word}){signs}.")
    _multi_vector(compel, text)
    provider = getattr(compel, "conditioning_provider", None)
    tokenizer = getattr(provider, "tokenizer", None)
    if tokenizer is None or not getattr(provider, "truncate_to_model_max_length", False):
        return
    try:
        plain = " ".join(_fragment_texts(compel.parse_prompt_string(text)))
        count = len(tokenizer(plain, truncation=False).input_ids)
    except Exception:  # noqa: BLE001 - a prompt compel itself cannot parse: compel says so next
        return
    limit = getattr(tokenizer, "model_max_length", 77)
    if isinstance(limit, int) and count > limit:
        warn_call(f"this prompt is {count} tokens with its start and end markers; compel cuts it at {limit} "
                  f"(Compel(..., truncate_long_prompts=True) is its default), so the last {count - limit} have "
                  "no effect. To encode it whole, make Compel(..., truncate_long_prompts=False), and pad the "
                  "negative to the same length: compel.pad_conditioning_tensors_to_same_length([positive, "
                  "negative]).")


class _WrapOnImport:
    """Wraps compel the moment it is imported: a cell that imports compel and encodes with it is checked too."""

    def find_spec(self, fullname, path, target=None):
        """compel's own spec, whose loader wraps it right after the module has run (ch. 4)."""
        if fullname != "compel":
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            wrap_compel()

        spec.loader.exec_module = exec_module
        return spec


_FINDER = _WrapOnImport()


def wrap_compel() -> None:
    """Check every prompt compel encodes: now if compel has been imported, else as soon as it is (ch. 4)."""
    import sys

    module = sys.modules.get("compel")
    cls = getattr(module, "Compel", None)
    if cls is None:
        if module is None and _FINDER not in sys.meta_path:
            sys.meta_path.insert(0, _FINDER)
        return
    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    if _STATE["original"] is not None:
        return
    original = cls.build_conditioning_tensor

    @functools.wraps(original)
    def build_conditioning_tensor(self, text, *args, **kwargs):
        check_compel_text(self, text)
        return original(self, text, *args, **kwargs)

    _STATE["original"] = original
    cls.build_conditioning_tensor = build_conditioning_tensor
    made = cls.__init__

    @functools.wraps(made)
    def __init__(self, tokenizer=None, text_encoder=None, *args, **kwargs):
        if hasattr(tokenizer, "forward") and hasattr(text_encoder, "model_max_length"):  # the two swapped
            raise TypeError("Compel's first argument is the tokenizer and its second the text encoder; these came "
                            "the other way round. Pass them by name: Compel(tokenizer=pipeline.tokenizer, "
                            "text_encoder=pipeline.text_encoder).")
        device = kwargs.get("device")
        if isinstance(device, str) and device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ValueError(f"Compel(device={device!r}), but this torch has no CUDA device, so compel's tensors "
                                 "could not go there. Leave device= out: compel then works where the text encoder "
                                 "is.")
        missing = [n for n, v in (("tokenizer", tokenizer), ("text_encoder", text_encoder)) if v is None]
        if missing:
            raise TypeError(f"Compel got {' and '.join(f'{n}=None' for n in missing)}: the pipeline they came from has "
                            "no such part. The SDXL refiner keeps only its second pair: build compel on "
                            "pipeline.tokenizer_2 and pipeline.text_encoder_2, with requires_pooled=True (SDXL's "
                            "UNet needs the pooled embeddings too).")
        made(self, tokenizer, text_encoder, *args, **kwargs)

    _STATE["init"] = made
    cls.__init__ = __init__
    padding = cls.pad_conditioning_tensors_to_same_length

    @functools.wraps(padding)
    def pad_conditioning_tensors_to_same_length(self, conditionings, *args, **kwargs):
        if hasattr(conditionings, "shape"):  # one tensor where a list goes: compel returns it unchanged
            given = f"{1 + len(args)} tensors, one by one" if args else "one tensor"
            raise TypeError(f"pad_conditioning_tensors_to_same_length takes one list of tensors, and it was given "
                            f"{given}: pass them in a list, compel.pad_conditioning_tensors_to_same_length("
                            "[prompt_embeds, negative_prompt_embeds]), which returns a list in the same order.")
        return padding(self, conditionings, *args, **kwargs)

    _STATE["pad"] = padding
    cls.pad_conditioning_tensors_to_same_length = pad_conditioning_tensors_to_same_length


def unwrap_compel() -> None:
    """Give compel its own `build_conditioning_tensor` back (ch. 4)."""
    import sys

    if _FINDER in sys.meta_path:
        sys.meta_path.remove(_FINDER)
    cls = getattr(sys.modules.get("compel"), "Compel", None)
    if cls is not None and _STATE["original"] is not None:
        cls.build_conditioning_tensor = _STATE["original"]
        cls.__init__ = _STATE["init"]
        cls.pad_conditioning_tensors_to_same_length = _STATE["pad"]
    _STATE["original"] = None
