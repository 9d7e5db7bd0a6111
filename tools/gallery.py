"""The gallery the main job writes: each executed chapter as one light HTML page, and a contents page per edition.

    build/index.html, build/NN_name.html         the English edition
    build/zh/index.html, build/zh/NN_name.html   the Chinese one (中文版)

Pages are nbconvert's HTML export of the executed notebooks (text, code, verdict lines and figures) with
nbconvert's small `basic` template, figures recompressed to JPEG, and a bar on top linking the contents and the
other edition. Everything is read from the notebooks the job saved, so a chapter not run this time keeps its
last good page. Each page is written atomically; a page the learner edited is moved aside (tools.written).
"""

from __future__ import annotations

import base64
import copy
import html
import io
import time
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from PIL import Image
from pygments.formatters import HtmlFormatter

from helpers.i18n import translator
from tools.translate import INSTALL_CELL
from tools.written import PAGE_TITLE, ours, record, write_ours

EDITIONS = {"en": ("English", ""), "zh": ("中文", "zh")}  # lang -> (its name, its folder under build/)
WIDEST = 1100  # px: wider figures are shrunk for the page (the notebook keeps the original)
QUALITY = 82
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei","WenQuanYi Micro Hei",sans-serif;
max-width:1100px;margin:auto;padding:0 12px;line-height:1.55;color:#222}
nav{position:sticky;top:0;background:#f6f6f6;border-bottom:1px solid #ddd;padding:6px 10px;margin:0 -12px 8px}
nav a{margin-right:1em}.status{font-size:90%;color:#555}.fail{color:#b00}.mode{background:#fff3e0;padding:4px 8px}
pre{background:#f7f7f7;padding:8px;overflow-x:auto;font-size:85%;line-height:1.35}
.jp-OutputArea-output pre,.output_text pre{white-space:pre-wrap;overflow-wrap:anywhere}
.jp-InputArea pre,.input_area pre{border-left:3px solid #8ab}img{max-width:100%;height:auto}
.jp-OutputArea-output pre,.output_text pre{background:#fff;border-left:3px solid #ddd}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}
ol.contents li{margin:.6em 0}
"""


def light(nb, lang: str = "en", widest: int = WIDEST, quality: int = QUALITY):
    """A copy of an executed notebook with its PNG figures as smaller JPEGs and no widget state (main job)."""
    _ = translator(lang)
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)  # the panels' saved state: megabytes of pictures no static page can use
    for cell in nb.cells:
        if cell.cell_type == "code" and INSTALL_CELL in cell.source:  # 80 lines of pip plumbing: named, not shown
            cell.source = "# " + _("The Colab and Kaggle install cell: open the notebook to read it.")
        if cell.cell_type == "code":  # one block per stream, as Jupyter shows it, not one per print()
            joined = []
            for out in cell.get("outputs", []):
                if joined and out.get("output_type") == "stream" == joined[-1].get("output_type") and \
                        out.get("name") == joined[-1].get("name"):
                    joined[-1]["text"] += out.get("text", "")
                else:
                    joined.append(out)
            cell.outputs = joined
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            data = out.get("data", {})
            if data.pop("application/vnd.jupyter.widget-view+json", None) is not None:  # a live panel
                data["text/plain"] = _("An interactive panel: open the notebook in Jupyter to use it.")
            png = data.get("image/png")
            if not png:
                continue
            picture = Image.open(io.BytesIO(base64.b64decode(png)))
            if picture.width > widest:
                picture = picture.resize((widest, round(picture.height * widest / picture.width)), Image.LANCZOS)
            flat = Image.new("RGB", picture.size, "white")
            flat.paste(picture.convert("RGBA"), mask=picture.convert("RGBA").getchannel("A"))
            buffer = io.BytesIO()
            flat.save(buffer, "JPEG", quality=quality, optimize=True)
            if buffer.tell() < len(png) * 3 // 4:  # base64 is 4/3 of the bytes: keep whichever is smaller
                del data["image/png"]
                data["image/jpeg"] = base64.b64encode(buffer.getvalue()).decode()
                out.setdefault("metadata", {}).pop("image/png", None)
    return nb


def title_of(nb, fallback: str) -> str:
    """The chapter's first heading, without markdown marks (main job)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").replace("`", "").strip()
    return fallback


def _run_facts(nb) -> dict:
    return nb.metadata.get("tutorial_run", {})


def _mode_line(nb) -> str:
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "stream" and out.get("text", "").startswith("Models:"):
                return out["text"].splitlines()[0]
    return ""


def _made_with(nb, _) -> str:
    """The weights a run used, in the page's language (the notebook prints it in English, for nbval)."""
    line = _mode_line(nb)
    if line.startswith("Models: TWINS"):
        return _("Made with the twins: tiny stand-ins that show what a pipeline does to a picture and know only "
                 "six words, as colour casts; only the real checkpoints draw the lesson's pictures.")
    if line.startswith("Models: HUB"):
        return _("Made with the real checkpoints.")
    return ""


def _when(facts: dict, since: float, _) -> str:
    seconds, ran_at = facts.get("seconds"), facts.get("ran_at")
    if seconds is None:
        return ""
    if ran_at is not None and ran_at < since:  # a chapter this job did not run keeps its earlier page
        return _("not run this time: from the run of {when} ({seconds:.1f} s)").format(
            when=time.strftime("%Y-%m-%d %H:%M", time.localtime(ran_at)), seconds=seconds)
    return _("run time: {seconds:.1f} s").format(seconds=seconds)


def _not_built(other: str, _) -> str:
    """Where the other edition's link would be: why there is none, and the command that makes it."""
    said = _("{edition}: not built yet (python -m tools.run --lang {lang})").format(edition=EDITIONS[other][0],
                                                                                   lang=other)
    return f"<span class='status'>{html.escape(said)}</span>"


def _exporter() -> HTMLExporter:
    return HTMLExporter(template_name="basic", exclude_anchor_links=True)


def chapter_page(nb, name: str, lang: str, since: float, failed: str | None = None, other_page: bool = True,
                 newer_failure: str | None = None) -> str:
    """One chapter as a light HTML page with its run facts and a bar to the contents and other edition (main job).

    `failed`: this is a failed run, with that error; `newer_failure`: this good run is kept because a newer one
    failed so; `other_page`: the other edition has this chapter's page, so the bar links it."""
    _ = translator(lang)
    other = "en" if lang == "zh" else "zh"
    other_href = f"../{name}.html" if lang == "zh" else f"zh/{name}.html"
    body, _resources = _exporter().from_notebook_node(light(nb, lang))
    facts = [f"<span class='status'>{html.escape(_when(_run_facts(nb), since, _))}</span>"]
    made = _made_with(nb, _)
    if made:
        facts.append(f"<p class='mode'>{html.escape(made)}</p>")
    if failed:
        facts.append(f"<p class='fail'>{html.escape(_('FAILED: {error}').format(error=failed))} "
                     f"{html.escape(_('Figures below are those made before the failure.'))}</p>")
    if newer_failure:
        said = _("The newest run of this chapter failed: {error}. This page shows the last good run.")
        facts.append(f"<p class='fail'>{html.escape(said.format(error=newer_failure))} "
                     f"<a href='{html.escape(name)}.failed.html'>{html.escape(_('the failed run'))}</a></p>")
    switch = f"<a href='{other_href}' hreflang='{other}'>{EDITIONS[other][0]}</a>" if other_page else \
        _not_built(other, _)
    bar = (f"<nav><a href='index.html'>{html.escape(_('Contents'))}</a>{switch}"
           f"<a href='{html.escape(name)}{'.failed' if failed else ''}.ipynb'>.ipynb</a></nav>")
    style = CSS + HtmlFormatter().get_style_defs(".highlight")
    return (f"<!doctype html><html lang='{'zh-CN' if lang == 'zh' else 'en'}'><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width'><title>{html.escape(title_of(nb, name))}</title>"
            f"<style>{style}</style><body>{bar}{''.join(facts)}{body}</body></html>\n")


def contents_page(rows, lang: str, since: float, other_page: bool = True) -> str:
    """The contents of one edition: each chapter's title, status and run time, linking its page (main job).

    `rows` holds (name, good notebook or None, failed notebook or None, its error line or None)."""
    _ = translator(lang)
    other = "en" if lang == "zh" else "zh"
    said = {_made_with(f if f is not None else g, _) for _n, g, f, _e in rows}  # which weights each run used
    items = []
    for name, good, failed, error in rows:
        nb = failed if failed is not None else good
        title = html.escape(title_of(nb, name))
        link = f"<a href='{html.escape(name)}.html'>{title}</a>" if good is not None else title
        line = [link, f"<br><span class='status'>{html.escape(_when(_run_facts(nb), since, _))}</span>"]
        if failed is not None:
            kept = (_("the last good run is kept: {page}").format(page=f"<a href='{html.escape(name)}.html'>"
                                                                       f"{html.escape(name)}.html</a>")
                    if good is not None else html.escape(_("there is no earlier good run")))
            line.append(f"<br><span class='fail'>{html.escape(_('FAILED: {error}').format(error=error or ''))}"
                        f"</span> <a href='{html.escape(name)}.failed.html'>{html.escape(_('the failed run'))}</a>; "
                        f"{kept}")
        made = _made_with(nb, _)
        if made and len(said) > 1:
            line.append(f"<br><span class='status'>{html.escape(made)}</span>")  # said once above when all agree
        items.append(f"<li>{''.join(line)}</li>")
    intro = _("Each chapter as the main job last ran it: its text, code, printed lines and figures.")
    heading = html.escape(_("diffusers image-to-image, hands on: the chapters"))
    page_title = PAGE_TITLE if lang == "en" else heading  # the English one as every version of the job wrote it
    shared = f"<p class='mode'>{html.escape(said.pop())}</p>" if len(said) == 1 and "" not in said else ""
    href = "../index.html" if lang == "zh" else "zh/index.html"
    switch = f"<a href='{href}' hreflang='{other}'>{EDITIONS[other][0]}</a>" if other_page else _not_built(other, _)
    return (f"<!doctype html><html lang='{'zh-CN' if lang == 'zh' else 'en'}'><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width'><title>{page_title}</title>"
            f"<style>{CSS}</style><body><nav>{switch}</nav>"
            f"<h1>{heading}</h1>"
            f"<p>{html.escape(intro)}</p>{shared}"
            f"<ol class='contents'>{''.join(items)}</ol></body></html>\n")


def write_edition(out: Path, lang: str, since: float) -> tuple[Path, list[str]]:
    """Write one edition's chapter pages and contents from the notebooks in `out`; return them and notes (main job)."""
    notes, rows = [], []
    for path in sorted(out.glob("[0-9][0-9]_*.ipynb")):
        if path.name.endswith(".failed.ipynb") or ".edited-" in path.name:
            continue
        rows.append(path.stem)
    for path in sorted(out.glob("[0-9][0-9]_*.failed.ipynb")):
        name = path.name.removesuffix(".failed.ipynb")
        if name not in rows:
            rows.append(name)
    table, other = [], out.parent if lang == "zh" else out / "zh"  # the other edition's folder
    for name in sorted(rows):
        good_path, failed_path = out / f"{name}.ipynb", out / f"{name}.failed.ipynb"
        good = nbformat.read(good_path, as_version=4) if good_path.exists() else None
        failed = nbformat.read(failed_path, as_version=4) if failed_path.exists() else None
        if failed is not None and good is not None and \
                _run_facts(failed).get("ran_at", 0) < _run_facts(good).get("ran_at", 0):
            failed = None  # a failure older than the good run it followed says nothing about the chapter now
        error = _run_facts(failed).get("error") if failed is not None else None
        if good is not None:
            notes.append(write_ours(out / f"{name}.html", lambda f, nb=good, n=name, e=error: f.write(
                chapter_page(nb, n, lang, since, other_page=(other / f"{n}.html").exists(), newer_failure=e))))
        stale = out / f"{name}.failed.html"
        if failed is None and stale.exists() and ours(stale):  # its run passed since: the job's page goes
            stale.unlink()
            record(stale).unlink(missing_ok=True)
        if failed is not None:
            notes.append(write_ours(out / f"{name}.failed.html", lambda f, nb=failed, n=name, e=error: f.write(
                chapter_page(nb, n, lang, since, failed=e or "?", other_page=(other / f"{n}.html").exists()))))
        table.append((name, good, failed, error))
    page = out / "index.html"
    notes.append(write_ours(page, lambda f: f.write(contents_page(table, lang, since,
                                                                  (other / "index.html").exists()))))
    return page, [n.removeprefix("; ") for n in notes if n]
