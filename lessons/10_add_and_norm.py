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
# standard deviation 1 over its features, then scaled and shifted by two learned vectors γ and β.
#
# Seed 001's slide works one example, x = (1, 3, 5). We do it by hand, with `tt.nn.LayerNorm`
# ([tinytensor/nn/normalization.py](../tinytensor/nn/normalization.py), the arithmetic and its
# backward in [tinytensor/functional/normalization.py](../tinytensor/functional/normalization.py)),
# find the slide's slip, play with γ and β, and then ask three questions: why normalise at all,
# why over the features of one position (LayerNorm) and not over the batch (BatchNorm, 批归一化),
# and where the norm goes, after the add (post-norm) or inside the branch (pre-norm).

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

import tinytensor as tt
import visualize
from lesson_tools import checks, device, exercise, optional_torch, show, slider

torch = optional_torch()  # a second reference for the checks, when installed; never needed

dev = device()
print("device:", dev)

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

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("μ = 3, σ = sqrt(8/3) = 1.633, x̂ = (-sqrt(3/2), 0, sqrt(3/2))") as check:
    check.equal("μ", mu, 3.0)
    check.close("σ", sigma, math.sqrt(8 / 3), rtol=1e-15)
    check.close("x̂", by_hand, [-math.sqrt(3 / 2), 0, math.sqrt(3 / 2)], rtol=1e-15)

# %% [markdown]
# ## The same with `tt.nn.LayerNorm`
#
# A fresh `LayerNorm(3)` has γ = 1 and β = 0, so it only normalizes. It adds a small ε = 1e-5
# to the variance before the square root (so a constant vector does not divide by zero): its
# answer is sqrt(8/3) / sqrt(8/3 + ε) times ours, equal to 6 digits. A trap on the way:
# `x.std()` (like `torch.std`) divides by n - 1 by default, Bessel's correction, and gives 2.0
# here. LayerNorm wants `correction=0`.

# %%
norm = tt.nn.LayerNorm(3).to(dev)
x = tt.tensor(x_list, dtype=tt.float64, device=dev)
ours = norm(x).detach().cpu().numpy()
print("tt.nn.LayerNorm:", ours.round(4))
print(f"x.std() = {x.std().item()}, x.std(correction=0) = {x.std(correction=0).item():.4f}")

# %% tags=["check"] jupyter={"source_hidden": true}
eps = norm.eps
x_np = np.array(x_list)
with checks("LayerNorm against NumPy written out (and PyTorch), the hand formula to ε; the two stds") as check:
    check.close("NumPy", ours, (x_np - x_np.mean()) / np.sqrt(((x_np - x_np.mean()) ** 2).mean() + eps), atol=1e-12)
    check.close("by hand, up to ε", ours, by_hand, atol=3e-6)
    check.equal("x.std(): n - 1", x.std().item(), math.sqrt(8 / 2))
    check.close("x.std(correction=0): n", x.std(correction=0).item(), sigma, rtol=1e-15)
    if torch is not None:
        theirs = torch.nn.LayerNorm(3, dtype=torch.float64)(torch.tensor(x_list, dtype=torch.float64))
        check.close("PyTorch", ours, theirs, atol=1e-12)

# %% [markdown]
# ## The slide's slip: -1.83
#
# Seed 001's slide writes ((1-3)/1.63, (3-3)/1.63, (5-3)/1.63) = (-1.83, 0, 1.83). Its own
# quotient is -2 / 1.63 = -1.227, which rounds to -1.23: -1.83 is -1.23 with one digit
# mistyped. No arithmetic could have produced it, for any three numbers: a normalized vector
# has mean 0 and mean square 1, so its n squares sum to n, and no entry can exceed sqrt(n - 1)
# (reached when the other n - 1 are equal). For n = 3 that is 1.414 < 1.83.

# %%
print(f"the slide's quotient: -2 / 1.63 = {-2 / 1.63:.4f}; squares of (-1.83, 0, 1.83) sum to "
      f"{2 * 1.83 ** 2:.2f}, those of x̂ to {sum(v * v for v in by_hand):.0f}")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("-2/1.63 rounds to -1.23, one digit from -1.83; x̂'s squares sum to 3; |x̂| <= sqrt(2) < 1.83") as check:
    check.equal("the slide's quotient", round(-2 / 1.63, 2), -1.23)
    check.equal("one digit apart", sum(a != b for a, b in zip("-1.23", "-1.83")), 1)
    check.close("squares sum to n", sum(v * v for v in by_hand), 3.0, rtol=1e-14)
    check.true("no entry beyond sqrt(n - 1)", max(abs(v) for v in by_hand) <= math.sqrt(2) < 1.83)

