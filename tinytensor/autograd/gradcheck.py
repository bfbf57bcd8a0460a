"""Gradient checking: is backward right? Compare it with finite differences.

For any function f and a direction v (random, fixed), let L(x) = sum(v * f(x)).
Backward gives dL/dx analytically. Central differences estimate each element:

    dL/dx_i  ~  (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)        error O(eps^2)

In float64 with eps = 1e-6 the two agree to about 1e-8 when backward is right;
float32 has too few digits for this, so the check insists on float64.
``gradgradcheck`` checks second derivatives the same way, by gradchecking the
function x -> dL/dx that backward with ``create_graph=True`` builds.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable, Sequence

from .. import backend
from . import grad as autograd_grad
from .grad_mode import enable_grad, no_grad


class GradcheckError(AssertionError):
    """Backward disagrees with finite differences."""


def _outputs(fn: Callable, inputs: Sequence[Any]) -> list:
    out = fn(*inputs)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _projected(outputs: list, directions: list) -> Any:
    """L = sum over outputs of sum(v * f(x)): one scalar that sees every output element."""
    total = None
    for out, v in zip(outputs, directions):
        term = (out * v).sum()
        total = term if total is None else total + term
    return total


def gradcheck(fn: Callable, inputs: Sequence[Any], eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, seed: int = 0) -> bool:
    """Check backward of ``fn`` against central differences for every input that requires grad.

    Returns True, or raises GradcheckError naming the input, the worst element and
    both values.
    """
    inputs = list(inputs)
    checked = _checked(inputs)
    for i in checked:
        if inputs[i].dtype != backend.float64:
            raise ValueError(f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need "
                             f"float64 (use .double())")
    outputs = _outputs(fn, inputs)
    directions = _directions(outputs, seed)
    differentiable = [k for k, o in enumerate(outputs) if o.requires_grad]
    loss = _projected([outputs[k] for k in differentiable], [directions[k] for k in differentiable])
    analytic = autograd_grad(loss, [inputs[i] for i in checked], allow_unused=True) if loss is not None \
        else [None] * len(checked)

    for i, grad in zip(checked, analytic):
        numeric = _numerical_gradient(fn, inputs, i, directions, eps)
        exact = backend.to_numpy(grad.array) if grad is not None else numeric * 0
        _compare(i, exact, numeric, atol, rtol)
    return True


def gradgradcheck(fn: Callable, inputs: Sequence[Any], eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, seed: int = 0) -> bool:
    """Check second derivatives: gradcheck the map x -> d/dx sum(v * fn(x))."""
    inputs = list(inputs)
    checked = _checked(inputs)
    directions = _directions(_outputs(fn, inputs), seed + 1)

    def first_derivatives(*xs: Any) -> list:
        with enable_grad():  # finite differences run under no_grad; backward needs its graph
            loss = _projected(_outputs(fn, xs), directions)
            grads = autograd_grad(loss, [xs[i] for i in checked], create_graph=True, allow_unused=True)
        return [g if g is not None else xs[i] * 0 for g, i in zip(grads, checked)]

    return gradcheck(first_derivatives, inputs, eps=eps, atol=atol, rtol=rtol, seed=seed)


def _checked(inputs: list) -> list[int]:
    """The positions of the inputs that require grad: the ones to check."""
    from ..tensor import Tensor  # noqa: PLC0415 - tensor.py imports the autograd package

    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    return checked


def _directions(outputs: list, seed: int) -> list:
    """One fixed random direction v per output (float64, on the output's device)."""
    from ..tensor import Tensor  # noqa: PLC0415

    rng = backend.new_generator(seed)
    return [Tensor(rng.standard_normal(o.shape), dtype=backend.float64, device=o.device)
            for o in outputs]


def _numerical_gradient(fn: Callable, inputs: list, i: int, directions: list, eps: float) -> Any:
    """dL/dx_i for every element of input i, by nudging it in place by -eps and +eps."""
    x = inputs[i]
    numeric = backend.full(x.shape, 0.0, backend.float64, backend.CPU)
    with no_grad(), backend.on_device(x.device):
        for index in itertools.product(*(range(n) for n in x.shape)):
            original = x.array[index].item()
            x.array[index] = original + eps
            plus = _projected(_outputs(fn, inputs), directions).item()
            x.array[index] = original - eps
            minus = _projected(_outputs(fn, inputs), directions).item()
            x.array[index] = original
            numeric[index] = (plus - minus) / (2 * eps)
    return numeric


def _compare(i: int, exact: Any, numeric: Any, atol: float, rtol: float) -> None:
    """Raise, naming the worst element, unless |exact - numeric| <= atol + rtol |numeric| everywhere."""
    xp = backend.xp_of(exact)
    error = abs(exact - numeric) - (atol + rtol * abs(numeric))
    if (error > 0).any() or not xp.isfinite(exact).all():
        worst = xp.unravel_index(int(xp.nan_to_num(error, nan=1e300).argmax()), exact.shape)
        raise GradcheckError(
            f"gradcheck failed for input {i} (shape {exact.shape}) at element "
            f"{tuple(int(w) for w in worst)}: backward gives {float(exact[worst])!r}, finite "
            f"differences give {float(numeric[worst])!r} (atol={atol}, rtol={rtol})")
