# %% [markdown]
# # Lesson 6: Why RNNs struggled and residual connections help
#
# Seed 000's first slides list what held recurrent networks (循环神经网络, RNN) back: *slow to
# train, short memory, vanishing gradient* (梯度消失). Slow, because step t needs the hidden
# state of step t - 1, so the steps of a sentence cannot run in parallel ("Attention Is All You
# Need", §1). Short memory and vanishing gradients are one problem seen from two sides: in
# backpropagation (反向传播) the error signal that reaches an early word has been multiplied by
# one factor per step, and if the factors are below 1 almost nothing arrives (Bengio et al.,
# 1994). Seed 002 tells it as a telephone game (传话游戏) and explains the Transformer's answer,
# the residual connection (残差连接) of every Add & Norm: "缓解梯度消失问题，保留原始信息".
#
# We measure all three: the gradient reaching each time step (时间步) of a small RNN, the
# gradient reaching each layer of a 24-layer stack with and without residual connections
# ([visualize/gradient_flow.py](../visualize/gradient_flow.py)), and where the layer
# normalization (层归一化) sits in a Transformer encoder, post-norm against pre-norm
# ([visualize/norm_placement.py](../visualize/norm_placement.py),
# [transformer/layer.py](../transformer/layer.py)).

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

import tinytensor as tt
from lesson_tools import device, optional_torch, show

torch = optional_torch()

dev = device()
print("device:", dev, "| torch:", torch.__version__ if torch else "not installed")


