"""Which attribute names an object of the tutorial's classes knows, so that a mistyped one is refused, not made.

`painter.brush_size = 10` or `panel.sead = 3` would otherwise make a new attribute that nothing reads, and the
brush or the seed would stay as it was, silently. A name is known when the class (or a class above it) defines it
(a method, a property, a traitlets trait), when the object already holds it, or when one of the class's own
methods assigns it to `self`: read from the methods' bytecode, so the attributes __init__ sets count even on an
object made with object.__new__, and a subclass's own attributes count too (its source need not be readable, as in
a notebook). Names starting with "_" (ipywidgets', traitlets', IPython's and the classes' private ones) always pass.
"""

from __future__ import annotations

import dis
import inspect
import types
import weakref

_STORED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # class -> the names its own methods set on self


def _functions(cls):
    """The plain functions a class defines itself: methods, property parts, static and class methods, wrapped ones."""
    for value in vars(cls).values():
        parts = (value.fget, value.fset, value.fdel) if isinstance(value, property) else (value,)
        for part in parts:
            part = getattr(part, "__func__", part)  # staticmethod, classmethod
            part = getattr(part, "function", part)  # helpers.callme's descriptor keeps the method it marks
            try:
                part = inspect.unwrap(part)
            except ValueError:  # a __wrapped__ cycle: use it as it is
                pass
            if isinstance(part, types.FunctionType):
                yield part


def _codes(code: types.CodeType):
    """A code object and the ones nested in it (lambdas, inner functions, comprehensions)."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def _set_on_self(function: types.FunctionType) -> set[str]:
    """The names `function` assigns as self.NAME = ... (self: its first parameter, or a closure's `self`)."""
    code = function.__code__
    me = {"self", *code.co_varnames[:1]} if code.co_argcount else {"self"}
    names = set()
    for inner in _codes(code):
        before = None
        for instruction in dis.get_instructions(inner):
            if instruction.opname == "STORE_ATTR" and before is not None and before.opname.startswith("LOAD_"):
                loaded = before.argval[-1] if isinstance(before.argval, tuple) else before.argval  # LOAD_FAST_LOAD_FAST
                if loaded in me:
                    names.add(instruction.argval)
            before = instruction
    return names


def stored_names(cls) -> frozenset:
    """The public names a class's own methods assign to self, e.g. Panel's history_size (every chapter)."""
    found = _STORED.get(cls)
    if found is None:
        found = frozenset(n for f in _functions(cls) for n in _set_on_self(f) if not n.startswith("_"))
        _STORED[cls] = found
    return found


def known(obj, name: str) -> bool:
    """True when `obj` may take `name`: private, its class's, held already, or set by a method (every chapter)."""
    if name.startswith("_") or hasattr(type(obj), name) or name in vars(obj):
        return True
    return any(name in stored_names(cls) for cls in type(obj).__mro__ if cls is not object)


def public_names(obj) -> list[str]:
    """The public names `obj` knows (methods too), for close-match suggestions (every chapter)."""
    names = {n for n in dir(type(obj)) if not n.startswith("_")} | {n for n in vars(obj) if not n.startswith("_")}
    for cls in type(obj).__mro__:
        if cls is not object:
            names |= stored_names(cls)
    return sorted(names)
