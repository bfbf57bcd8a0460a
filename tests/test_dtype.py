"""dtypes: float32 by default, and an op never silently changes a tensor's dtype.

NumPy 2 turns float32 into float64 in many quiet ways (a NumPy float64 scalar
wins over a float32 array, int64 with float32 gives float64). A model that drifts to
float64 runs at half speed on a GPU and no longer matches PyTorch. So every
op, including those with Python numbers (x * 0.5, x ** 2, 1 / x, mean, var,
gelu, softmax, layer_norm, cross_entropy, dropout), must keep float32 in its
forward and in every gradient it sends back; the same for float64 and float16,
on every device (the stand-in "cuda" too: CuPy 14 follows NEP 50 as NumPy 2 does).
"""
import numpy as np
import pytest

import tinytensor as tt
import tinytensor.functional as F

TARGET = [0, 2, 1]

OPS = {
    "add": lambda a, b: a + b,
    "add broadcast": lambda a, b: a + b[0],
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a.abs() ** b,
    "neg": lambda a, b: -a,
    "x + 1": lambda a, b: a + 1,
    "x * 0.5": lambda a, b: a * 0.5,
    "0.5 * x": lambda a, b: 0.5 * a,
    "x - 0.25": lambda a, b: a - 0.25,
    "2.0 - x": lambda a, b: 2.0 - a,
    "x / 3.0": lambda a, b: a / 3.0,
    "1 / x": lambda a, b: 1 / a,
    "x ** 2": lambda a, b: a ** 2,
    "x ** 0.5": lambda a, b: a.abs() ** 0.5,
    "x ** -1.5": lambda a, b: a.abs() ** -1.5,
    "2 ** x": lambda a, b: 2 ** a,
    "1.5 ** x": lambda a, b: 1.5 ** a,
    "matmul": lambda a, b: a @ b.T,
    "matmul vector": lambda a, b: a[0] @ b[1],
    "exp": lambda a, b: a.exp(),
    "log": lambda a, b: a.abs().log(),
    "sqrt": lambda a, b: a.abs().sqrt(),
    "tanh": lambda a, b: a.tanh(),
    "sigmoid": lambda a, b: a.sigmoid(),
    "relu": lambda a, b: a.relu(),
    "abs": lambda a, b: a.abs(),
    "gelu": lambda a, b: F.gelu(a),
    "clip": lambda a, b: a.clip(-0.5, 0.5),
    "maximum": lambda a, b: tt.maximum(a, b),
    "maximum number": lambda a, b: tt.maximum(a, 0.1),
    "minimum": lambda a, b: tt.minimum(a, b),
    "where": lambda a, b: tt.where(a > b, a, b),
    "where number": lambda a, b: tt.where(a > 0, a, 0.5),
    "masked_fill": lambda a, b: a.masked_fill(b > 0, -1e9),
    "sum": lambda a, b: a.sum(),
    "mean": lambda a, b: a.mean(axis=1),
    "max": lambda a, b: a.max(axis=0),
    "min": lambda a, b: a.min(),
    "var": lambda a, b: a.var(axis=-1),
    "var correction 0": lambda a, b: a.var(correction=0),
    "reshape": lambda a, b: a.reshape(-1),
    "transpose": lambda a, b: a.T,
    "expand": lambda a, b: a[:, :1].expand(3, 5),
    "concat": lambda a, b: tt.concat([a, b], axis=1),
    "stack": lambda a, b: tt.stack([a, b]),
    "split": lambda a, b: a.split(2, axis=1)[1],
    "getitem": lambda a, b: a[[0, 0, 2], 1:],
    "softmax": lambda a, b: F.softmax(a),
    "log_softmax": lambda a, b: F.log_softmax(a, axis=0),
    "logsumexp": lambda a, b: F.logsumexp(a, axis=-1),
    "layer_norm": lambda a, b: F.layer_norm(a, 4, b[0], b[1]),
    "cross_entropy": lambda a, b: F.cross_entropy(a, tt.tensor(TARGET, device=a.device)),
    "cross_entropy smoothed": lambda a, b: F.cross_entropy(a, tt.tensor([0, -100, 1], device=a.device),
                                                           label_smoothing=0.1),
    "cross_entropy none": lambda a, b: F.cross_entropy(a, tt.tensor(TARGET, device=a.device),
                                                       reduction="none"),
    "mse_loss": lambda a, b: F.mse_loss(a, b),
    "dropout": lambda a, b: F.dropout(a, 0.3),
    "embedding": lambda a, b: F.embedding(tt.tensor([1, 1, 0], device=a.device), a),
}


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # float16 tops out at 65504
@pytest.mark.parametrize("dtype", [tt.float16, tt.float32, tt.float64], ids=str)
@pytest.mark.parametrize("op", OPS)
def test_dtype_is_kept_forward_and_backward(op, dtype, device):
    a = tt.randn(3, 4, dtype=dtype, device=device, requires_grad=True)
    b = tt.randn(3, 4, dtype=dtype, device=device, requires_grad=True)
    out = OPS[op](a, b)
    assert out.dtype == dtype
    out.sum().backward()
    grads = [t.grad for t in (a, b) if t.grad is not None]
    assert grads, "the op sent no gradient back"
    for g in grads:
        assert g.dtype == dtype


