"""Weight initialization: pick the starting scale so signals neither vanish nor explode.

A layer y = W x with fan_in inputs adds up fan_in terms, so Var(y) = fan_in Var(W) Var(x).
Keeping the variance of activations (forward) and of gradients (backward, which
sums over fan_out terms) near 1 through a deep stack fixes the scale of W:

    Xavier / Glorot (2010)   Var(W) = gain^2 * 2 / (fan_in + fan_out)
    Kaiming / He (2015)      Var(W) = gain^2 / fan     (fan = fan_in or fan_out)

``gain`` makes up for what the nonlinearity after the layer does to the variance
(ReLU zeroes half its inputs: gain sqrt(2)). A uniform U(-a, a) has variance
a^2 / 3, so its bound is a = sqrt(3) * std. For a weight of shape
(out, in, k1, k2, ...) fan_in = in * k1 * k2 * ... and fan_out = out * k1 * k2 * ...

Every function fills the tensor in place (with the in-place ops, under ``no_grad``:
initialization is not part of any graph), draws from the device's seeded generator
(``tinytensor.manual_seed`` repeats it) and returns the tensor, as torch.nn.init.
"""
from __future__ import annotations

import math
import warnings

from .. import missing
from ..autograd.grad_mode import no_grad
from ..ops import inplace
from ..tensor import Tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that keeps activations' variance unchanged through ``nonlinearity``."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        return math.sqrt(2.0 / (1 + slope ** 2))
    gains = {"linear": 1.0, "sigmoid": 1.0, "tanh": 5.0 / 3, "relu": math.sqrt(2.0)}
    if nonlinearity not in gains:
        raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; "
                         f"use one of {sorted([*gains, 'leaky_relu'])}")
    return gains[nonlinearity]


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(f"fan in and fan out need a tensor with at least 2 dimensions "
                         f"(out, in, ...), got shape {tuple(tensor.shape)}")
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


@no_grad()
def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with samples of U(a, b)."""
    return inplace.uniform_(tensor, a, b)


@no_grad()
def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with samples of N(mean, std^2)."""
    return inplace.normal_(tensor, mean, std)


@no_grad()
def constant_(tensor: Tensor, val: float) -> Tensor:
    return inplace.fill_(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)))


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """U(-bound, bound) with bound = gain * sqrt(3 / fan); ``a`` is leaky_relu's negative slope."""
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming_uniform_: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    if 0 in tensor.shape:  # no number to draw, and a fan of 0 has no scale (PyTorch's words)
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(tensor, -bound, bound)


__getattr__ = missing.names(__name__)  # a PyTorch name not here says what to use (missing.py)