# %% [markdown]
# ## γ and β: the layer can undo the normalization
#
# LayerNorm ends with y = γ x̂ + β, γ (`weight`) and β (`bias`) learned, one per feature. With
# γ = σ and β = μ it would give x back: normalizing takes nothing away that the layer cannot
# learn to restore, but it starts every position at the same scale. Below, 512 features of one
# position, drawn from N(3, 2²) (grey), and what LayerNorm makes of them (blue): whatever the
# input's mean and spread, the output's are β and γ.

# %%
features = tt.randn(512, generator=tt.Generator().manual_seed(0), dtype=tt.float64) * 2 + 3


def draw_gamma_beta(ax, gamma, beta):
    layer = tt.nn.LayerNorm(512).to(tt.float64)
    with tt.no_grad():
        layer.weight.fill_(gamma)
        layer.bias.fill_(beta)
        y = layer(features).numpy()
    bins = np.linspace(-6, 10, 65)
    ax.stairs(np.histogram(features.numpy(), bins)[0], bins, fill=True, color="#b0bec5", label="x ~ N(3, 2²)")
    ax.stairs(np.histogram(y, bins)[0], bins, fill=True, color="#1565c0", alpha=0.8,
              label=f"γ x̂ + β: mean {round(y.mean(), 2) + 0.0:.2f}, std {y.std():.2f}")
    ax.legend(fontsize=7, loc="upper right")
    ax.set_yticks([])


slider(draw_gamma_beta, name="10_gamma_beta.png", gamma=[0.5, 1.0, 2.0], beta=[-2.0, 0.0, 2.0])

# %% tags=["check"] jupyter={"source_hidden": true}
restore = tt.nn.LayerNorm(512).to(tt.float64)
with tt.no_grad():
    restore.weight.fill_(features.std(correction=0).item())
    restore.bias.fill_(features.mean().item())
with checks("γ = σ, β = μ gives x back (to ε)") as check:
    check.close("x restored", restore(features), features, atol=1e-5)

# %% [markdown]
# ## Why normalise: the residual stream grows
#
# Each Add puts a sublayer's output on top of its input. A sublayer whose correction is as
# large as its input (here a random linear map with that gain, weights N(0, 1/d)) adds a vector
# about as long as x and nearly orthogonal to it, so each add multiplies the size of x by about
# √2. Over 24 layers that is 2¹² = 4096. Three ways to stack 24 such layers, d = 64:
#
# * no norm: x ← x + F(x);
# * post-norm, the paper's: x ← LayerNorm(x + F(x)): every layer starts from size 1;
# * pre-norm: x ← x + F(LayerNorm(x)): each sublayer reads a normalized x and adds a vector of
#   size about 1, so the stream grows only like the square root of the depth.

# %%
d_stream, depth = 64, 24
gen = tt.Generator().manual_seed(1)
maps = [tt.randn(d_stream, d_stream, generator=gen, dtype=tt.float64) / math.sqrt(d_stream) for _ in range(depth)]
x0 = tt.randn(32, d_stream, generator=gen, dtype=tt.float64)   # 32 positions


def stream_sizes(kind):
    """The standard deviation of x after each of the 24 layers."""
    def layer_norm(v):
        return tt.nn.functional.layer_norm(v, (d_stream,))

    x, sizes = x0, []
    for W in maps:
        if kind == "none":
            x = x + x @ W
        elif kind == "post-norm":
            x = layer_norm(x + x @ W)
        else:
            x = x + layer_norm(x) @ W
        sizes.append(x.std(correction=0).item())
    return sizes


sizes = {kind: stream_sizes(kind) for kind in ("none", "post-norm", "pre-norm")}
for kind, s in sizes.items():
    print(f"{kind:>9}: std of x after layer 1, 12, 24: {s[0]:.2f}, {s[11]:.2f}, {s[23]:.2f}")

fig, ax = plt.subplots(figsize=(6.4, 3.8))
for kind, s in sizes.items():
    ax.semilogy(range(1, depth + 1), s, "o-", ms=3, label=kind)
