"""Text for figures: the font that can draw a caption (a CJK font for Chinese), wrapping, and captioned strips.

Captions and titles are drawn in Pillow's bundled font when it has every character (all ASCII text), else in a
font with Chinese, Japanese and Korean glyphs: Debian's fonts-wqy-microhei (WenQuanYi Micro Hei), or a CJK font
the system already has (macOS, Windows, other Linux packages). Without one, such characters draw as boxes and one
warning per figure names the install command; characters the font in use lacks otherwise (emoji) are named in the
same one warning.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
import unicodedata
import warnings

from PIL import Image, ImageDraw, ImageFont

PAD = 6  # margin around text, and the gap between pictures in a figure

CJK_FONT_PACKAGE = "fonts-wqy-microhei"
CJK_FONT_FILE = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
_UNMAPPED = "\U0010fffd"  # a private-use code point no font maps: it draws the font's "missing glyph" box
_PROBE = "中文"  # a candidate CJK font must have glyphs for these
_NO_BREAK_BEFORE = set("，。、；：！？）」』》〉】…·,.;:!?)”’")


class MissingFontWarning(UserWarning):
    """Caption or title characters that no font found here can draw; they show as boxes."""


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType, or older than 10.1
        return ImageFont.load_default()


@functools.lru_cache(maxsize=32)
def _truetype(path: str, size: int):
    return ImageFont.truetype(path, size, index=0)  # index 0: the regular face of a .ttc collection


def _has_glyph(font, char: str, missing_box) -> bool:
    try:
        mask = font.getmask(char)
    except UnicodeEncodeError:  # Pillow's bitmap font (no FreeType) knows Latin-1 only
        return False
    return missing_box is None or mask.size != missing_box.size or bytes(mask) != bytes(missing_box)


def _missing(font, text: str) -> str:
    """The characters of `text` that `font` has no glyph for, each once, in order (ASCII and spaces never)."""
    try:
        missing_box = font.getmask(_UNMAPPED)
    except UnicodeEncodeError:
        missing_box = None
    out = [c for c in dict.fromkeys(str(text))
           if not (" " <= c <= "~" or c.isspace()) and not _has_glyph(font, c, missing_box)]
    return "".join(out)


def _candidates() -> list[str]:
    """Font files to try, best first: the package this project installs, then well-known system CJK fonts."""
    fonts = os.path.join(os.environ.get("WINDIR", r"C:\Windows"), "Fonts")
    paths = [
        CJK_FONT_FILE,
        # other Linux packages: Noto Sans CJK (Debian/Ubuntu, Fedora, Arch), WenQuanYi Zen Hei, Droid Sans Fallback
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
        "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
        "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
        # macOS
        "/System/Library/Fonts/PingFang.ttc",
        "/System/Library/Fonts/Hiragino Sans GB.ttc",
        "/System/Library/Fonts/STHeiti Medium.ttc",
        "/System/Library/Fonts/STHeiti Light.ttc",
        "/System/Library/Fonts/Supplemental/Arial Unicode.ttf",
        "/Library/Fonts/Arial Unicode.ttf",
        # Windows: Microsoft YaHei, SimHei, SimSun, Microsoft JhengHei
        *(os.path.join(fonts, name) for name in ("msyh.ttc", "simhei.ttf", "simsun.ttc", "msjh.ttc")),
    ]
    paths += sorted(glob.glob("/usr/share/fonts/opentype/noto/NotoSans*CJK*.tt[cf]"))
    if shutil.which("fc-list"):  # fontconfig: whatever else is installed that covers Chinese
        try:
            listed = subprocess.run(["fc-list", "-f", "%{file}\n", ":lang=zh-cn"], capture_output=True,
                                    text=True, timeout=10).stdout.split("\n")
        except (OSError, subprocess.SubprocessError):
            listed = []
        paths += sorted(p for p in listed if p.lower().endswith((".ttc", ".ttf", ".otf", ".otc")))
    return paths


_found: list[str] = []  # the CJK font file, once found; "none found" is not kept, so installing one mid-session works


def find_cjk_font() -> str | None:
    """Path of a font with Chinese, Japanese and Korean glyphs, or None where this machine has none (ch. 1)."""
    if _found:
        return _found[0]
    for path in dict.fromkeys(_candidates()):
        if not os.path.isfile(path):
            continue
        try:
            usable = not _missing(_truetype(path, 16), _PROBE)
        except OSError:  # unreadable, or a format FreeType cannot open
            continue
        if usable:
            _found.append(path)
            return path
    return None


def _install_command() -> str:
    sudo = "sudo " if hasattr(os, "geteuid") and os.geteuid() != 0 and shutil.which("sudo") else ""
    return f"{sudo}apt-get install -y {CJK_FONT_PACKAGE}"


def _needs_cjk_font(chars: str) -> str:
    shown = chars if len(chars) <= 12 else chars[:12] + "…"
    return (f"No font with glyphs for {shown!r} was found, so those characters are drawn as boxes. "
            f"The font for Chinese, Japanese and Korean captions is {CJK_FONT_PACKAGE} (WenQuanYi Micro Hei); "
            f"install it with `{_install_command()}` (Debian, Ubuntu, Colab, Kaggle; in a notebook cell put ! in "
            "front) and run the cell again.")


def _cjk(char: str) -> bool:
    """Whether a CJK font may draw `char`: letters, digits, punctuation; not emoji, symbols or invisible marks."""
    return unicodedata.category(char)[0] in "LNPZ"


def warn_boxes(cjk: str, other: str, who: str = "captioned_grid") -> None:
    """Warn once for a figure: CJK characters with the font to install, others with what to do (ch. 1)."""
    parts = [_needs_cjk_font(cjk)] if cjk else []
    shown = "".join(c for c in other if unicodedata.category(c) not in ("Mn", "Me", "Cf")) or other
    if shown:
        shown = shown if len(shown) <= 12 else shown[:12] + "…"
        parts.append(f"The font used for captions and titles has no glyph for {shown!r}, so those characters are "
                     "drawn as boxes. Leave them out, or write them in words.")
    text = " ".join(parts)
    warnings.warn(f"{who}: {text[0].lower()}{text[1:]}", MissingFontWarning, stacklevel=4)  # the grid's caller


def _drawable(text: str, font) -> str:
    """Swap dashes `font` lacks (the bundled one has neither — nor –) for ASCII ones."""
    text = str(text)
    for dash in "\u2014\u2013":
        if dash in text and _missing(font, dash):
            text = text.replace(dash, "-")
    return text


def pick_font(texts, size: int):
    """One font for all of `texts`: the bundled one if it draws them all (ASCII always), else a CJK font (ch. 1).

    Returns the font, the texts as they will be drawn, and the characters a CJK font would draw but none was found
    for, and those the chosen font has no glyph for otherwise (emoji, for one): each "" when there are none.
    """
    font = _font(size)
    drawn = [_drawable(t, font) for t in texts]
    missing = _missing(font, "".join(drawn))
    if missing and (path := find_cjk_font()) is not None:
        font = _truetype(path, size)
        drawn = [_drawable(t, font) for t in texts]
        return font, drawn, "", _missing(font, "".join(drawn))
    return font, drawn, "".join(filter(_cjk, missing)), "".join(c for c in missing if not _cjk(c))


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _cut(line: str, font, width: int) -> int:
    """Where to break an over-wide `line` beside a wide (CJK) character so the head fits; 0 where it can't."""
    for i in range(len(line) - 1, 0, -1):
        if ((_wide(line[i - 1]) or _wide(line[i])) and line[i] not in _NO_BREAK_BEFORE
                and font.getlength(line[:i].rstrip(" ")) <= width):
            return i
    return 0


