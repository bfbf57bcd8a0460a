"""Every differentiable op and functional, gradchecked in float64 on every device.

``tinytensor.gradcheck`` compares each op's hand-written backward with central
finite differences, element by element. An op whose backward has a wrong sign,
a missing broadcast sum or a lost repeated index fails here, naming the input
and the element. Each case runs on "cpu" and on "cuda" (skipped, with the
reason, where there is no GPU).

Inputs are chosen away from the points where an op has no derivative (ties
for max/min/maximum, 0 for relu/abs, the edges of clip), because there finite
differences and any backward legitimately disagree. Where finite differences
cannot see the intended gradient (embedding's padding row, dropout's mask,
repeated indices) the gradient is also checked directly against its value.
"""
import numpy as np
import pytest

import tinytensor as tt
import tinytensor.functional as F
from gradcheck_inputs import BINARY as ARITHMETIC
from gradcheck_inputs import POINTWISE as FUNCTIONS
from gradcheck_inputs import away_from_zero, leaf, normal, positive


def check(fn, *arrays, device, **kwargs):
    inputs = [leaf(a, device) for a in arrays]
    assert tt.gradcheck(fn, inputs, **kwargs)


# ----------------------------------------------------------------------------
# Arithmetic, with broadcasting in both directions and Python numbers
# ----------------------------------------------------------------------------
BINARY = {
    **ARITHMETIC,
}
SHAPE_PAIRS = [((2, 3), (2, 3)), ((3,), (2, 3)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 3))]


@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
@pytest.mark.parametrize("op", BINARY)
def test_binary_ops_with_broadcasting(op, shapes, device):
    # positive operands keep a / b and a ** b (with d/db = a^b ln a) well defined
    check(BINARY[op], positive(shapes[0], 1), positive(shapes[1], 2), device=device)


SCALAR_CASES = {
    "x + 1.5": lambda x: x + 1.5,
    "1.5 + x": lambda x: 1.5 + x,
    "x - 2": lambda x: x - 2,
    "2 - x": lambda x: 2 - x,
    "x * 0.5": lambda x: x * 0.5,
    "3 * x": lambda x: 3 * x,
    "x / 4": lambda x: x / 4,
    "1 / x": lambda x: 1 / x,
    "x ** 3": lambda x: x ** 3,
    "x ** 2 (negative x)": lambda x: (-x) ** 2,
    "x ** 0.5": lambda x: x ** 0.5,
    "x ** -2": lambda x: x ** -2,
    "2 ** x": lambda x: 2 ** x,
    "-x": lambda x: -x,
}


@pytest.mark.parametrize("case", SCALAR_CASES)
def test_ops_with_python_numbers_and_unary_minus(case, device):
    check(SCALAR_CASES[case], positive((2, 3)), device=device)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_pow_at_a_zero_base_gives_pytorchs_gradients(device):
    """Where b = 0, dz/da = 0 even at a = 0; where a = 0 and b >= 0, dz/db = 0 (not nan)."""
    x = leaf([0.0, 1.0, 2.0], device)
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])

    x, b = leaf([0.0, 1.0, 2.0], device), leaf([2.0, 2.0, 2.0], device)
    (x ** b).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 2.0, 4.0])
    np.testing.assert_allclose(b.grad.numpy(), [0.0, 0.0, 4 * np.log(2.0)], rtol=1e-15)


