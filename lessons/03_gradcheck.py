# %% [markdown]
# # Lesson 3: Is the gradient right?
#
# Every op of tinytensor writes its own backward: the derivative (导数) of its output with respect
# to its inputs, by hand. One slip there and training still runs, the loss still goes down a
# little, and the model is quietly wrong. Seed 002 describes backpropagation (反向传播) as
# players passing corrections back down a line; here we check that each player passes back the
# right correction.
#
# The check needs nothing but the function itself: nudge an input by a small `h` and watch the
# output move. That is a finite difference (有限差分), and comparing it with backward's gradient
# (梯度) is a gradient check (梯度检验).
#
# Read along: [`tinytensor/autograd/gradcheck.py`](../tinytensor/autograd/gradcheck.py) and
# [`tinytensor/autograd/function.py`](../tinytensor/autograd/function.py).

# %%
import math
import re

import numpy as np
import matplotlib.pyplot as plt

import tinytensor as tt
from lesson_tools import device, optional_torch, show

torch = optional_torch()  # torch is optional: the hand formulas below are the checks that always run

dev = device()
print("device:", dev)

# %% [markdown]
# ## A function whose derivatives we know
#
# `f(x) = x² sin(x)` at `x = 1.3`. By the product rule its derivatives are
#
#     f'(x)   = 2x sin x + x² cos x
#     f''(x)  = 2 sin x + 4x cos x - x² sin x
#     f'''(x) = 6 cos x - 6x sin x - x² cos x
#
# `f'` is what backward must give; `f''` and `f'''` will predict the error of the finite differences.

# %%
X = 1.3


def f(x):
    return x * x * x.sin()


def f1(x):
    return 2 * x * math.sin(x) + x * x * math.cos(x)


def f2(x):
    return 2 * math.sin(x) + 4 * x * math.cos(x) - x * x * math.sin(x)


def f3(x):
    return 6 * math.cos(x) - 6 * x * math.sin(x) - x * x * math.cos(x)


x = tt.tensor(X, dtype=tt.float64, device=dev, requires_grad=True)
f(x).backward()
print(f"backward:     f'(1.3) = {x.grad.item():.12f}")
print(f"product rule: f'(1.3) = {f1(X):.12f}")
assert math.isclose(x.grad.item(), f1(X), rel_tol=1e-14)


# %% [markdown]
# ## Finite differences, by hand
#
# Taylor's expansion says how far each estimate is from `f'(x)`:
#
#     forward:  (f(x+h) - f(x)) / h        = f'(x) + h f''(x)/2  + O(h²)    error O(h)
#     central:  (f(x+h) - f(x-h)) / (2h)   = f'(x) + h² f'''(x)/6 + O(h⁴)   error O(h²)
#
# In the central difference the `h f''/2` terms of the two sides cancel, so making `h` ten times
# smaller makes its error a hundred times smaller (the forward one only ten). We evaluate `f` with
# tinytensor under `no_grad` (we only want values) and compare with the product rule.

# %%
def value(x, dtype):
    with tt.no_grad():
        return f(tt.tensor(x, dtype=dtype, device=dev)).item()


def forward_difference(h, dtype=tt.float64):
    return (value(X + h, dtype) - value(X, dtype)) / h


def central_difference(h, dtype=tt.float64):
    return (value(X + h, dtype) - value(X - h, dtype)) / (2 * h)


print("     h    forward error    central error")
for h in (1e-2, 1e-3, 1e-4):
    forward_error = forward_difference(h) - f1(X)
    central_error = central_difference(h) - f1(X)
    print(f"{h:6.0e}    {forward_error:+.3e}       {central_error:+.3e}")
    # each error is the first term Taylor left out (to within the next, smaller term)
    assert math.isclose(forward_error, h * f2(X) / 2, rel_tol=0.02)
    assert math.isclose(central_error, h * h * f3(X) / 6, rel_tol=1e-3)

ratio_forward = (forward_difference(1e-2) - f1(X)) / (forward_difference(1e-3) - f1(X))
ratio_central = (central_difference(1e-2) - f1(X)) / (central_difference(1e-3) - f1(X))
print(f"h / 10: forward error / {ratio_forward:.1f}, central error / {ratio_central:.1f}")
assert 9 < ratio_forward < 11 and 99 < ratio_central < 101

