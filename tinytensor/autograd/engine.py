"""Backward: reverse-mode automatic differentiation over the recorded graph.

Given a scalar loss L, we want dL/dw for every leaf w. The chain rule says the
gradient of a node is the sum, over its users, of what each user's
``backward`` sends to it. So:

1. put the nodes in reverse topological order (users before what they use);
2. seed the root with dL/dL = 1 (or the ``gradient`` given);
3. visit each node once: its gradient is complete by then, so call its
   ``backward`` and add each result into the gradient of the matching parent;
4. at a leaf, add the gradient into ``leaf.grad``.

``tinytensor.autograd.grad`` uses the same walk but hands the gradients back
instead of writing ``.grad``.
"""
from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from . import grad_mode
from .function import Function
from .graph import topological_order

if TYPE_CHECKING:
    from ..tensor import Tensor

_observers: list[Callable[[Any, "Tensor"], None]] = []


@contextlib.contextmanager
def observe(callback: Callable[[Any, "Tensor"], None]) -> Iterator[None]:
    """Call ``callback(node, grad)`` each time backward finishes a node's gradient.

    Nodes come in the engine's own order; the pictures replay backprop with it.
    """
    _observers.append(callback)
    try:
        yield
    finally:
        _observers.remove(callback)


def run_backward(roots: Sequence["Tensor"], root_grads: Sequence["Tensor"], *,
                 retain_graph: bool, create_graph: bool,
                 capture: Sequence["Tensor"] | None = None) -> dict[int, "Tensor"]:
    """Backpropagate from ``roots``; return the gradients of the ``capture`` tensors by node id.

    Without ``capture`` (``Tensor.backward``) gradients go into the leaves' ``.grad``.
    With it (``autograd.grad``) no ``.grad`` is touched.
    """
    grads: dict[int, Tensor] = {}
    starts = []
    for root, grad in zip(roots, root_grads):
        node = root.grad_fn if root.grad_fn is not None else root
        grads[id(node)] = grads[id(node)] + grad if id(node) in grads else grad
        starts.append(node)
    wanted = None if capture is None else {id(t.grad_fn if t.grad_fn is not None else t) for t in capture}
    captured: dict[int, Tensor] = {}

    with grad_mode.set_grad_enabled(create_graph):
        for node in reversed(topological_order(starts)):
            grad = grads.pop(id(node), None)
            if grad is None:  # nothing flowed here (every path to it gave no gradient)
                continue
            grad = _run_hooks(node, grad)
            for observer in _observers:
                observer(node, grad)
            if wanted is not None and id(node) in wanted:
                captured[id(node)] = grad
            if not isinstance(node, Function):  # a leaf Tensor: the gradient stops here
                if capture is None:
                    node._accumulate_grad(grad)
                continue
            kept = node.retained() if node.retained is not None else None  # retain_grad()
            if kept is not None and capture is None:
                kept._accumulate_grad(grad)
            _propagate(node, grad, grads)
            if not retain_graph:
                node.release()
    return captured


def _propagate(node: Any, grad: "Tensor", grads: dict[int, "Tensor"]) -> None:
    """Call the node's backward and add each input gradient into its parent's total."""
    if node.inputs is None:
        raise RuntimeError(
            f"backward through {node.name} a second time: its saved values were freed by the "
            "first backward. Pass retain_graph=True to the first backward() if you need to "
            "backpropagate through the same graph twice.")
    input_grads = node.backward(grad)
    for parent, g in zip(node.parents, input_grads):
        if parent is None or g is None:
            continue
        key = id(parent)
        grads[key] = grads[key] + g if key in grads else g


def _run_hooks(node: Any, grad: "Tensor") -> "Tensor":
    """Tensor.register_hook: each hook sees the gradient and may replace it."""
    for hook in node.hooks:
        replaced = hook(grad)
        if replaced is not None:
            grad = replaced
    return grad