ax.set(xlabel="layer", ylabel="std of x (log scale)", title="the residual stream's size, 24 layers")
ax.legend()
ax.grid(True, alpha=0.3)
show(fig, "10_stream_size.png")

# %% [markdown]
# Why the size matters: the next attention's scores q·k/√d_k are products of two projections of
# x, so they grow with the *square* of its size, and lesson 7's temperature turns cold. Random
# W_Q, W_K on the unnormalized stream after 24 layers put almost all of each row's weight on
# one key (a near-lookup whose gradient is almost 0); on the post-norm stream the weights stay
# spread.

# %%
W_Q, W_K = (tt.randn(d_stream, 16, generator=gen, dtype=tt.float64) / math.sqrt(d_stream) for _ in range(2))


def largest_weight(x):
    """The mean over rows of the largest attention weight of a row."""
    weights = tt.softmax((x @ W_Q) @ (x @ W_K).T / 4.0, -1)   # √d_k = 4
    return weights.max(-1).values.mean().item()


final = {}
for kind in ("none", "post-norm"):
    x = x0
    for W in maps:
        x = x + x @ W if kind == "none" else tt.nn.functional.layer_norm(x + x @ W, (d_stream,))
    final[kind] = largest_weight(x)
    print(f"{kind:>9}: the largest attention weight of a row, on average: {final[kind]:.3f}")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("no norm: about √2 a layer; post-norm: 1; pre-norm: about sqrt(1 + layers); the scores turn cold") as check:
    growth = (sizes["none"][-1] / sizes["none"][0]) ** (1 / 23)
    check.close("√2 a layer", growth, math.sqrt(2), rtol=0.05)
    check.close("post-norm", sizes["post-norm"], 1.0, rtol=1e-4)
    check.close("pre-norm after 24", sizes["pre-norm"][-1], math.sqrt(1 + 24), rtol=0.25)
    check.true("cold: over 0.95 on one key without a norm", final["none"] > 0.95)
    check.true("spread with post-norm: under 0.5", final["post-norm"] < 0.5)

# %% [markdown]
# ## LayerNorm, not BatchNorm
#
# BatchNorm (Ioffe and Szegedy, 2015), the norm of image networks, normalizes each *feature*
# over the batch: the mean and spread of feature j across every position of every sentence.
# LayerNorm normalizes each *position* over its own features. For sentences that makes three
# differences, shown below on a batch of two sentences of 5 and 3 tokens, padded to 5:
#
# 1. BatchNorm's output for one sentence depends on the other sentences of the batch; change
#    sentence 1 and sentence 0's numbers move. LayerNorm's do not.
# 2. The padding positions enter BatchNorm's statistics (unless masked out) and shift every
#    real token; LayerNorm never mixes positions.
# 3. Translating one sentence at a time, the decoder has a batch of one position per step: there
#    are no batch statistics to take, and BatchNorm must fall back on running averages kept
#    from training. LayerNorm computes the same thing in training and in use.
#
# This is why the Transformer, and nearly every model of text since, uses LayerNorm.

# %%
def batch_norm(x):
    """BatchNorm's training-mode arithmetic on (B, T, d): each feature over all B·T positions."""
    mean = x.mean(dim=(0, 1), keepdim=True)
    var = ((x - mean) ** 2).mean(dim=(0, 1), keepdim=True)
    return (x - mean) / (var + 1e-5).sqrt()


def layer_norm(x):
    return tt.nn.functional.layer_norm(x, (x.shape[-1],))


tt.manual_seed(2)
batch = tt.randn(2, 5, 8, dtype=tt.float64, device=dev) * 3 + 1
batch[1, 3:] = 0.0                                    # sentence 1 has 3 tokens and 2 pads
other = batch.clone()
other[1, :3] = other[1, :3] * 4                       # sentence 1 changed, sentence 0 not
for name, fn in (("BatchNorm", batch_norm), ("LayerNorm", layer_norm)):
    moved = (fn(other)[0] - fn(batch)[0]).abs().max().item()
    print(f"{name}: sentence 0's output moved by {moved:.3f} when sentence 1 changed")

fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.2))
for ax, (name, fn, over) in zip(axes, (("BatchNorm", batch_norm, "each column (feature) over the batch"),
                                       ("LayerNorm", layer_norm, "each row (position) over its features"))):
    ax.imshow(fn(batch).reshape(10, 8).cpu().numpy(), cmap="RdBu", vmin=-2.5, vmax=2.5)
    ax.axhline(4.5, color="black", lw=1)
    ax.set(title=f"{name}: {over}", xlabel="feature", ylabel="sentence 0 | sentence 1 (2 pads)")
    ax.title.set_fontsize(8)
