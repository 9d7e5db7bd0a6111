"""Two rooms: the learner's package (helpers/) and the maintainer's tools (tools/), each module documented.

Every public function has a one-line docstring that says what it does and which chapter (or tool) it serves.
"""

import ast
import importlib
import inspect
import json
import pkgutil
import re
from pathlib import Path

import pytest

import helpers
import tools

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = re.compile(r"\((ch\. [0-9–, -]+|main job|maintainer tool|every chapter|all chapters)\)")
MODULES = [m.name for package in (helpers, tools)
           for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".") if not m.name.endswith("__main__")]
SOURCES = sorted([*ROOT.glob("helpers/**/*.py"), *ROOT.glob("tools/*.py"), *ROOT.glob("tests/**/*.py")])


def public_functions(module_name):
    module = importlib.import_module(module_name)
    for name, fn in inspect.getmembers(module, inspect.isfunction):
        if not name.startswith("_") and fn.__module__ == module_name:
            yield name, fn


@pytest.mark.parametrize("module_name", MODULES)
def test_public_helpers_name_their_chapter(module_name):
    missing = []
    for name, fn in public_functions(module_name):
        first = (inspect.getdoc(fn) or "").splitlines()[:1]
        if not first or not CHAPTER.search(first[0]):
            missing.append(name)
    assert not missing, f"{module_name}: add a one-line docstring naming the chapter to {missing}"


def test_every_module_has_a_docstring():
    for name in MODULES:
        assert (importlib.import_module(name).__doc__ or "").strip(), name


def test_each_room_says_in_one_line_what_belongs_there():
    assert helpers.__doc__.splitlines()[0] == ("The learner's package: only what the chapter notebooks import. "
                                               "Maintainer tools live in tools/.")
    assert tools.__doc__.splitlines()[0].startswith("Maintainer tools, never imported by a notebook")


def imported_modules(tree) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_learner_package_and_the_notebooks_never_import_the_tools():
    for path in ROOT.glob("helpers/**/*.py"):
        used = {m for m in imported_modules(ast.parse(path.read_text())) if m.split(".")[0] == "tools"}
        assert not used, f"{path.relative_to(ROOT)} imports {used}: learners install helpers/ without tools/"
    for path in sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb")):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                code = "".join(cell["source"])
                assert not re.search(r"^\s*(from|import)\s+tools\b", code, re.M), path.name


def test_no_module_imports_another_modules_private_names():
    offenders = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("helpers", "tools"):
                offenders += [f"{path.relative_to(ROOT)}: {node.module}.{a.name}" for a in node.names
                              if a.name.startswith("_") and not a.name.startswith("__")
                              and a.name != "_"]  # gettext's `_` (helpers.i18n) is meant to be imported
    assert not offenders, offenders


def _helpers_imports(path) -> set[str]:
    """The helpers modules a file imports, at any level (`from helpers import x` names the module helpers.x)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "helpers":
            found |= {f"{node.module}.{a.name}" if node.module == "helpers" else node.module for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "helpers"}
    return found


def test_the_helpers_modules_import_each_other_without_a_cycle():
    family = sorted(p.stem for p in (ROOT / "helpers").glob("*.py") if p.stem != "__init__")
    graph = {m: {i.removeprefix("helpers.") for i in _helpers_imports(ROOT / "helpers" / f"{m}.py")} & set(family)
             for m in family}

    def reaches(start, target, seen=()):
        return any(n == target or (n not in seen and reaches(n, target, (*seen, n))) for n in graph[start] - {start})

    cycles = [m for m in family if reaches(m, m)]
    assert not cycles, {m: sorted(graph[m]) for m in cycles}
