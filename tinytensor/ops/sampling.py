"""Drawing categories at random: ``multinomial``, as torch.multinomial.

``multinomial(w, n)`` draws n category numbers, category i with probability
w_i / sum(w): the weights need not sum to 1 (softmax outputs do, counts need not).
A 2-D w is one distribution per row. No gradient: the result is integers.

With replacement (independent draws): inverse transform sampling. The running
sums c_i = w_0 + ... + w_i cut [0, total) into one interval per category,
[c_(i-1), c_i), as long as its weight, so a uniform u in [0, total) falls into
interval i with probability w_i / total; the interval is found by binary search.

    w = [1, 0, 3]: c = [1, 1, 4]; u in [0, 1) picks 0, u in [1, 4) picks 2, and
    category 1, of weight 0, has the empty interval [1, 1): it is never drawn.

Without replacement (each category once at most): the exponential race. Each
category runs a time E_i / w_i, E_i drawn from Exponential(1); these times are
exponential with rates w_i, so category i finishes first with probability
w_i / sum(w), and, the exponential having no memory, the rest of the race is the
same race among the others. The n first to finish, in order, are n draws
without replacement. A weight of 0 never finishes (time inf): such categories
come last, in order, as in PyTorch, once the others are used up.
"""
from __future__ import annotations

from typing import Any

from .. import backend
from ..tensor import Tensor
from .shape import Flip


def multinomial(x: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Any = None) -> Tensor:
    """``num_samples`` category numbers (int64) drawn with probabilities proportional to the weights x
    (1-D, or 2-D: one distribution per row), as torch.multinomial.

    ``generator``: a ``tinytensor.Generator`` to draw from instead of the device's seeded
    generator (a CPU one, for a CPU tensor, as PyTorch's). Checking the weights reads one number back from the GPU (a sync).
    """
    _check(x, num_samples, replacement)
    rows, n = (1, x.shape[0]) if x.ndim == 1 else x.shape
    with backend.on_device(x.device):
        xp = backend.xp_of(x.array)
        weights = x.array.astype(backend.float64).reshape(rows, n)  # (rows, categories)
        _check_weights(weights)
        if replacement:
            found = _inverse_transform(xp, weights, num_samples, _uniform((rows, num_samples), x, generator))
        else:
            race = -xp.log(1 - _uniform((rows, n), x, generator))  # Exponential(1), finite: 1 - u > 0
            positive = weights > 0
            times = xp.where(positive, race / xp.where(positive, weights, 1), xp.inf)
            found = xp.argsort(times, axis=1, kind="stable")[:, :num_samples]
        found = found.astype(backend.int64, copy=False)
    return Tensor._make(found.reshape(-1) if x.ndim == 1 else found, None)


def _inverse_transform(xp: Any, weights: Any, num_samples: int, uniform: Any) -> Any:
    """For each row, the categories whose intervals of [0, total) the uniform draws fall in."""
    ends = weights.cumsum(axis=1)  # c_i, where each category's interval ends
    totals = ends[:, -1:]
    draws = uniform * totals  # (rows, num_samples) in [0, total)
    found = xp.zeros(draws.shape, dtype=backend.int64)
    for row in range(weights.shape[0]):
        found[row] = xp.searchsorted(ends[row], draws[row], side="right")  # the first c_i > draw
    # u * total can round up to total itself, past every interval: give that draw to the last
    # category of positive weight (a chance of about 1e-16 per draw, but never an index out of range)
    last = weights.shape[1] - 1 - Flip((1,))(weights > 0).argmax(axis=1)
    return xp.minimum(found, last.reshape(-1, 1))


def _uniform(shape: tuple[int, ...], x: Tensor, generator: Any) -> Any:
    """Uniform draws in [0, 1) (float64) on x's device, from ``generator`` or the device's own."""
    if generator is None:
        return backend.uniform(shape, backend.float64, x.device)
    return backend.as_array(generator.draws_on(x.device, "multinomial").random(shape), backend.float64,
                            x.device)


def _check(x: Tensor, num_samples: int, replacement: bool) -> None:
    if not backend.is_floating(x.dtype):
        raise TypeError(f"multinomial: the weights must be floating point, got {x.dtype}; use x.float()")
    if x.ndim not in (1, 2):
        raise ValueError(f"multinomial: the weights must be 1-D (one distribution) or 2-D (one per "
                         f"row), got shape {x.shape}")
    if num_samples <= 0:
        raise ValueError(f"multinomial: num_samples must be positive, got {num_samples}")
    if not replacement and num_samples > x.shape[-1]:
        raise ValueError(f"multinomial: cannot draw {num_samples} samples without replacement from "
                         f"{x.shape[-1]} categories; pass replacement=True to draw categories again")


def _check_weights(weights: Any) -> None:
    """Weights finite and >= 0 with a positive sum in every row, checked with one sync."""
    xp = backend.xp_of(weights)
    bad = ~xp.isfinite(weights) | (weights < 0)
    empty = weights.sum(axis=1) <= 0
    if not bool(bad.any() | empty.any()):
        return
    if bool(bad.any()):
        raise ValueError("multinomial: the weights must be finite and >= 0, but they hold inf, nan "
                         "or a negative number (probability tensor contains either inf, nan or "
                         "element < 0)")
    raise ValueError("multinomial: a row of weights sums to 0, so nothing can be drawn from it "
                     "(invalid multinomial distribution, sum of probabilities <= 0)")
