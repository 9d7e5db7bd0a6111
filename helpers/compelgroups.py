"""compel's groups and brackets as its grammar reads them: quotes, a group inside a longer prompt, ((word)) (ch. 4).

compel 2.5's grammar (compel/prompt_parser.py, build_parser_syntax) quotes a group's parts with the straight " only
(QuotedString(quote_char='"'), so single and curly quotes are letters); reads ("…", "…").blend(…) only as the whole
prompt (implicit_conjunction: a blend or a plain prompt, then StringEnd) and .and() only at the start
(explicit_conjunction, which stops there and drops the rest); and gives brackets without a weight after them
(parenthesized_fragment) no weight. helpers.compelcheck calls check_groups for every prompt compel encodes; each
problem is said once as a CallWarning.
"""

from __future__ import annotations

import re

from helpers.callwarning import warn_call

CURLY = re.compile(r"[“”„‟]")  # what web pages and word processors put for "
GROUP = re.compile(r"\((?:\"[^\"]*\"|[^()\"])*\)\.(blend|and|add)\(([^()]*)\)")
LORA = re.compile(r"(?:useLora|withLora)\([^()]*\)")
NESTED = re.compile(r"(?<!\\)(\({2,})([^():]+?)(\){2,})(?![\d.+-])")  # ((word:1.2)) is compelcheck's


def _curly(text: str) -> None:
    group = re.search(r"\)\s*\.(blend|and|add)\(([^()]*)\)", text)
    if not group or not CURLY.search(text):
        return
    parts = re.findall(r"[“„‟”]([^“”„‟]*)[“”‟]", text)
    if any(len(p.split()) > 1 for p in parts):  # a part of several words cannot be one bare word: the group is lost
        read = (f"so the group is not read at all: the whole prompt becomes plain words, the quotes and "
                f"'.{group.group(1)}({group.group(2)})' included")
    else:
        read = "so the quotes become part of the words"
    warn_call(f"this prompt has curly quotes “ ” (as a web page or a word processor writes them), and compel's "
              f".{group.group(1)}() reads its parts only in straight double quotes \"…\": curly ones are letters to "
              f"it, {read}. Write: {CURLY.sub(chr(34), text)!r}.")


def _single(text: str) -> None:
    single = re.search(r"\(\s*'[^']*'(\s*,\s*'[^']*')*\s*\)\.(blend|and)\(", text)
    if single:  # compel 2.5's grammar quotes the parts of .blend() and .and() with " only
        parts = re.findall(r"'([^']*)'", single.group(0))
        double = "(" + ", ".join(f'"{p}"' for p in parts) + f").{single.group(2)}("
        warn_call(f"compel reads the parts of .{single.group(2)}() only in double quotes; in single quotes it sees "
                  f"plain words, quotes and brackets included. Write {double}...), and put the whole prompt in "
                  "single quotes in Python: compel('(\"...\", \"...\").blend(0.5, 0.5)').")


def _joined(before: str, part: str, after: str) -> str:
    """One part of a group written out with the words around the group: 'a jungle, ' + 'sunset' + ', 8k'."""
    text = " ".join(p for p in (before, part) if p)
    return text + ("" if not after or after[0] in ",.;" else " ") + after


def _inside(text: str) -> None:
    found = GROUP.search(text)
    if not found:
        return
    operator = found.group(1)
    before, after = text[:found.start()].strip(), text[found.end():].strip()
    rest = LORA.sub("", f"{before} {after}").strip() if operator == "blend" else before + after
    if not rest:  # alone, or beside LoRA terms, which compel takes on either side of a blend
        return
    if before:
        read = (f"so it reads the whole prompt as plain words, the brackets, the quotes and "
                f"'.{operator}({found.group(2)})' included")
    elif operator == "blend":
        read = "so it stops with \"Expected end of text\" at the words after it"
    else:
        read = f"so it encodes the group and drops the rest: {after!r} has no effect"
    body = found.group(0)[1:found.group(0).rindex(f").{operator}(")]
    parts = re.findall(r'"([^"]*)"', body) or [p.strip() for p in body.split(",")]  # (cat, dog): bare words
    fix = "(" + ", ".join(f'"{_joined(before, p, after)}"' for p in parts) + f").{operator}({found.group(2)})"
    warn_call(f"compel reads .{operator}() only when the whole prompt is one (\"…\", \"…\").{operator}(…) group; "
              f"here it is inside a longer prompt, {read}. Put the whole prompt in each part: {fix!r}.")


def _nested(text: str) -> None:
    for found in NESTED.finditer(text):
        opened, words, closed = found.groups()
        pairs = min(len(opened), len(closed))
        weight, signs = f"{1.1 ** pairs:.4g}", "+" * pairs
        term = words.strip() if re.fullmatch(r"\s*[A-Za-z]\w*\s*", words) else f"({words.strip()})"
        warn_call(f"{'(' * pairs}{words}{')' * pairs}: A1111 weighs each pair of brackets ×1.1 ({weight} here), but "
                  "compel gives brackets without a number after them no weight, so these words stay at 1.0. Write "
                  f"({words.strip()}){weight} or {term}{signs} (compel's + is ×1.1 each).")
        return


def check_groups(text: str) -> None:
    """Single or curly quotes in .blend()/.and(), such a group in a longer prompt, A1111's ((word)) (ch. 4)."""
    if not isinstance(text, str) or "(" not in text:
        return
    _single(text)
    _curly(text)
    _inside(text)
    _nested(text)
