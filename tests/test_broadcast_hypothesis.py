"""Broadcasting, property-based: random shape pairs instead of a few hand-picked ones.

Hypothesis draws pairs of shapes that NumPy can broadcast together (size-1
dimensions, missing leading dimensions, 0-d, on either side) and random
values. For + - * / the forward must equal NumPy's, and the gradients must
have the inputs' shapes and equal the analytic derivative summed back over the
broadcast dimensions, the job of ``sum_to``. A wrong ``sum_to`` usually
survives hand-picked shapes; it does not survive these.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays, mutually_broadcastable_shapes

import tinytensor as tt

# d(a op b)/da and d(a op b)/db, elementwise on the broadcast shape
OPS = {
    "add": (lambda a, b: a + b, lambda a, b: np.ones_like(a * b), lambda a, b: np.ones_like(a * b)),
    "sub": (lambda a, b: a - b, lambda a, b: np.ones_like(a * b), lambda a, b: -np.ones_like(a * b)),
    "mul": (lambda a, b: a * b, lambda a, b: b + 0 * a, lambda a, b: a + 0 * b),
    "div": (lambda a, b: a / b, lambda a, b: 1 / b + 0 * a, lambda a, b: -a / b ** 2),
}


def reduce_to(grad, shape):
    """Sum a broadcast gradient back to ``shape``, written independently of tinytensor."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, n in enumerate(shape):
        if n == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


@st.composite
def operand_pair(draw):
    shapes = draw(mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3))
    a_shape, b_shape = shapes.input_shapes
    values = st.floats(0.5, 2.0) | st.floats(-2.0, -0.5)  # away from 0: safe to divide by
    a = draw(arrays(np.float64, a_shape, elements=values))
    b = draw(arrays(np.float64, b_shape, elements=values))
    return a, b


@pytest.mark.parametrize("op", OPS)
@settings(max_examples=50, deadline=None)
@given(pair=operand_pair())
def test_broadcast_forward_and_gradients(op, pair):
    forward, d_da, d_db = OPS[op]
    a_np, b_np = pair
    a = tt.tensor(a_np, requires_grad=True)
    b = tt.tensor(b_np, requires_grad=True)
    out = forward(a, b)
    expected = forward(a_np, b_np)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-15)

    upstream = np.random.default_rng(0).standard_normal(expected.shape)  # dL/dout, not all ones
    out.backward(tt.tensor(upstream))
    assert a.grad.shape == a_np.shape and b.grad.shape == b_np.shape
    np.testing.assert_allclose(a.grad.numpy(), reduce_to(upstream * d_da(a_np, b_np), a_np.shape),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad.numpy(), reduce_to(upstream * d_db(a_np, b_np), b_np.shape),
                               rtol=1e-12, atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3))
def test_broadcast_to_and_back(shapes):
    """broadcast_to and its backward sum_to: each input element receives the count of its copies."""
    shape, target = shapes.input_shapes[0], shapes.result_shape
    x = tt.ones(shape, dtype=tt.float64, requires_grad=True)
    y = x.broadcast_to(target)
    assert y.shape == target
    y.sum().backward()
    copies = int(np.prod(target)) // int(np.prod(shape))
    np.testing.assert_array_equal(x.grad.numpy(), np.full(shape, copies, dtype=np.float64))
