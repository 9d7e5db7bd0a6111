"""docs/twins.md shows the recorded manifests exactly as helpers/manifests.json holds them."""

from pathlib import Path

from helpers.manifests import manifest_table

DOC = Path(__file__).resolve().parent.parent / "docs" / "twins.md"


def test_the_doc_table_is_the_record():
    text = DOC.read_text()
    shown = text.split("<!-- manifest-table:start -->\n", 1)[1].split("\n<!-- manifest-table:end -->", 1)[0]
    assert shown == manifest_table(), "run `python -m helpers.manifests` and paste its table into docs/twins.md"