# %% [markdown]
# ## Why float64
#
# A smaller `h` is not always better. `f(x+h) - f(x-h)` subtracts two nearly equal numbers, each
# rounded to the float's precision ε (about 1.2e-7 in float32, 2.2e-16 in float64); the rounding
# error, about `ε |f| / h`, grows as `h` shrinks. The total error is smallest where the two meet,
# and in float32 even that minimum is too big to tell a right gradient from a slightly wrong one.
# In float64 with `h = 1e-6` (gradcheck's default) the estimate is good to about 1e-10.

# %%
hs = np.logspace(-9, -1, 17)
errors = {
    ("central", "float64"): [abs(central_difference(h) - f1(X)) for h in hs],
    ("forward", "float64"): [abs(forward_difference(h) - f1(X)) for h in hs],
    ("central", "float32"): [abs(central_difference(h, tt.float32) - f1(X)) for h in hs],
}
i6 = int(np.argmin(abs(np.log10(hs) + 6)))  # the index of h = 1e-6
print(f"at h = 1e-6: central float64 error {errors['central', 'float64'][i6]:.1e}, "
      f"central float32 error {errors['central', 'float32'][i6]:.1e}")
assert errors["central", "float64"][i6] < 1e-8
assert min(errors["central", "float32"]) > 1e-6            # float32 never gets close
assert max(errors["central", "float32"][i6 - 2:i6 + 3]) > 1e-3  # near h = 1e-6 it is hopeless

fig, ax = plt.subplots(figsize=(6.4, 4.2))
for (kind, dtype), style in zip(errors, ("o-", "s--", "^-")):
    ax.loglog(hs, np.maximum(errors[kind, dtype], 1e-17), style, ms=4, label=f"{kind} difference, {dtype}")
ax.loglog(hs, hs * abs(f2(X)) / 2, ":", color="grey", label="h f''/2  (slope 1)")
ax.loglog(hs, hs * hs * abs(f3(X)) / 6, "-.", color="grey", label="h² f'''/6  (slope 2)")
ax.axvline(1e-6, color="black", lw=0.6)
ax.text(1.2e-6, 2, "gradcheck's h", fontsize=8)
ax.set_xlabel("step h")
ax.set_ylabel("|estimate - f'(1.3)|")
ax.set_title("Finite differences of x² sin x: truncation against rounding")
ax.set_ylim(1e-13, 10)
ax.legend(fontsize=8)
show(fig, "03_finite_difference_error.png")

# %% [markdown]
# ## `tt.gradcheck`
#
# [`gradcheck`](../tinytensor/autograd/gradcheck.py) does the same for a function of whole
# tensors. To compare one number per input element it reduces every output to one scalar,
# `L = sum(v * fn(x))` with a fixed random `v` (so no output element is ignored), takes `dL/dx`
# from backward, and nudges each element of `x` by `±1e-6` for the central difference. It insists
# on float64 inputs, for the reason just seen, and returns `True` or raises `GradcheckError`
# naming the worst element (its numbers are those of `dL/dx`, so they include `v`).

# %%
tt.manual_seed(0)
a = tt.randn(3, 4, dtype=tt.float64, device=dev, requires_grad=True)
w = tt.randn(4, 2, dtype=tt.float64, device=dev, requires_grad=True)
assert tt.gradcheck(lambda a, w: (a @ w).tanh(), [a, w]) is True
print("gradcheck(tanh(a @ w)): passed")

try:
    tt.gradcheck(lambda a: a.tanh(), [a.detach().float().requires_grad_()])
except ValueError as error:
    print("float32:", error)
else:
    raise AssertionError("gradcheck should refuse float32 inputs")

# %% [markdown]
# ## A planted wrong backward
#
# Now we write an op of our own. A `tt.autograd.Function` has two methods side by side:
# `forward(*arrays)` computes on raw NumPy (or CuPy) arrays, and `backward(grad)` gets
# `dL/d(output)` and returns `dL/d(input)`, written with Tensor ops. Calling `Sigmoid()(x)`
# runs forward and links the result into the graph.
#
# The sigmoid `s(x) = 1 / (1 + e^-x)` has the derivative `s'(x) = s(x)(1 - s(x))`. Suppose we
# remember only half of it and write `s'(x) = s(x)`, as if sigmoid were `e^x`.

# %%
class WrongSigmoid(tt.autograd.Function):
    needs_output = True  # backward reads the forward's result, self.output

    def forward(self, a):
        xp = tt.backend.xp_of(a)  # numpy on the CPU, cupy on a GPU
        return 1 / (1 + xp.exp(-a))

    def backward(self, grad):
        s = self.output
        return (grad * s,)  # the bug: the factor (1 - s) is missing


