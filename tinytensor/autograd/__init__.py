"""Automatic differentiation: grad mode, the Function node, the graph walker, backward.

Read in this order: grad_mode.py, function.py, value.py (the arrays or Tensors a
backward computes with), graph.py, engine.py, then ``grad`` below (gradients
handed back instead of stored) and gradcheck.py.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from .engine import observe, queue_callback, run_backward
from .function import Function
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .graph import node_of, topological_order

if TYPE_CHECKING:
    from ..tensor import Tensor


def grad(outputs: "Tensor | Sequence[Tensor]", inputs: "Tensor | Sequence[Tensor]",
         grad_outputs: "Tensor | Sequence[Tensor | None] | None" = None,
         retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool = False) -> "tuple[Tensor | None, ...]":
    """d(outputs)/d(inputs), returned instead of written into ``.grad`` (as torch.autograd.grad).

    With ``create_graph=True`` the result is differentiable again: the way to
    Hessian-vector products and gradient penalties.
    """
    from ..tensor import Tensor, _seed_like  # noqa: PLC0415

    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs; "
                         "give one gradient (or None) per output")
    if not all(out.requires_grad for out in outputs):
        raise RuntimeError("grad: an output does not require grad (no input of it requires grad)")
    seeds = [_seed_like(seed, out, "grad") for out, seed in zip(outputs, grad_outputs)]
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("grad: every input must require grad")
    found = run_backward(outputs, seeds, capture=inputs, create_graph=create_graph,
                         retain_graph=create_graph if retain_graph is None else retain_graph)
    result = tuple(found.get(node_of(t)) for t in inputs)
    if not allow_unused and any(g is None for g in result):
        raise RuntimeError("grad: an input was not used to compute the outputs; pass "
                           "allow_unused=True to get None for it")
    return result


# Last, because gradcheck.py uses ``grad`` above. The functions take the submodule's name
# here, as in PyTorch: tinytensor.autograd.gradcheck(f, inputs).
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: E402

__all__ = ["Function", "GradcheckError", "enable_grad", "grad", "gradcheck", "gradgradcheck",
           "inference_mode", "is_grad_enabled", "no_grad", "node_of", "observe", "queue_callback", "run_backward",
           "set_grad_enabled", "topological_order"]
