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
# We measure two of them here: the gradient reaching each time step (时间步) of a small RNN,
# and the gradient reaching each layer of a 24-layer stack with and without residual
# connections ([visualize/gradient_flow.py](../visualize/gradient_flow.py)). The third, slow,
# is measured in lesson 16: 30 sequential steps against one attention product. Where the
# layer normalization goes around the residual add, post-norm or pre-norm, is lesson 10's.

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

import tinytensor as tt
from lesson_tools import checks, device, exercise, show

dev = device()
print("device:", dev)


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

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("the seed's 0.1, 0.09, 0.081 = 0.1 × 0.9ⁿ") as check:
    check.equal("rounded", [round(e, 3) for e in relayed], [0.1, 0.09, 0.081])
    check.close("0.1 × 0.9²", relayed[2], 0.1 * 0.9 ** 2, rtol=1e-15)

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
    Wx, Wh, bh, x = (t.detach().cpu().numpy().astype(np.float64) for t in (W_xh, W_hh, b_h, xs))
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
factor = (rnn_norms[0] / rnn_norms[-1]) ** (1 / (T - 1))   # the average shrink per step
for t in (30, 25, 20, 15, 10, 5, 1):
    print(f"step {t:2d}: ||dL/dh_t|| = {rnn_norms[t - 1]:.3e}")
print(f"kept per step on average: {factor:.3f} (the seed's game keeps 0.9)")

# %% tags=["check"] jupyter={"source_hidden": true}
reference, acts = bptt_numpy()
sigma_max = np.linalg.norm(W_hh.detach().cpu().numpy().astype(np.float64), 2)
with checks("the 30 norms against BPTT in NumPy, each step within Pascanu's bound, step 1 under 1e-9 of step 30") as check:
    check.close("||dL/dh_t||", rnn_norms, reference, rtol=1e-4)
    for t in range(1, T):
        check.true(f"step {t}: at most max(1 - h²) σ_max(W_hh) of step {t + 1}",
                   rnn_norms[t - 1] <= rnn_norms[t] * np.max(1 - acts[t] ** 2) * sigma_max * (1 + 1e-5))
    check.true("less than 0.9 kept per step", factor < 0.9)
    check.true("step 1 gets under a billionth", rnn_norms[0] / rnn_norms[-1] < 1e-9)

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
    h = tt.randn(batch, width).numpy().astype(np.float64)   # made on the CPU
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

# %%
show(plot_norms([("plain:  h = tanh(hW + b)", plain), ("residual:  h = h + tanh(hW + b)", residual)],
                f"Gradient reaching each of {depth} layers of Linear + tanh",
                "layer (1 = nearest the input)"),
     "06_gradient_flow.png")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("both stacks' 24 norms against NumPy and visualize.gradient_flow; plain vanishes, residual does not") as check:
    for ours, flag in ((plain, False), (residual, True)):
        check.close(f"residual={flag} against NumPy", ours, stack_numpy(flag), rtol=1e-4)
        check.close(f"residual={flag} against layer_gradient_norms", ours, layer_gradient_norms(weights, flag), rtol=1e-4)
    check.true("plain: layer 1 gets under 1e-4 of layer 24", plain[0] / plain[-1] < 1e-4)
    check.true("residual: layer 1 gets the most, layer 24 over 0.1", residual[0] >= residual[-1] > 0.1)
    check.true("residual layer 1 gets 1e5 times plain's", residual[0] / plain[0] > 1e5)

# %% [markdown]
# `visualize.plot_gradient_flow("flow.png")` draws this picture for the docs, from the same
# `layer_gradient_norms` we just matched. Every Add & Norm of the Transformer is such a skip
# (lesson 10), which is why its stacks of 6 (or 96) layers still train.
#
# ## Exercise
#
# Give the RNN a skip path, as the deep stack got one: h_t = h_{t-1} + tanh(x_t W_xh + h_{t-1}
# W_hh + b). Write the step as `residual_rnn_step(h, x)` (you can call `rnn_step`); the check
# runs `step_gradient_norms` on it and compares with backpropagation through time in NumPy.
# Then look at the numbers: does the gradient still vanish, or does it now grow on its way
# back, the exploding gradient (梯度爆炸) of seed 002's "梯度消失-爆炸"?

# %% tags=["exercise"]
residual_rnn_step = ...  # your answer: def residual_rnn_step(h, x): return the next h

# %% tags=["check"]
exercise(globals(), "06_residual_connections", "residual_rnn")

# %% [markdown]
# **The answer.** It no longer vanishes: it explodes, mildly. The error that reaches step 1 is
# about 11 times what step 30 got (about 1.09 times more at every step back). Backward through
# one step is now dL/dh_{t-1} = dL/dh_t (I + diag(1 - a_t²) W_hh): the identity, the skip's,
# passes the whole gradient on, and the tanh branch adds its part on top, and along the
# directions where W_hh pushes the same way, each step adds a little. Over 30 steps "a little"
# compounds. Which of the two a chain of products does, vanish or explode, depends only on
# whether its factors are below or above 1, which is why seed 002 names them together.
#
# The Transformer has both remedies at once: every sublayer sits on a skip, and each Add &
# Norm's LayerNorm (lesson 10) rescales the sum, so nothing compounds from layer to layer; and
# its depth is a handful of layers, not one step per word.