def wrap(text: str, font, width: int) -> list[str]:
    """Break text into lines no wider than `width` pixels, at spaces and between CJK characters (ch. 1).

    Long words without CJK characters are left whole."""
    lines: list[str] = []
    for paragraph in str(text).splitlines() or [""]:
        line = ""
        for word in paragraph.split(" "):
            trial = f"{line} {word}" if line else word
            if line and font.getlength(trial) > width and not any(map(_wide, word)):
                lines.append(line)
                line = word
            else:
                line = trial
            while font.getlength(line) > width and (cut := _cut(line, font, width)):
                lines.append(line[:cut].rstrip(" "))
                line = line[cut:].lstrip(" ")
        lines.append(line)
    return lines


def text_bar(text: str, width: int, font, fill: str, ink: str, lines: int | None = None) -> Image.Image:
    """A strip `width` px wide with wrapped, centred text (as pick_font gives it); `lines` fixes its height (ch. 1)."""
    wrapped = wrap(text, font, width - 2 * PAD)
    # the bundled font keeps its "Ag" line height; a CJK font's ideographs may reach lower
    line_height = max(font.getbbox(probe)[3] for probe in ("Ag", "Ag中") if not _missing(font, probe)) + 4
    bar = Image.new("RGB", (width, (lines or len(wrapped)) * line_height + 2 * PAD), fill)
    draw = ImageDraw.Draw(bar)
    for i, line in enumerate(wrapped):
        x = max(PAD, (width - font.getlength(line)) / 2)
        draw.text((x, PAD + i * line_height), line, font=font, fill=ink)
    return bar
