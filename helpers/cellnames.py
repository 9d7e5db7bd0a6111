"""Slips a cell shows in its names, said once before it runs: nothing would fail, and nothing would say.

A name set with a typo while the cell reads the old one (`negative_promt = ...`, then `negative_prompt`), a
function named on a line of its own and not called (`free_memory`), a loop that leaves `seed` at its last value,
`Image.composite` with the start picture first after inpainting, and a name rebound while a panel keeps its old
value in `fixed=`. helpers.cellcheck.check_cell runs these with the notebook's names as they are before the cell.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
import types

from helpers.callwarning import warn_call

FUNCTIONS = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.BuiltinMethodType)
# values whose identity means nothing: a panel's fixed= steps=4 is the same object as any other 4
SCALARS = (str, bytes, int, float, complex, bool, type(None), tuple, frozenset)
START_NAMES = {"init_image", "original", "original_image", "photo", "start", "start_image", "source", "source_image"}
RESULT_WORDS = {"result", "results", "res", "out", "output", "repaint", "repainted", "inpaint", "inpainted",
                "generated"}


def _one_edit(a: str, b: str) -> bool:
    """Whether b is a with one letter left out, added, changed, or two neighbours swapped."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


def _look_alike(a: str, b: str) -> bool:
    """A typo, not two names meant apart: not image/images, Image/image, prompt/prompt2."""
    if min(len(a), len(b)) < 5 or a.lower() == b.lower() or a + "s" == b or b + "s" == a:
        return False
    return not re.search(r"\d", a + b) and _one_edit(a, b)


def _data(value) -> bool:
    """A value a cell reads as data: not a module, class, function or pipeline."""
    return not (isinstance(value, (types.ModuleType, type)) or callable(value))


def _shown(value) -> str:
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "…")
    if isinstance(value, (int, float)):
        return repr(value)
    module = type(value).__module__.split(".")[0]
    return f"a {'' if module == 'builtins' else module + ' '}{type(value).__name__}"


def _typos(tree: ast.Module, namespace: dict) -> None:
    """`negative_promt = "..."` (new, never read) in a cell that reads negative_prompt from before."""
    stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    for node in tree.body:
        if not isinstance(node, (ast.Assign, ast.AnnAssign)) or node.value is None:
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        used = {n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)}  # image = images[0]: meant apart
        for target in targets:
            name = target.id if isinstance(target, ast.Name) else None
            if name is None or name in read or name in namespace:
                continue
            for other in sorted(read - stored - used):
                if other in namespace and _data(namespace[other]) and _look_alike(name, other):
                    code = ast.unparse(node.value)
                    warn_call(f"This cell sets {name} but reads {other}, which still holds "
                              f"{_shown(namespace[other])} from before: a typo? Write "
                              f"{other} = {code if len(code) <= 40 else '...'}.")


def _no_arguments(function) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters)


def _bare_functions(tree: ast.Module, namespace: dict) -> None:
    """`free_memory` on a line of its own: named, not called. The last line shows its repr: said for helpers."""
    for i, node in enumerate(tree.body):
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Name)):
            continue
        name = node.value.id
        function = namespace.get(name)
        if not isinstance(function, FUNCTIONS):
            continue
        call = f"{name}()" if _no_arguments(function) else f"{name}(...)"
        if i == len(tree.body) - 1 and not (str(getattr(function, "__module__", "")).startswith("helpers.")
                                           and call.endswith("()")):
            continue  # the last line shows what the name holds: a look at a function, likely meant
        warn_call(f"{name} on a line of its own names the function and does not call it: write {call}.")


def _last_value(iterable: ast.expr) -> str | None:
    try:
        if isinstance(iterable, (ast.List, ast.Tuple)) and iterable.elts:
            return repr(ast.literal_eval(iterable.elts[-1]))
        if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name) and iterable.func.id == "range":
            numbers = range(*[ast.literal_eval(a) for a in iterable.args])
            return repr(numbers[-1]) if numbers else None
    except (ValueError, TypeError, SyntaxError):
        return None
    return None