# ----------------------------------------------------------------------------
# Matrix multiplication
# ----------------------------------------------------------------------------
MATMUL_SHAPES = [
    ((2, 3), (3, 4)),           # 2-D
    ((2, 2, 3), (2, 3, 4)),     # batched
    ((2, 1, 2, 3), (3, 3, 2)),  # batch dims broadcast: (2, 1) with (3,)
    ((2, 2, 3), (3, 4)),        # one matrix shared by the whole batch
    ((3,), (3, 4)),             # vector @ matrix
    ((2, 3), (3,)),             # matrix @ vector
    ((3,), (3,)),               # dot product: a 0-d result
    ((3,), (2, 3, 4)),          # vector @ batch
    ((2, 3, 4), (4,)),          # batch @ vector
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(shapes, device):
    check(lambda a, b: a @ b, normal(shapes[0], 1), normal(shapes[1], 2), device=device)


def test_matmul_function_and_mT(device):
    check(lambda a, b: tt.matmul(a, b.mT), normal((2, 2, 3), 1), normal((2, 4, 3), 2), device=device)


# ----------------------------------------------------------------------------
# Pointwise functions
# ----------------------------------------------------------------------------
POINTWISE = {
    **FUNCTIONS,
    "tt.sin": (tt.sin, normal),
    "tt.cos": (tt.cos, normal),
    "tt.erf": (tt.erf, normal),
    "tt.exp": (tt.exp, normal),
    "tt.log": (tt.log, positive),
    "tt.sqrt": (tt.sqrt, positive),
    "tt.tanh": (tt.tanh, normal),
    "tt.sigmoid": (tt.sigmoid, normal),
    "tt.relu": (tt.relu, away_from_zero),
    "tt.abs": (tt.abs, away_from_zero),
    "F.relu": (F.relu, away_from_zero),
    "F.tanh": (F.tanh, normal),
    "F.sigmoid": (F.sigmoid, normal),
}


@pytest.mark.parametrize("shape", [(2, 3, 2), ()], ids=["3-d", "0-d"])
@pytest.mark.parametrize("name", POINTWISE)
def test_pointwise(name, shape, device):
    # 0-d too: NumPy returns scalars, not arrays, from some 0-d operations
    fn, values = POINTWISE[name]
    check(fn, values(shape), device=device)


# ----------------------------------------------------------------------------
# Selection: clip, maximum, minimum, where, masked_fill
# ----------------------------------------------------------------------------
# Values kept at least 0.1 away from the clip edges -0.5 and 0.5
CLIP_INPUT = [[-1.3, -0.7, -0.3], [0.1, 0.35, 0.9], [2.0, -0.05, 0.62]]


@pytest.mark.parametrize("low, high", [(-0.5, 0.5), (-0.5, None), (None, 0.5)])
def test_clip(low, high, device):
    check(lambda x: x.clip(low, high), CLIP_INPUT, device=device)
    check(lambda x: x.clamp(low, high), CLIP_INPUT, device=device)


def _apart(shape):
    """Two arrays that differ by at least 0.2 everywhere (no ties for maximum/minimum)."""
    a = normal(shape, 1)
    return a, a + away_from_zero(shape, 2)


@pytest.mark.parametrize("op", [tt.maximum, tt.minimum])
def test_maximum_minimum(op, device):
    check(op, *_apart((2, 3)), device=device)


@pytest.mark.parametrize("op", [tt.maximum, tt.minimum])
def test_maximum_minimum_broadcast_and_number(op, device):
    a = np.array([-1.0, 0.4, 1.2])
    b = np.array([[0.0], [0.8]])
    check(op, a, b, device=device)                 # (3,) with (2, 1)
    check(lambda x: op(x, 0.2), CLIP_INPUT, device=device)


def test_where(device):
    condition = tt.tensor([[True, False, True], [False, False, True]], device=device)
    check(lambda a, b: tt.where(condition, a, b), normal((2, 3), 1), normal((2, 3), 2), device=device)
    # broadcast: a (3,), b (2, 1) against a (2, 3) condition
    check(lambda a, b: tt.where(condition, a, b), normal((3,), 1), normal((2, 1), 2), device=device)
    check(lambda a: tt.where(condition, a, 0.5), normal((2, 3)), device=device)


def test_masked_fill(device):
    mask = tt.tensor([[False, True, False], [True, False, False]], device=device)
    check(lambda x: x.masked_fill(mask, -3.0), normal((2, 3)), device=device)
    check(lambda x: tt.masked_fill(x, mask[0], 0.0), normal((2, 3)), device=device)  # mask broadcasts


# ----------------------------------------------------------------------------
# Reductions over every kind of axis argument
# ----------------------------------------------------------------------------
REDUCTIONS = {
    "sum": lambda x, axis, keep: x.sum(axis, keep),
    "mean": lambda x, axis, keep: x.mean(axis=axis, keepdims=keep),
    "max": lambda x, axis, keep: x.max(axis=axis, keepdims=keep),
    "min": lambda x, axis, keep: x.min(axis=axis, keepdims=keep),
    "var": lambda x, axis, keep: x.var(axis, keep),
    "var(correction=0)": lambda x, axis, keep: x.var(axis, keep, correction=0),
    "tt.sum": lambda x, axis, keep: tt.sum(x, axis, keep),
    "tt.mean": lambda x, axis, keep: tt.mean(x, axis, keep),
    "tt.max": lambda x, axis, keep: tt.max(x, axis=axis, keepdims=keep),
    "tt.min": lambda x, axis, keep: tt.min(x, axis=axis, keepdims=keep),
    "tt.var": lambda x, axis, keep: tt.var(x, axis, keep),
    "logsumexp": lambda x, axis, keep: F.logsumexp(x, axis, keep),
}


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2), (-1, 0)], ids=str)
@pytest.mark.parametrize("op", REDUCTIONS)
def test_reductions(op, axis, keepdims, device):
    # a random normal (2, 3, 4) has no ties, so max and min have a single winner
    check(lambda x: REDUCTIONS[op](x, axis, keepdims), normal((2, 3, 4)), device=device)


