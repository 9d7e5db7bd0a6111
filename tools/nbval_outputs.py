"""A pytest plugin that keeps what nbval's kernel printed: one text file per notebook, cell by cell.

    pytest --nbval-lax notebooks -p tools.nbval_outputs --nbval-outputs build/gpu-work/notebooks

nbval compares outputs but saves no executed notebook; on a machine that is given back after the run, these files
are what is left to read: every cell's printed text, its verdict lines, and its error if it failed. Pictures are
named, not kept.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the kernel's colours, which a text file cannot show


def pytest_addoption(parser):
    """--nbval-outputs DIR: where to write each notebook's text outputs (maintainer tool)."""
    parser.addoption("--nbval-outputs", metavar="DIR", default=None,
                     help="write the text each notebook cell printed under nbval to DIR/<notebook>.txt")


def output_text(output: dict) -> str:
    """The readable text of one nbformat output: a stream, a result's text/plain, or an error (maintainer tool)."""
    kind = output.get("output_type")
    if kind == "stream":
        return output.get("text", "")
    if kind == "error":
        return f"{output.get('ename', 'Error')}: {output.get('evalue', '')}\n"
    data = output.get("data", {})
    if "text/plain" in data:
        shown = data["text/plain"]
        text = shown if isinstance(shown, str) else "".join(shown)
        extra = sorted(k for k in data if k.startswith("image/"))
        return text + (f"  [{', '.join(extra)}]" if extra else "") + "\n"
    return f"[{', '.join(sorted(data)) or kind}]\n"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """After each nbval cell has run, append its outcome and printed text to its notebook's file (maintainer tool)."""
    outcome = yield
    folder = item.config.getoption("--nbval-outputs")
    if not folder or call.when != "call" or not hasattr(item, "test_outputs"):
        return
    report = outcome.get_result()
    path = Path(folder) / f"{Path(str(item.path)).stem}.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    source = str(getattr(getattr(item, "cell", None), "source", "")).strip().splitlines()
    head = source[0][:100] if source else ""
    body = "".join(output_text(o) for o in item.test_outputs or [])
    with path.open("a", encoding="utf-8") as f:
        f.write(f"==== {item.name} [{report.outcome}] {head}\n{body}")
        if report.failed:
            f.write(f"FAILED: {ANSI.sub('', str(report.longrepr)).strip().splitlines()[-1][:300]}\n")
