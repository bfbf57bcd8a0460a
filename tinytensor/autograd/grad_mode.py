"""Grad mode: whether ops record the graph that backward will walk.

Recording costs memory (every op keeps its inputs until backward), so code that
only evaluates (a validation loop, an optimizer update, backward itself) turns
it off::

    with tinytensor.no_grad():
        y = model(x)          # no graph: y.requires_grad is False

    @tinytensor.no_grad        # or @tinytensor.no_grad(), as in PyTorch
    def evaluate(...): ...

``enable_grad`` turns recording back on inside a ``no_grad`` block.
``inference_mode`` is PyTorch's stricter no_grad; here it is no_grad itself.

Each thread has a grad mode of its own, as in PyTorch: a ``no_grad`` in an
evaluation thread leaves a training thread recording, and the backward that
one thread runs (the engine walks the graph with recording off) does not stop
another thread's forward pass from being recorded. A new thread starts with
recording on, whatever the mode of the thread that started it (PyTorch's
mode does not follow a thread either).

Why ``threading.local`` and not a ``contextvars.ContextVar``: PyTorch keeps
the mode in a C++ ``thread_local``, and ``threading.local`` has exactly that
meaning on every Python. A context variable differs in two places: each
asyncio task gets a copy of it, and on Python 3.14's free-threaded builds a
new thread starts with a copy of its starter's context, so a thread started
inside ``no_grad`` would not record. The mode is read on every op: reading a
thread-local attribute costs some tens of nanoseconds more than reading a
module variable, against the microseconds an op costs.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Any


class _Mode(threading.local):
    """Each thread's grad mode: ``_mode.enabled``. A thread that never set it reads the class's True."""

    enabled = True


_mode = _Mode()


def is_grad_enabled() -> bool:
    return _mode.enabled


class _GradMode(contextlib.ContextDecorator):
    """Sets grad mode to ``self.mode`` in a ``with`` block or a decorated function, then restores it."""

    mode = False

    def __enter__(self) -> None:
        self.previous, _mode.enabled = _mode.enabled, self.mode

    def __exit__(self, *exc: object) -> None:
        _mode.enabled = self.previous

    def _recreate_cm(self) -> "_GradMode":
        # As a decorator, each call gets a switch of its own: a recursive call must not
        # overwrite the mode its caller will restore.
        switch = object.__new__(_GradMode)
        switch.mode = self.mode
        return switch


class set_grad_enabled(_GradMode):
    """``with set_grad_enabled(False):`` (or as a decorator); called alone, as in PyTorch,
    ``set_grad_enabled(False)`` switches recording off until it is switched on again."""

    def __init__(self, mode: bool) -> None:
        self.mode, self.previous, _mode.enabled = bool(mode), _mode.enabled, bool(mode)

    def __enter__(self) -> None:  # the mode is set already; __exit__ restores the one before
        pass

    def __call__(self, function: Any) -> Any:
        _mode.enabled = self.previous  # a decorator: only the calls of the function change the mode
        return super().__call__(function)


class _Switch(_GradMode):
    """A fixed grad mode, used as ``with no_grad():``, ``@no_grad()`` or, bare, ``@no_grad``."""

    def __new__(cls, function: Any = None) -> Any:
        switch = super().__new__(cls)
        return switch if function is None else switch(function)  # bare: the function, wrapped

    def __init__(self, function: Any = None) -> None:
        pass


class no_grad(_Switch):
    """Stop recording the graph."""


class enable_grad(_Switch):
    """Record the graph again, even inside ``no_grad``."""

    mode = True


inference_mode = no_grad
