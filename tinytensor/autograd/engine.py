"""Backward: reverse-mode automatic differentiation over the recorded graph.

Given a scalar loss L, we want dL/dw for every leaf w. The chain rule says the
gradient of a node is the sum, over its users, of what each user's
``backward`` sends to it. So:

1. put the nodes in reverse topological order (users before what they use);
2. seed the root with dL/dL = 1 (or the ``gradient`` given);
3. visit each node once: its gradient is complete by then, so call its
   ``backward`` and add each result into the gradient of the matching parent;
4. at a leaf, add the gradient into ``leaf.grad``.

``run_backward`` is that loop. Beside it, each in a helper of its own: the
checks before a node's backward (freed by an earlier backward? changed in
place since the forward?), running it on its GPU, and whoever asked to see a
complete gradient: ``Tensor.register_hook``, ``retain_grad``,
``tinytensor.autograd.grad`` (which hands the gradients back instead of
writing ``.grad``) and ``observe`` (the pictures). The values passed from node
to node are arrays, or Tensors under ``create_graph`` (value.py).

Two more ways in, for whoever acts on gradients as they arrive (data
parallelism, nn/parallel/): ``Tensor.register_post_accumulate_grad_hook``, a
hook called with the leaf once its ``.grad`` holds this backward's gradient,
and ``queue_callback``, a call made once the backward under way has finished
(PyTorch's ``Variable._execution_engine.queue_callback``).
"""
from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

from .. import backend
from ..backend import ndarray
from . import grad_mode, inplace, value
from .function import Function  # first: custom_function.py builds on it
from .custom_function import CustomFunctionNode
from .graph import node_of, topological_order
from .value import Value, as_tensor, as_value

if TYPE_CHECKING:
    from ..tensor import Tensor


def run_backward(roots: Sequence["Tensor"], root_grads: Sequence["Tensor"], *,
                 retain_graph: bool, create_graph: bool,
                 capture: Sequence["Tensor"] | None = None) -> dict[Any, "Tensor | None"]:
    """Backpropagate from ``roots``, into the leaves' ``.grad``.

    With ``capture`` (``autograd.grad``) no ``.grad`` is touched: the gradients
    of the ``capture`` tensors' nodes are returned instead (None: not reached).
    """
    captured = None if capture is None else dict.fromkeys([node_of(t) for t in capture])  # node -> grad
    # Under create_graph, backward's own ops are recorded; callbacks queued by hooks run at the end.
    with grad_mode.set_grad_enabled(create_graph), _final_callbacks():
        grads: dict[Any, Value] = {}  # node -> the sum of the gradients sent to it so far
        for root, grad in zip(roots, root_grads):
            _add(grads, node_of(root), grad)
        for node in reversed(topological_order(list(grads))):
            grad = grads.pop(node, None)
            if grad is None:  # no gradient reached this node
                continue
            if not isinstance(node, Function):  # a leaf: the gradient stops here, in .grad
                _reach_leaf(node, grad, captured)
                continue
            for parent, parent_grad in zip(node.parents, _backward(node, grad, captured)):
                if parent is not None and parent_grad is not None:
                    _add(grads, parent, parent_grad)  # sum what every user sends
            if not retain_graph:
                node.release()
    return captured or {}


def _add(grads: dict[Any, Value], node: Any, grad: "Value | Tensor") -> None:
    """A node used by several others receives the sum of their gradients.

    The seed and what each backward sends enter the walk here, as the kind it
    computes with (value.py): a Tensor, from a backward that computed with
    ``self.inputs``, is made an array again in an ordinary backward.
    """
    if type(grad) is not ndarray:  # the common case, a NumPy array, needs no look
        grad = as_value(grad)
    total = grads.get(node)
    grads[node] = grad if total is None else _sum(total, grad)


def _sum(total: Value, grad: Value) -> Value:
    """total + grad, on their GPU when they are on one (a Tensor sum picks it by itself)."""
    if type(grad) is ndarray or isinstance(grad, value.Tensor):
        return total + grad
    with backend.on_device(backend.device_of(grad)):
        return total + grad


def _backward(node: Function, grad: Value, captured: "dict | None") -> tuple[Value | None, ...]:
    """The chain rule at one op: its backward turns the op's complete gradient into each input's share."""
    if node.hooks or node.retained is not None or captured is not None:
        grad = as_value(_seen(node, as_tensor(grad), captured))
    if node.inputs is None:
        raise _freed(node)
    if node.recorded_at != inplace.writes:  # something was written in place since the forward
        inplace.check(node)
    try:
        sent = _on_its_device(node.backward, grad)
    except AttributeError as error:
        raise _not_an_array_method(node, error) from error
    for observer in _watching.observers:
        observer(node, as_tensor(grad), tuple(None if g is None else as_tensor(g) for g in sent))
    return sent


def _reach_leaf(leaf: "Tensor", grad: Value, captured: "dict | None") -> None:
    """A leaf's gradient is complete: into its ``.grad`` (under autograd.grad, handed back instead)."""
    grad = _seen(leaf, as_tensor(grad), captured)
    for observer in _watching.observers:
        observer(leaf, grad, ())
    if captured is None:
        _on_its_device(leaf._accumulate_grad, grad)
        for hook in leaf.post_accumulate_grad_hooks:
            hook(leaf)