show(fig, "10_batchnorm_layernorm.png")

# %% tags=["check"] jupyter={"source_hidden": true}
bn, ln = batch_norm(batch).cpu().numpy(), layer_norm(batch).cpu().numpy()
with checks("BatchNorm: each feature mean 0, var 1 over the batch, and batch-dependent; LayerNorm: each position, not") as check:
    check.close("BN: feature means", bn.mean(axis=(0, 1)), 0.0, atol=1e-12)
    check.close("BN: feature variances", bn.var(axis=(0, 1)), 1.0, rtol=1e-4)
    check.close("LN: position means", ln.mean(axis=-1), 0.0, atol=1e-12)
    check.close("LN: the real positions' variances", np.concatenate([ln[0], ln[1, :3]]).var(axis=-1), 1.0, rtol=1e-4)
    check.close("LN: a pad, all zeros, stays zeros", ln[1, 3:], 0.0, atol=0)
    check.true("BN: sentence 0 moves", (batch_norm(other)[0] - batch_norm(batch)[0]).abs().max().item() > 0.1)
    check.close("LN: sentence 0 does not", layer_norm(other)[0], layer_norm(batch)[0], rtol=0, atol=0)
    real = tt.cat([batch[0], batch[1, :3]])        # the 8 real tokens, without the 2 pads
    check.true("the pads shift BN's means", (batch.reshape(10, 8).mean(0) - real.mean(0)).abs().max().item() > 0.1)
    alone = batch[0].cpu().numpy()                 # a batch of one sentence: its own statistics
    check.true("a batch of one gets other numbers",
               np.abs((alone - alone.mean(0)) / np.sqrt(alone.var(0) + 1e-5) - bn[0]).max() > 0.1)

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
print("LayerNorm(x + Sublayer(x)) =\n", out.detach().cpu().numpy().round(4))

# %% tags=["check"] jupyter={"source_hidden": true}
W, b = block.sublayer.weight.detach().cpu().numpy(), block.sublayer.bias.detach().cpu().numpy()
t_np = tokens.cpu().numpy()
s_np = t_np + t_np @ W.T + b               # the Linear is x Wᵀ + b, then the LayerNorm of each row
with checks("AddNorm against NumPy (and PyTorch); each position leaves with mean 0 and variance 1") as check:
    check.close("output", out, (s_np - s_np.mean(-1, keepdims=True)) / np.sqrt(s_np.var(-1, keepdims=True) + eps),
                atol=1e-5)
    check.close("means", out.mean(-1), 0.0, atol=1e-6)
    check.close("variances", out.var(-1, correction=0), 1.0, atol=1e-4)
    if torch is not None:
        ref_linear = torch.nn.Linear(3, 3)
        ref_linear.load_state_dict({"weight": torch.tensor(W), "bias": torch.tensor(b)})
        t_in = torch.tensor(t_np)
        check.close("PyTorch", out, torch.nn.functional.layer_norm(t_in + ref_linear(t_in), (3,)), atol=1e-5)

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

g_s = s.grad.cpu().numpy()
skip_message, sublayer_message = g_s, g_s @ W
print("dL/dx            =\n", x_leaf.grad.cpu().numpy().round(4))
print("skip + sublayer  =\n", (skip_message + sublayer_message).round(4))

# %% tags=["check"] jupyter={"source_hidden": true}
# What the picture is made of (visualize/graph.py): its arrows, each with the gradients sent along it.
arrows = visualize.build_picture([loss], model=block, grads=trace).arrows.values()
into_residual = {arrow.residual: sum(g.cpu().numpy() for g in arrow.grads.values())
                 for arrow in arrows if arrow.residual}
with checks("dL/dx = skip + sublayer messages; the picture's two residual arrows carry dL/ds each") as check:
    check.close("dL/dx", x_leaf.grad, skip_message + sublayer_message, atol=1e-5)
    check.close("the picture's dL/dx is backward's", trace[x_leaf], x_leaf.grad, rtol=1e-6)
    check.equal("two residual arrows", set(into_residual), {"skip", "sublayer"})
    check.close("skip arrow", into_residual["skip"], g_s, rtol=1e-6)
    check.close("sublayer arrow", into_residual["sublayer"], g_s, rtol=1e-6)

