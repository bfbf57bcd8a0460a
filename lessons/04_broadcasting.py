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
# The same sum over the batch is the gradient of a linear layer's weight, `dL/dW = Xᵀ G`: we
# derive it at the end, from one element of the product.
#
# Read along: [`tinytensor/ops/broadcast.py`](../tinytensor/ops/broadcast.py) (`broadcast_to`
# and its adjoint `sum_to`), [`tinytensor/ops/arithmetic.py`](../tinytensor/ops/arithmetic.py)
# (every `+ - * /` ends its backward with `sum_to`) and
# [`tinytensor/ops/matmul.py`](../tinytensor/ops/matmul.py) (`MatMul.backward`).

# %%
import numpy as np

import tinytensor as tt
import visualize
from lesson_tools import checks, device, exercise, optional_torch, show

torch = optional_torch()  # a second reference for the checks, when installed; never needed

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

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("X + b against NumPy's b[None, :] written out") as check:
    check.equal("shape", Y.shape, (3, 4))
    check.close("Y", Y, X_numpy + b_numpy[None, :], rtol=1e-15)

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

# %% [markdown]
# Had backward not summed, `dL/db` would be the `(3, 4)` matrix `dL/dY`, and a gradient
# descent (梯度下降) step `b - lr * grad` would broadcast once more and silently turn the
# bias into a matrix:

# %%
Y_numpy = X_numpy + b_numpy
unsummed_step = b_numpy - 0.1 * Y_numpy
print("b - lr * dL/dY has shape", unsummed_step.shape)

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("b.grad is the column sum of dL/dY = Y, (1.5, 2.1, 2.7, 3.3); X.grad is Y; shapes kept") as check:
    check.close("b.grad", b.grad, Y_numpy.sum(axis=0), rtol=1e-14)
    check.close("b.grad by hand", b.grad, [1.5, 2.1, 2.7, 3.3], rtol=1e-14)
    check.close("X.grad", X.grad, Y_numpy, rtol=1e-14)
    check.equal("b.grad's shape", b.grad.shape, b.shape)
    check.equal("the unsummed step's shape", unsummed_step.shape, (3, 4))

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

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("central differences, gradcheck (and PyTorch) give backward's b.grad") as check:
    check.close("central differences", numeric, b.grad, rtol=1e-8)
    check.true("gradcheck", tt.gradcheck(bias_loss, [X.detach().requires_grad_(), b.detach().requires_grad_()]))
    if torch is not None:
        tX, tb = torch.tensor(X_numpy, requires_grad=True), torch.tensor(b_numpy, requires_grad=True)
        bias_loss(tX, tb).backward()
        check.close("torch's b.grad", tb.grad, b.grad, rtol=1e-14)

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
show(visualize.draw_graph(L2, params={"b": b2}, names={"X": X2, "bias, copied": B, "Y": Y2, "L": L2},
                          grads=trace), "04_bias_broadcast.svg")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("the copy's gradient is dL/dY, sum_to sums its rows, b and X get what they got before") as check:
    check.close("dL/d(copy)", dB, Y_numpy, rtol=1e-14)
    check.close("sum_to", tt.sum_to(trace[B], (4,)), dB.sum(axis=0), rtol=1e-15)
    check.close("b2.grad", b2.grad, b.grad, rtol=1e-15)
    check.close("X2.grad", X2.grad, dB, rtol=1e-15)

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
X_values = X.detach()  # only c's gradient is wanted now
bias_loss(X_values, c).backward()
print("c.grad =", c.grad.cpu().numpy().ravel(), "shape", c.grad.shape)

# %% tags=["check"] jupyter={"source_hidden": true}
def loss_of_c(c_value):
    with tt.no_grad():
        return bias_loss(X_values, tt.tensor(c_value, dtype=tt.float64, device=dev)).item()


with checks("c.grad is the row sums (1, 3, 5), kept (3, 1); central differences and gradcheck agree") as check:
    check.equal("shape", c.grad.shape, (3, 1))
    check.close("row sums", c.grad, (X_numpy + c_numpy).sum(axis=1, keepdims=True), rtol=1e-14)
    check.close("by hand", c.grad.cpu().numpy().ravel(), [1.0, 3.0, 5.0], rtol=1e-14)
    check.close("central differences", central_differences(loss_of_c, c_numpy), c.grad, rtol=1e-8)
    check.true("gradcheck", tt.gradcheck(lambda c: bias_loss(X_values, c), [c.detach().requires_grad_()]))