@pytest.mark.parametrize("dtype", [tt.float32, tt.float64], ids=str)
def test_second_order_gradients_keep_the_dtype(dtype, device):
    x = tt.randn(3, dtype=dtype, device=device, requires_grad=True)
    (g,) = tt.autograd.grad((F.gelu(x) * x ** 2 / 3.0).sum(), x, create_graph=True)
    assert g.dtype == dtype
    g.sum().backward()
    assert x.grad.dtype == dtype


def test_default_dtype_is_float32(device):
    assert tt.tensor([1.0, 2.0], device=device).dtype == tt.float32
    assert tt.tensor(1.5, device=device).dtype == tt.float32
    assert tt.zeros(2, device=device).dtype == tt.float32
    assert tt.ones(2, device=device).dtype == tt.float32
    assert tt.full(2, fill_value=3.0, device=device).dtype == tt.float32
    assert tt.rand(2, device=device).dtype == tt.float32
    assert tt.randn(2, device=device).dtype == tt.float32
    assert tt.arange(0.0, 1.0, 0.5, device=device).dtype == tt.float32


def test_numpy_arrays_keep_their_dtype(device):
    assert tt.tensor(np.zeros(2), device=device).dtype == tt.float64
    assert tt.tensor(np.zeros(2, dtype=np.float32), device=device).dtype == tt.float32
    assert tt.tensor(np.zeros(2, dtype=np.int32), device=device).dtype == tt.int32


def test_integers_and_bools(device):
    assert tt.tensor([1, 2], device=device).dtype == tt.int64
    assert tt.arange(5, device=device).dtype == tt.int64
    assert tt.arange(1, 7, 2, device=device).dtype == tt.int64
    assert tt.tensor([True, False], device=device).dtype == tt.bool_
    assert (tt.tensor([1, 2], device=device) > 1).dtype == tt.bool_
    assert tt.tensor([[1.0, 3.0]], device=device).argmax(axis=1).dtype == tt.int64
    assert tt.concat([tt.tensor([1], dtype=tt.int32, device=device),
                      tt.tensor([2], device=device)]).dtype == tt.int64


def test_integer_tensor_with_a_float_number_gives_float32(device):
    i = tt.tensor([1, 2, 3], device=device)
    for out in (i * 0.5, 0.5 * i, i + 1.5, i - 0.5, 1.5 - i, i / 2.0, i ** 0.5):
        assert out.dtype == tt.float32
    assert (i / 2).dtype == tt.float32  # true division of integers, as PyTorch
    np.testing.assert_array_equal((i / 2).numpy(), [0.5, 1.0, 1.5])
    assert (i * 2).dtype == tt.int64 and (i + 1).dtype == tt.int64 and (i ** 2).dtype == tt.int64


