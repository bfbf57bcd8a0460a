"""Automatic differentiation: grad mode, the Function node, the graph walker, backward.

Read in this order: grad_mode.py, function.py, value.py (the arrays or Tensors a
backward computes with), graph.py, engine.py, then ``backward`` and ``grad`` below
(gradients handed back instead of stored), gradcheck.py, and custom_function.py
(a new op written as PyTorch writes one).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from .. import missing
from .engine import observe, queue_callback, run_backward
from .custom_function import FunctionCtx
from .function import Function
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .graph import node_of, topological_order

if TYPE_CHECKING:
    from ..tensor import Tensor


def backward(tensors: "Tensor | Sequence[Tensor]",
             grad_tensors: "Tensor | Sequence[Tensor | None] | None" = None,
             retain_graph: bool | None = None, create_graph: bool = False,
             inputs: "Tensor | Sequence[Tensor] | None" = None) -> None:
    """d(tensors)/d(leaves), added into each leaf's ``.grad`` (as torch.autograd.backward).

    ``loss.backward()`` is ``backward(loss)``; several tensors backpropagate together,
    each from its own gradient (``grad_tensors``). With ``inputs`` only those tensors'
    ``.grad`` are filled (a non-leaf among them too).
    """
    from ..tensor import Tensor  # noqa: PLC0415

    tensors, seeds = _roots(tensors, grad_tensors, "backward", "grad_tensors")
    retain_graph = create_graph if retain_graph is None else retain_graph
    if inputs is None:
        run_backward(tensors, seeds, retain_graph=retain_graph, create_graph=create_graph)
        return
    inputs = _required([inputs] if isinstance(inputs, Tensor) else list(inputs), "backward", "inputs")
    found = run_backward(tensors, seeds, capture=inputs, create_graph=create_graph, retain_graph=retain_graph)
    with set_grad_enabled(create_graph):  # as in a backward without inputs: owned values, or the graph
        for t in inputs:
            if found.get(node_of(t)) is not None:
                t._accumulate_grad(found[node_of(t)])


def grad(outputs: "Tensor | Sequence[Tensor]", inputs: "Tensor | Sequence[Tensor]",
         grad_outputs: "Tensor | Sequence[Tensor | None] | None" = None,
         retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool = False) -> "tuple[Tensor | None, ...]":
    """d(outputs)/d(inputs), returned instead of written into ``.grad`` (as torch.autograd.grad).

    With ``create_graph=True`` the result is differentiable again: the way to
    Hessian-vector products and gradient penalties.
    """
    from ..tensor import Tensor  # noqa: PLC0415

    outputs, seeds = _roots(outputs, grad_outputs, "grad", "grad_outputs")
    inputs = _required([inputs] if isinstance(inputs, Tensor) else list(inputs), "grad", "inputs")
    found = run_backward(outputs, seeds, capture=inputs, create_graph=create_graph,
                         retain_graph=create_graph if retain_graph is None else retain_graph)
    result = tuple(found.get(node_of(t)) for t in inputs)
    if not allow_unused and any(g is None for g in result):
        raise RuntimeError("grad: an input was not used to compute the outputs; pass "
                           "allow_unused=True to get None for it")
    return result


def _roots(outputs: "Tensor | Sequence[Tensor]", grads: "Tensor | Sequence[Tensor | None] | None",
           op: str, grads_name: str) -> "tuple[list[Tensor], list[Tensor]]":
    """The tensors a backward starts from, and the gradient each starts with (1 for a loss)."""
    from ..tensor import Tensor, _seed_like  # noqa: PLC0415

    outputs = _required([outputs] if isinstance(outputs, Tensor) else list(outputs), op, "outputs")
    if grads is None or isinstance(grads, Tensor):
        grads = [grads] * len(outputs)
    if len(grads) != len(outputs):
        raise ValueError(f"{op}: {len(outputs)} outputs but {len(grads)} {grads_name}; "
                         "give one gradient (or None) per output")
    return outputs, [_seed_like(g, out, op) for out, g in zip(outputs, grads)]


def _required(tensors: "list[Tensor]", op: str, what: str) -> "list[Tensor]":
    if not tensors:
        raise RuntimeError(f"{op}: {what} is empty; give at least one tensor")
    for i, t in enumerate(tensors):
        if not t.requires_grad:
            raise RuntimeError(f"{op}: element {i} of {what} does not require grad and does not have "
                               f"a grad_fn. Set requires_grad=True on a leaf it depends on (and do not "
                               f"compute it under no_grad).")
    return tensors


# Last, because gradcheck.py uses ``grad`` above. The functions take the submodule's name
# here, as in PyTorch: tinytensor.autograd.gradcheck(f, inputs).
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402

__all__ = ["Function", "FunctionCtx", "GradcheckError", "backward", "enable_grad", "grad",
           "gradcheck", "gradgradcheck", "inference_mode", "is_grad_enabled", "no_grad", "node_of",
           "observe", "queue_callback", "run_backward", "set_grad_enabled", "topological_order"]


__getattr__ = missing.names(__name__)  # a PyTorch name not here says what to use (missing.py)