# ----------------------------------------------------------------------------
# Shape ops
# ----------------------------------------------------------------------------
SHAPE_OPS = {
    "reshape": lambda x: x.reshape(4, 6),
    "reshape tuple -1": lambda x: x.reshape((-1, 3)),
    "view": lambda x: x.view(24),
    "tt.reshape": lambda x: tt.reshape(x, (6, 4)),
    "transpose": lambda x: x.transpose(0, 2),
    "transpose last two": lambda x: x.transpose(-2, -1),
    "tt.transpose": lambda x: tt.transpose(x, 1, -1),
    "swapaxes": lambda x: x.swapaxes(0, 1),
    "permute": lambda x: x.permute(2, 0, 1),
    "tt.permute": lambda x: tt.permute(x, (1, 2, 0)),
    "T": lambda x: x.T,
    "mT": lambda x: x.mT,
    "unsqueeze": lambda x: x.unsqueeze(0),
    "unsqueeze -1": lambda x: x.unsqueeze(-1),
    "tt.unsqueeze": lambda x: tt.unsqueeze(x, 1),
    "squeeze": lambda x: x.unsqueeze(1).squeeze(),
    "squeeze axis": lambda x: tt.squeeze(x.unsqueeze(-1), -1),
    "flatten": lambda x: x.flatten(),
    "flatten(1)": lambda x: tt.flatten(x, 1),
    "expand": lambda x: x[:, :1, :].expand(2, 5, 4),
    "expand -1": lambda x: x[:, :1, :].expand(3, -1, 2, -1),
    "broadcast_to": lambda x: x[0, 0].broadcast_to((3, 4)),
    "tt.broadcast_to": lambda x: tt.broadcast_to(x[0, :, :1], (2, 3, 5)),
    "split int": lambda x: x.split(2, axis=2),
    "split sizes": lambda x: tt.split(x, [1, 2], 1),
    "chunk": lambda x: x.chunk(3, axis=-1),
    "tt.chunk": lambda x: tt.chunk(x, 2),
}


@pytest.mark.parametrize("op", SHAPE_OPS)
def test_shape_ops(op, device):
    check(SHAPE_OPS[op], normal((2, 3, 4)), device=device)


def test_T_of_a_matrix(device):
    check(lambda x: x.T @ x, normal((3, 2)), device=device)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concat_and_stack(axis, device):
    arrays = normal((2, 3), 1), normal((2, 3), 2), normal((2, 3), 3)
    check(lambda a, b, c: tt.concat([a, b, c], axis), *arrays, device=device)
    check(lambda a, b, c: tt.cat([a, b, c], axis), *arrays, device=device)
    check(lambda a, b, c: tt.stack([a, b, c], axis), *arrays, device=device)


def test_concat_of_different_lengths(device):
    check(lambda a, b: tt.concat([a, b], axis=1), normal((2, 1), 1), normal((2, 4), 2), device=device)


# ----------------------------------------------------------------------------
# Indexing
# ----------------------------------------------------------------------------
INDEXES = {
    "int": 1,
    "negative int pair": (-1, 2),
    "slice": slice(1, 3),
    "strided slices": (slice(None, None, 2), slice(1, None)),
    "reversed": slice(None, None, -1),
    "None": (None, 0),
    "Ellipsis": (Ellipsis, 1),
    "Ellipsis and None": (0, Ellipsis, None),
    "int list with repeats": [0, 0, 1],
    "array pair with repeats": ([2, 0, 2], [1, 1, 1]),
    "int list on axis 1": (slice(None), [3, 3, 0]),
    "boolean mask": np.array([True, False, True]),
    "boolean mask 2-D": np.array([[True, False, True, True]] * 3),
}


@pytest.mark.parametrize("name", INDEXES)
def test_getitem(name, device):
    index = INDEXES[name]
    check(lambda x: x[index], normal((3, 4)), device=device)


