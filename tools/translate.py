"""The Chinese edition: notebooks/zh/NN_name.ipynb, made from the English chapter plus a gettext catalogue.

    python -m tools.translate update   # new or changed English cells into translations/zh_CN/NN_name.po
    python -m tools.translate build    # write notebooks/zh/ from the English chapters and the catalogues
    python -m tools.translate check    # fail when a catalogue or a Chinese chapter is behind its English one
    python -m tools.translate compile  # helpers/locale/*/LC_MESSAGES/tutorial.po -> .mo (the helpers' messages)
    python -m tools.translate book-index  # translations/book_terms.sha256 from the book's chapter text

Each translatable cell is one gettext entry: msgid is the English cell as it is now, msgstr its Chinese
version. A markdown cell is always translated; a code cell is an entry when it has comments or prose strings
(captions, titles), and its msgstr must run the same calls (tests/test_translation.py compares the syntax trees).
An English cell that changes no longer matches its msgid: `update` keeps the old Chinese as a fuzzy suggestion,
and `build` and the tests refuse until a translator has confirmed it. gettext's .po format (read and written
with polib) is used because translators' editors (Poedit, Lokalize, Weblate) read it, and because it records the
English source beside each translation, which is what makes a stale translation detectable.
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import io
import itertools
import re
import sys
import tokenize
from pathlib import Path

import nbformat
import polib

from helpers.paths import PROJECT_ROOT

LANG = "zh_CN"
ENGLISH = PROJECT_ROOT / "notebooks"
CHINESE = ENGLISH / "zh"
CATALOGUES = PROJECT_ROOT / "translations" / LANG
MESSAGES = PROJECT_ROOT / "helpers" / "locale"  # the helpers' own messages (helpers/i18n.py)
INSTALL_CELL = "from helpers.hosted import finish_setup"  # the shared Colab/Kaggle cell: pip's messages, not prose


class StaleTranslation(ValueError):
    """A catalogue does not cover the English chapter as it is now."""


def chapters() -> list[Path]:
    """The English chapter notebooks, in order (maintainer tool)."""
    return sorted(ENGLISH.glob("[0-9][0-9]_*.ipynb"))


def catalogue_path(chapter: Path) -> Path:
    """Where a chapter's translations live (maintainer tool)."""
    return CATALOGUES / f"{chapter.stem}.po"


def _has_prose(source: str) -> bool:
    """True for code with a comment or a string holding words (a caption or a title) (maintainer tool)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return True
    return any(t.type == tokenize.COMMENT or (t.type == tokenize.STRING and " " in t.string) for t in tokens)


def units(nb) -> list[tuple[int, object]]:
    """The cells a translator works on: (index, cell) (maintainer tool)."""
    found = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and cell.source.strip():
            found.append((i, cell))
        elif cell.cell_type == "code" and INSTALL_CELL not in cell.source and _has_prose(cell.source):
            found.append((i, cell))
    return found


def _where(chapter: Path, cell) -> str:
    return f"{chapter.name}:{cell.get('id', '?')}"


def update(chapter: Path) -> polib.POFile:
    """Bring a catalogue up to its English cells; changed ones keep the old Chinese as fuzzy (maintainer tool)."""
    path = catalogue_path(chapter)
    old = polib.pofile(str(path)) if path.exists() else None
    by_source = {e.msgid: e for e in old} if old else {}
    by_cell = {}
    for e in old or []:
        for place, _ in e.occurrences:
            by_cell[place] = e
    nb = nbformat.read(chapter, as_version=4)
    po = polib.POFile(wrapwidth=0)
    po.metadata = {"Project-Id-Version": "diffusers-img2img-tutorial", "Language": LANG,
                   "MIME-Version": "1.0", "Content-Type": "text/plain; charset=UTF-8",
                   "Content-Transfer-Encoding": "8bit"}
    for _, cell in units(nb):
        place = _where(chapter, cell)
        entry = polib.POEntry(msgid=cell.source, msgstr="", occurrences=[(place, "")],
                              comment=f"{cell.cell_type} cell")
        known = by_source.get(cell.source)
        if known is not None:
            entry.msgstr, entry.flags = known.msgstr, list(known.flags)
        elif place in by_cell and by_cell[place].msgstr:  # the same cell, changed in English
            entry.msgstr, entry.flags = by_cell[place].msgstr, ["fuzzy"]
            entry.previous_msgid = by_cell[place].msgid
        po.append(entry)
    path.parent.mkdir(parents=True, exist_ok=True)
    po.save(str(path))
    return po


def problems(chapter: Path, po: polib.POFile | None = None) -> list[str]:
    """What stops a Chinese chapter from being built: untranslated, fuzzy or missing cells (maintainer tool)."""
    path = catalogue_path(chapter)
    if po is None:
        if not path.exists():
            return [f"{path.relative_to(PROJECT_ROOT)} does not exist: run python -m tools.translate update"]
        po = polib.pofile(str(path))
    entries = {e.msgid: e for e in po if not e.obsolete}
    nb = nbformat.read(chapter, as_version=4)
    found = []
    for i, cell in units(nb):
        entry = entries.get(cell.source)
        where = f"{chapter.name} cell {i} ({cell.cell_type}, id {cell.get('id', '?')})"
        if entry is None:
            found.append(f"{where} changed in English, and {path.name} has no translation of the new text")
        elif "fuzzy" in entry.flags:
            found.append(f"{where} changed in English; its old translation in {path.name} is marked fuzzy")
        elif not entry.msgstr.strip():
            found.append(f"{where} has no translation in {path.name}")
    return found


def translated(chapter: Path, po: polib.POFile | None = None):
    """A chapter's Chinese notebook, without outputs; raises StaleTranslation naming each gap (maintainer tool)."""
    po = po if po is not None else polib.pofile(str(catalogue_path(chapter)))
    gaps = problems(chapter, po)
    if gaps:
        raise StaleTranslation("The Chinese edition is behind the English one:\n  " + "\n  ".join(gaps)
                               + "\nRun python -m tools.translate update, translate the entries it marks (msgstr; "
                               "remove the fuzzy flag once checked), then python -m tools.translate build.")
    entries = {e.msgid: e.msgstr for e in po}
    nb = nbformat.read(chapter, as_version=4)
    zh = copy.deepcopy(nb)
    wanted = {i for i, _ in units(nb)}
    for i, cell in enumerate(zh.cells):
        if i in wanted:
            cell.source = entries[nb.cells[i].source]
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    zh.metadata["language"] = "zh-CN"
    return zh