def plot_norms(curves, title, xlabel):
    """One line per (label, norms) pair, gradient norm on a log scale against the step or layer;
    the first curve red (the troubled one), the second green."""
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for (label, norms), colour in zip(curves, ("#c62828", "#2e7d32")):
        ax.semilogy(range(1, len(norms) + 1), norms, "o-", color=colour, markersize=4, label=label)
    ax.set(title=title, xlabel=xlabel, ylabel="gradient norm (log scale)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return fig


# %% [markdown]
# ## The telephone game of seed 002
#
# Seed 002 (关键原因：RNN的"记忆链条"太长) sends the error of the last word, 苹果, back along
# "我 昨天 吃了 一个 苹果": the fourth person passes on 0.1, the third 0.1 × 0.9 = 0.09, the
# second 0.09 × 0.9 = 0.081. Each relay keeps 90 %, so after n relays 0.1 × 0.9ⁿ is left.

# %%
relayed = [0.1]
for _ in range(2):
    relayed.append(relayed[-1] * 0.9)
print("relayed errors:", [round(e, 3) for e in relayed])

assert [round(e, 3) for e in relayed] == [0.1, 0.09, 0.081]
assert math.isclose(relayed[2], 0.1 * 0.9 ** 2)

# %% [markdown]
# ## An RNN unrolled over 30 steps
#
# The simplest RNN cell: h_t = tanh(x_t W_xh + h_{t-1} W_hh + b), 16 hidden units, weights
# uniform in ±1/sqrt(16) (as `nn.Linear` draws a 16-input layer's), 30 random input vectors for 30
# words, and the loss L = sum(h_30), a stand-in for the error at the last word. `retain_grad()`
# keeps dL/dh_t at every step, so we can see how much of the error reaches each one.
#
# Backward through one step is dL/dh_{t-1} = (dL/dh_t ⊙ (1 - h_t²)) W_hhᵀ: a tanh derivative,
# at most 1, and the same matrix at every step. So one step multiplies the gradient's norm by
# at most max(1 - h_t²) · σ_max(W_hh), with σ_max the largest singular value (Pascanu et al.,
# 2013), and in practice by much less. We check that bound at every step, and the gradients
# against backpropagation through time (BPTT) written out in NumPy.

# %%
H, D, T = 16, 8, 30
tt.manual_seed(0)
bound = 1 / math.sqrt(H)
W_xh, W_hh, b_h = (((tt.rand(*shape) * 2 - 1) * bound).to(dev) for shape in ((D, H), (H, H), (H,)))
W_hh.requires_grad_()   # a parameter, so every h_t is in the graph and can retain its gradient
xs = tt.randn(T, D).to(dev)


def rnn_step(h, x):
    return (x @ W_xh + h @ W_hh + b_h).tanh()


def step_gradient_norms(step):
    """||dL/dh_t|| for t = 1..T, for L = sum(h_T), h_t = step(h_{t-1}, x_t), h_0 = 0."""
    h, states = tt.zeros(H, device=dev), []
    for t in range(T):
        h = step(h, xs[t])
        h.retain_grad()
        states.append(h)
    h.sum().backward()
    return [state.grad.norm().item() for state in states]


def bptt_numpy(skip=False):
    """The same in NumPy: the forward, then backpropagation through time by hand.

    With ``skip`` the cell is h_t = h_{t-1} + tanh(...), whose backward adds dL/dh_t itself."""
    Wx, Wh, bh, x = (t.detach().numpy().astype(np.float64) for t in (W_xh, W_hh, b_h, xs))
    h, acts = np.zeros(H), []
    for t in range(T):
        a = np.tanh(x[t] @ Wx + h @ Wh + bh)
        h = h + a if skip else a
        acts.append(a)
    g, norms = np.ones(H), [math.sqrt(H)]   # dL/dh_T = (1, ..., 1) for L = sum(h_T)
    for t in range(T - 1, 0, -1):
        g = (g * (1 - acts[t] ** 2)) @ Wh.T + (g if skip else 0)
        norms.append(np.linalg.norm(g))
    return norms[::-1], acts


rnn_norms = step_gradient_norms(rnn_step)
reference, acts = bptt_numpy()
factor = (rnn_norms[0] / rnn_norms[-1]) ** (1 / (T - 1))   # the average shrink per step
for t in (30, 25, 20, 15, 10, 5, 1):
    print(f"step {t:2d}: ||dL/dh_t|| = {rnn_norms[t - 1]:.3e}")
print(f"kept per step on average: {factor:.3f} (the seed's game keeps 0.9)")

assert np.allclose(rnn_norms, reference, rtol=1e-4, atol=0)
sigma_max = np.linalg.norm(W_hh.detach().numpy().astype(np.float64), 2)
for t in range(1, T):
    assert rnn_norms[t - 1] <= rnn_norms[t] * np.max(1 - acts[t] ** 2) * sigma_max * (1 + 1e-5)
assert math.isclose(factor, (reference[0] / reference[-1]) ** (1 / (T - 1)), rel_tol=1e-4)
assert factor < 0.9 and rnn_norms[0] / rnn_norms[-1] < 1e-9

# %% [markdown]
# The first word receives less than a billionth of what the last one does: each step keeps
# less than half. Gradient descent cannot learn from step 1 that step 30 needed it: that is the
# RNN's short memory. LSTMs (长短期记忆网络) give the memory a gated "绿色通道" of its own
# (seed 002); the Transformer avoids the chain altogether, since attention links every word to
# every other in one step.

# %%
show(plot_norms([("plain RNN: h_t = tanh(x_t W_xh + h_{t-1} W_hh + b)", rnn_norms)],
                "The error of step 30, reaching each earlier step", "time step t"),
     "06_rnn_steps.png")

# %% [markdown]
# ## Depth is the same problem: 24 layers of Linear + tanh
#
# A deep stack, h = tanh(h W + b) 24 times, is an RNN unrolled over layers instead of time
# (with a different W at each layer): backward multiplies by one Wᵀ and one tanh' per layer.
# The weights are `visualize.gradient_flow.make_weights(24, 32)`, drawn as `nn.Linear` draws
# them, so the numbers are docs/visualize.md's. The residual version is
# h = h + tanh(h W + b), with the very same weights, written just so, `h + out`: the graph
# pictures find the skip path themselves, an add of h and something computed from h
# ([visualize/residual.py](../visualize/residual.py)). Backward through h' = h + tanh(h W + b)
# is dL/dh = dL/dh' + (dL/dh' ⊙ tanh'(h W + b)) Wᵀ: the first term, the skip's, hands every
# layer the gradient that arrived from above, unchanged. NumPy written out is the reference.

# %%
from visualize.gradient_flow import layer_gradient_norms, make_weights

depth, width, batch = 24, 32, 16
weights = make_weights(depth, width)


def stack_gradient_norms(residual):
    """||dL/dW|| of each layer, first layer first, for L = mean(h) at the top."""
    tt.manual_seed(0)
    h = tt.randn(batch, width).to(dev)
    params = [(w.to(dev).detach().requires_grad_(), b.to(dev).detach().requires_grad_())
              for w, b in weights]           # fresh leaves: each stack gets gradients of its own
    for w, b in params:
        out = (h @ w + b).tanh()
        h = h + out if residual else out
    h.mean().backward()
    return [w.grad.norm().item() for w, _ in params]


def stack_numpy(residual):
    """The same norms in NumPy: the forward, then the backward of each layer by hand."""
    tt.manual_seed(0)
    h = tt.randn(batch, width).numpy().astype(np.float64)
    layers = []
    for w, b in weights:
        w, b = w.numpy().astype(np.float64), b.numpy().astype(np.float64)
        a = np.tanh(h @ w + b)
        layers.append((w, h, a))
        h = h + a if residual else a
    g, norms = np.full(h.shape, 1 / h.size), []   # dL/dh for L = mean(h)
    for w, h_in, a in reversed(layers):
        g_pre = g * (1 - a ** 2)                  # back through tanh
        norms.append(np.linalg.norm(h_in.T @ g_pre))
        g = g_pre @ w.T + (g if residual else 0)  # back through the Linear, plus the skip
    return norms[::-1]


plain, residual = stack_gradient_norms(False), stack_gradient_norms(True)
print(f"plain:    layer 1 {plain[0]:.2e}, layer 24 {plain[-1]:.2e}, ratio {plain[0] / plain[-1]:.1e}")
print(f"residual: layer 1 {residual[0]:.2f},     layer 24 {residual[-1]:.2f},     "
      f"ratio {residual[0] / residual[-1]:.2f}")

for ours, flag in ((plain, False), (residual, True)):
    assert np.allclose(ours, stack_numpy(flag), rtol=1e-4, atol=0)
    assert np.allclose(ours, layer_gradient_norms(weights, flag), rtol=1e-4, atol=0)
assert plain[0] / plain[-1] < 1e-4                # vanished: 1/165,000 of the top layer's
assert residual[0] >= residual[-1] > 0.1          # with the skips, layer 1 gets the most
assert residual[0] / plain[0] > 1e5

# %%
show(plot_norms([("plain:  h = tanh(hW + b)", plain), ("residual:  h = h + tanh(hW + b)", residual)],
                f"Gradient reaching each of {depth} layers of Linear + tanh",
                "layer (1 = nearest the input)"),
     "06_gradient_flow.png")

# %% [markdown]
# `visualize.plot_gradient_flow("flow.png")` draws this picture for the docs, from the same
# `layer_gradient_norms` we just matched.
#
# ## Where the norm goes: post-norm against pre-norm
#
# The paper puts the layer normalization after the add, LayerNorm(x + Sublayer(x)) (§3.1,
# seed 003's "LayerNorm(X + MultiHeadAttention(X))"): *post-norm*, PyTorch's default. *Pre-norm*,
# x + Sublayer(LayerNorm(x)) (`norm_first=True`, Xiong et al., 2020), moves it into the branch,
# so the path from the loss to every layer is residual adds only. We build 24 encoder layers of
# each kind exactly as `visualize.norm_placement.encoder_gradient_norms` does (d_model 32, 4
# heads, squared error against a random target), in float64, and take the norm of the gradient
# of each layer's parameters.
#
# The independent check is a central difference along the gradient itself: moving a layer's
# parameters by ±ε g/||g|| changes the loss by ±ε ||g|| to first order, so
# (L(θ + εu) - L(θ - εu)) / 2ε with u = g/||g|| measures ||g|| from two forward passes.

# %%
from transformer import TransformerEncoder, TransformerEncoderLayer

n_layers, d_model = 24, 32


def build_encoder(norm_first):
    tt.manual_seed(0)
    layer = TransformerEncoderLayer(d_model, 4, dim_feedforward=4 * d_model, dropout=0.0,
                                    batch_first=True, norm_first=norm_first)
    final_norm = tt.nn.LayerNorm(d_model) if norm_first else None   # pre-norm models end with one
    return TransformerEncoder(layer, n_layers, norm=final_norm).to(dev, tt.float64)


tt.manual_seed(1)
x, target = (tt.randn(8, 16, d_model).to(dev, tt.float64) for _ in range(2))


def loss_of(encoder):
    return ((encoder(x) - target) ** 2).mean()


def layer_norms(encoder):
    """||dL/dθ|| over all the parameters θ of each layer, first layer first."""
    loss_of(encoder).backward()
    return [math.sqrt(sum(p.grad.norm().item() ** 2 for p in layer.parameters()))
            for layer in encoder.layers]


def directional_derivative(encoder, layer, eps=1e-6):
    """(L(θ + εu) - L(θ - εu)) / 2ε with u = g/||g|| over the layer's parameters: ||g||.

    ε is small because the feed-forward's ReLUs have kinks: a step of 1e-4 already moves some
    of their inputs across 0, where the loss is not smooth."""
    params = list(layer.parameters())
    g_norm = math.sqrt(sum(p.grad.norm().item() ** 2 for p in params))
    steps = [p.grad * (eps / g_norm) for p in params]
    with tt.no_grad():
        for p, s in zip(params, steps):
            p.add_(s)
        up = loss_of(encoder).item()
        for p, s in zip(params, steps):
            p.sub_(2 * s)
        down = loss_of(encoder).item()
        for p, s in zip(params, steps):
            p.add_(s)
    return (up - down) / (2 * eps)


encoders = {norm_first: build_encoder(norm_first) for norm_first in (False, True)}
post, pre = (layer_norms(encoders[norm_first]) for norm_first in (False, True))
print(f"post-norm: layer 1 {post[0]:.3f}, layer 24 {post[-1]:.3f}")
print(f"pre-norm:  layer 1 {pre[0]:.3f}, layer 24 {pre[-1]:.3f}")

for norm_first, norms in ((False, post), (True, pre)):
    for i in (0, n_layers - 1):
        measured = directional_derivative(encoders[norm_first], encoders[norm_first].layers[i])
        assert math.isclose(norms[i], measured, rel_tol=1e-6), (norm_first, i, norms[i], measured)
assert post[-1] > 1.5 * max(post[:-1])           # post-norm: largest at the top, next to the loss,
assert max(post[:-1]) / min(post[:-1]) < 2       # and within a factor 2 below it
assert pre[0] == max(pre) and pre[0] / pre[-1] > 1.5   # pre-norm: largest at the bottom
assert min(post + pre) / max(post + pre) > 0.1   # neither vanishes: both have skip paths

if torch is not None:
    for norm_first, norms in ((False, post), (True, pre)):
        theirs = torch.nn.TransformerEncoder(
            torch.nn.TransformerEncoderLayer(d_model, 4, 4 * d_model, dropout=0.0, batch_first=True,
                                             norm_first=norm_first),
            n_layers, norm=torch.nn.LayerNorm(d_model) if norm_first else None,
            enable_nested_tensor=False).double()
        state = encoders[norm_first].state_dict()
        theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in state.items()})
        x_t, target_t = torch.tensor(x.numpy()), torch.tensor(target.numpy())
        ((theirs(x_t) - target_t) ** 2).mean().backward()
        torch_norms = [math.sqrt(sum(p.grad.norm().item() ** 2 for p in layer.parameters()))
                       for layer in theirs.layers]
        assert np.allclose(norms, torch_norms, rtol=1e-8, atol=0)
    print("PyTorch's TransformerEncoder with the same weights: the same 48 norms")

