"""tinytensor.functional: the forward values, against formulas written out in NumPy.

The gradcheck tests prove each backward matches its forward; these prove the
forward computes the right thing in the first place, including the cases that
are easy to get wrong: softmax of large values (no overflow), a row that is
entirely masked, cross-entropy's mean over counted positions only, label
smoothing's spread over all classes, dropout's scaling and its fixed seed,
and embedding's lookup and padding.
"""
import math

import numpy as np
import pytest

import tinytensor as tt
import tinytensor.functional as F
from gradcheck_inputs import normal


def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# ----------------------------------------------------------------------------
# The softmax family
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_and_log_softmax_match_numpy(axis, device):
    x = normal((2, 3, 4))
    t = tt.tensor(x, device=device)
    np.testing.assert_allclose(F.softmax(t, axis).numpy(), np_softmax(x, axis), rtol=1e-14)
    np.testing.assert_allclose(F.log_softmax(t, axis).numpy(), np.log(np_softmax(x, axis)), rtol=1e-12)


def test_softmax_does_not_overflow(device):
    x = tt.tensor([[1000.0, 1001.0, 1002.0], [-1000.0, -1000.0, -1000.0]], device=device)
    y = F.softmax(x)
    assert np.isfinite(y.numpy()).all()
    np.testing.assert_allclose(y.numpy()[0], np_softmax(np.array([0.0, 1.0, 2.0])), rtol=1e-6)
    np.testing.assert_allclose(y.numpy()[1], [1 / 3] * 3, rtol=1e-6)
    assert np.isfinite(F.log_softmax(x).numpy()).all()


def test_logsumexp(device):
    x = normal((3, 4))
    t = tt.tensor(x, device=device)
    np.testing.assert_allclose(F.logsumexp(t).numpy(), np.log(np.exp(x).sum()), rtol=1e-14)
    np.testing.assert_allclose(F.logsumexp(t, axis=1).numpy(), np.log(np.exp(x).sum(axis=1)), rtol=1e-14)
    kept = F.logsumexp(t, axis=0, keepdims=True)
    assert kept.shape == (1, 4)
    big = F.logsumexp(tt.tensor([1000.0, 1000.0], device=device))
    assert big.item() == pytest.approx(1000 + math.log(2))


@pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning")
def test_logsumexp_of_a_row_of_minus_infinity_is_minus_infinity(device):
    x = tt.tensor([[float("-inf"), float("-inf")], [0.0, 0.0]], device=device)
    out = F.logsumexp(x, axis=1).numpy()
    assert out[0] == -np.inf
    assert out[1] == pytest.approx(math.log(2))


def test_tensor_softmax_methods(device):
    x = tt.randn(2, 5, device=device)
    np.testing.assert_array_equal(x.softmax(0).numpy(), F.softmax(x, 0).numpy())
    np.testing.assert_array_equal(x.log_softmax().numpy(), F.log_softmax(x).numpy())


# ----------------------------------------------------------------------------
# Activations
# ----------------------------------------------------------------------------
def test_gelu_tanh_form(device):
    x = np.linspace(-4, 4, 17)
    expected = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    np.testing.assert_allclose(F.gelu(tt.tensor(x, device=device), approximate="tanh").numpy(), expected,
                               rtol=1e-14, atol=1e-300)
    assert F.gelu(tt.tensor(0.0, device=device), approximate="tanh").item() == 0.0
    one = tt.tensor(1.0, dtype=tt.float64, device=device)
    assert F.gelu(one, "tanh").item() == pytest.approx(0.8411920, abs=1e-6)


def test_gelu_exact_form_is_the_default(device):
    x = np.linspace(-6, 6, 49)
    expected = [0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x]
    t = tt.tensor(x, device=device)
    np.testing.assert_allclose(F.gelu(t).numpy(), expected, rtol=1e-14, atol=1e-15)
    one = tt.tensor(1.0, dtype=tt.float64, device=device)
    assert F.gelu(one).item() == pytest.approx(0.8413447460685429, abs=1e-15)
    # the two forms stay within 1e-3 of each other (here, over -6..6: at most 4.7e-4)
    gap = np.abs(F.gelu(t).numpy() - F.gelu(t, "tanh").numpy()).max()
    assert gap < 1e-3


def test_relu_sigmoid_tanh(device):
    x = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    t = tt.tensor(x, device=device)
    np.testing.assert_array_equal(F.relu(t).numpy(), np.maximum(x, 0))
    np.testing.assert_allclose(F.sigmoid(t).numpy(), 1 / (1 + np.exp(-x)), rtol=1e-15)
    np.testing.assert_allclose(F.tanh(t).numpy(), np.tanh(x), rtol=1e-15)


def test_sigmoid_of_extreme_values_is_finite(device):
    y = F.sigmoid(tt.tensor([-1000.0, 1000.0], device=device)).numpy()
    np.testing.assert_array_equal(y, [0.0, 1.0])


# ----------------------------------------------------------------------------
# Layer norm
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("normalized", [(4,), (3, 4)], ids=str)
def test_layer_norm_matches_the_formula(normalized, device):
    x = normal((2, 3, 4))
    axes = tuple(range(3 - len(normalized), 3))
    mu = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)  # biased, as the paper and PyTorch
    gamma, beta = normal(normalized, 1), normal(normalized, 2)
    expected = (x - mu) / np.sqrt(var + 1e-5) * gamma + beta
    out = F.layer_norm(tt.tensor(x, device=device), normalized, tt.tensor(gamma, device=device),
                       tt.tensor(beta, device=device))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-14)