def test_float_tensor_with_an_integer_tensor_keeps_the_float_dtype(device):
    i = tt.tensor([1, 2, 3], device=device)
    for dtype in (tt.float16, tt.float32, tt.float64):
        x = tt.ones(3, dtype=dtype, device=device, requires_grad=True)
        for out in (x * i, i * x, x + i, x - i, i / x, x / i, x ** i, x @ i, tt.maximum(x, i),
                    tt.where(i > 1, x, i)):
            assert out.dtype == dtype
        (x * i).sum().backward()
        assert x.grad.dtype == dtype
        np.testing.assert_array_equal(x.grad.numpy(), [1, 2, 3])


MIXED = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: b - a,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: b / a,
    "pow": lambda a, b: a ** b,
    "matmul": lambda a, b: a @ b,
    "maximum": lambda a, b: tt.maximum(a, b * 2),
    "where": lambda a, b: tt.where(tt.tensor([True, False], device=a.device), a, b),
    "concat": lambda a, b: tt.concat([a, b]),
    "stack": lambda a, b: tt.stack([b, a]),
}


@pytest.mark.parametrize("op", MIXED)
def test_float32_with_float64_computes_in_float64_and_each_gradient_keeps_its_dtype(op, device):
    a = tt.tensor([1.5, 2.0], device=device, requires_grad=True)
    b = tt.tensor([0.5, 3.0], dtype=tt.float64, device=device, requires_grad=True)
    out = MIXED[op](a, b)
    assert out.dtype == tt.float64
    out.sum().backward()
    assert a.grad.dtype == tt.float32 and b.grad.dtype == tt.float64
    assert np.abs(a.grad.numpy()).sum() > 0


def test_where_of_two_numbers(device):
    condition = tt.tensor([True, False], device=device)
    assert tt.where(condition, 1.0, 2.0).tolist() == [1.0, 2.0]
    assert tt.where(condition, 1.0, 2.0).dtype == tt.float32
    assert tt.where(condition, 1, 2).dtype == tt.int64


def test_float16_through_dropout_and_arithmetic(device):
    x = tt.ones(8, dtype=tt.float16, device=device, requires_grad=True)
    y = tt.functional.dropout(x * 0.5, 0.5)
    assert y.dtype == tt.float16
    y.sum().backward()
    assert x.grad.dtype == tt.float16


def test_to_and_its_shorthands(device):
    x = tt.tensor([1.5, -2.5], device=device)
    assert x.to(tt.float64).dtype == tt.float64
    assert x.double().dtype == tt.float64
    assert x.double().float().dtype == tt.float32
    assert x.long().dtype == tt.int64
    assert x.long().tolist() == [1, -2]
    assert x.to(tt.float32) is x  # nothing to do
    assert x.to(dtype=tt.float16).dtype == tt.float16


def test_backward_casts_the_given_gradient_to_the_output_dtype(device):
    x = tt.ones(2, device=device, requires_grad=True)
    (x * 2).backward(tt.ones(2, dtype=tt.float64, device=device))  # torch casts: x.grad is float32
    assert x.grad.dtype == tt.float32


def test_mean_of_integers_is_refused_as_in_pytorch(device):
    with pytest.raises(TypeError, match="mean: needs a floating point tensor, got int64"):
        tt.arange(4, device=device).mean()


def test_full_takes_its_dtype_from_the_fill_value(device):
    assert tt.full(2, fill_value=7, device=device).dtype == tt.int64
    assert tt.full(2, fill_value=7.0, device=device).dtype == tt.float32
    assert tt.full(2, fill_value=True, device=device).dtype == tt.bool_
    assert tt.zeros(2).dtype == tt.ones(2).dtype == tt.float32