# %%
show(plot_norms([("post-norm:  x = LayerNorm(x + Sublayer(x))", post),
                 ("pre-norm:  x = x + Sublayer(LayerNorm(x))", pre)],
                f"Gradient reaching each of {n_layers} Transformer encoder layers, at initialization",
                "encoder layer (1 = nearest the input)"),
     "06_norm_placement.png")

# %% [markdown]
# Neither stack vanishes, unlike the plain one: every layer has its skip path. What differs is
# where the gradient is largest. In post-norm every Add & Norm puts a LayerNorm on the main
# path, which rescales the gradient on its way down; the top layer, whose LayerNorm sits right
# at the loss, gets about twice what any other layer gets. A gradient largest next to the output is why
# post-norm Transformers need a learning-rate warm-up (Xiong et al., 2020). In pre-norm nothing
# on the main path rescales the gradient, and each sublayer above a layer adds a path of its
# own, so the lowest layer, with the most paths, gets the most.
#
# ## Exercise
#
# Give the RNN a skip path, as the deep stack got one: h_t = h_{t-1} + tanh(x_t W_xh + h_{t-1}
# W_hh + b). How much of the error reaches step 1 now? Write `residual_norms` (try it yourself
# before reading the solution below). Then look at the numbers: does the gradient still
# vanish, or does it now grow on its way back, the exploding gradient (梯度爆炸) of seed 002's
# "梯度消失-爆炸"?

# %%
def residual_rnn_step(h, x):
    return h + rnn_step(h, x)


residual_norms = step_gradient_norms(residual_rnn_step)
print(f"with a skip: step 1 gets {residual_norms[0]:.2f}, step 30 {residual_norms[-1]:.2f}")

# %% [markdown]
# ### Check

# %%
assert np.allclose(residual_norms, bptt_numpy(skip=True)[0], rtol=1e-4, atol=0)
assert residual_norms[0] / residual_norms[-1] > 0.1, "step 1 still gets (almost) nothing"
print("correct: the skip path carries the error back to the first word")
