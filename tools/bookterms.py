"""The book's words: an index of the chapter's Chinese, so that tests can check the glossary without the book.

    python -m tools.bookterms [PATH]   # translations/book_terms.sha256 from the chapter's text

The index holds a short SHA-256 digest of every run of 2 to 6 Chinese characters in the chapter, not its text.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

from helpers.paths import PROJECT_ROOT

BOOK = PROJECT_ROOT.parent / "shared" / "seed" / "000_14f6f646e1ecf29b.txt"  # the chapter, where it is at hand
BOOK_INDEX = PROJECT_ROOT / "translations" / "book_terms.sha256"
GLOSSARY = PROJECT_ROOT / "translations" / "glossary.yaml"


def _digest(term: str) -> str:
    return hashlib.sha256(term.encode("utf-8")).hexdigest()[:8]


def book_index(text: str, longest: int = 6) -> list[str]:
    """Short SHA-256 digests of every run of 2 to `longest` Chinese characters in the chapter (maintainer tool).

    Committed instead of the book's text: it answers "does the book use this word?" without storing the text."""
    grams = set()
    for run in re.findall(r"[\u3400-\u9fff]+", text):
        for n in range(2, longest + 1):
            grams.update(run[i:i + n] for i in range(len(run) - n + 1))
    return sorted({_digest(g) for g in grams})


def in_book(term: str, index: set[str]) -> bool:
    """True when the chapter uses `term` (2 to 6 Chinese characters), by its digest (maintainer tool)."""
    return _digest(term) in index


def main(argv=None) -> int:
    """Write the index from the chapter's text (maintainer tool)."""
    argv = sys.argv[1:] if argv is None else argv
    book = Path(argv[0]) if argv else BOOK
    BOOK_INDEX.write_text("\n".join(book_index(book.read_text(encoding="utf-8"))) + "\n")
    print(f"wrote {BOOK_INDEX.relative_to(PROJECT_ROOT)} from {book}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
