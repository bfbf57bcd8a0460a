# %% [markdown]
# # Lesson 4: Broadcasting and why gradients are summed back
#
# Seed 001 writes a linear layer as `Linear(x) = Wx + b`. With a batch of inputs, `xW` has one
# row per example, and the bias `b` (one number per output column) is added to *every* row.
# NumPy, PyTorch and tinytensor all do this without being asked: broadcasting (广播) copies `b`
# along the missing dimension, so a `(3, 4)` matrix plus a `(4,)` vector is a `(3, 4)` matrix.
#
# Backward must undo that copy. Each `b[j]` was used three times, once in every row, and the
# chain rule (链式法则) says a value used several times gets the *sum* of the gradients (梯度) of
# all its uses. So the bias's gradient is the column sum of the output's gradient: `sum_to`,
# the backward of broadcasting.
#
# Read along: [`tinytensor/ops/broadcast.py`](../tinytensor/ops/broadcast.py) (`broadcast_to`
# and its adjoint `sum_to`) and [`tinytensor/ops/arithmetic.py`](../tinytensor/ops/arithmetic.py)
# (every `+ - * /` ends its backward with `sum_to`).

# %%
import numpy as np

import tinytensor as tt
import visualize
from lesson_tools import device, optional_torch, show

torch = optional_torch()  # torch is optional: NumPy and central differences are the checks that always run

dev = device()
print("device:", dev)

# %% [markdown]
# ## A bias added to every row
#
# `X` is a batch of 3 rows of 4 numbers, `b` a bias of 4 numbers; the loss (损失函数) is
# `L = ½ Σ Y²` with `Y = X + b`, so that `dL/dY = Y`: a gradient we can write down.

# %%
X_numpy = np.arange(12.0).reshape(3, 4) / 10
b_numpy = np.array([0.1, 0.2, 0.3, 0.4])


def bias_loss(X, b):
    Y = X + b
    return (Y * Y).sum() / 2


X = tt.tensor(X_numpy, dtype=tt.float64, device=dev, requires_grad=True)
b = tt.tensor(b_numpy, dtype=tt.float64, device=dev, requires_grad=True)
Y = X + b
print("Y =\n", Y.detach().cpu().numpy())
np.testing.assert_allclose(Y.detach().cpu().numpy(), X_numpy + b_numpy[None, :], rtol=1e-15)
assert Y.shape == (3, 4)

# %% [markdown]
# ## The bias's gradient is the column sum
#
# `dL/dY[i, j] = Y[i, j]`, and `b[j]` reached every `Y[i, j]` of column `j` with derivative 1,
# so `dL/db[j] = Σ_i Y[i, j]`. Column by column: `X`'s column sums are `1.2, 1.5, 1.8, 2.1`, and
# each column adds `b[j]` three times, so `dL/db = (1.2 + 0.3, 1.5 + 0.6, 1.8 + 0.9, 2.1 + 1.2)
# = (1.5, 2.1, 2.7, 3.3)`. `X` was not copied, so its gradient is `dL/dY` itself.

# %%
bias_loss(X, b).backward()
print("b.grad =", b.grad.cpu().numpy())
Y_numpy = X_numpy + b_numpy
np.testing.assert_allclose(b.grad.cpu().numpy(), Y_numpy.sum(axis=0), rtol=1e-14)
np.testing.assert_allclose(b.grad.cpu().numpy(), [1.5, 2.1, 2.7, 3.3], rtol=1e-14)
np.testing.assert_allclose(X.grad.cpu().numpy(), Y_numpy, rtol=1e-14)
assert b.grad.shape == b.shape and X.grad.shape == X.shape

# %% [markdown]
# Had backward not summed, `dL/db` would be the `(3, 4)` matrix `dL/dY`, and a gradient
# descent (梯度下降) step `b - lr * grad` would broadcast once more and silently turn the
# bias into a matrix:

