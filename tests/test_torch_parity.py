"""PyTorch parity: the same inputs give the same values and gradients as torch.autograd.

gradcheck proves each backward matches its own forward; this proves the
forward means what PyTorch means (var's correction, the tanh form of gelu,
how cross_entropy averages with ignore_index and label_smoothing, layer_norm's
biased variance and eps). Every case runs one function on tinytensor and on
torch, on the same random float64 inputs, and compares the output and the
gradient of every input for a random upstream gradient.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests need it "
                                            "(pip install torch==2.13.0)")
tF = torch.nn.functional

import tinytensor as tt  # noqa: E402 - after the torch importorskip
import tinytensor.functional as F  # noqa: E402
from gradcheck_inputs import BINARY as ARITHMETIC  # noqa: E402
from gradcheck_inputs import POINTWISE, normal, positive  # noqa: E402


def compare(tt_fn, torch_fn, *arrays, rtol=1e-10, atol=1e-12):
    """Run both, compare outputs, then backward a random upstream gradient and compare grads."""
    ours = [tt.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = tt_fn(*ours), torch_fn(*theirs)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    expecteds = list(expected) if isinstance(expected, (list, tuple)) else [expected]
    assert len(outs) == len(expecteds)
    for o, e in zip(outs, expecteds):
        assert o.shape == tuple(e.shape)
        np.testing.assert_allclose(o.numpy(), e.detach().numpy(), rtol=rtol, atol=atol)

    rng = np.random.default_rng(123)
    ups = [rng.standard_normal(e.shape) for e in expecteds]
    total = sum((o * tt.tensor(u)).sum() for o, u in zip(outs, ups))
    torch_total = sum((e * torch.tensor(u)).sum() for e, u in zip(expecteds, ups))
    total.backward()
    torch_total.backward()
    for mine, ref in zip(ours, theirs):
        assert ref.grad is not None
        np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), rtol=rtol, atol=atol)


# ----------------------------------------------------------------------------
# Elementwise and arithmetic
# ----------------------------------------------------------------------------
BINARY = {
    **ARITHMETIC,
    "scalar mix": lambda a, b: 2.0 - a * 0.5 + 1 / b + 3 ** (a / 4) - b ** 2,
}


@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((3,), (2, 3)), ((2, 1), (1, 3))], ids=str)
@pytest.mark.parametrize("op", BINARY)
def test_binary(op, shapes):
    compare(BINARY[op], BINARY[op], positive(shapes[0], 1), positive(shapes[1], 2))


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
def test_pow_with_zeros_in_the_base():
    base = np.array([[0.0, 0.5, 2.0], [0.0, 1.0, 3.0]])
    compare(lambda a, b: a ** b, lambda a, b: a ** b, base, np.array([2.0, 0.0, 1.5]))
    compare(lambda a: a ** 0, lambda a: a ** 0, base)
    compare(lambda a: a ** 2 + a ** 1, lambda a: a ** 2 + a ** 1, base)


TORCH_POINTWISE = {  # torch's function for each op of the shared table
    "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "tanh": torch.tanh, "sigmoid": torch.sigmoid,
    "relu": torch.relu, "abs": torch.abs, "gelu": tF.gelu,
    "gelu tanh": lambda x: tF.gelu(x, approximate="tanh"), "sin": torch.sin, "cos": torch.cos,
    "erf": torch.erf,
}
UNARY = [
    ("neg", lambda x: -x, lambda x: -x, normal),
    *[(name, ours, TORCH_POINTWISE[name], values) for name, (ours, values) in POINTWISE.items()],
    ("tril", lambda x: x.tril(), torch.tril, normal),
    ("triu 1", lambda x: x.triu(1), lambda x: torch.triu(x, 1), normal),
    ("tril -1", lambda x: x.tril(-1), lambda x: torch.tril(x, -1), normal),
    ("clip", lambda x: x.clip(-0.5, 0.5), lambda x: x.clamp(-0.5, 0.5), normal),
    ("clip min", lambda x: x.clip(min=0.1), lambda x: x.clamp(min=0.1), normal),
    ("softmax", lambda x: F.softmax(x, -1), lambda x: torch.softmax(x, -1), normal),
    ("softmax 0", lambda x: F.softmax(x, 0), lambda x: torch.softmax(x, 0), normal),
    ("log_softmax", lambda x: F.log_softmax(x, 1), lambda x: torch.log_softmax(x, 1), normal),
    ("logsumexp", lambda x: F.logsumexp(x, -1), lambda x: torch.logsumexp(x, -1), normal),
    ("logsumexp (0, 2) keepdims", lambda x: F.logsumexp(x, (0, 2), True),
     lambda x: torch.logsumexp(x, (0, 2), keepdim=True), normal),
]


@pytest.mark.parametrize("name, ours, theirs, values", UNARY, ids=[u[0] for u in UNARY])
def test_unary(name, ours, theirs, values):
    compare(ours, theirs, values((2, 3, 4), 0))


def test_linear():
    compare(F.linear, tF.linear, normal((2, 3, 5), 0), normal((4, 5), 1), normal((4,), 2))
    compare(F.linear, tF.linear, normal((5,), 3), normal((4, 5), 4))


def test_softmax_of_large_values():
    compare(lambda x: F.softmax(x * 1000, -1), lambda x: torch.softmax(x * 1000, -1), normal((3, 4), 0))


def test_maximum_minimum_where_masked_fill():
    a, b = normal((2, 3), 1), normal((3,), 2)
    compare(tt.maximum, torch.maximum, a, b)
    compare(tt.minimum, torch.minimum, a, b)
    cond = np.array([True, False, True])
    compare(lambda x, y: tt.where(tt.tensor(cond), x, y), lambda x, y: torch.where(torch.tensor(cond), x, y),
            a, b)
    mask = np.array([[True, False, False], [False, False, True]])
    compare(lambda x: x.masked_fill(tt.tensor(mask), -2.0),
            lambda x: x.masked_fill(torch.tensor(mask), -2.0), a)


def test_maximum_tie_splits_the_gradient_like_torch():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 3.0])
    compare(tt.maximum, torch.maximum, a, b)
    compare(tt.minimum, torch.minimum, a, b)


# ----------------------------------------------------------------------------
# Reductions
# ----------------------------------------------------------------------------
def dims(x, axis):
    """torch spells "every axis" as a tuple of all of them."""
    return tuple(range(x.ndim)) if axis is None else axis


REDUCTIONS = {
    "sum": (lambda x, axis, keep: x.sum(axis, keep),
            lambda x, axis, keep: x.sum(dims(x, axis), keepdim=keep)),
    "mean": (lambda x, axis, keep: x.mean(axis, keep),
             lambda x, axis, keep: x.mean(dims(x, axis), keepdim=keep)),
    "var": (lambda x, axis, keep: x.var(axis, keep),
            lambda x, axis, keep: x.var(dims(x, axis), keepdim=keep)),
    "var correction=0": (lambda x, axis, keep: x.var(axis, keep, correction=0),
                         lambda x, axis, keep: torch.var(x, dims(x, axis), correction=0, keepdim=keep)),
    "max": (lambda x, axis, keep: x.max(axis=axis, keepdims=keep),
            lambda x, axis, keep: x.amax(dims(x, axis), keepdim=keep)),
    "min": (lambda x, axis, keep: x.min(axis=axis, keepdims=keep),
            lambda x, axis, keep: x.amin(dims(x, axis), keepdim=keep)),
}


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2)], ids=str)
@pytest.mark.parametrize("op", REDUCTIONS)
def test_reductions(op, axis, keepdims):
    ours, theirs = REDUCTIONS[op]
    compare(lambda x: ours(x, axis, keepdims), lambda x: theirs(x, axis, keepdims), normal((2, 3, 4), 0))


# Nothing to reduce, or too little (issue 17: x.mean().backward() of an empty x raised
# ZeroDivisionError). PyTorch's answers: the mean of nothing is NaN, its gradient empty; the
# variance of fewer than correction + 1 values is NaN, and so is its gradient.
EMPTY = {
    "mean": ((0,), lambda x: x.mean(), lambda x: x.mean()),
    "mean dim 0 of (0, 3)": ((0, 3), lambda x: x.mean(0), lambda x: x.mean(0)),
    "mean dim 1 of (3, 0)": ((3, 0), lambda x: x.mean(1, keepdim=True), lambda x: x.mean(1, keepdim=True)),
    "mean dim 1 of (0, 3)": ((0, 3), lambda x: x.mean(1), lambda x: x.mean(1)),
    "sum": ((0,), lambda x: x.sum(), lambda x: x.sum()),
    "sum dim 1 of (3, 0)": ((3, 0), lambda x: x.sum(1), lambda x: x.sum(1)),
    "softmax over nothing": ((2, 0), lambda x: F.softmax(x, 1), lambda x: tF.softmax(x, 1)),
    "softmax of no rows": ((0, 3), lambda x: F.softmax(x, 1), lambda x: tF.softmax(x, 1)),
    "log_softmax over nothing": ((2, 0), lambda x: F.log_softmax(x, 1), lambda x: tF.log_softmax(x, 1)),
    "logsumexp over nothing": ((3, 0), lambda x: tt.logsumexp(x, 1), lambda x: torch.logsumexp(x, 1)),
    "logsumexp of nothing": ((0,), lambda x: tt.logsumexp(x, 0), lambda x: torch.logsumexp(x, 0)),
}
TOO_FEW = {
    "var of one value": ((1,), lambda x: x.var(), lambda x: x.var()),
    "var dim 0 of one row": ((1, 3), lambda x: x.var(0), lambda x: x.var(0)),
    "std of one value": ((1,), lambda x: x.std(), lambda x: x.std()),
    "var of nothing": ((0,), lambda x: x.var(), lambda x: x.var()),
    "var correction=0 of nothing": ((0, 2), lambda x: x.var(0, correction=0), lambda x: x.var(0, correction=0)),
    "std of nothing": ((0,), lambda x: x.std(), lambda x: x.std()),
}


@pytest.mark.filterwarnings("ignore:invalid value encountered in reduce")  # compare's own -inf + inf...
@pytest.mark.filterwarnings("error")  # ...but otherwise quietly: PyTorch says nothing either
@pytest.mark.parametrize("case", EMPTY)
def test_reductions_of_nothing_match_torch(case):
    shape, ours, theirs = EMPTY[case]
    compare(ours, theirs, normal(shape, 0))


@pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0:UserWarning")  # torch's own warning
@pytest.mark.parametrize("case", TOO_FEW)
def test_a_variance_of_too_few_values_matches_torch(case):
    shape, ours, theirs = TOO_FEW[case]
    with pytest.warns(UserWarning) as warned:  # one warning, as PyTorch's
        compare(ours, theirs, normal(shape, 0))
    ours_said = [str(w.message) for w in warned if "degrees of freedom is" not in str(w.message)]
    assert len(ours_said) == 1 and ours_said[0].startswith("var: degrees of freedom <= 0 (")


def test_max_with_ties_shares_the_gradient_like_torch_amax():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    compare(lambda t: t.max(axis=1), lambda t: t.amax(1), x)
    compare(lambda t: t.min(axis=0), lambda t: t.amin(0), x)


# ----------------------------------------------------------------------------
# Matmul, shapes, indexing
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("shapes", [((2, 3), (3, 4)), ((2, 2, 3), (3, 4)), ((2, 1, 2, 3), (3, 3, 2)),
                                    ((3,), (3, 4)), ((2, 3), (3,)), ((3,), (3,)), ((3,), (2, 3, 2))],
                         ids=str)
def test_matmul(shapes):
    compare(lambda a, b: a @ b, lambda a, b: a @ b, normal(shapes[0], 1), normal(shapes[1], 2))


SHAPES = [
    ("reshape", lambda x: x.reshape(4, 6), lambda x: x.reshape(4, 6)),
    ("transpose", lambda x: x.transpose(0, 2), lambda x: x.transpose(0, 2)),
    ("permute", lambda x: x.permute(1, 2, 0), lambda x: x.permute(1, 2, 0)),
    ("mT", lambda x: x.mT, lambda x: x.mT),
    ("squeeze/unsqueeze", lambda x: x.unsqueeze(1).squeeze(1).unsqueeze(-1),
     lambda x: x.unsqueeze(1).squeeze(1).unsqueeze(-1)),
    ("flatten", lambda x: x.flatten(1), lambda x: x.flatten(1)),
    ("expand", lambda x: x[:, :1].expand(2, 5, 4), lambda x: x[:, :1].expand(2, 5, 4)),
    ("split", lambda x: x.split(3, axis=2), lambda x: x.split(3, dim=2)),
    ("split sizes", lambda x: x.split([1, 2], axis=1), lambda x: x.split([1, 2], dim=1)),
    ("chunk", lambda x: x.chunk(3, axis=2), lambda x: x.chunk(3, dim=2)),
    ("index ints, slices, None", lambda x: x[1, None, ::2, -1], lambda x: x[1, None, ::2, -1]),
    ("index Ellipsis", lambda x: x[..., 1:3], lambda x: x[..., 1:3]),
    ("index repeated", lambda x: x[[0, 0, 1], 2], lambda x: x[[0, 0, 1], 2]),
    ("index arrays", lambda x: x[:, [2, 2, 0], [1, 1, 3]], lambda x: x[:, [2, 2, 0], [1, 1, 3]]),
    ("boolean mask", lambda x: x[x.detach() > 0], lambda x: x[x.detach() > 0]),
]


@pytest.mark.parametrize("name, ours, theirs", SHAPES, ids=[s[0] for s in SHAPES])
def test_shape_ops_and_indexing(name, ours, theirs):
    compare(ours, theirs, normal((2, 3, 4), 0))


def test_concat_and_stack():
    arrays = normal((2, 3), 1), normal((2, 3), 2)
    compare(lambda a, b: tt.concat([a, b], 1), lambda a, b: torch.cat([a, b], 1), *arrays)
    compare(lambda a, b: tt.stack([a, b], -1), lambda a, b: torch.stack([a, b], -1), *arrays)


# ----------------------------------------------------------------------------
# Functionals
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape, normalized", [((2, 3, 4), (4,)), ((2, 3, 4), (3, 4))], ids=str)
@pytest.mark.parametrize("affine", [False, True])
def test_layer_norm(shape, normalized, affine):
    arrays = [normal(shape, 0)] + ([normal(normalized, 1), normal(normalized, 2)] if affine else [])
    compare(lambda x, *p: F.layer_norm(x, normalized, *p, eps=1e-5),
            lambda x, *p: tF.layer_norm(x, normalized, *p, eps=1e-5), *arrays)


CE_CASES = {
    "mean": {},
    "sum": {"reduction": "sum"},
    "none": {"reduction": "none"},
    "ignore_index": {"ignore_index": 2},
    "ignore_index none": {"ignore_index": 2, "reduction": "none"},
    "label_smoothing": {"label_smoothing": 0.1},
    "label_smoothing sum": {"label_smoothing": 0.25, "reduction": "sum"},
    "smoothing and ignore": {"label_smoothing": 0.1, "ignore_index": 2},
    "smoothing and ignore none": {"label_smoothing": 0.3, "ignore_index": 2, "reduction": "none"},
}


@pytest.mark.parametrize("case", CE_CASES)
def test_cross_entropy(case):
    kwargs = CE_CASES[case]
    target = np.array([0, 2, 3, 2, 1])
    compare(lambda x: F.cross_entropy(x, tt.tensor(target), **kwargs),
            lambda x: tF.cross_entropy(x, torch.tensor(target), **kwargs), normal((5, 4), 0))


@pytest.mark.parametrize("case", CE_CASES)
def test_cross_entropy_with_extra_dimensions(case):
    kwargs = CE_CASES[case]
    target = np.array([[0, 2, 1], [3, 2, 2]])  # (N, d1) for logits (N, C, d1)
    compare(lambda x: F.cross_entropy(x, tt.tensor(target), **kwargs),
            lambda x: tF.cross_entropy(x, torch.tensor(target), **kwargs), normal((2, 4, 3), 0))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(reduction):
    compare(lambda a, b: F.mse_loss(a, b, reduction), lambda a, b: tF.mse_loss(a, b, reduction=reduction),
            normal((2, 3), 1), normal((2, 3), 2))


def test_embedding_with_padding_idx():
    ids = np.array([[0, 2, 2], [1, 0, 2]])
    compare(lambda w: F.embedding(tt.tensor(ids), w, padding_idx=0),
            lambda w: tF.embedding(torch.tensor(ids), w, padding_idx=0), normal((3, 4), 0))


def test_a_small_transformer_block():
    causal = np.triu(np.ones((3, 3), dtype=bool), k=1)

    def block(lib, fn, x, wq, wk, wv, w1, gamma, beta):
        q, k, v = x @ wq, x @ wk, x @ wv
        scores = (q @ k.mT / 2.0).masked_fill(lib.tensor(causal), float("-inf"))
        attended = fn.softmax(scores, -1) @ v
        h = fn.layer_norm(x + attended, (4,), gamma, beta)
        return fn.gelu(h @ w1, approximate="tanh").mean(-1)

    arrays = [normal((2, 3, 4), 0)] + [normal((4, 4), s) for s in (1, 2, 3, 4)] + \
        [normal((4,), 5), normal((4,), 6)]
    compare(lambda *a: block(tt, F, *a), lambda *a: block(torch, tF, *a), *arrays)
