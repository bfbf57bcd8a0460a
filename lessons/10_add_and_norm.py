# %% [markdown]
# # Lesson 10: Add & Norm
#
# Every sublayer of the Transformer, attention or feed-forward, sits inside the same wrapper
# ("Attention Is All You Need", §3.1):
#
#     LayerNorm(x + Sublayer(x))
#
# *Add* is the residual connection (残差连接) of lesson 6: the sublayer only has to learn a
# correction to x, and the gradient has a straight road back. *Norm* is layer normalization
# (层归一化, Ba et al. 2016): each position's vector is shifted to mean 0 and scaled to
# standard deviation 1 over its features, so the next layer always sees numbers of the same
# size, however the residual sums grow.
#
# Seed 001's slide works one example, x = (1, 3, 5). We do it by hand, with `tt.nn.LayerNorm`
# ([tinytensor/nn/normalization.py](../tinytensor/nn/normalization.py), the arithmetic and its
# backward in [tinytensor/functional/normalization.py](../tinytensor/functional/normalization.py)),
# find the slide's slip, then build the wrapper and look at its graph.

# %%
import math

import numpy as np

import tinytensor as tt
import visualize
from lesson_tools import device, optional_torch, show

torch = optional_torch()

dev = device()
print("device:", dev, "| torch:", torch.__version__ if torch else "not installed")

# %% [markdown]
# ## The slide's example by hand
#
# Over the n = 3 features of one position:
#
#     μ = (1 + 3 + 5) / 3 = 3
#     σ = sqrt(((1-3)² + (3-3)² + (5-3)²) / 3) = sqrt(8/3) ≈ 1.633
#     x̂ = (x - μ) / σ = (-2, 0, 2) / 1.633 = (-1.2247, 0, 1.2247)
#
# σ divides by n, not n - 1: it is the *population* standard deviation (总体标准差) of these
# three numbers, not an estimate of some larger population's. Exactly, 2 / sqrt(8/3) = sqrt(3/2).

# %%
x_list = [1.0, 3.0, 5.0]
mu = sum(x_list) / 3
sigma = math.sqrt(sum((v - mu) ** 2 for v in x_list) / 3)
by_hand = [(v - mu) / sigma for v in x_list]
print(f"mu = {mu}, sigma = {sigma:.4f}, normalized = {[round(v, 4) for v in by_hand]}")

assert mu == 3.0
assert math.isclose(sigma, math.sqrt(8 / 3)) and round(sigma, 3) == 1.633
assert math.isclose(by_hand[2], math.sqrt(3 / 2)) and math.isclose(by_hand[0], -math.sqrt(3 / 2))
assert by_hand[1] == 0.0 and round(by_hand[2], 4) == 1.2247

# %% [markdown]
# ## The same with `tt.nn.LayerNorm`
#
# A fresh `LayerNorm(3)` has γ = 1 and β = 0, so it only normalizes. It adds a small ε = 1e-5
# to the variance before the square root (so a constant vector does not divide by zero): its
# answer is sqrt(8/3) / sqrt(8/3 + ε) times ours, equal to 6 digits. NumPy written out, and
# PyTorch when it is installed, must agree.

# %%
norm = tt.nn.LayerNorm(3).to(dev)
x = tt.tensor(x_list, dtype=tt.float64, device=dev)
ours = norm(x).numpy()
print("tt.nn.LayerNorm:", ours.round(4))

eps = norm.eps
x_np = np.array(x_list)
numpy_written_out = (x_np - x_np.mean()) / np.sqrt(((x_np - x_np.mean()) ** 2).mean() + eps)
assert np.allclose(ours, numpy_written_out, rtol=0, atol=1e-12)
assert np.allclose(ours, by_hand, rtol=0, atol=3e-6)  # only ε differs from the hand formula
if torch is not None:
    theirs = torch.nn.LayerNorm(3, dtype=torch.float64)(torch.tensor(x_list, dtype=torch.float64))
    assert np.allclose(ours, theirs.detach().numpy(), rtol=0, atol=1e-12)

# %% [markdown]
# A trap on the way: `x.std()` (like `torch.std`) divides by n - 1 by default, Bessel's
# correction, and gives 2.0 here. LayerNorm wants `correction=0`.

# %%
sample_std, population_std = x.std().item(), x.std(correction=0).item()
print(f"x.std() = {sample_std}, x.std(correction=0) = {population_std:.4f}")
assert sample_std == math.sqrt(8 / 2) and math.isclose(population_std, sigma)

