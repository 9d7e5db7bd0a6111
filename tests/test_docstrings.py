"""Every public helper has a one-line docstring that says what it does and which chapter introduces it."""

import importlib
import inspect
import pkgutil
import re

import pytest

import helpers

CHAPTER = re.compile(r"\((ch\. [0-9–, -]+|main job|maintainer tool|every chapter|all chapters)\)")
MODULES = [m.name for m in pkgutil.walk_packages(helpers.__path__, "helpers.") if not m.name.endswith("__main__")]


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
