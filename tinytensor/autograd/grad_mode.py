"""Grad mode: whether ops record the graph that backward will walk.

Recording costs memory (every op keeps its inputs until backward), so code that
only evaluates (a validation loop, an optimizer update, backward itself) turns
it off::

    with tinytensor.no_grad():
        y = model(x)          # no graph: y.requires_grad is False

    @tinytensor.no_grad()
    def evaluate(...): ...

``enable_grad`` turns recording back on inside a ``no_grad`` block.
"""
from __future__ import annotations

import contextlib

_enabled = True


def is_grad_enabled() -> bool:
    return _enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Context manager and decorator that sets grad mode, restoring it on exit."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)

    def __enter__(self) -> None:
        global _enabled
        self.previous, _enabled = _enabled, self.mode

    def __exit__(self, *exc: object) -> None:
        global _enabled
        _enabled = self.previous


class no_grad(set_grad_enabled):
    """Stop recording the graph: ``with no_grad():`` or ``@no_grad()``."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Record the graph again, even inside ``no_grad``."""

    def __init__(self) -> None:
        super().__init__(True)