# %% [markdown]
# ## The slide's slip: -1.83
#
# Seed 001's slide writes
#
#     ((1-3)/1.63, (3-3)/1.63, (5-3)/1.63) = (-1.83, 0, 1.83)
#
# Its own quotient is -2 / 1.63 = -1.227, which rounds to -1.23 (with the exact σ, -1.22).
# Which standard deviation would give -1.83? It would have to be 2 / 1.83 = 1.093, and no
# spread of (1, 3, 5) is near it: not the population std, nor the sample std, nor a variance
# used by mistake in place of a std. So the slip is not in σ; -1.83 is -1.23 with one digit
# mistyped.
#
# And no arithmetic could have produced it, for any three numbers: a normalized vector has
# mean 0 and mean square 1, so its squares sum to n = 3, and -1.83² + 0² + 1.83² = 6.70. One
# entry strays furthest when the other n - 1 are equal, and even then it is sqrt(n - 1) = 1.414
# (Samuelson's inequality): 1.83 is out of reach.

# %%
print(f"the slide's quotient: -2 / 1.63 = {-2 / 1.63:.4f}, rounded {round(-2 / 1.63, 2)}")
std_needed = 2 / 1.83
spreads = {"population std sqrt(8/3)": math.sqrt(8 / 3), "sample std sqrt(8/2)": math.sqrt(8 / 2),
           "population variance 8/3": 8 / 3, "sample variance 8/2": 8 / 2}
print(f"a std giving -1.83 would be 2 / 1.83 = {std_needed:.3f}; the spreads of (1, 3, 5):")
for name, spread in spreads.items():
    print(f"  {name:26s} = {spread:.3f}  ->  (1-3)/{spread:.3f} = {-2 / spread:+.3f}")
print(f"squares of the slide's answer: {(-1.83) ** 2 + 0 + 1.83 ** 2:.2f}, of a normalized "
      f"vector: {sum(v * v for v in by_hand):.0f}")

assert round(-2 / 1.63, 2) == -1.23 and round(by_hand[0], 2) == -1.22
assert all(abs(spread - std_needed) > 0.5 for spread in spreads.values())
assert sum(a != b for a, b in zip("-1.23", "-1.83")) == 1          # one digit apart
assert math.isclose(sum(v * v for v in by_hand), 3.0)              # squares of x̂ sum to n
assert round((-1.83) ** 2 + 1.83 ** 2, 2) == 6.70                  # the slide's do not
assert max(abs(v) for v in by_hand) <= math.sqrt(3 - 1)            # Samuelson: |x̂| <= sqrt(n-1)
assert 1.83 > math.sqrt(3 - 1)

# %% [markdown]
# ## Add & Norm around a sublayer
#
# Now the wrapper: a sublayer (here a single `Linear`, standing in for attention or the
# feed-forward network), its output added to its input, `x + self.sublayer(x)`, then the
# LayerNorm. The Transformer writes it once, for every sublayer of the encoder and the decoder
# ([transformer/layer.py](../transformer/layer.py), `add_and_norm`):
# `norm(x + dropout(sublayer(x)))`, or `x + dropout(sublayer(norm(x)))` for pre-norm.

# %%
class AddNorm(tt.nn.Module):
    """LayerNorm(x + Sublayer(x)), the post-norm of the paper."""

    def __init__(self, width):
        super().__init__()
        self.sublayer = tt.nn.Linear(width, width)
        self.norm = tt.nn.LayerNorm(width)

    def forward(self, x):
        return self.norm(x + self.sublayer(x))


tt.manual_seed(0)
block = AddNorm(3).to(dev)
tokens = tt.randn(2, 3, device=dev)  # two positions of width 3
out = block(tokens)
print("LayerNorm(x + Sublayer(x)) =\n", out.detach().numpy().round(4))

# NumPy written out: the Linear is x W^T + b, then the LayerNorm of each row.
W, b = block.sublayer.weight.detach().numpy(), block.sublayer.bias.detach().numpy()
x_np = tokens.numpy()
s = x_np + x_np @ W.T + b
expected = (s - s.mean(-1, keepdims=True)) / np.sqrt(s.var(-1, keepdims=True) + eps)
assert np.allclose(out.detach().numpy(), expected, atol=1e-5)
# Each position leaves with mean 0 and (population) variance 1, whatever the sublayer did.
assert np.allclose(out.detach().numpy().mean(-1), 0, atol=1e-6)
assert np.allclose(out.detach().numpy().var(-1), 1, atol=1e-4)
if torch is not None:
    ref_linear = torch.nn.Linear(3, 3)
    ref_linear.load_state_dict({"weight": torch.tensor(W), "bias": torch.tensor(b)})
    t_in = torch.tensor(x_np)
    t_out = torch.nn.functional.layer_norm(t_in + ref_linear(t_in), (3,))
    assert np.allclose(out.detach().numpy(), t_out.detach().numpy(), atol=1e-5)

# %% [markdown]
# ## The residual path in the graph
#
# To the engine, `x + Sublayer(x)` is an add like any other. `visualize.draw_graph`
# ([visualize/dot.py](../visualize/dot.py)) finds it in the graph, an add of x and something
# computed from x inside one module ([visualize/residual.py](../visualize/residual.py)), and draws
# it purple, its two inputs labelled `skip` (x itself) and `sublayer` (the Linear's output). After
# `visualize.trace_backward` every arrow carries the gradient flowing back along it. x is used
# twice, so its gradient is the sum of two messages (the chain rule):
#
#     dL/dx = dL/ds            (down the skip path, unchanged)
#           + dL/ds · W        (back through the Linear)
#
# where s = x + Sublayer(x). Even if the sublayer's part were tiny, the first term reaches x
# whole; that is why deep stacks of these blocks still train (lesson 6).

