"""The Chinese edition: built from its catalogues, never stale, the same code as the English one, the book's words."""

import ast
import re
import shutil

import nbformat
import polib
import pytest
import yaml

from helpers.i18n import _, set_language, translator
from helpers.paths import PROJECT_ROOT
from tools import bookterms, samecode
from tools import translate as tr

CHAPTERS = tr.chapters()
GLOSSARY = yaml.safe_load(bookterms.GLOSSARY.read_text(encoding="utf-8"))["terms"]
CJK = re.compile(r"[\u3400-\u9fff]")


def _zh(chapter):
    return nbformat.read(tr.CHINESE / chapter.name, as_version=4)


def test_there_is_a_chinese_chapter_for_every_english_one():
    assert [p.name for p in CHAPTERS] == sorted(p.name for p in tr.CHINESE.glob("[0-9][0-9]_*.ipynb"))
    assert len(CHAPTERS) >= 5


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_each_chinese_chapter_is_what_its_catalogue_builds_from_the_english_one_now(chapter):
    # fails when an English cell changed and its translation did not (StaleTranslation names the cell), or when
    # notebooks/zh/ was edited by hand instead of through translations/zh_CN/*.po
    built = tr.text(tr.translated(chapter))
    assert (tr.CHINESE / chapter.name).read_text(encoding="utf-8") == built, \
        "run python -m tools.translate build"


def test_a_changed_english_cell_stops_the_build_until_its_translation_is_confirmed(tmp_path, monkeypatch):
    chapter = CHAPTERS[0]
    shutil.copytree(tr.CATALOGUES, tmp_path / "po")
    monkeypatch.setattr(tr, "CATALOGUES", tmp_path / "po")
    nb = nbformat.read(chapter, as_version=4)
    i, cell = next((i, c) for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "safety checker" in c.source)
    old_chinese = {e.msgid: e.msgstr for e in polib.pofile(str(tr.catalogue_path(chapter)))}[cell.source]
    cell.source = cell.source.replace("black square", "black picture")  # an edit to the English text
    edited = tmp_path / chapter.name
    nbformat.write(nb, edited)

    with pytest.raises(tr.StaleTranslation, match=rf"{chapter.name} cell {i} \(markdown.*changed in English"):
        tr.translated(edited)
    po = tr.update(edited)  # the old Chinese is kept as a suggestion, marked fuzzy, with the old English beside it
    [entry] = [e for e in po if e.msgid == cell.source]
    assert entry.msgstr == old_chinese and "fuzzy" in entry.flags and "black square" in entry.previous_msgid
    assert not [e for e in po if e.obsolete]  # carried on as fuzzy, so not kept a second time as obsolete
    with pytest.raises(tr.StaleTranslation, match="marked fuzzy"):
        tr.translated(edited)
    entry.flags.remove("fuzzy")  # a translator checked it
    po.save(str(tr.catalogue_path(edited)))
    assert _zh_cell(tr.translated(edited), i) == old_chinese


def _zh_cell(nb, i):
    return nb.cells[i].source


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_chinese_code_cells_run_exactly_the_english_calls(chapter):
    """Same syntax trees, cell for cell, once comments and the strings only drawn into figures are set aside.

    The one allowed difference is the language switch, use_models(..., lang="zh") (tools.samecode.LANGUAGE_SWITCH).
    Strings in print() and prompts must be equal, so both editions print the same text (compared by nbval for the
    English one, and by the main job for both: tools.run.compare_editions)."""
    english, chinese = nbformat.read(chapter, as_version=4), _zh(chapter)
    assert [c.cell_type for c in english.cells] == [c.cell_type for c in chinese.cells]
    for i, (en, zh) in enumerate(zip(english.cells, chinese.cells, strict=True)):
        if en.cell_type == "code":
            assert samecode.code_differences(en.source, zh.source) == [], f"{chapter.name} cell {i}"
            assert en.metadata.get("tags") == zh.metadata.get("tags")
    switches = [c.source for c in chinese.cells if c.cell_type == "code" and "use_models(" in c.source]
    assert len(switches) == 1 and re.search(r"use_models\([^)]*lang=\"zh\"\)", switches[0], re.S)
    assert not any("lang=" in c.source for c in english.cells if c.cell_type == "code")  # English by default


