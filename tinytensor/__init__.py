"""tinytensor: an autograd engine you can read in an afternoon.

The bottom of the project's layers, which imports nothing from the ones above it:
tinytensor/ (the engine) -> transformer/ (the model) -> translator/ (the application)
and visualize/ (the pictures).

    import tinytensor as tt
    x = tt.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    x.grad                      # tensor([2., 4., 6.])

Where things are:
    backend/        NumPy (CPU) and CuPy (GPU), the only package that imports them: arrays and
                    devices, random generators, checkpoint files, malloc's freed memory
    tensor.py       the Tensor class: what autograd needs
    tensor_types.py PyTorch's older constructors: Tensor([1, 2]), FloatTensor, LongTensor..., x.type()
    autograd/       grad mode, Function (a graph node), the values backward computes with,
                    the graph walker, backward, gradcheck, Functions written as PyTorch's
    ops/            every op, forward and backward side by side, and its function
    methods.py      x.exp(), x.sum(dim=1)...: the functions of ops/, attached to Tensor
    functional/     softmax, layer_norm, cross_entropy... (as torch.nn.functional)
    creation.py     tensor, zeros, ones, rand, randn, arange...
    random.py       get_rng_state and set_rng_state: every device's random state, for checkpoints
    generator.py    Generator, a seeded random stream of one's own (as torch.Generator)
    threads.py      set_num_threads, get_num_threads, choose_num_threads: BLAS threads on a busy CPU
    cuda.py         tinytensor.cuda.is_available(), manual_seed_all() and friends
    accelerator.py  torch.accelerator's questions, answered for CUDA
    backends.py     torch.backends' switches (cudnn, mps, cuda.matmul): kept, with no effect
    missing.py      what a PyTorch name tinytensor lacks answers: "tinytensor has no torch.X; use Y"
    as_torch/       run a PyTorch program unchanged: `import torch` gives tinytensor

The names below are the functions themselves (``tt.exp`` is what ``x.exp()``
calls), under PyTorch's names, so ``import tinytensor as torch`` runs everyday
PyTorch code.
"""
from . import backend
from .tensor import Tensor  # first: the ops and functional modules build on it
from . import autograd, functional  # noqa: E402
from . import methods  # noqa: E402,F401 - attaches x.exp(), x.sum()... to Tensor
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from .backend import (Device, bool_, cuda_is_available, float16, float32, float64, int8, int16, int32,
                      int64, manual_seed, uint8)
from .creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like,
                       get_default_device, linspace, ones, ones_like, rand, rand_like, randint, randn,
                       randn_like, randperm, set_default_device, tensor, zeros, zeros_like)
from .tensor_types import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor,
                           IntTensor, LongTensor, ShortTensor)
from .functional import log_softmax, logsumexp, softmax
from .generator import Generator
from .ops.arithmetic import add, div, mul, neg, pow, square, sub
from .ops.broadcast import broadcast_to, sum_to
from .ops.comparison import all, allclose, any, argmax, argmin, equal
from .ops.conversion import clone
from .ops.indexing import gather, index_select
from .ops.matmul import bmm, matmul, mm, outer
from .ops.pointwise import abs, cos, erf, exp, log, relu, sigmoid, sin, sqrt, tanh
from .ops.reduction import amax, amin, max, mean, min, norm, std, sum, var
from .ops.selection import clip, masked_fill, maximum, minimum, tril, triu, where
from .ops.shape import (cat, chunk, concat, flatten, permute, reshape, split, squeeze, stack, t,
                        transpose, unbind, unsqueeze)
from .random import get_rng_state, set_rng_state
from .ops.comparison import isfinite, isinf, isnan, nonzero
from .ops.einsum import einsum
from .ops.indexing import diag
from .ops.pointwise import rsqrt, sign
from .ops.reduction import prod
from .ops.sampling import multinomial
from .ops.scan import cumprod, cumsum
from .ops.scatter import index_fill, scatter, scatter_add
from .ops.shape import flip, roll
from .ops.sorting import argsort, sort, topk, unique
from .ops.out import accepts_out

# torch.mul(a, b, out=c) writes into c (ops/out.py); x.mul(y), a * b and the ops inside do not need it
add, sub, mul, div, matmul, mm, bmm = (accepts_out(f) for f in (add, sub, mul, div, matmul, mm, bmm))



def is_tensor(obj: object) -> bool:
    return isinstance(obj, Tensor)


def numel(x: Tensor) -> int:
    return x.numel()


device = Device
clamp = clip
# PyTorch's names for the dtypes (after the functions above, whose hints mean Python's int and bool)
float, double, half = float32, float64, float16  # noqa: A001
long, int, bool = int64, int32, bool_  # noqa: A001
short = int16


__version__ = "0.1.0"

from . import cuda, data, nn, optim, utils  # noqa: E402 - the building blocks, built on everything above
from . import accelerator, as_torch, backends, missing  # noqa: E402 - for programs written for PyTorch
from .backends import get_float32_matmul_precision, set_float32_matmul_precision  # noqa: E402
from .serialization import load, save  # noqa: E402
from .threads import get_num_threads, set_num_threads  # noqa: E402

# What ``from tinytensor import *`` brings: every name above but those that would hide Python's
# own (sum, max, min, abs, all, any, pow, and the dtypes int, float, bool): write tt.sum(...).
__all__ = [
    "Generator", "utils",
    "Device", "GradcheckError", "Tensor", "add", "allclose", "amax", "amin", "arange", "argmax", "argmin",
    "autograd", "bmm", "bool_", "broadcast_to", "cat", "chunk", "clamp", "clip", "clone", "concat", "cos",
    "cuda", "cuda_is_available", "data", "device", "div", "double", "empty", "empty_like", "enable_grad",
    "equal", "erf", "exp", "eye", "flatten", "float16", "float32", "float64", "from_numpy", "full",
    "full_like", "functional", "gather", "get_rng_state", "gradcheck", "gradgradcheck", "half",
    "index_select", "inference_mode", "int32", "int64", "is_grad_enabled", "is_tensor", "linspace", "load",
    "log", "log_softmax", "logsumexp", "long", "manual_seed", "masked_fill", "matmul", "maximum", "mean",
    "minimum", "mm", "mul", "neg", "nn", "no_grad", "norm", "numel", "ones", "ones_like", "optim",
    "permute", "rand", "rand_like", "randint", "randn", "randn_like", "randperm", "relu", "reshape",
    "save", "set_grad_enabled", "set_rng_state", "sigmoid", "sin", "softmax", "split",
    "sqrt", "square", "squeeze", "stack", "std", "sub", "sum_to", "t", "tanh", "tensor", "topk",
    "transpose", "tril", "triu", "unbind", "unsqueeze", "var", "where", "zeros", "zeros_like",
    "get_num_threads", "set_num_threads",  # threads.py
]
__all__ += [
    "argsort", "cumprod", "cumsum", "diag", "einsum", "flip", "index_fill", "isfinite", "isinf", "isnan",
    "multinomial", "nonzero", "outer", "prod", "roll", "rsqrt", "scatter", "scatter_add", "sign", "sort",
    "unique",
]
__all__ += [
    "BoolTensor", "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor", "HalfTensor", "IntTensor",
    "LongTensor", "ShortTensor", "as_tensor", "get_default_device", "int8", "int16", "set_default_device",
    "short", "uint8",
]
__all__ += ["accelerator", "as_torch", "backends", "get_float32_matmul_precision",
            "set_float32_matmul_precision"]

__getattr__ = missing.names(__name__)  # a PyTorch name not here says what to use (missing.py)