def text(nb) -> str:
    """A notebook as the bytes nbformat writes (maintainer tool)."""
    return nbformat.writes(nb) + "\n"


def main(argv=None) -> int:
    """update / build / check the Chinese chapters (maintainer tool)."""
    parser = argparse.ArgumentParser(prog="python -m tools.translate", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["update", "build", "check", "compile", "book-index"])
    parser.add_argument("--book", type=Path, default=BOOK, help="the chapter's text, for book-index")
    args = parser.parse_args(argv)
    failed = 0
    if args.action == "book-index":
        BOOK_INDEX.write_text("\n".join(book_index(args.book.read_text(encoding="utf-8"))) + "\n")
        print(f"wrote {BOOK_INDEX.relative_to(PROJECT_ROOT)}")
        return 0
    if args.action == "compile":
        for source in sorted(MESSAGES.glob("*/LC_MESSAGES/*.po")):
            polib.pofile(str(source)).save_as_mofile(str(source.with_suffix(".mo")))
            print(f"wrote {source.with_suffix('.mo').relative_to(PROJECT_ROOT)}")
        return 0
    for chapter in chapters():
        if args.action == "update":
            po = update(chapter)
            todo = problems(chapter, po)
            print(f"{catalogue_path(chapter).relative_to(PROJECT_ROOT)}: {len(po)} entries, {len(todo)} to translate")
            continue
        try:
            zh = translated(chapter)
        except StaleTranslation as err:
            print(err, file=sys.stderr)
            failed += 1
            continue
        target = CHINESE / chapter.name
        if args.action == "build":
            target.parent.mkdir(exist_ok=True)
            target.write_text(text(zh), encoding="utf-8")
            print(f"wrote {target.relative_to(PROJECT_ROOT)}")
        elif not target.exists() or target.read_text(encoding="utf-8") != text(zh):
            print(f"{target.relative_to(PROJECT_ROOT)} is not what the catalogue builds: run python -m tools.translate "
                  "build", file=sys.stderr)
            failed += 1
    return 1 if failed else 0



# --- one source of code: what a Chinese code cell may change ---------------------------------------------------

LANGUAGE_SWITCH = ("use_models", "lang")  # the one allowed difference: use_models(..., lang="zh") in the setup cell
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
MARKER = re.compile(r"#\s*(NBVAL_[A-Z_]+)")


class _Strings(ast.NodeTransformer):
    """Replace every string constant by a placeholder, recording it with where it stands."""

    def __init__(self):
        self.found = []  # (value, context) in tree order
        self.context = []

    def visit_Call(self, node):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name == LANGUAGE_SWITCH[0]:
            node.keywords = [k for k in node.keywords if k.arg != LANGUAGE_SWITCH[1]]
        self.context.append(f"call {name}")
        self.generic_visit(node)
        self.context.pop()
        return node

    def visit_keyword(self, node):
        self.context.append(f"keyword {node.arg}")
        self.generic_visit(node)
        self.context.pop()
        return node

    def visit_Assign(self, node):
        names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        self.context.append(f"assign {','.join(names)}")
        self.generic_visit(node)
        self.context.pop()
        return node

    def visit_Constant(self, node):
        if isinstance(node.value, str):
            self.found.append((node.value, tuple(self.context)))
            return ast.copy_location(ast.Constant(value="<str>"), node)
        return node


