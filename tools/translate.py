"""The Chinese edition: notebooks/zh/NN_name.ipynb, made from the English chapter plus a gettext catalogue.

    python -m tools.translate update   # new or changed English cells into translations/zh_CN/NN_name.po
    python -m tools.translate build    # write notebooks/zh/ from the English chapters and the catalogues
    python -m tools.translate check    # fail when a catalogue or a Chinese chapter is behind its English one
    python -m tools.translate compile  # helpers/locale/*/LC_MESSAGES/tutorial.po -> .mo (the helpers' messages)

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
import io
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
    """True for code with a comment or a string holding words, f-strings included (maintainer tool)."""
    try:
        tree = ast.parse(source)
        comments = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type == tokenize.COMMENT]
    except (SyntaxError, tokenize.TokenError):
        return True
    strings = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    return bool(comments) or any(" " in v for v in strings)  # on 3.12+ tokenize splits f-strings: read the tree


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
            entry.msgstr, entry.flags, entry.tcomment = known.msgstr, list(known.flags), known.tcomment
            entry.previous_msgid = known.previous_msgid
        elif place in by_cell and by_cell[place].msgstr:  # the same cell, changed in English
            was = by_cell[place]
            entry.msgstr, entry.flags, entry.tcomment = was.msgstr, ["fuzzy"], was.tcomment
            # the English the Chinese was made from: kept when the cell changes again before anyone translates it
            entry.previous_msgid = was.previous_msgid if "fuzzy" in was.flags and was.previous_msgid else was.msgid
        po.append(entry)
    used = {e.msgid for e in po} | {e.previous_msgid for e in po if "fuzzy" in e.flags}  # carried on as fuzzy
    for gone in old or []:  # a deleted cell's translation stays as gettext's obsolete entry (#~), for reuse
        if gone.msgid not in used and gone.msgid and gone.msgstr:
            gone.obsolete = True
            po.append(gone)
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
            known = any(place == _where(chapter, cell) for e in po for place, _ in e.occurrences)
            found.append(f"{where} {'changed in English, and' if known else 'is new in English:'} {path.name} has "
                         "no translation of its text")
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


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _built_record(target: Path) -> Path:
    """Where build keeps the hash of the Chinese chapter it wrote last (maintainer tool)."""
    return PROJECT_ROOT / ".cache" / "translate" / f"{target.name}.sha256"


def _committed(target: Path) -> bytes | None:
    """The chapter as the checkout's last commit holds it, or None outside a git checkout (maintainer tool)."""
    import subprocess

    try:
        shown = subprocess.run(["git", "show", f"HEAD:{target.relative_to(PROJECT_ROOT).as_posix()}"],
                               cwd=PROJECT_ROOT, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return shown.stdout if shown.returncode == 0 else None


def keep_edited(target: Path, new: str) -> str:
    """Move a Chinese chapter aside when someone changed it by hand; return the note that says where (maintainer tool).

    It is build's own when it is what build writes now, what build wrote last (its hash in .cache/translate/), or
    what the last commit holds. Anything else holds someone's changes: it is renamed to edited-<date>-NN_name.ipynb
    in the same folder (a name the chapter lists do not pick up), never replaced.
    """
    import time

    if not target.exists():
        return ""
    data = target.read_bytes()
    record = _built_record(target)
    if (data == new.encode("utf-8") or (record.exists() and record.read_text().strip() == _sha256(data))
            or data == _committed(target)):
        return ""
    aside = target.with_name(f"edited-{time.strftime('%Y%m%d-%H%M%S')}-{target.name}")
    target.rename(aside)
    return f"; it had changes build did not make, kept as {aside.relative_to(PROJECT_ROOT)}"


def main(argv=None) -> int:
    """update / build / check the Chinese chapters (maintainer tool)."""
    parser = argparse.ArgumentParser(prog="python -m tools.translate", description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["update", "build", "check", "compile"])
    args = parser.parse_args(argv)
    failed = 0
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
            note = keep_edited(target, text(zh))
            target.write_text(text(zh), encoding="utf-8")
            _built_record(target).parent.mkdir(parents=True, exist_ok=True)
            _built_record(target).write_text(_sha256(target.read_bytes()) + "\n")
            print(f"wrote {target.relative_to(PROJECT_ROOT)}{note}")
        elif not target.exists() or target.read_text(encoding="utf-8") != text(zh):
            print(f"{target.relative_to(PROJECT_ROOT)} is not what the catalogue builds: run python -m tools.translate "
                  "build (a Chinese chapter with changes of your own is moved aside first, not lost)", file=sys.stderr)
            failed += 1
    return 1 if failed else 0





if __name__ == "__main__":
    raise SystemExit(main())