# %%
unsummed_step = b_numpy - 0.1 * Y_numpy
print("b - lr * dL/dY has shape", unsummed_step.shape)
assert unsummed_step.shape == (3, 4)

# %% [markdown]
# ## The same, by central differences
#
# An independent check (lesson 3): nudge each `b[j]` by `±h` and watch `L`, in float64.

# %%
def central_differences(loss, x, h=1e-6):
    """dL/dx for each element of the NumPy array x, as (L(x + h) - L(x - h)) / 2h."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = h
        grad[index] = (loss(x + step) - loss(x - step)) / (2 * h)
    return grad


def loss_of_b(b_value):
    with tt.no_grad():
        return bias_loss(X, tt.tensor(b_value, dtype=tt.float64, device=dev)).item()


numeric = central_differences(loss_of_b, b_numpy)
print("central differences:", numeric)
np.testing.assert_allclose(numeric, b.grad.cpu().numpy(), rtol=1e-8)
assert tt.gradcheck(bias_loss, [X.detach().requires_grad_(), b.detach().requires_grad_()])
if torch is not None:
    tX = torch.tensor(X_numpy, requires_grad=True)
    tb = torch.tensor(b_numpy, requires_grad=True)
    bias_loss(tX, tb).backward()
    np.testing.assert_allclose(tb.grad.numpy(), b.grad.cpu().numpy(), rtol=1e-14)
    print("torch agrees")

# %% [markdown]
# ## `broadcast_to` and `sum_to`, drawn
#
# `X + b` broadcasts inside the `add` op. Writing the copy out, `tt.broadcast_to(b, (3, 4))`,
# puts it in the graph (计算图) as a node of its own: forward it copies `(4,)` to `(3, 4)`, and
# its backward is `sum_to(grad, (4,))`, which sums the rows back. In the picture, a tensor of
# more than 4 numbers shows the norm of its gradient, `|grad|`: `X` and `bias, copied` get the
# same `(3, 4)` gradient from the `add`, and `b` gets its four column sums.

# %%
b2 = tt.tensor(b_numpy, dtype=tt.float64, device=dev, requires_grad=True)
X2 = tt.tensor(X_numpy, dtype=tt.float64, device=dev, requires_grad=True)
B = tt.broadcast_to(b2, (3, 4))
Y2 = X2 + B
L2 = (Y2 * Y2).sum() / 2
trace = visualize.trace_backward(L2)
dB = trace[B].cpu().numpy()
print("dL/d(copy) =\n", dB)
print("sum_to(dL/d(copy), (4,)) =", tt.sum_to(trace[B], (4,)).cpu().numpy())
np.testing.assert_allclose(dB, Y_numpy, rtol=1e-14)
np.testing.assert_allclose(tt.sum_to(trace[B], (4,)).cpu().numpy(), dB.sum(axis=0), rtol=1e-15)
np.testing.assert_allclose(b2.grad.cpu().numpy(), b.grad.cpu().numpy(), rtol=1e-15)
np.testing.assert_allclose(X2.grad.cpu().numpy(), dB, rtol=1e-15)
show(visualize.draw_graph(L2, params={"b": b2}, names={"X": X2, "bias, copied": B, "Y": Y2, "L": L2},
                          grads=trace), "04_bias_broadcast.svg")

# %% [markdown]
# ## A `(3, 1)` column: summed along the rows
#
# Broadcasting also stretches a dimension of size 1. A column `c` of shape `(3, 1)` added to
# `X` is copied along the 4 columns, so its gradient is the sum of each *row* of `dL/dY`, kept
# as a `(3, 1)` column. With `c = (0.1, 0.2, 0.3)`: `X`'s row sums are `0.6, 2.2, 3.8`, each row
# adds `c[i]` four times, and `dL/dc = (0.6 + 0.4, 2.2 + 0.8, 3.8 + 1.2) = (1, 3, 5)`.

# %%
c_numpy = np.array([[0.1], [0.2], [0.3]])
c = tt.tensor(c_numpy, dtype=tt.float64, device=dev, requires_grad=True)
X_data = X.detach()  # only c's gradient is wanted now
bias_loss(X_data, c).backward()
print("c.grad =", c.grad.cpu().numpy().ravel(), "shape", c.grad.shape)
assert c.grad.shape == (3, 1)
np.testing.assert_allclose(c.grad.cpu().numpy(), (X_numpy + c_numpy).sum(axis=1, keepdims=True), rtol=1e-14)
np.testing.assert_allclose(c.grad.cpu().numpy().ravel(), [1.0, 3.0, 5.0], rtol=1e-14)


def loss_of_c(c_value):
    with tt.no_grad():
        return bias_loss(X_data, tt.tensor(c_value, dtype=tt.float64, device=dev)).item()


np.testing.assert_allclose(central_differences(loss_of_c, c_numpy), c.grad.cpu().numpy(), rtol=1e-8)
assert tt.gradcheck(lambda c: bias_loss(X_data, c), [c.detach().requires_grad_()])

# %% [markdown]
# The rule `sum_to` follows, in both cases: first sum away the leading dimensions the input
# did not have (the `3` rows for `b`), then sum, keeping the dimension, every axis where the
# input had size 1 and the gradient does not (the `4` columns for `c`).
#
# ## Exercise
#
# Write `sum_to` yourself, in NumPy: `my_sum_to(grad, shape)` returns `grad` summed down to
# `shape`. Then use it to predict the gradients of `u` `(3, 1)` and `v` `(4,)` in
# `L = ½ Σ (u + v)²`, where both are broadcast to `(3, 4)`, and compare with backward. Try it
# yourself first; the cell below is one solution.

# %%
def my_sum_to(grad, shape):
    lead = grad.ndim - len(shape)
    grad = grad.sum(axis=tuple(range(lead)))  # the dimensions the input did not have
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(axis=stretched, keepdims=True)


u_numpy, v_numpy = np.array([[0.5], [-1.0], [2.0]]), np.array([0.1, 0.2, 0.3, 0.4])
u = tt.tensor(u_numpy, dtype=tt.float64, device=dev, requires_grad=True)
v = tt.tensor(v_numpy, dtype=tt.float64, device=dev, requires_grad=True)
bias_loss(u, v).backward()
dY_uv = u_numpy + v_numpy  # dL/dY = Y
predicted_u, predicted_v = my_sum_to(dY_uv, (3, 1)), my_sum_to(dY_uv, (4,))
print("u.grad =", u.grad.cpu().numpy().ravel(), " predicted", predicted_u.ravel())
print("v.grad =", v.grad.cpu().numpy(), " predicted", predicted_v)

# %% [markdown]
# ### Check

# %%
rng = np.random.default_rng(0)
for big, small in [((3, 4), (4,)), ((3, 4), (3, 1)), ((2, 3, 4), (3, 1)), ((2, 3, 4), (1, 4)),
                   ((2, 3, 4), (2, 1, 4)), ((3, 4), (3, 4)), ((3, 4), ())]:
    g = rng.standard_normal(big)
    expected = tt.sum_to(tt.tensor(g, dtype=tt.float64), small).numpy()
    assert my_sum_to(g, small).shape == small, (big, small)
    np.testing.assert_allclose(my_sum_to(g, small), expected, rtol=1e-12, err_msg=f"{big} -> {small}")
np.testing.assert_allclose(predicted_u, u.grad.cpu().numpy(), rtol=1e-14)
np.testing.assert_allclose(predicted_v, v.grad.cpu().numpy(), rtol=1e-14)
np.testing.assert_allclose(predicted_u.ravel(), [3.0, -3.0, 9.0], rtol=1e-14)  # 4 u_i + Σ v
np.testing.assert_allclose(predicted_v, [1.8, 2.1, 2.4, 2.7], rtol=1e-14)     # Σ u + 3 v_j
print("my_sum_to is right")