# %% [markdown]
# The rule `sum_to` follows, in both cases: first sum away the leading dimensions the input
# did not have (the `3` rows for `b`), then sum, keeping the dimension, every axis where the
# input had size 1 and the gradient does not (the `4` columns for `c`).
#
# ## A linear layer's weight: dL/dW = Xᵀ G
#
# The bias was added to every row of the batch, so its gradient summed over the rows. A
# linear layer's weight is used by every row too: `Y = X W`, with `X` of shape `(n, k)` (n
# examples of k features) and `W` of shape `(k, m)`. Write one element of the product and
# differentiate it. With `G = dL/dY` (the gradient arriving from above, shape `(n, m)`):
#
#     Y[i, j] = Σ_k X[i, k] W[k, j]          so  ∂Y[i, j] / ∂W[k, j] = X[i, k]
#
#     dL/dW[k, j] = Σ_i G[i, j] X[i, k] = Σ_i Xᵀ[k, i] G[i, j] = (Xᵀ G)[k, j]
#
# The sum over `i` is the sum over the batch, as for the bias: every example's gradient adds
# into the one shared weight. By the same steps `dL/dX = G Wᵀ` (each input feature sends back
# what all the outputs it fed received). The shapes are a check: `Xᵀ G` is `(k, n)(n, m) =
# (k, m)`, `W`'s shape, and no other product of `X`, `G` and their transposes has it. And the
# bias is a weight on an input that is always 1: append a column of ones to `X` and `b` as a
# last row of `W`, and the last row of `Xᵀ G` is `1ᵀ G`, the column sums we found above.
#
# These two products are the whole of `MatMul.backward` in
# [`tinytensor/ops/matmul.py`](../tinytensor/ops/matmul.py): `grad @ b.swapaxes(-1, -2)` and
# `a.swapaxes(-1, -2) @ grad`, each passed through `sum_to` for the batched, broadcast cases.

# %%
rng = np.random.default_rng(1)
X_lin, W_lin = rng.standard_normal((5, 3)), rng.standard_normal((3, 2))   # n = 5, k = 3, m = 2
Xt = tt.tensor(X_lin, device=dev, requires_grad=True)
Wt = tt.tensor(W_lin, device=dev, requires_grad=True)
Y_lin = Xt @ Wt
(Y_lin * Y_lin).sum().div(2).backward()   # L = ½ Σ Y², so G = dL/dY = Y
G = Y_lin.detach().cpu().numpy()
dW_by_hand, dX_by_hand = X_lin.T @ G, G @ W_lin.T
print("dL/dW by backward:\n", Wt.grad.cpu().numpy().round(4))
print("Xᵀ G by hand:\n", dW_by_hand.round(4))

ones = np.ones((5, 1))
b_lin = rng.standard_normal(2)
augmented = np.hstack([X_lin, ones]) @ np.vstack([W_lin, b_lin])   # [X 1] [W; b] = X W + b
G_aug = augmented                                                    # again L = ½ Σ Y²
print("last row of [X 1]ᵀ G:", (np.hstack([X_lin, ones]).T @ G_aug)[-1].round(4),
      " column sums of G:", G_aug.sum(axis=0).round(4))

# %% tags=["check"] jupyter={"source_hidden": true}
def loss_of_w(w_value):
    with tt.no_grad():
        y = Xt.detach() @ tt.tensor(w_value, device=dev)
        return (y * y).sum().item() / 2


with checks("dL/dW = Xᵀ G and dL/dX = G Wᵀ against backward, central differences (and PyTorch); the bias row") as check:
    check.close("dL/dW", Wt.grad, dW_by_hand, rtol=1e-12)
    check.close("dL/dX", Xt.grad, dX_by_hand, rtol=1e-12)
    check.close("central differences", central_differences(loss_of_w, W_lin), dW_by_hand, rtol=1e-7)
    check.close("the bias row is 1ᵀ G", (np.hstack([X_lin, ones]).T @ G_aug)[-1], G_aug.sum(axis=0), rtol=1e-12)
    if torch is not None:
        tx, tw = torch.tensor(X_lin, requires_grad=True), torch.tensor(W_lin, requires_grad=True)
        ((tx @ tw) ** 2).sum().div(2).backward()
        check.close("torch's dL/dW", tw.grad, Wt.grad, rtol=1e-12)

# %% [markdown]
# ## Exercise
#
# Write `sum_to` yourself, in NumPy: `my_sum_to(grad, shape)` returns `grad` summed down to
# `shape`, by the rule above. The check compares it with `tt.sum_to` on seven pairs of shapes,
# then uses it to predict the gradients of `u` `(3, 1)` and `v` `(4,)` in `L = ½ Σ (u + v)²`,
# where both are broadcast to `(3, 4)`, and compares them with backward.

# %% tags=["exercise"]
my_sum_to = ...  # your answer: def my_sum_to(grad, shape): ... returning an array of that shape

# %% tags=["check"]
exercise(globals(), "04_broadcasting", "sum_to")
