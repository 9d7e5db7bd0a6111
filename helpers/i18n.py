"""The language of what the helpers show a reader: the panels' labels and status line, the error notes' headings.

Messages are marked `_("...")` in the helpers and translated with the standard library's gettext from
helpers/locale/<language>/LC_MESSAGES/tutorial.mo, compiled from the .po beside it
(`python -m tools.translate compile`). A chapter says its language once, in its setup cell:
`use_models(..., lang="zh")`. Printed lines (verdicts, fingerprints, what was loaded) stay English in both
editions, so that one set of stored outputs tests both.
"""

from __future__ import annotations

import gettext
from pathlib import Path

DOMAIN = "tutorial"
LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES = {"en": None, "zh": "zh_CN"}  # what lang= takes -> the gettext catalogue (None: the English source)
_active = {"lang": "en", "catalogue": gettext.NullTranslations()}


def set_language(lang: str) -> None:
    """Show the helpers' labels and headings in `lang` ("en" or "zh") from now on (every chapter)."""
    _check(lang)
    _active.update(lang=lang, catalogue=_catalogue(lang))


def _check(lang) -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"lang={lang!r} is not a language of this tutorial; use one of "
                         f"{', '.join(map(repr, LANGUAGES))} (\"zh\": 简体中文).")


def _catalogue(lang: str) -> gettext.NullTranslations:
    code = LANGUAGES[lang]
    if code is None:
        return gettext.NullTranslations()
    try:
        return gettext.translation(DOMAIN, LOCALE_DIR, languages=[code])
    except OSError:  # gettext's own words name neither the file nor the fix
        raise FileNotFoundError(f"The {lang!r} messages are missing: {LOCALE_DIR / code / 'LC_MESSAGES' / DOMAIN}.mo. "
                                "Reinstall the tutorial's helpers (the chapter's first cell on Colab and Kaggle, "
                                "pip install -e . in a checkout), or in a checkout run python -m tools.translate "
                                "compile.") from None


def language() -> str:
    """The language set by use_models(lang=...): "en" unless a chapter chose another (every chapter)."""
    return _active["lang"]


def _(message: str) -> str:
    """`message` in the chapter's language (gettext's usual name, so that extractors find it)."""
    return _active["catalogue"].gettext(message)


def translator(lang: str):
    """gettext for `lang` without changing the chapter's language: pages written for both editions (main job)."""
    _check(lang)
    return _catalogue(lang).gettext


def N_(message: str) -> str:
    """Mark a constant for translation where it is defined; `_()` translates it where shown (every chapter)."""
    return message
