"""Second derivatives: backward of backward, checked numerically and against known formulas.

With ``create_graph=True`` every op's backward is recorded as a graph, so the
gradient can be differentiated again. ``tinytensor.gradgradcheck`` finite-
differences the map x -> dL/dx that this builds; it fails if some backward
uses raw arrays (cutting the graph) or saves a value that is not connected
to its input. Then three uses a learner meets: the second derivative of tanh,
a Hessian-vector product, and a gradient penalty (as in WGAN-GP), each compared
with a value known independently of tinytensor's backward.
"""
import numpy as np
import pytest

import tinytensor as tt
import tinytensor.functional as F
from gradcheck_inputs import BINARY as ARITHMETIC
from gradcheck_inputs import POINTWISE, away_from_zero, leaf, normal, positive
from tinytensor.autograd import grad


def check2(fn, *arrays, device):
    assert tt.gradgradcheck(fn, [leaf(a, device) for a in arrays])


# ----------------------------------------------------------------------------
# gradgradcheck, op by op
# ----------------------------------------------------------------------------
UNARY = {
    "neg": (lambda x: -x, normal),
    **POINTWISE,
    "x ** 3": (lambda x: x ** 3, normal),
    "x ** 0.5": (lambda x: x ** 0.5, positive),
    "2 ** x": (lambda x: 2 ** x, normal),
    "1 / x": (lambda x: 1 / x, away_from_zero),
    "x * 0.5 + 1": (lambda x: x * 0.5 + 1, normal),
    "clip": (lambda x: x.clip(-0.1, 0.1), away_from_zero),  # every element clipped or kept, away from edges
    "maximum with number": (lambda x: tt.maximum(x, 0.1), away_from_zero),
    "masked_fill": (lambda x: x.masked_fill(x.detach() > 0, 2.0) * x, away_from_zero),
}


@pytest.mark.parametrize("name", UNARY)
def test_unary_second_order(name, device):
    fn, values = UNARY[name]
    check2(fn, values((2, 3)), device=device)


BINARY = {
    **ARITHMETIC,
    "maximum": tt.maximum,
    "minimum": tt.minimum,
}


@pytest.mark.parametrize("shapes", [((2, 3), (2, 3)), ((3,), (2, 3)), ((2, 1), (1, 3))], ids=str)
@pytest.mark.parametrize("op", BINARY)
def test_binary_second_order(op, shapes, device):
    a = positive(shapes[0], 1)
    b = positive(shapes[1], 2) + 2.5  # b > a everywhere: no ties for maximum/minimum
    check2(BINARY[op], a, b, device=device)


def test_where_second_order(device):
    condition = tt.tensor([[True, False, True], [False, True, True]], device=device)
    check2(lambda a, b: tt.where(condition, a * a, b.exp()), normal((2, 3), 1), normal((3,), 2),
           device=device)


@pytest.mark.parametrize("shapes", [((2, 3), (3, 4)), ((2, 2, 3), (3, 2)), ((3,), (3,)), ((3,), (3, 2))],
                         ids=str)
def test_matmul_second_order(shapes, device):
    check2(lambda a, b: a @ b, normal(shapes[0], 1), normal(shapes[1], 2), device=device)
    # a product of the two inputs with themselves: the Hessian is not zero
    check2(lambda a, b: ((a @ b) ** 2).sum(), normal(shapes[0], 1), normal(shapes[1], 2), device=device)


@pytest.mark.parametrize("axis", [None, 0, -1, (0, 1)], ids=str)
@pytest.mark.parametrize("op", ["sum", "mean", "var", "max", "logsumexp"])
def test_reductions_second_order(op, axis, device):
    reduce = {"sum": lambda x: x.sum(axis), "mean": lambda x: x.mean(axis, keepdims=True),
              "var": lambda x: x.var(axis), "max": lambda x: x.max(axis=axis),
              "logsumexp": lambda x: F.logsumexp(x, axis)}[op]
    check2(lambda x: reduce(x * x), normal((3, 4)), device=device)


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_family_second_order(axis, device):
    check2(lambda x: F.softmax(x, axis), normal((3, 4)), device=device)
    check2(lambda x: F.log_softmax(x, axis), normal((3, 4)), device=device)


def test_layer_norm_second_order(device):
    check2(lambda x: F.layer_norm(x, 4), normal((2, 4)), device=device)
    check2(lambda x, w, b: F.layer_norm(x, (2, 3), w, b), normal((2, 2, 3)), normal((2, 3), 1),
           normal((2, 3), 2), device=device)


@pytest.mark.parametrize("kwargs", [{}, {"reduction": "sum"}, {"reduction": "none"},
                                    {"ignore_index": 0, "label_smoothing": 0.1}], ids=str)
def test_cross_entropy_second_order(kwargs, device):
    target = tt.tensor([0, 2, 1], device=device)
    check2(lambda x: F.cross_entropy(x, target, **kwargs), normal((3, 4)), device=device)


def test_mse_loss_second_order(device):
    check2(lambda a, b: F.mse_loss(a, b), normal((2, 3), 1), normal((2, 3), 2), device=device)