@pytest.mark.parametrize(("english", "chinese", "cause"), [
    ("x = f(1)", "x = f(2)", "the code differs"),
    ("pipe(prompt='a cat in a hat')", "pipe(prompt='帽子里的猫')", "is not only drawn"),
    ("pipe('a cat in a hat')", "pipe('帽子里的猫')", "is not only drawn"),  # a prompt by position
    ("negative_prompt = 'ugly, blurry'", "negative_prompt = '丑陋'", "is not only drawn"),
    ("text = 'a cat'\npipe(prompt=text)", "text = '一只猫'\npipe(prompt=text)", "is not only drawn"),
    ("compel('jungle++')", "compel('丛林++')", "is not only drawn"),
    ("print(f'seed {s} done')", "print(f'种子 {s}')", "is not only drawn"),
    ("label = 'kept'\nprint(label)", "label = '保留'\nprint(label)", "is not only drawn"),  # a printed label
    ("s = {'defaults': {'negative_prompt': 'castle, tower'}}", "s = {'defaults': {'negative_prompt': '城堡，塔'}}",
     "is not only drawn"),  # a value the model gets, inside a dict
    ("order = ['SD Inpainting', 'SDXL']", "order = ['SD图像修复', 'SDXL']", "is not only drawn"),  # keys looked up
    ("params['strength']", "params['强度']", "is not only drawn"),
    ("image.save('out.png')", "image.save('输出.png')", "is not only drawn"),
    ("raise ValueError('bad mask')", "raise ValueError('遮罩不对')", "is not only drawn"),
    ("grid(captions=['a b'])", "grid(captions=['a c'])", "only a translation into Chinese"),
    ("# NBVAL_CHECK_OUTPUT  (a verdict)\nx = 1", "# 结论\nx = 1", "nbval markers differ"),
    ("use_models(needs=['a/b'])", "use_models(needs=['a/b'], mode='hub', lang='zh')", "the code differs"),
    ("load(repo_id='a/b')", "load(repo_id='a/c')", "only a translation into Chinese"),
])
def test_a_chinese_cell_that_would_run_or_print_differently_is_caught(english, chinese, cause):
    assert any(cause in d for d in samecode.code_differences(english, chinese))


def test_captions_comments_and_the_language_switch_may_differ():
    english = ("MODE = use_models(needs=['a/b'])  # the weights\ngrid(images, captions=[f'Fig. 3-41: {s}'], "
               "title='a sweep')\nfigures = ['Fig. 3-41']\ncaptions.append(f'seed {s}')\n"
               "tiles, names = [image], ['start image']\nlabel = 'no negative' if n else 'with'")
    chinese = ("MODE = use_models(needs=['a/b'], lang='zh')  # 权重\ngrid(images, captions=[f'图3-41: {s}'], "
               "title='扫描')\nfigures = ['图3-41']\ncaptions.append(f'种子 {s}')\n"
               "tiles, names = [image], ['初始图像']\nlabel = '无负面提示' if n else '有'")
    assert samecode.code_differences(english, chinese) == [
        "string 'start image' is not only drawn into a figure (assign names): it must stay as it is, so that both "
        "editions pass the model and print the same"]  # `names` is not a caption list: only that one is refused
    assert samecode.code_differences(english.replace("names", "captions"), chinese.replace("names", "captions")) == []


def test_a_cell_whose_only_words_are_in_an_f_string_is_translated():
    # Python 3.12's tokenizer splits f-strings into FSTRING_MIDDLE tokens: the cell must still be found
    assert tr._has_prose("captions = [f'Fig. 3-41: {s}' for s in scales]")
    assert not tr._has_prose("x = f'{a}{b}'\ny = 'id'")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_no_markdown_cell_is_left_in_english(chapter):
    code = " ".join(c.source for c in nbformat.read(chapter, as_version=4).cells if c.cell_type == "code")
    for i, cell in enumerate(_zh(chapter).cells):
        if cell.cell_type != "markdown":
            continue
        assert CJK.search(cell.source), f"{chapter.name} cell {i} has no Chinese"
        prose = re.sub(r"`[^`]*`|https?://\S+|<[^>]*>|“[^”]*”|\"[^\"]*\"", "", cell.source)  # code, links, quotes
        for run in re.findall(r"[A-Za-z][A-Za-z',.-]*(?:\s+[A-Za-z][A-Za-z',.-]*){4,}", prose):
            assert run.strip(" ,.") in code, f"{chapter.name} cell {i}: {run!r} reads as untranslated English"


def test_every_chinese_term_of_the_glossary_is_the_book_s_own():
    index = set(bookterms.BOOK_INDEX.read_text().split())
    if bookterms.BOOK.exists():  # the chapter itself, where it is at hand: the committed index must be its index
        assert sorted(index) == bookterms.book_index(bookterms.BOOK.read_text(encoding="utf-8")), \
            "run python -m tools.bookterms"
    for term in GLOSSARY:
        for word in term["zh"]:
            if not term.get("keep"):
                assert bookterms.in_book(word, index), f"{term['en']}: the book does not use {word!r}"
            else:
                assert word.isascii(), f"{term['en']} is kept in English, as the book writes it"
    assert not bookterms.in_book("蒙版", index) and not bookterms.in_book("潜空间", index)  # the index can say no


def _spans(word, text):
    return [(m.start(), m.start() + len(word)) for m in re.finditer(re.escape(word), text)]