def test_getitem_with_index_tensors(device):
    rows = tt.tensor([0, 2, 0], device=device)
    mask = tt.tensor([True, False, True], device=device)
    check(lambda x: x[rows], normal((3, 4)), device=device)
    check(lambda x: x[mask], normal((3, 4)), device=device)


def test_repeated_indices_accumulate(device):
    x = leaf(normal((3, 2)), device)
    x[[0, 0, 1]].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[2, 2], [1, 1], [0, 0]])

    y = leaf(normal((4,)), device)
    (y[tt.tensor([3, 1, 3, 3], device=device)] * tt.tensor([1.0, 2.0, 3.0, 4.0], dtype=tt.float64,
                                                           device=device)).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [0, 2, 0, 1 + 3 + 4])


# ----------------------------------------------------------------------------
# Conversion
# ----------------------------------------------------------------------------
def test_cast_to_float32_and_back(device):
    # the float32 round trip costs ~1e-7 relative precision, so a larger step is used;
    # the function is linear, so finite differences have no truncation error
    check(lambda x: x.to(tt.float32).to(tt.float64) * 3.0, normal((2, 3)), device=device,
          eps=1e-2, atol=1e-4)
    check(lambda x: x.float().double().exp(), normal((2, 3)), device=device, eps=1e-2, atol=1e-3,
          rtol=1e-2)


def test_cast_gradient_has_the_input_dtype(device):
    x = leaf([1.0, -2.0, 3.0], device)
    y = x.to(tt.float32)
    assert y.dtype == tt.float32
    (y * tt.tensor([1.0, 2.0, 3.0], device=device)).sum().backward()
    assert x.grad.dtype == tt.float64
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 2.0, 3.0])


# ----------------------------------------------------------------------------
# The functionals
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_family(axis, device):
    check(lambda x: F.softmax(x, axis), normal((2, 3, 4)), device=device)
    check(lambda x: x.softmax(axis), normal((2, 3, 4)), device=device)
    check(lambda x: F.log_softmax(x, axis), normal((2, 3, 4)), device=device)
    check(lambda x: x.log_softmax(axis), normal((2, 3, 4)), device=device)


def test_softmax_with_masked_positions(device):
    mask = tt.tensor([[False, False, True, True], [False, True, False, False]], device=device)
    check(lambda x: F.softmax(x.masked_fill(mask, float("-inf")), -1), normal((2, 4)), device=device)


@pytest.mark.parametrize("affine", ["none", "weight", "bias", "both"])
def test_layer_norm_last_dimension(affine, device):
    x = normal((2, 3, 4))
    extra = {"weight": [normal((4,), 1)], "bias": [normal((4,), 2)],
             "both": [normal((4,), 1), normal((4,), 2)], "none": []}[affine]

    def fn(x, *params):
        weight = params[0] if affine in ("weight", "both") else None
        bias = params[-1] if affine in ("bias", "both") else None
        return F.layer_norm(x, 4, weight, bias)

    check(fn, x, *extra, device=device)


def test_layer_norm_two_dimensions(device):
    check(lambda x, w, b: F.layer_norm(x, (3, 4), w, b), normal((2, 3, 4)), normal((3, 4), 1),
          normal((3, 4), 2), device=device)
    check(lambda x: F.layer_norm(x, [3, 4]), normal((2, 3, 4)), device=device)


@pytest.mark.parametrize("p", [0.25, 0.5])
def test_dropout(p, device):
    def fn(x):
        tt.manual_seed(7)  # the same mask at every evaluation, as finite differences need
        return F.dropout(x, p)

    check(fn, normal((4, 5)), device=device)


@pytest.mark.parametrize("p", [0.25, 0.5])
def test_dropout_gradient_is_the_mask_over_1_minus_p(p, device):
    x = leaf(positive((20, 20)), device)
    y = F.dropout(x, p)
    y.sum().backward()
    kept = (y.numpy() != 0).astype(np.float64)
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(x.grad.numpy(), kept / (1 - p), rtol=1e-15)
    np.testing.assert_allclose(y.numpy(), x.numpy() * kept / (1 - p), rtol=1e-15)


def test_dropout_outside_training_is_the_identity(device):
    x = leaf(normal((3, 4)), device)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x


def test_embedding(device):
    ids = tt.tensor([[1, 3], [0, 1]], device=device)
    check(lambda w: F.embedding(ids, w), normal((4, 3)), device=device)
    check(lambda w: F.embedding([2, 2, 2], w), normal((4, 3)), device=device)