@pytest.mark.parametrize("index", [[0, 0, 2], (slice(None), [1, 1]), np.array([True, False, True]),
                                   (1, slice(0, 2)), (None, Ellipsis, 0)], ids=str)
def test_getitem_second_order(index, device):
    check2(lambda x: x[index] ** 2, normal((3, 2)), device=device)


def test_shape_ops_second_order(device):
    check2(lambda x: (x.T.reshape(6) ** 2).unsqueeze(0).expand(2, 6), normal((3, 2)), device=device)
    check2(lambda a, b: tt.concat([a, b * b], axis=1).flatten() ** 2, normal((2, 2), 1),
           normal((2, 1), 2), device=device)
    check2(lambda x: tt.stack([y ** 3 for y in x.chunk(3)], 1), normal((3, 2)), device=device)


def test_embedding_second_order(device):
    ids = tt.tensor([1, 1, 0], device=device)
    check2(lambda w: F.embedding(ids, w) ** 2, normal((3, 2)), device=device)


# ----------------------------------------------------------------------------
# Known second derivatives
# ----------------------------------------------------------------------------
def test_second_derivative_of_tanh(device):
    """d2/dx2 tanh(x) = -2 tanh(x) (1 - tanh(x)^2), by backward(create_graph=True) twice."""
    x = leaf(np.linspace(-2, 2, 7), device)
    x.tanh().sum().backward(create_graph=True)
    first = x.grad
    assert first.requires_grad  # the gradient is itself a graph
    t = np.tanh(x.numpy())
    np.testing.assert_allclose(first.numpy(), 1 - t ** 2, rtol=1e-12)

    x.grad = None
    first.sum().backward()  # each first[i] depends on x[i] only, so this is the diagonal
    np.testing.assert_allclose(x.grad.numpy(), -2 * t * (1 - t ** 2), rtol=1e-12, atol=1e-15)


def test_hessian_vector_product_of_a_quadratic_form(device):
    """f(x) = x^T A x has gradient (A + A^T) x and Hessian H = A + A^T."""
    rng = np.random.default_rng(0)
    a_np, x_np, v_np = rng.standard_normal((4, 4)), rng.standard_normal(4), rng.standard_normal(4)
    a = tt.tensor(a_np, device=device)
    v = tt.tensor(v_np, device=device)
    x = leaf(x_np, device)

    f = x @ (a @ x)
    (g,) = grad(f, x, create_graph=True)
    np.testing.assert_allclose(g.numpy(), (a_np + a_np.T) @ x_np, rtol=1e-12)

    (hv,) = grad((g * v).sum(), x)
    np.testing.assert_allclose(hv.numpy(), (a_np + a_np.T) @ v_np, rtol=1e-12)
    assert x.grad is None  # autograd.grad hands gradients back without touching .grad

    # the whole Hessian, one row per basis vector
    hessian = []
    for i in range(4):
        x = leaf(x_np, device)
        (g,) = grad(x @ (a @ x), x, create_graph=True)
        hessian.append(grad(g[i], x)[0].numpy())
    np.testing.assert_allclose(np.array(hessian), a_np + a_np.T, rtol=1e-12)


def test_gradient_penalty_matches_finite_differences(device):
    """P(W) = ||d f(x; W) / dx||^2 for f = sum(tanh(x @ W)); dP/dW by backward, then numerically."""
    rng = np.random.default_rng(1)
    x_np, w_np = rng.standard_normal((2, 3)), rng.standard_normal((3, 2))

    def penalty(w_values):
        x = leaf(x_np, device)
        w = tt.tensor(w_values, device=device, requires_grad=True)
        with tt.enable_grad():
            (dx,) = grad((x @ w).tanh().sum(), x, create_graph=True)
            return (dx ** 2).sum(), w

    p, w = penalty(w_np)
    p.backward()
    analytic = w.grad.numpy()

    eps, numeric = 1e-6, np.zeros_like(w_np)
    for i in np.ndindex(*w_np.shape):
        plus, minus = w_np.copy(), w_np.copy()
        plus[i] += eps
        minus[i] -= eps
        numeric[i] = (penalty(plus)[0].item() - penalty(minus)[0].item()) / (2 * eps)
    assert np.abs(analytic).max() > 0.1  # the check is not vacuous
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)

    # and the same with gradcheck on the map W -> P(W)
    assert tt.gradcheck(lambda w: penalty_of(w, leaf(x_np, device)), [leaf(w_np, device)])


def penalty_of(w, x):
    with tt.enable_grad():  # gradcheck's finite differences run under no_grad
        (dx,) = grad((x @ w).tanh().sum(), x, create_graph=True)
    return (dx ** 2).sum()


def test_third_derivative_of_a_cube(device):
    x = leaf([1.5, -2.0], device)
    (d1,) = grad((x ** 3).sum(), x, create_graph=True)
    (d2,) = grad(d1.sum(), x, create_graph=True)
    (d3,) = grad(d2.sum(), x)
    np.testing.assert_allclose(d1.numpy(), [3 * 1.5 ** 2, 3 * 4.0])
    np.testing.assert_allclose(d2.numpy(), [6 * 1.5, -12.0])
    np.testing.assert_allclose(d3.numpy(), [6.0, 6.0])
