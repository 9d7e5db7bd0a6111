"""Why a name is not defined, confirmed from the kernel's own input history (every chapter).

The chapters free memory with `del pipeline` before the next model loads, so "not defined" has several causes that
need different fixes: a `del` in a cell that ran since, a cell that stopped before the line that makes the name, a
typo of a name that exists, or a cell that has not run yet. The history (IPython's `In`) tells them apart.
"""

from __future__ import annotations

import ast
import difflib
import linecache
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


def _events(name: str, shell, failing_source: str) -> list[tuple[int, int, str]]:
    """(In[] number, statement index, "bind" or "del") for each top-level statement of earlier cells on `name`."""
    inputs = list(shell.user_ns.get("In") or [])
    if inputs and inputs[-1] == failing_source:
        inputs = inputs[:-1]  # the failing cell itself, kept in the history as it runs
    events = []
    for number, source in enumerate(inputs):
        for index, node in enumerate(_top_level(source or "", shell)):
            if name in _names(node, ast.Del):
                events.append((number, index, "del"))
            if name in _names(node, ast.Store):
                events.append((number, index, "bind"))
    return events


def _failing_statement(exc: BaseException, shell) -> tuple[ast.stmt | None, str]:
    """(the top-level statement that raised, the cell's source), when the error came from the cell's own code."""
    tb, last = exc.__traceback__, None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return None, ""
    filename = last.tb_frame.f_code.co_filename
    if not ("ipykernel_" in filename or filename.startswith("<ipython-input") or "<cell" in filename):
        return None, ""  # raised inside a library or a function of another file: not the cell's own line
    source = "".join(linecache.getlines(filename))  # IPython keeps each cell's source there
    for node in _top_level(source, shell):
        if node.lineno <= last.tb_lineno <= (node.end_lineno or node.lineno):
            return node, source
    return None, source


def name_not_defined(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A NameError in a notebook: a del since, a cell stopped early, a typo, or a cell not run yet (every chapter)."""
    name = getattr(exc, "name", None)
    if not name:
        found = re.search(r"name '(\w+)' is not defined", str(exc))
        name = found.group(1) if found else None
    shell = _shell()
    if not name or shell is None or not hasattr(shell, "user_ns"):
        return None  # outside a notebook the history that tells the causes apart is not there
    failing, source = _failing_statement(exc, shell)
    if failing is None:
        return None  # not the cell's own line: the history cannot say why
    if isinstance(failing, ast.Delete) and name in _names(failing, ast.Del):
        return (f"`{name}` is already gone: a `del {name}` ran before (this cell ran once already, or another "
                "cell freed it), so its memory is already free.",
                f"skip this line: delete `del {name}` from the cell (or run only the lines after it).")
    events = _events(name, shell, source)
    if not events:
        close = difflib.get_close_matches(name, [n for n in shell.user_ns if not n.startswith("_")], n=1,
                                          cutoff=0.8)
        if close:
            return (f"no cell that ran in this kernel makes `{name}`; `{close[0]}` exists, and the names differ "
                    "only a little.",
                    f"if you meant `{close[0]}`, correct the spelling; otherwise run the cell that makes `{name}`.")
        return (f"no cell that ran in this kernel makes `{name}`: the cell that defines it has not run yet, or the "
                "kernel restarted since.",
                "run the notebook's cells from the top (Run ▸ Run All Above Selected Cell); each chapter stands "
                "alone.")
    cell, _, kind = events[-1]
    if kind == "bind":
        return (f"In[{cell}] makes `{name}`, but it is not defined now: that cell stopped with an error before the "
                "line that makes it, or %reset cleared the names since.",
                f"run In[{cell}] again and check that it ends without an error, then this cell.")
    # deleted last: point at a cell whose last word on the name is making it, so running it again leaves it made
    makers = [n for n in dict.fromkeys(c for c, _, k in events if k == "bind")
              if [k for c, _, k in events if c == n][-1] == "bind"]
    if makers:
        return (f"`{name}` was deleted by `del {name}` in In[{cell}], which ran after it was made: the chapters "
                "free a model that way before loading the next one.",
                f"run In[{makers[-1]}] again, the cell that makes `{name}`, then this one.")
    return (f"`{name}` was deleted by `del {name}` in In[{cell}]; the cells that made it also delete it before "
            "they end.",
            f"run only the line that makes `{name}` (its from_pretrained(...) line) in a cell of its own, then "
            "this one.")