def test_embedding_repeated_ids_accumulate(device):
    weight = leaf(normal((4, 2)), device)
    F.embedding(tt.tensor([1, 3, 1, 1], device=device), weight).sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy(), [[0, 0], [3, 3], [0, 0], [1, 1]])


def test_embedding_padding_row_gets_no_gradient(device):
    weight = leaf(normal((4, 2)), device)
    out = F.embedding(tt.tensor([[0, 2], [2, 0]], device=device), weight, padding_idx=0)
    np.testing.assert_array_equal(out.numpy()[0, 0], weight.numpy()[0])  # the lookup itself is normal
    out.sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy(), [[0, 0], [0, 0], [2, 2], [0, 0]])


CE_CASES = {
    "mean": {},
    "sum": {"reduction": "sum"},
    "none": {"reduction": "none"},
    "ignore_index": {"ignore_index": 1},
    "ignore_index sum": {"ignore_index": 1, "reduction": "sum"},
    "label_smoothing": {"label_smoothing": 0.1},
    "smoothing and ignore": {"label_smoothing": 0.2, "ignore_index": 1},
    "smoothing none": {"label_smoothing": 0.3, "reduction": "none"},
}


@pytest.mark.parametrize("case", CE_CASES)
def test_cross_entropy_2d(case, device):
    target = tt.tensor([0, 1, 3, 1, 2], device=device)
    check(lambda x: F.cross_entropy(x, target, **CE_CASES[case]), normal((5, 4)), device=device)


@pytest.mark.parametrize("case", CE_CASES)
def test_cross_entropy_with_extra_dimensions(case, device):
    target = tt.tensor([[0, 1, 2], [1, 3, 0]], device=device)  # (N, d) for logits (N, C, d)
    check(lambda x: F.cross_entropy(x, target, **CE_CASES[case]), normal((2, 4, 3)), device=device)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(reduction, device):
    check(lambda a, b: F.mse_loss(a, b, reduction), normal((2, 3), 1), normal((2, 3), 2), device=device)


# ----------------------------------------------------------------------------
# Ops composed
# ----------------------------------------------------------------------------
def test_small_mlp(device):
    target = tt.tensor([2, 0, 1], device=device)

    def mlp(x, w1, b1, w2, b2):
        hidden = F.gelu(x @ w1 + b1).tanh()
        return F.cross_entropy(hidden @ w2 + b2, target, label_smoothing=0.1)

    check(mlp, normal((3, 4), 1), normal((4, 5), 2), normal((5,), 3), normal((5, 3), 4),
          normal((3,), 5), device=device)


def test_attention_block(device):
    causal = tt.tensor(np.triu(np.ones((3, 3), dtype=bool), k=1), device=device)

    def attention(x, wq, wk, wv, gamma):
        q, k, v = x @ wq, x @ wk, x @ wv
        scores = (q @ k.mT / 2.0).masked_fill(causal, float("-inf"))
        out = x + F.softmax(scores, -1) @ v
        return F.layer_norm(out, 4, gamma).mean(axis=-1)

    check(attention, normal((2, 3, 4), 1), normal((4, 4), 2), normal((4, 4), 3), normal((4, 4), 4),
          normal((4,), 5), device=device)


def test_a_tensor_used_many_times(device):
    check(lambda x: (x * x.exp() + x[0] - x.sum() / x).sum(axis=0), positive((3, 2)), device=device)


def test_gradcheck_of_a_non_contiguous_leaf():
    x = tt.tensor(normal((3, 2)).T, dtype=tt.float64, requires_grad=True)  # Fortran order
    assert tt.gradcheck(lambda t: t * t, [x])


def test_linear_computes_in_the_widest_dtype_of_its_three_operands():
    x, w, b = tt.ones(2, 3), tt.ones(4, 3), tt.ones(4, dtype=tt.float64, requires_grad=True)
    out = F.linear(x, w, b)
    assert out.dtype == tt.float64                 # as x @ w.T + b would be
    out.sum().backward()
    assert b.grad.dtype == tt.float64


@pytest.mark.parametrize("shape", [(5,), (3, 5), (2, 3, 5)], ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no bias"])
def test_linear_fused_node(shape, bias, device):
    """F.linear, x W^T + b as one node: its three gradients, first and second order."""
    arrays = [normal(shape, 1), normal((4, 5), 2)] + ([normal((4,), 3)] if bias else [])
    check(F.linear, *arrays, device=device)
    assert tt.gradgradcheck(F.linear, [leaf(a, device) for a in arrays])
