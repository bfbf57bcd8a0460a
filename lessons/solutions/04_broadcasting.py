"""Lesson 4's exercise: sum_to written in NumPy, and used to predict two broadcast gradients.

(How these files work: lessons/README.md, "How a lesson is built".)
"""
import numpy as np

import tinytensor as tt


def sum_to(ns):
    def my_sum_to(grad, shape):
        lead = grad.ndim - len(shape)
        grad = grad.sum(axis=tuple(range(lead)))  # the dimensions the input did not have
        stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
        return grad.sum(axis=stretched, keepdims=True)

    ns["my_sum_to"] = my_sum_to


def check_sum_to(my_sum_to, bias_loss, dev):
    rng = np.random.default_rng(0)
    for big, small in [((3, 4), (4,)), ((3, 4), (3, 1)), ((2, 3, 4), (3, 1)), ((2, 3, 4), (1, 4)),
                       ((2, 3, 4), (2, 1, 4)), ((3, 4), (3, 4)), ((3, 4), ())]:
        g = rng.standard_normal(big)
        expected = tt.sum_to(tt.tensor(g, dtype=tt.float64), small).numpy()
        got = np.asarray(my_sum_to(g, small))
        assert got.shape == small, f"my_sum_to of {big} to {small} has shape {got.shape}: keep the size-1 axes"
        assert np.allclose(got, expected, rtol=1e-12), f"my_sum_to of {big} to {small}: wrong values"
    u_numpy, v_numpy = np.array([[0.5], [-1.0], [2.0]]), np.array([0.1, 0.2, 0.3, 0.4])
    u = tt.tensor(u_numpy, dtype=tt.float64, device=dev, requires_grad=True)
    v = tt.tensor(v_numpy, dtype=tt.float64, device=dev, requires_grad=True)
    bias_loss(u, v).backward()
    dY = u_numpy + v_numpy  # dL/dY = Y
    predicted_u, predicted_v = my_sum_to(dY, (3, 1)), my_sum_to(dY, (4,))
    assert np.allclose(predicted_u, u.grad.cpu().numpy(), rtol=1e-14)
    assert np.allclose(predicted_v, v.grad.cpu().numpy(), rtol=1e-14)
    assert np.allclose(predicted_u.ravel(), [3.0, -3.0, 9.0])   # 4 u_i + Σ v
    assert np.allclose(predicted_v, [1.8, 2.1, 2.4, 2.7])       # Σ u + 3 v_j
    return (f"my_sum_to agrees with tt.sum_to on 7 shapes, and predicts u.grad = {predicted_u.ravel()} "
            f"and v.grad = {predicted_v}")


def wrong_sum_to(ns):
    """The size-1 axes summed without keepdims: a (3,) where a (3, 1) was wanted."""
    def my_sum_to(grad, shape):
        grad = grad.sum(axis=tuple(range(grad.ndim - len(shape))))
        stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
        return grad.sum(axis=stretched)

    ns["my_sum_to"] = my_sum_to
