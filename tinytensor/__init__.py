"""tinytensor: an autograd engine you can read in an afternoon.

    import tinytensor as tt
    x = tt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    x.grad                      # tensor([2., 4., 6.])

Where things are:
    backend.py      NumPy (CPU) and CuPy (GPU): the only file that imports them
    tensor.py       the Tensor class
    autograd/       grad mode, Function (a graph node), the graph walker, backward, gradcheck
    ops/            every op, forward and backward side by side
    functional/     softmax, layer_norm, cross_entropy... (as torch.nn.functional)
    creation.py     tensor, zeros, ones, rand, randn, arange...
"""
from . import backend
from .tensor import Tensor  # first: the ops and functional modules build on it
from . import autograd, functional  # noqa: E402
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from .backend import (Device, bool_, cuda_is_available, float16, float32, float64, get_rng_state,
                      int32, int64, manual_seed, set_rng_state)
from .creation import (arange, full, full_like, ones, ones_like, rand, rand_like, randn,
                       randn_like, tensor, zeros, zeros_like)
from .ops.arithmetic import residual_add
from .ops.broadcast import broadcast_to, sum_to
from .ops.comparison import argmax
from .ops.indexing import gather, topk
from .ops.matmul import matmul
from .ops.selection import clip, masked_fill, maximum, minimum, tril, triu, where
from .ops.shape import cat, chunk, concat, flatten, permute, reshape, split, squeeze, stack, transpose, unsqueeze

device = Device


def exp(x: Tensor) -> Tensor:
    return x.exp()


def log(x: Tensor) -> Tensor:
    return x.log()


def sqrt(x: Tensor) -> Tensor:
    return x.sqrt()


def sin(x: Tensor) -> Tensor:
    return x.sin()


def cos(x: Tensor) -> Tensor:
    return x.cos()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def erf(x: Tensor) -> Tensor:
    return x.erf()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def relu(x: Tensor) -> Tensor:
    return x.relu()


def abs(x: Tensor) -> Tensor:  # noqa: A001 - PyTorch's name
    return x.abs()


def sum(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return x.sum(axis, keepdims)


def mean(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    return x.mean(axis, keepdims)


def max(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return x.max(axis, keepdims)


def min(x: Tensor, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return x.min(axis, keepdims)


def var(x: Tensor, axis=None, keepdims: bool = False, correction: int = 1) -> Tensor:
    return x.var(axis, keepdims, correction)


__version__ = "0.1.0"

from . import data, nn, optim  # noqa: E402 - the building blocks, built on everything above
from .serialization import load, save  # noqa: E402