def _rivals_in(text):
    """Rival words in `text`, except where one lies inside one of the book's own words (超分 in 超分辨率)."""
    found = []
    for term in GLOSSARY:
        own = [span for word in term["zh"] for span in _spans(word, text)]
        for rival in term["rivals"]:
            if any(not any(a <= s and e <= b for a, b in own) for s, e in _spans(rival, text)):
                found.append(f"{rival} (the book: {'/'.join(term['zh'])})")
    return found


def test_the_chinese_text_uses_the_book_s_terms_and_not_rival_ones():
    texts = {p.relative_to(PROJECT_ROOT): p.read_text(encoding="utf-8") for p in
             [*sorted(tr.CATALOGUES.glob("*.po")), PROJECT_ROOT / "README.zh-CN.md",
              *sorted(tr.MESSAGES.glob("*/LC_MESSAGES/*.po"))]}
    for name, text in texts.items():
        chinese = "\n".join(line for line in text.splitlines() if CJK.search(line))  # msgstr lines, not the English
        assert _rivals_in(chinese) == [], name
    assert _rivals_in("用蒙版遮住") == ["蒙版 (the book: 遮罩图像/遮罩)"]
    assert _rivals_in("超分辨率pipeline") == []
    assert _rivals_in("用提示词控制") == ["提示词 (the book: 提示)"]  # the book's 提示 inside it does not hide it
    assert _rivals_in("嵌入向量") == ["嵌入向量 (the book: 嵌入)"]
    book_words = "".join(texts[p.relative_to(PROJECT_ROOT)] for p in tr.CATALOGUES.glob("*.po"))
    for word in ("串联", "初始图像", "遮罩", "图像修复", "提示加权", "负面提示", "放大器", "潜在空间", "深度图"):
        assert word in book_words


def test_every_message_the_helpers_mark_has_a_chinese_translation_and_the_mo_is_current(tmp_path):
    marked = set()  # every _("...") in the helpers and the gallery, as gettext's extractors find them
    for path in [*sorted((PROJECT_ROOT / "helpers").rglob("*.py")), PROJECT_ROOT / "tools" / "gallery.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("_", "N_") and node.args:
                if isinstance(node.args[0], ast.Constant):
                    marked.add(node.args[0].value)
                else:  # _(TWIN_BANNER): a constant marked N_("...") where it is defined
                    assert node.func.id == "_" and isinstance(node.args[0], ast.Name), path.name
    source = tr.MESSAGES / "zh_CN" / "LC_MESSAGES" / "tutorial.po"
    po = {e.msgid: e.msgstr for e in polib.pofile(str(source)) if "fuzzy" not in e.flags}
    assert len(marked) >= 20
    assert [m for m in sorted(marked) if not po.get(m)] == []
    compiled = tmp_path / "tutorial.mo"
    polib.pofile(str(source)).save_as_mofile(str(compiled))
    assert compiled.read_bytes() == source.with_suffix(".mo").read_bytes(), "run python -m tools.translate compile"


def test_the_chapter_s_language_reaches_the_panel_labels_and_the_note_headings():
    from helpers.notes import format_note

    try:
        set_language("zh")
        assert (_("Generate"), _("done in {seconds:.2f} s").format(seconds=1.5)) == ("生成", "完成，用时 1.50 秒")
        missing = ModuleNotFoundError("No module named 'compel'")
        missing.name = "compel"
        note = format_note(missing)
        assert "\n含义：the package compel is not installed" in note
        assert "\n解决办法：in a cell: %pip install compel" in note
    finally:
        set_language("en")
    assert _("Generate") == "Generate" and translator("zh")("Contents") == "目录"
    with pytest.raises(ValueError, match=r"lang='fr' is not a language of this tutorial; use one of 'en', 'zh'"):
        set_language("fr")


def test_build_moves_a_hand_edited_chinese_chapter_aside(tmp_path, monkeypatch):
    from tools import translate

    monkeypatch.setattr(translate, "PROJECT_ROOT", tmp_path)  # no git checkout here: only the record counts
    target = tmp_path / "notebooks" / "zh" / "01_x.ipynb"
    target.parent.mkdir(parents=True)
    target.write_text("built earlier\n", encoding="utf-8")
    translate._built_record(target).parent.mkdir(parents=True)
    translate._built_record(target).write_text(translate._sha256(b"built earlier\n"))
    assert translate.keep_edited(target, "new build\n") == ""  # build's own file: replaced freely
    target.write_text("built earlier\nmy note\n", encoding="utf-8")  # a reader's note in the Chinese chapter
    note = translate.keep_edited(target, "new build\n")
    kept = list(target.parent.glob("edited-*-01_x.ipynb"))
    assert len(kept) == 1 and kept[0].read_text(encoding="utf-8") == "built earlier\nmy note\n"
    assert "kept as notebooks/zh/edited-" in note and not target.exists()