class Sigmoid(WrongSigmoid):  # the same forward, the backward fixed
    def backward(self, grad):
        s = self.output
        return (grad * s * (1 - s),)


tt.manual_seed(1)
z = tt.randn(5, dtype=tt.float64, device=dev, requires_grad=True)

# forward is right in both: the values match NumPy written out
z_numpy = z.detach().cpu().numpy()
for op in (WrongSigmoid, Sigmoid):
    np.testing.assert_allclose(op()(z).detach().cpu().numpy(), 1 / (1 + np.exp(-z_numpy)), rtol=1e-15)

try:
    tt.gradcheck(lambda z: WrongSigmoid()(z), [z])
except tt.GradcheckError as error:
    caught = str(error)
    print("caught:", caught)
else:
    raise AssertionError("gradcheck missed the wrong backward")
assert "gradcheck failed for input 0" in caught

assert tt.gradcheck(lambda z: Sigmoid()(z), [z]) is True
print("the fixed Sigmoid passes")

# %% [markdown]
# How wrong was it? The wrong gradient is `s` and the right one `s(1 - s)`, so their ratio is
# `1 / (1 - s)`: the bug is worst where `s` is near 1. Backward of the fixed op agrees with the
# formula, and with PyTorch when it is installed.

# %%
def gradient(op):
    z.grad = None
    op()(z).sum().backward()
    return z.grad.cpu().numpy()


s_numpy = 1 / (1 + np.exp(-z_numpy))
right, wrong = gradient(Sigmoid), gradient(WrongSigmoid)
np.testing.assert_allclose(right, s_numpy * (1 - s_numpy), rtol=1e-14)
np.testing.assert_allclose(wrong / right, 1 / (1 - s_numpy), rtol=1e-14)
print("s:            ", np.round(s_numpy, 3))
print("wrong / right:", np.round(wrong / right, 3))

# gradcheck's message named the worst element and both values of dL/dz there (v included):
# their ratio is the same 1 / (1 - s)
element = int(re.search(r"at element \((\d+),\)", caught).group(1))
number = r"(?:np\.float64\()?([-+0-9.e]+)"  # NumPy 2 writes a scalar as np.float64(...)
backward_value, numeric_value = (float(v) for v in re.findall("gives? " + number, caught))
assert math.isclose(backward_value / numeric_value, 1 / (1 - s_numpy[element]), rel_tol=1e-6)
print(f"element {element}: {backward_value:.4f} / {numeric_value:.4f} = {backward_value / numeric_value:.3f}")
if torch is not None:
    tz = torch.tensor(z_numpy, requires_grad=True)
    torch.sigmoid(tz).sum().backward()
    np.testing.assert_allclose(tz.grad.numpy(), s_numpy * (1 - s_numpy), rtol=1e-14)
    print("torch agrees")

# %% [markdown]
# ## Exercise
#
# tinytensor has no softplus, `softplus(x) = log(1 + e^x)`, a smooth ReLU. Write it as a
# `tt.autograd.Function`: forward on raw arrays (hint: `xp.logaddexp(0, a)` computes
# `log(e^0 + e^a)` without overflowing for large `a`), backward from its derivative, which
# is the sigmoid. Prove the backward right with `tt.gradcheck`. Try it yourself first; the cell
# below is one solution.

# %%
class Softplus(tt.autograd.Function):
    def forward(self, a):
        return tt.backend.xp_of(a).logaddexp(0, a)

    def backward(self, grad):
        return (grad * self.inputs[0].sigmoid(),)


tt.manual_seed(2)
u = (tt.randn(4, 3, dtype=tt.float64, device=dev) * 3).requires_grad_()  # spread over about -9..9
softplus_passed = tt.gradcheck(lambda u: Softplus()(u), [u])
print("softplus gradcheck:", softplus_passed)

# %% [markdown]
# ### Check

# %%
u_numpy = u.detach().cpu().numpy()
assert softplus_passed is True
np.testing.assert_allclose(Softplus()(u).detach().cpu().numpy(), np.log1p(np.exp(u_numpy)), rtol=1e-12)
u.grad = None
Softplus()(u).sum().backward()
np.testing.assert_allclose(u.grad.cpu().numpy(), 1 / (1 + np.exp(-u_numpy)), rtol=1e-12)
if torch is not None:
    tu = torch.tensor(u_numpy)
    np.testing.assert_allclose(Softplus()(u).detach().cpu().numpy(),
                               torch.nn.functional.softplus(tu).numpy(), rtol=1e-12)
print("softplus and its gradient are right")