def _seen(node: Any, grad: "Tensor", captured: "dict | None") -> "Tensor":
    """Show a node's complete gradient to whoever asked: the hooks of its tensor, which may
    replace it (``Tensor.register_hook``), then autograd.grad or ``retain_grad``."""
    for hook in node.hooks:
        replaced = hook(grad)
        if replaced is not None:
            grad = _checked(hook, replaced, grad)
    if captured is not None:
        if node in captured:
            captured[node] = grad
    elif isinstance(node, Function) and node.retained is not None:
        output = node.retained()  # a weak reference: the tensor may be gone
        if output is not None:
            output._accumulate_grad(grad)
    return grad


def _checked(hook: Callable, replaced: Any, grad: "Tensor") -> "Tensor":
    """What a hook returned, if it can stand for ``grad``: a Tensor of its shape and dtype
    (another shape would reach ``.grad``, or be broadcast on, a silently wrong gradient)."""
    name = getattr(hook, "__name__", repr(hook))
    if not isinstance(replaced, value.Tensor):
        raise TypeError(f"hook '{name}': expected a Tensor (or None), but the hook returned "
                        f"{type(replaced).__name__}")
    if replaced.shape != grad.shape:
        raise RuntimeError(f"hook '{name}' has changed the size of value: it returned shape "
                           f"{tuple(replaced.shape)} for a gradient of shape {tuple(grad.shape)}")
    if replaced.dtype != grad.dtype:
        raise RuntimeError(f"hook '{name}' has changed the type of value: it returned "
                           f"{replaced.dtype} for a gradient of {grad.dtype}")
    return replaced


def _on_its_device(step: Callable[[Any], Any], grad: Any) -> Any:
    """``step(grad)`` with grad's GPU current, so whatever it allocates lands there (CPU: just the call)."""
    array = grad.array if isinstance(grad, value.Tensor) else grad
    if type(array) is ndarray:
        return step(grad)
    with backend.on_device(backend.device_of(array)):
        return step(grad)


def _freed(node: Function) -> RuntimeError:
    return RuntimeError(
        f"backward through {node.name} a second time: its saved values were freed by the "
        "first backward. Pass retain_graph=True to the first backward() if you need to "
        "backpropagate through the same graph twice.")


def _not_an_array_method(node: Function, error: AttributeError) -> Exception:
    if grad_mode.is_grad_enabled() or isinstance(node, CustomFunctionNode):  # Tensors: a real mistake
        return error
    return AttributeError(
        f"backward of {node.name}: {error}. In an ordinary backward the gradient and "
        "self.operands are arrays, not Tensors (see tinytensor/autograd/value.py): write the "
        "formula with operators and ops (exp(x), not x.exp()), or compute with self.inputs.")


# ----------------------------------------------------------------------------
# After backward: calls queued while it ran
# ----------------------------------------------------------------------------
class _Queued(threading.local):
    """This thread's backwards under way, a list of callbacks each (a hook may run another
    backward inside one): a backward runs the callbacks queued in its own thread, never another's."""

    def __init__(self) -> None:
        self.lists: list[list[Callable[[], None]]] = []


_queued = _Queued()


def queue_callback(callback: Callable[[], None]) -> None:
    """Call ``callback()`` once the backward under way has finished, before it returns.

    PyTorch's ``Variable._execution_engine.queue_callback``: a hook that starts
    work during backward (an all-reduce of the gradients ready so far) queues
    the call that waits for it, so that ``loss.backward()`` returns with the
    work done. Callbacks run in the order queued; one may queue another.
    """
    if not _queued.lists:
        raise RuntimeError("queue_callback: final callbacks can only be installed during the backward "
                           "pass (from a hook that backward calls)")
    _queued.lists[-1].append(callback)


@contextlib.contextmanager
def _final_callbacks() -> Iterator[None]:
    """Collect the callbacks queued during one backward; run them when it ends without an error."""
    queued: list[Callable[[], None]] = []
    _queued.lists.append(queued)
    try:
        yield
        while queued:
            queued.pop(0)()
    finally:
        _queued.lists.pop()


# ----------------------------------------------------------------------------
# Watching backward: how the pictures replay it
# ----------------------------------------------------------------------------
Observer = Callable[[Any, "Tensor", tuple], None]


class _Watching(threading.local):
    """This thread's observers: a picture watches the backward of its own thread, not another's."""

    def __init__(self) -> None:
        self.observers: list[Observer] = []


_watching = _Watching()


@contextlib.contextmanager
def observe(callback: Observer) -> Iterator[None]:
    """Call ``callback(node, grad, sent)`` as backward finishes each node.

    ``grad`` is the node's complete gradient; ``sent`` is what its backward sent
    to each input (empty for a leaf). Nodes come in the engine's own order,
    which is how the pictures replay backprop.
    """
    _watching.observers.append(callback)
    try:
        yield
    finally:
        _watching.observers.remove(callback)
