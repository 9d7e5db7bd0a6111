"""Methods called for their effect (panel.generate, painter.invert) that, shown without (), say how to call them.

In a notebook, `painter.invert` on its own line only shows the method; nothing runs. Marked with call_me, it
shows "painter.invert is a method, and without () it did not run: call it, painter.invert(), to invert the mask."
"""

from __future__ import annotations

import functools


def call_me(call: str, does: str):
    """Mark a method called for its effect: shown without (), it says how to call it, e.g. panel.generate (ch. 1–5).

    `call` is the call to show, "painter.invert()"; `does` finishes "call it, ..., to": "invert the mask".
    """
    return lambda function: _CallMe(function, call, does)


class _CallMe:
    """The descriptor call_me makes: on the class, the plain function; on an object, a _Called around its method."""

    def __init__(self, function, call: str, does: str):
        functools.update_wrapper(self, function)
        self.function, self.call, self.does = function, call, does

    def __get__(self, obj, owner=None):
        if obj is None:  # Panel.generate: the function itself, for help(Panel) and the docstring tests
            return self.function
        name = self.call.split("(")[0]
        return _Called(self.function.__get__(obj, owner), f"{name} is a method, and without () it did not run: "
                                                           f"call it, {self.call}, to {self.does}.")


class _Called:
    """A bound method that, shown in a cell instead of called, says so; called, it is the method itself."""

    def __init__(self, method, text: str):
        functools.update_wrapper(self, method)  # name, docstring, and __wrapped__: inspect.signature drops self
        self.__self__, self.__func__, self._text = method.__self__, method.__func__, text

    def __call__(self, *args, **kwargs):
        return self.__func__(self.__self__, *args, **kwargs)

    def __get__(self, obj, owner=None):  # a method descriptor for inspect.isroutine: help() documents the method
        return self

    def __repr__(self) -> str:
        return self._text

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(self._text)

    def __eq__(self, other) -> bool:
        return (isinstance(other, _Called) and self.__func__ is other.__func__
                and self.__self__ is other.__self__)

    def __hash__(self) -> int:
        return hash((self.__func__, id(self.__self__)))


_Called.__name__ = _Called.__qualname__ = "method"  # help(painter.invert) heads it "method", as for any method
