"""Why a name is not defined, confirmed from the kernel's own input history (every chapter).

The chapters free memory with `del pipeline` before the next model loads, so "not defined" has several causes that
need different fixes: a `del` in a cell that ran since, a cell that stopped before the line that makes the name, a
typo of a name that exists, or a cell that has not run yet. The history (IPython's `In`) tells them apart.
"""

from __future__ import annotations

import ast
import difflib
import re

from helpers.callfacts import CallFacts


def _shell():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _top_level(source: str, shell) -> list[ast.stmt]:
    try:
        code = shell.transform_cell(source)  # %magics and !commands become plain Python
        return ast.parse(code).body
    except (SyntaxError, ValueError, AttributeError):
        return []


def _names(node: ast.AST, kind: type) -> set[str]:
    """Names bound (kind=ast.Store) or deleted (ast.Del) by one top-level statement, not inside a def or class."""
    found = set()
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name} if kind is ast.Store else set()
    if kind is ast.Store and isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names}
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, kind):
            found.add(child.id)
        elif not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
                                    ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            found |= _names(child, kind)
    return found


def _history(name: str, shell) -> tuple[int | None, int | None]:
    """(the last input that deleted `name`, the last one before it, or ever, that bound it), as In[] numbers."""
    inputs = shell.user_ns.get("In") or []
    deleted = bound = None
    for number, source in enumerate(inputs[:-1]):  # the last input is the failing cell itself
        for node in _top_level(source or "", shell):
            if name in _names(node, ast.Store):
                bound = number
            if name in _names(node, ast.Del):
                deleted = number
    if deleted is not None and bound is not None and bound > deleted:
        deleted = None  # made again after the del: the del is not why it is missing now
    return deleted, bound


def name_not_defined(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A NameError in a notebook: a del since, a cell stopped early, a typo, or a cell not run yet (every chapter)."""
    name = getattr(exc, "name", None)
    if not name:
        found = re.search(r"name '(\w+)' is not defined", str(exc))
        name = found.group(1) if found else None
    shell = _shell()
    if not name or shell is None or not hasattr(shell, "user_ns"):
        return None  # outside a notebook the history that tells the causes apart is not there
    deleted, bound = _history(name, shell)
    if deleted is not None:
        made = f" (In[{bound}])" if bound is not None else ""
        return (f"`{name}` was deleted by `del {name}` in In[{deleted}], which ran since it was made: the chapters "
                "free a model that way before loading the next one.",
                f"run the cell that makes `{name}`{made} again, then this one. Running the cells in order from "
                "that one on also works.")
    if bound is not None:
        return (f"In[{bound}] makes `{name}`, but it is not defined now: that cell stopped with an error before the "
                "line that makes it, or %reset cleared the names since.",
                f"run In[{bound}] again and check that it ends without an error, then this cell.")
    close = difflib.get_close_matches(name, [n for n in shell.user_ns if not n.startswith("_")], n=1, cutoff=0.8)
    if close:
        return (f"no cell that ran in this kernel makes `{name}`; `{close[0]}` exists, and the names differ only "
                "a little.",
                f"if you meant `{close[0]}`, correct the spelling; otherwise run the cell that makes `{name}`.")
    return (f"no cell that ran in this kernel makes `{name}`: the cell that defines it has not run yet, or the "
            "kernel restarted since.",
            "run the notebook's cells from the top (Run ▸ Run All Above Selected Cell); each chapter stands alone.")
