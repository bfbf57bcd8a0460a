"""erf(x) = 2/sqrt(pi) * integral from 0 to x of exp(-t^2) dt, which NumPy lacks.

It is computed here from two classic expansions, each where it converges fast:

  |x| < 2:   the Maclaurin series  erf(x) = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1))
  |x| >= 2:  the continued fraction of erfc = 1 - erf (Laplace):
             erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))

30 series terms and 40 fraction terms give erf to within 1e-15 of math.erf in float64
(tests/test_primitives_for_attention.py checks it on a dense grid).

GELU in its exact form, x Phi(x) with Phi(x) = (1 + erf(x / sqrt(2))) / 2, runs erf on
the largest arrays of a Transformer, so ``erf_array`` works in place.
"""
from __future__ import annotations

import math
from typing import Any

from .. import backend

_ERF_SERIES = [(-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(30)]
_ERFC_DEPTH = 40
_ERF_SWITCH = 2.0
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def erf_array(a: Any) -> Any:
    """erf of every element of a floating array (the module docstring says how).

    Computed in float64 whatever the input's dtype, then rounded once to it, so a
    float32 result is erf correctly rounded to float32 (within one unit in the last place).
    The loops work in place, and the continued fraction runs only on the elements
    beyond the switch (few, for a network's activations).
    """
    xp = backend.xp_of(a)
    size = xp.abs(a.astype(backend.float64))
    near = xp.minimum(size, _ERF_SWITCH)
    square = near * near
    result = xp.full_like(size, _ERF_SERIES[-1])
    for coefficient in reversed(_ERF_SERIES[:-1]):  # Horner's rule in x^2
        result *= square
        result += coefficient
    result *= near
    result *= TWO_OVER_SQRT_PI
    far = size >= _ERF_SWITCH
    if backend.to_host(far.any()):  # a read: on a GPU a sync, and size[far] another (docs/gpu.md)
        x = size[far]
        fraction = xp.zeros_like(x)
        for k in range(_ERFC_DEPTH, 0, -1):  # the continued fraction, from its tail up
            fraction += x
            xp.divide(k / 2, fraction, out=fraction)
        fraction += x
        result[far] = 1 - xp.exp(-x * x) / fraction / math.sqrt(math.pi)  # 1 - erfc
    return xp.copysign(result, a).astype(a.dtype, copy=False)  # erf is odd; erf(-0.0) is -0.0