# %% [markdown]
# The same picture for one whole encoder layer of the paper (post-norm, 2 heads, width 4), as
# `visualize/gallery.py` draws it for [docs/visualize.md](../docs/visualize.md): two Add & Norms,
# one after the self-attention and one after the feed-forward, each a purple residual add
# feeding a `norm` group. `depth=0` draws each sublayer as one box.

# %%
from transformer import TransformerEncoder, TransformerEncoderLayer

tt.manual_seed(0)
layer = TransformerEncoderLayer(d_model=4, nhead=2, dim_feedforward=8, dropout=0.0, batch_first=True).to(dev)
src = tt.randn(1, 3, 4, device=dev, requires_grad=True)
layer_loss = ((layer(src) - tt.randn(1, 3, 4, device=dev)) ** 2).mean()
layer_dot = visualize.draw_graph(layer_loss, model=layer, names={"src": src, "loss": layer_loss},
                                 grads=visualize.trace_backward(layer_loss), depth=0, rankdir="TB")
show(layer_dot, "10_encoder_layer_graph.svg")

# %% tags=["check"] jupyter={"source_hidden": true}
layer_boxes = visualize.build_picture([layer_loss], model=layer, depth=0).boxes.values()
with checks("one residual add per sublayer of the encoder layer") as check:
    check.equal("residual adds", sum(box.role == "residual" for box in layer_boxes), 2)

# %% [markdown]
# ## Where the norm goes: post-norm against pre-norm
#
# The paper puts the layer normalization after the add, LayerNorm(x + Sublayer(x)) (§3.1,
# seed 003's "LayerNorm(X + MultiHeadAttention(X))"): *post-norm*, PyTorch's default. *Pre-norm*,
# x + Sublayer(LayerNorm(x)) (`norm_first=True`, Xiong et al., 2020), moves it into the branch,
# so the path from the loss to every layer is residual adds only (and the stream grows, as we
# saw, so a pre-norm stack ends with one more LayerNorm). We build 24 encoder layers of each
# kind exactly as `visualize.norm_placement.encoder_gradient_norms` does (d_model 32, 4 heads,
# squared error against a random target), in float64, and take the norm of the gradient of
# each layer's parameters.
#
# The check measures two of those norms independently, by a central difference along the
# gradient itself: moving a layer's parameters by ±ε g/||g|| changes the loss by ±ε ||g|| to
# first order, so (L(θ + εu) - L(θ - εu)) / 2ε with u = g/||g|| is ||g|| from two forward passes.

# %%
n_layers, d_model = 24, 32


def build_encoder(norm_first):
    tt.manual_seed(0)
    layer = TransformerEncoderLayer(d_model, 4, dim_feedforward=4 * d_model, dropout=0.0,
                                    batch_first=True, norm_first=norm_first)
    final_norm = tt.nn.LayerNorm(d_model) if norm_first else None   # pre-norm models end with one
    return TransformerEncoder(layer, n_layers, norm=final_norm).to(dev, tt.float64)


tt.manual_seed(1)
x_in, target = (tt.randn(8, 16, d_model).to(dev, tt.float64) for _ in range(2))


def loss_of(encoder):
    return ((encoder(x_in) - target) ** 2).mean()


def layer_norms(encoder):
    """||dL/dθ|| over all the parameters θ of each layer, first layer first."""
    loss_of(encoder).backward()
    return [math.sqrt(sum(p.grad.norm().item() ** 2 for p in layer.parameters()))
            for layer in encoder.layers]


encoders = {norm_first: build_encoder(norm_first) for norm_first in (False, True)}
post, pre = (layer_norms(encoders[norm_first]) for norm_first in (False, True))
print(f"post-norm: layer 1 {post[0]:.3f}, layer 24 {post[-1]:.3f}")
print(f"pre-norm:  layer 1 {pre[0]:.3f}, layer 24 {pre[-1]:.3f}")

fig, ax = plt.subplots(figsize=(7.5, 4.2))
for (label, norms), colour in zip([("post-norm:  x = LayerNorm(x + Sublayer(x))", post),
                                   ("pre-norm:  x = x + Sublayer(LayerNorm(x))", pre)], ("#c62828", "#2e7d32")):
    ax.semilogy(range(1, n_layers + 1), norms, "o-", color=colour, markersize=4, label=label)
ax.set(title=f"Gradient reaching each of {n_layers} Transformer encoder layers, at initialization",
       xlabel="encoder layer (1 = nearest the input)", ylabel="gradient norm (log scale)")