# %%
x_leaf = tt.randn(2, 3, device=dev, requires_grad=True)
s = x_leaf + block.sublayer(x_leaf)
s.retain_grad()  # keep dL/ds, an intermediate gradient, to check the sum by hand
loss = (block.norm(s) * tt.tensor([1.0, 2.0, 3.0], device=dev)).sum()  # a loss LayerNorm does not flatten
trace = visualize.trace_backward(loss)
dot = visualize.draw_graph(loss, model=block, names={"x": x_leaf, "s = x + Sublayer(x)": s, "loss": loss},
                           grads=trace, rankdir="TB")
show(dot, "10_add_and_norm_graph.svg")

g_s = s.grad.numpy()
skip_message, sublayer_message = g_s, g_s @ W
print(f"|dL/ds| = {np.linalg.norm(g_s):.4f}: the whole of it goes down the skip arrow, and down the sublayer's")
print("dL/dx            =\n", x_leaf.grad.numpy().round(4))
print("skip + sublayer  =\n", (skip_message + sublayer_message).round(4))
assert np.allclose(x_leaf.grad.numpy(), skip_message + sublayer_message, atol=1e-5)
assert np.allclose(trace[x_leaf].numpy(), x_leaf.grad.numpy())  # the picture's dL/dx is backward's
# What the picture is made of (visualize/graph.py): its arrows, each with the gradients sent along it.
arrows = visualize.build_picture([loss], model=block, grads=trace).arrows.values()
into_residual = {arrow.residual: sum(g.numpy() for g in arrow.grads.values()) for arrow in arrows if arrow.residual}
assert set(into_residual) == {"skip", "sublayer"}
assert np.allclose(into_residual["skip"], g_s) and np.allclose(into_residual["sublayer"], g_s)

# %% [markdown]
# The same picture for one whole encoder layer of the paper (post-norm, 2 heads, width 4), as
# `visualize/gallery.py` draws it for [docs/visualize.md](../docs/visualize.md): two Add & Norms,
# one after the self-attention and one after the feed-forward, each a purple residual add
# feeding a `norm` group. `depth=0` draws each sublayer as one box.

# %%
from transformer import TransformerEncoderLayer

tt.manual_seed(0)
layer = TransformerEncoderLayer(d_model=4, nhead=2, dim_feedforward=8, dropout=0.0, batch_first=True).to(dev)
src = tt.randn(1, 3, 4, device=dev, requires_grad=True)
layer_loss = ((layer(src) - tt.randn(1, 3, 4, device=dev)) ** 2).mean()
layer_dot = visualize.draw_graph(layer_loss, model=layer, names={"src": src, "loss": layer_loss},
                                 grads=visualize.trace_backward(layer_loss), depth=0, rankdir="TB")
show(layer_dot, "10_encoder_layer_graph.svg")
layer_boxes = visualize.build_picture([layer_loss], model=layer, depth=0).boxes.values()
assert sum(box.role == "residual" for box in layer_boxes) == 2  # one Add & Norm per sublayer

# %% [markdown]
# ## Exercise
#
# LayerNorm's γ (`weight`) and β (`bias`) scale and shift the normalized vector:
# y = γ · x̂ + β. Set γ = (2, 2, 2) and β = (1, 1, 1) on a `LayerNorm(3)` and normalize the
# slide's x = (1, 3, 5). Predict the answer from x̂ = (-1.2247, 0, 1.2247) before you run it.
# Then try x = (10, 30, 50) and x = (1, 3, 5) + 100: why do all three give the same output?
# (Try it yourself first; the cell below is one solution.)

# %%
exercise_norm = tt.nn.LayerNorm(3)
with tt.no_grad():
    exercise_norm.weight.copy_(tt.tensor([2.0, 2.0, 2.0]))
    exercise_norm.bias.copy_(tt.tensor([1.0, 1.0, 1.0]))
answers = [exercise_norm(tt.tensor(v, dtype=tt.float64)).detach().numpy()
           for v in ([1.0, 3.0, 5.0], [10.0, 30.0, 50.0], [101.0, 103.0, 105.0])]
print([a.round(4) for a in answers])

# %% [markdown]
# ### Check

# %%
predicted = [2 * v + 1 for v in by_hand]  # γ x̂ + β with the x̂ we computed by hand
assert np.allclose(answers[0], predicted, atol=1e-5), answers[0]
# Scaling x by 10 or shifting it by 100 changes neither x̂ (up to ε), so neither the output.
assert np.allclose(answers[1], answers[0], atol=1e-5) and np.allclose(answers[2], answers[0], atol=1e-5)
print("correct: y = 2 x̂ + 1 =", np.round(predicted, 4), "for all three")
