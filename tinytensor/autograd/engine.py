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
from . import function, grad_mode, inplace
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

    An ordinary backward passes raw arrays from node to node (see function.py);
    under ``create_graph`` it passes Tensors. ``as_tensor`` turns a gradient into
    a Tensor wherever one leaves the walk: to a hook, an observer, a leaf, the caller.
    """
    as_tensor = _same if create_graph else _constant
    grads: dict[Any, Any] = {}  # node -> the sum of the gradients sent to it so far
    for root, grad in zip(roots, root_grads):
        _add(grads, root.grad_fn or root, grad if create_graph else grad.data)
    wanted = None if capture is None else {t.grad_fn or t for t in capture}
    captured: dict[Any, Tensor] = {}

    with grad_mode.set_grad_enabled(create_graph):
        for node in reversed(topological_order(list(grads))):
            grad = grads.pop(node, None)
            if grad is None:  # no gradient reached this node
                continue
            if node.hooks:
                grad = _run_hooks(node, as_tensor(grad), create_graph)
            if wanted is not None and node in wanted:
                captured[node] = as_tensor(grad)
            if not isinstance(node, Function):  # a leaf Tensor: the gradient stops here
                for observer in _observers:
                    observer(node, as_tensor(grad), ())
                if capture is None:
                    _on_its_device(node._accumulate_grad, as_tensor(grad))
                continue
            if node.retained is not None and capture is None:  # retain_grad() on its output
                _keep_grad(node, as_tensor(grad))
            if node.inputs is None:
                raise _freed(node)
            if node.recorded_at != inplace.writes:  # something was written in place since the forward
                inplace.check(node)
            try:  # the chain rule, one node: each input's share (on grad's GPU, if it is on one)
                sent = _on_its_device(node.backward, grad)
            except AttributeError as error:
                raise _not_an_array_method(node, error, create_graph) from error
            for observer in _observers:
                observer(node, as_tensor(grad), tuple(None if g is None else as_tensor(g) for g in sent))
            for parent, parent_grad in zip(node.parents, sent):
                if parent is not None and parent_grad is not None:  # sum what every user sends
                    if isinstance(parent_grad, function.Tensor) and not create_graph:
                        parent_grad = parent_grad.data  # a backward that computed with self.inputs
                    _add(grads, parent, parent_grad)
            if not retain_graph:
                node.release()
    return captured


def _same(grad: "Tensor") -> "Tensor":
    return grad


def _constant(grad: Any) -> "Tensor":
    return function.Tensor._make(backend.ensure_array(grad), None)  # NumPy makes 0-d results scalars


def _on_its_device(step: Callable[[Any], Any], grad: Any) -> Any:
    """``step(grad)`` with grad's GPU current, so whatever it allocates lands there (CPU: just the call)."""
    array = grad.data if isinstance(grad, function.Tensor) else grad
    if type(array) is ndarray:
        return step(grad)
    with backend.on_device(backend.device_of(array)):
        return step(grad)


def _add(grads: dict[Any, Any], node: Any, grad: Any) -> None:
    """A node used by several others receives the sum of their gradients."""
    total = grads.get(node)
    grads[node] = grad if total is None else _sum(total, grad)


def _sum(total: Any, grad: Any) -> Any:
    """total + grad, on their GPU when they are on one (a Tensor sum picks it by itself)."""
    if type(grad) is ndarray or isinstance(grad, function.Tensor):
        return total + grad
    with backend.on_device(backend.device_of(grad)):
        return total + grad


def _keep_grad(node: Function, grad: "Tensor") -> None:
    output = node.retained()  # a weak reference: the tensor may be gone
    if output is not None:
        output._accumulate_grad(grad)


def _freed(node: Function) -> RuntimeError:
    return RuntimeError(
        f"backward through {node.name} a second time: its saved values were freed by the "
        "first backward. Pass retain_graph=True to the first backward() if you need to "
        "backpropagate through the same graph twice.")


def _not_an_array_method(node: Function, error: AttributeError, create_graph: bool) -> Exception:
    if create_graph:
        return error
    return AttributeError(
        f"backward of {node.name}: {error}. In an ordinary backward the gradient and "
        "self.operands are arrays, not Tensors (see tinytensor/autograd/function.py): write the "
        "formula with operators and ops (exp(x), not x.exp()), or compute with self.inputs.")


def _run_hooks(node: Any, grad: "Tensor", create_graph: bool) -> Any:
    """Tensor.register_hook: each hook sees the gradient (a Tensor) and may replace it."""
    for hook in node.hooks:
        replaced = hook(grad)
        if replaced is not None:
            grad = replaced
    return grad if create_graph else grad.data
