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

from .. import backend
from ..backend import ndarray
from . import grad_mode, inplace
from .function import Function
from .graph import topological_order

if TYPE_CHECKING:
    from ..tensor import Tensor

Observer = Callable[[Any, "Tensor", tuple], None]
_observers: list[Observer] = []


@contextlib.contextmanager
def observe(callback: Observer) -> Iterator[None]:
    """Call ``callback(node, grad, sent)`` as backward finishes each node.

    ``grad`` is the node's complete gradient; ``sent`` is what its backward sent
    to each input (empty for a leaf). Nodes come in the engine's own order,
    which is how the pictures replay backprop.
    """
    _observers.append(callback)
    try:
        yield
    finally:
        _observers.remove(callback)


def run_backward(roots: Sequence["Tensor"], root_grads: Sequence["Tensor"], *,
                 retain_graph: bool, create_graph: bool,
                 capture: Sequence["Tensor"] | None = None) -> dict[Any, "Tensor"]:
    """Backpropagate from ``roots``; return the gradients of the ``capture`` tensors' nodes.

    Without ``capture`` (``Tensor.backward``) gradients go into the leaves' ``.grad``.
    With it (``autograd.grad``) no ``.grad`` is touched.
    """
    grads: dict[Any, Tensor] = {}  # node -> the sum of the gradients sent to it so far
    for root, grad in zip(roots, root_grads):
        _add(grads, root.grad_fn or root, grad)
    wanted = None if capture is None else {t.grad_fn or t for t in capture}
    captured: dict[Any, Tensor] = {}

    with grad_mode.set_grad_enabled(create_graph):
        for node in reversed(topological_order(list(grads))):
            grad = grads.pop(node, None)
            if grad is None:  # no gradient reached this node
                continue
            if node.hooks:
                grad = _run_hooks(node, grad)
            if wanted is not None and node in wanted:
                captured[node] = grad
            if not isinstance(node, Function):  # a leaf Tensor: the gradient stops here
                for observer in _observers:
                    observer(node, grad, ())
                if capture is None:
                    _on_its_device(node._accumulate_grad, grad)
                continue
            if node.retained is not None and capture is None:  # retain_grad() on its output
                _keep_grad(node, grad)
            if node.inputs is None:
                raise _freed(node)
            if node.recorded_at != inplace.writes:  # something was written in place since the forward
                inplace.check(node)
            sent = _on_its_device(node.backward, grad)  # the chain rule, one node: each input's share
            for observer in _observers:
                observer(node, grad, sent)
            for parent, parent_grad in zip(node.parents, sent):
                if parent is not None and parent_grad is not None:  # sum what every user sends
                    total = grads.get(parent)
                    grads[parent] = parent_grad if total is None else total + parent_grad
            if not retain_graph:
                node.release()
    return captured


def _on_its_device(step: Callable[["Tensor"], Any], grad: "Tensor") -> Any:
    """``step(grad)`` with grad's GPU current, so whatever it allocates lands there (CPU: just the call)."""
    if type(grad.data) is ndarray:
        return step(grad)
    with backend.on_device(grad.device):
        return step(grad)


def _add(grads: dict[Any, "Tensor"], node: Any, grad: "Tensor") -> None:
    """A node used by several others receives the sum of their gradients."""
    total = grads.get(node)
    grads[node] = grad if total is None else total + grad


def _keep_grad(node: Function, grad: "Tensor") -> None:
    output = node.retained()  # a weak reference: the tensor may be gone
    if output is not None:
        output._accumulate_grad(grad)


def _freed(node: Function) -> RuntimeError:
    return RuntimeError(
        f"backward through {node.name} a second time: its saved values were freed by the "
        "first backward. Pass retain_graph=True to the first backward() if you need to "
        "backpropagate through the same graph twice.")


def _run_hooks(node: Any, grad: "Tensor") -> "Tensor":
    """Tensor.register_hook: each hook sees the gradient and may replace it."""
    for hook in node.hooks:
        replaced = hook(grad)
        if replaced is not None:
            grad = replaced
    return grad