def _seed_loops(tree: ast.Module, namespace: dict) -> None:
    """`for seed in [0, 42]:` at a cell's top level, seed an int before: later cells read the loop's last value."""
    for i, node in enumerate(tree.body):
        if not (isinstance(node, ast.For) and isinstance(node.target, ast.Name)):
            continue
        name = node.target.id
        old = namespace.get(name)
        if "seed" not in name.lower() or not isinstance(old, int) or isinstance(old, bool):
            continue
        if any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store)
               for later in tree.body[i + 1:] for n in ast.walk(later)):  # set back after the loop: nothing leaks
            continue
        last = _last_value(node.iter)
        values = ast.unparse(node.iter)
        warn_call(f"The loop leaves {name} = {last if last is not None else 'its last value'} (it held {old!r} "
                  f"before this cell) for the cells after it, which read {name}; name the loop variable s "
                  f"(chapter 1 does): for s in {values if len(values) <= 40 else '...'}: with s in its body.")


def _composite_arguments(call: ast.Call) -> list | None:
    func = call.func
    if not ((isinstance(func, ast.Attribute) and func.attr == "composite" and isinstance(func.value, ast.Name)
             and func.value.id == "Image") or (isinstance(func, ast.Name) and func.id == "composite")):
        return None
    named = {k.arg: k.value for k in call.keywords}
    found = [*call.args] + [named.get(k) for k in ("image1", "image2", "mask")[len(call.args):]]
    return found if len(found) == 3 and all(a is not None for a in found) else None


def _reversed_paste_back(tree: ast.Module, namespace: dict) -> None:
    """Image.composite(start, result, mask): the white part is image1's, so the repaint is thrown away."""
    inpainted = {}  # result name -> (pipeline name, image= name) of an inpainting call in this cell
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            call = node.value
            while isinstance(call, (ast.Subscript, ast.Attribute)):  # pipe(...).images[0]
                call = call.value
            if isinstance(call, ast.Call):
                named = {k.arg: k.value for k in call.keywords}
                if "mask_image" in named and isinstance(named.get("image"), ast.Name):
                    pipe = call.func.id if isinstance(call.func, ast.Name) else "pipeline"
                    inpainted[node.targets[0].id] = (pipe, named["image"].id)
    start = namespace.get("init_image")
    for node in ast.walk(tree):
        found = _composite_arguments(node) if isinstance(node, ast.Call) else None
        if not found or not all(isinstance(a, ast.Name) for a in found[:2]):
            continue
        first, second, mask = found[0].id, found[1].id, ast.unparse(found[2])
        pipe, image = inpainted.get(second, ("pipeline", None))
        named = (first in START_NAMES or (start is not None and namespace.get(first) is start)) \
            and bool(set(re.split(r"[_\d]+", second.lower())) & RESULT_WORDS)
        if image != first and not named:
            continue
        warn_call(f"Image.composite({first}, {second}, {mask}) takes {first} where the mask is white: with the "
                  "start picture first it keeps the start picture where the model repainted, and the model's "
                  f"picture everywhere else. Write Image.composite({second}, {first}, {mask}) (or "
                  f"{pipe}.image_processor.apply_overlay({mask}, {first}, {second})).")


def _panels_left_behind(tree: ast.Module, namespace: dict) -> None:
    """A name rebound whose old value a panel keeps in fixed=: the panel goes on with the old one."""
    module = sys.modules.get("helpers.panel")
    if module is None:
        return
    panels, seen = [], set()
    for name, value in namespace.items():
        if isinstance(value, module.Panel) and not name.startswith("_") and id(value) not in seen:
            seen.add(id(value))
            panels.append((name, value))
    if not panels:
        return
    for node in ast.walk(tree):  # a new panel made, or one given new fixed= values, in this cell: nothing left
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Panel") or \
                (isinstance(node, ast.Attribute) and node.attr == "fixed" and not isinstance(node.ctx, ast.Load)) \
                or (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute)
                    and node.value.attr == "fixed" and isinstance(node.ctx, ast.Store)):
            return
    for node in tree.body:
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            name = target.id if isinstance(target, ast.Name) else None
            old = namespace.get(name)
            if name is None or isinstance(old, SCALARS) or (isinstance(node.value, ast.Name)
                                                             and namespace.get(node.value.id) is old):
                continue
            for holder, panel in panels:
                for key, value in dict(getattr(panel, "fixed", None) or {}).items():
                    if value is old:
                        warn_call(f"The panel made earlier ({holder}) keeps the old {name} in fixed= ({key}=), so "
                                  "its Generate goes on with the old one. After this cell, give it the new one: "
                                  f"{holder}.fixed[{key!r}] = {name}")


def check_names(tree: ast.Module, namespace: dict) -> None:
    """Say a typo, a function not called, a seed loop, a reversed paste-back, a panel left behind (every chapter)."""
    for check in (_typos, _bare_functions, _seed_loops, _reversed_paste_back, _panels_left_behind):
        check(tree, namespace)