def test_layer_norm_rows_have_mean_0_and_variance_1(device):
    y = F.layer_norm(tt.randn(5, 8, dtype=tt.float64, device=device) * 3 + 7, 8, eps=0.0).numpy()
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=-1), 1, rtol=1e-12)


# ----------------------------------------------------------------------------
# Dropout
# ----------------------------------------------------------------------------
def test_dropout_zeroes_about_p_and_scales_the_rest(device):
    x = tt.ones(200, 200, device=device)
    y = F.dropout(x, 0.3).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.7)}
    assert (y == 0).mean() == pytest.approx(0.3, abs=0.01)
    assert y.mean() == pytest.approx(1.0, abs=0.02)  # the expected value is kept


def test_dropout_repeats_with_the_seed(device):
    tt.manual_seed(5)
    a = F.dropout(tt.ones(50, device=device), 0.5).numpy()
    tt.manual_seed(5)
    b = F.dropout(tt.ones(50, device=device), 0.5).numpy()
    c = F.dropout(tt.ones(50, device=device), 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_dropout_with_p_1_drops_everything(device):
    np.testing.assert_array_equal(F.dropout(tt.ones(10, device=device), 1.0).numpy(), np.zeros(10))


# ----------------------------------------------------------------------------
# Embedding and one_hot
# ----------------------------------------------------------------------------
def test_embedding_picks_rows(device):
    weight = tt.tensor(normal((5, 3)), device=device)
    ids = [[4, 0], [2, 2]]
    out = F.embedding(tt.tensor(ids, device=device), weight)
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out.numpy(), weight.numpy()[np.array(ids)])
    np.testing.assert_array_equal(F.embedding(ids, weight).numpy(), out.numpy())  # lists work too


def test_one_hot(device):
    out = F.one_hot(tt.tensor([2, 0, 1], device=device), 4)
    assert out.dtype == tt.int64
    np.testing.assert_array_equal(out.numpy(), [[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]])
    assert F.one_hot(tt.tensor([[1], [3]], device=device)).shape == (2, 1, 4)  # num_classes from the data


# ----------------------------------------------------------------------------
# Losses
# ----------------------------------------------------------------------------
def np_cross_entropy(logits, target, ignore_index=-100, smoothing=0.0, reduction="mean"):
    """Written from the definition: -sum_c q_c log p_c, q = (1 - eps) one_hot + eps / C."""
    log_p = np.log(np_softmax(logits, 1))
    n, classes = logits.shape
    losses = np.zeros(n)
    for i in range(n):
        if target[i] == ignore_index:
            continue
        q = np.full(classes, smoothing / classes)
        q[target[i]] += 1 - smoothing
        losses[i] = -(q * log_p[i]).sum()
    if reduction == "none":
        return losses
    return losses.sum() / ((target != ignore_index).sum() if reduction == "mean" else 1)


@pytest.mark.parametrize("kwargs", [{}, {"reduction": "sum"}, {"reduction": "none"},
                                    {"ignore_index": 1}, {"label_smoothing": 0.1},
                                    {"label_smoothing": 0.2, "ignore_index": 1, "reduction": "none"}], ids=str)
def test_cross_entropy_matches_the_definition(kwargs, device):
    logits, target = normal((6, 4)), np.array([0, 1, 3, 1, 2, 0])
    expected = np_cross_entropy(logits, target, kwargs.get("ignore_index", -100),
                                kwargs.get("label_smoothing", 0.0), kwargs.get("reduction", "mean"))
    out = F.cross_entropy(tt.tensor(logits, device=device), tt.tensor(target, device=device), **kwargs)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


def test_cross_entropy_of_uniform_logits_is_log_c(device):
    assert F.cross_entropy(tt.zeros(3, 5, device=device), [0, 4, 2]).item() == pytest.approx(math.log(5))


def test_cross_entropy_ignored_positions_count_nowhere(device):
    """Padding neither adds to the sum nor to the count the mean divides by."""
    logits = tt.tensor(normal((4, 3)), device=device)
    all_counted = F.cross_entropy(logits[:2], [0, 2])
    with_padding = F.cross_entropy(logits, [0, 2, -100, -100])
    assert with_padding.item() == pytest.approx(all_counted.item(), rel=1e-12)
    none = F.cross_entropy(logits, [0, 2, -100, -100], reduction="none").numpy()
    assert none[2:].tolist() == [0.0, 0.0]


def test_cross_entropy_with_extra_dimensions_is_per_position(device):
    logits = normal((2, 3, 4))  # (N, C, d)
    target = np.array([[0, 1, 2, 1], [2, 2, 0, 1]])
    rows = logits.transpose(0, 2, 1).reshape(-1, 3)
    expected = np_cross_entropy(rows, target.reshape(-1), reduction="none").reshape(2, 4)
    out = F.cross_entropy(tt.tensor(logits, device=device), tt.tensor(target, device=device),
                          reduction="none")
    assert out.shape == (2, 4)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


def test_mse_loss(device):
    a, b = normal((3, 2), 1), normal((3, 2), 2)
    ta, tb = tt.tensor(a, device=device), tt.tensor(b, device=device)
    assert F.mse_loss(ta, tb).item() == pytest.approx(((a - b) ** 2).mean(), rel=1e-14)
    assert F.mse_loss(ta, tb, "sum").item() == pytest.approx(((a - b) ** 2).sum(), rel=1e-14)
    np.testing.assert_allclose(F.mse_loss(ta, tb, "none").numpy(), (a - b) ** 2, rtol=1e-14)