def _shown_only(context: tuple[str, ...]) -> bool:
    """False where a string reaches text output or the model: print(), a prompt (maintainer tool)."""
    return not any(c == "call print" or "prompt" in c.split(" ", 1)[-1] for c in context)


def code_differences(english: str, chinese: str) -> list[str]:
    """How a Chinese code cell runs differently from its English one; [] when only words shown differ (maintainer tool).

    Allowed: comments; strings that became Chinese outside print() and prompts (captions, titles, labels); the
    language switch use_models(..., lang=...). Everything else must be identical, syntax tree for syntax tree."""
    try:
        trees = [ast.parse(english), ast.parse(chinese)]
    except SyntaxError as err:
        return [f"does not parse: {err}"]
    walkers = [_Strings(), _Strings()]
    dumps = [ast.dump(w.visit(t)) for w, t in zip(walkers, trees, strict=False)]
    found = []
    if dumps[0] != dumps[1]:
        found.append("the code differs, not only its words (compare the two cells' calls and arguments)")
    for (en, where), (zh, _) in zip(walkers[0].found, walkers[1].found, strict=False):
        if en == zh:
            continue
        if not CJK.search(zh):
            found.append(f"string {en!r} became {zh!r}: only a translation into Chinese may change a string")
        elif not _shown_only(where):
            found.append(f"string {en!r} is printed or is a prompt ({' > '.join(where)}): it must stay as it is, "
                         "so that both editions print the same and draw the same pictures")
    if MARKER.findall(english) != MARKER.findall(chinese):
        found.append(f"nbval markers differ: {MARKER.findall(english)} vs {MARKER.findall(chinese)}")
    return found


def _text_outputs(cell) -> str | None:
    """What nbval compares in a code cell, less the picture's own repr (its size follows the captions' language)."""
    if "NBVAL_IGNORE_OUTPUT" in cell.source.split("\n", 1)[0]:  # nbval does not compare it either
        return None
    streams, said = {}, []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":  # one print may arrive in one piece or several, stdout and stderr interleaved
            streams[out.get("name")] = streams.get(out.get("name"), "") + out.get("text", "")
        elif kind == "error":
            said.append(f"[error] {out.get('ename')}: {out.get('evalue')}")
        elif not any(k.startswith("image/") for k in out.get("data", {})):
            said.append(f"[{kind}] {out.get('data', {}).get('text/plain', '')}")
    return "".join(f"[{name}] {text}" for name, text in sorted(streams.items())) + "".join(said)


def output_differences(english, chinese) -> list[str]:
    """Code cells whose executed text differs between the two editions of a chapter (main job)."""
    en = [c for c in english.cells if c.cell_type == "code"]
    zh = [c for c in chinese.cells if c.cell_type == "code"]
    if len(en) != len(zh):
        return [f"the editions have {len(en)} and {len(zh)} code cells"]
    found = []
    for i, (a, b) in enumerate(zip(en, zh, strict=False), start=1):
        said_en, said_zh = _text_outputs(a), _text_outputs(b)
        if said_en is not None and said_en != said_zh:
            pairs = itertools.zip_longest(said_en.splitlines(), (said_zh or "").splitlines(), fillvalue="")
            x, y = next(((x, y) for x, y in pairs if x != y), (said_en, said_zh))
            found.append(f"code cell {i}: English printed {x[:120]!r}, Chinese {y[:120]!r}")
    return found


# --- the book's words: an index of the chapter's Chinese, so tests can check terms without the book's text ------

BOOK = PROJECT_ROOT.parent / "shared" / "seed" / "000_14f6f646e1ecf29b.txt"  # the chapter, where it is at hand
BOOK_INDEX = PROJECT_ROOT / "translations" / "book_terms.sha256"
GLOSSARY = PROJECT_ROOT / "translations" / "glossary.yaml"


def _digest(term: str) -> str:
    return hashlib.sha256(term.encode("utf-8")).hexdigest()[:8]


def book_index(text: str, longest: int = 6) -> list[str]:
    """Short SHA-256 digests of every run of 2 to `longest` Chinese characters in the chapter (maintainer tool).

    Committed instead of the book's text: it answers "does the book use this word?" and cannot be read back."""
    grams = set()
    for run in re.findall(r"[\u3400-\u9fff]+", text):
        for n in range(2, longest + 1):
            grams.update(run[i:i + n] for i in range(len(run) - n + 1))
    return sorted({_digest(g) for g in grams})


def in_book(term: str, index: set[str]) -> bool:
    """True when the chapter uses `term` (2 to 6 Chinese characters), by its digest (maintainer tool)."""
    return _digest(term) in index


if __name__ == "__main__":
    raise SystemExit(main())