ax.grid(True, alpha=0.3)
ax.legend()
show(fig, "10_norm_placement.png")

# %% tags=["check"] jupyter={"source_hidden": true}
def directional_derivative(encoder, layer, eps=1e-6):
    """(L(θ + εu) - L(θ - εu)) / 2ε with u = g/||g|| over the layer's parameters: ||g||.

    ε is small because the feed-forward's ReLUs have kinks: a step of 1e-4 already moves some
    of their inputs across 0, where the loss is not smooth."""
    params = list(layer.parameters())
    g_norm = math.sqrt(sum(p.grad.norm().item() ** 2 for p in params))
    steps = [p.grad * (eps / g_norm) for p in params]
    with tt.no_grad():
        for p, step in zip(params, steps):
            p.add_(step)
        up = loss_of(encoder).item()
        for p, step in zip(params, steps):
            p.sub_(2 * step)
        down = loss_of(encoder).item()
        for p, step in zip(params, steps):
            p.add_(step)
    return (up - down) / (2 * eps)


with checks("two layers' norms of each stack by central differences (and all 48 by PyTorch); where each is largest") as check:
    for norm_first, norms in ((False, post), (True, pre)):
        for i in (0, n_layers - 1):
            measured = directional_derivative(encoders[norm_first], encoders[norm_first].layers[i])
            check.close(f"norm_first={norm_first}, layer {i + 1}", norms[i], measured, rtol=1e-6)
    check.true("post-norm: largest at the top, 1.5 times any other", post[-1] > 1.5 * max(post[:-1]))
    check.true("post-norm: within a factor 2 below the top", max(post[:-1]) / min(post[:-1]) < 2)
    check.true("pre-norm: largest at the bottom", pre[0] == max(pre) and pre[0] / pre[-1] > 1.5)
    check.true("neither vanishes", min(post + pre) / max(post + pre) > 0.1)
    if torch is not None:
        for norm_first, norms in ((False, post), (True, pre)):
            theirs = torch.nn.TransformerEncoder(
                torch.nn.TransformerEncoderLayer(d_model, 4, 4 * d_model, dropout=0.0, batch_first=True,
                                                 norm_first=norm_first),
                n_layers, norm=torch.nn.LayerNorm(d_model) if norm_first else None,
                enable_nested_tensor=False).double()
            state = encoders[norm_first].state_dict()
            theirs.load_state_dict({k: torch.tensor(v.cpu().numpy()) for k, v in state.items()})
            ((theirs(torch.tensor(x_in.cpu().numpy())) - torch.tensor(target.cpu().numpy())) ** 2).mean().backward()
            check.close(f"PyTorch, norm_first={norm_first}", norms,
                        [math.sqrt(sum(p.grad.norm().item() ** 2 for p in layer.parameters())) for layer in theirs.layers],
                        rtol=1e-8)

# %% [markdown]
# Neither stack vanishes (lesson 6's plain stack did): every layer has its skip path. What
# differs is where the gradient is largest. In post-norm every Add & Norm puts a LayerNorm on
# the main path, which rescales the gradient on its way down; the top layer, whose LayerNorm
# sits right at the loss, gets about twice what any other layer gets. A gradient largest next
# to the output is why post-norm Transformers need a learning-rate warm-up (Xiong et al., 2020;
# lesson 13 plots the schedule). In pre-norm nothing on the main path rescales the gradient, and
# each sublayer above a layer adds a path of its own, so the lowest layer, with the most paths,
# gets the most.
#
# ## Exercise
#
# Make a `LayerNorm(3)` called `scaled_norm` with γ = (2, 2, 2) and β = (1, 1, 1) (set its
# `weight` and `bias` under `tt.no_grad()`), and before running it write down, in
# `predicted`, what it will give for the slide's x = (1, 3, 5): a list of three numbers from
# x̂ = (-1.2247, 0, 1.2247). The check then feeds it (1, 3, 5), (10, 30, 50) and
# (101, 103, 105): why do all three give the same output?

# %% tags=["exercise"]
scaled_norm = ...  # your answer: a tt.nn.LayerNorm(3) with γ = 2 and β = 1
predicted = ...    # your answer: its output for x = (1, 3, 5), as a list of 3 numbers

# %% tags=["check"]
exercise(globals(), "10_add_and_norm", "gamma_beta")
