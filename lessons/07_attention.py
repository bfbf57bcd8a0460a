# %% [markdown]
# # Lesson 7: Attention as retrieval
#
# Seed 003's slide asks: "How to capture the most valuable information from a pool of
# candidates?" The pool is D = {(k_1, v_1), ..., (k_m, v_m)}, pairs of a key (键) and a value
# (值). A query (查询) q is compared with every key, the comparisons become weights that sum
# to 1, and the answer is the weighted sum of the values:
#
#     Attention(q, D) = Σ_i α(q, k_i) v_i,    α(q, k_i) = exp(qᵀk_i / √d) / Σ_j exp(qᵀk_j / √d)
#
# A Python dict is the hard version of this: the one value whose key equals the query. Attention
# (注意力) is the soft version, and being soft it has a gradient. Self-attention (自注意力) is
# the same retrieval where every word of a sentence is at once a query, a key and a value
# ("Attention Is All You Need", §3.2.1). The code that does it for the whole Transformer is
# [transformer/attention.py](../transformer/attention.py): read its docstring beside this lesson.
#
# Between the two we draw the oldest form of attention, the first picture of it in Dive into
# Deep Learning (d2l.ai, §11.2): Nadaraya and Watson's kernel regression of 1964, where the keys
# are numbers on a line and the answer is a smooth curve through the data.

# %%
import math

import numpy as np
from matplotlib.figure import Figure

import tinytensor as tt
import visualize
from lesson_tools import checks, device, exercise, optional_torch, show, slider
from transformer import attention_reference, scaled_dot_product_attention

torch = optional_torch()  # a second reference for the checks, when installed; never needed

dev = device()
print("device:", dev)

# %% [markdown]
# ## A pool of four (key, value) pairs
#
# Keys in d = 2 dimensions, one number as each value, and the query q = (1, 2). The dot
# products are qᵀk = (1, 2, 3, -1): the query is most like k_3 = (1, 1). We do the slide's
# formula by hand with `math`, then with tinytensor's `softmax`; the check adds the
# Transformer's `scaled_dot_product_attention`.

# %%
keys = [(1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (-1.0, 0.0)]
values = [10.0, 20.0, 30.0, 40.0]
query = (1.0, 2.0)
d = len(query)


def retrieve_by_hand(q):
    """Seed 003's formula, one number at a time: (weights, the weighted sum of the values)."""
    scores = [sum(qi * ki for qi, ki in zip(q, k)) / math.sqrt(d) for k in keys]
    exps = [math.exp(s) for s in scores]
    weights = [e / sum(exps) for e in exps]
    return weights, sum(w * v for w, v in zip(weights, values))


hand_weights, hand_answer = retrieve_by_hand(query)

q_pool = tt.tensor([query], device=dev)                    # (1, d): one query
K_pool = tt.tensor(keys, device=dev)                       # (m, d): one key per row
V_pool = tt.tensor(values, device=dev).unsqueeze(1)        # (m, 1): one value per row
weights = tt.softmax(q_pool @ K_pool.T / math.sqrt(d), -1)  # (1, m)
answer = weights @ V_pool                                  # (1, 1)
print("weights:", weights.cpu().numpy().round(4), " sum:", round(weights.sum().item(), 6))
print(f"retrieved value: {answer.item():.4f}")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("softmax and the weighted sum against the slide's formula by hand, and the Transformer's op") as check:
    check.close("weights", weights[0], hand_weights, rtol=1e-6)
    check.close("answer", answer.item(), hand_answer, rtol=1e-6)
    check.close("the weights sum to 1", weights.sum().item(), 1.0, rtol=1e-6)
    check.equal("k_3 weighs most", int(weights.cpu().numpy().argmax()), 2)
    out, w = scaled_dot_product_attention(q_pool, K_pool, V_pool)
    check.close("scaled_dot_product_attention's output", out, answer, rtol=1e-6)
    check.close("scaled_dot_product_attention's weights", w, weights, rtol=1e-6)

# %% [markdown]
# The answer, 24.87, is mostly v_3 = 30 (weight 0.557), some v_2 = 20 (0.275), a little of the
# others: a blend, not a lookup. Every key keeps a weight above 0, which is what lets a gradient
# reach every key and value.
#
# ## Softer or sharper: the temperature
#
# Multiply the query by a number c and every score is multiplied by c. That is the softmax's
# temperature (温度) τ = 1/c: softmax(s / τ). A large c (a cold softmax) puts nearly all the
# weight on the best key, a lookup; a small c (a hot one) spreads it evenly, towards the mean of
# the values. Move c and watch the four weights and what is retrieved.

# %%
def pool_answer(c):
    """(the four weights, the retrieved value) for the query c q."""
    w = tt.softmax((q_pool * c) @ K_pool.T / math.sqrt(d), -1)   # (1, m)
    return w[0].cpu().numpy(), (w @ V_pool).item()


def draw_pool(ax, c):
    w, retrieved = pool_answer(c)
    ax.bar([f"k{i + 1}\nv={v:g}" for i, v in enumerate(values)], w, color="#1565c0")
    ax.set_ylim(0, 1)
    ax.set_ylabel("weight")
    ax.text(0.03, 0.9, f"retrieved {retrieved:.2f}", transform=ax.transAxes, fontsize=9)


slider(draw_pool, name="07_temperature.png", c=[0.1, 0.5, 1.0, 2.0, 4.0, 8.0])

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("c = 1 is the pool above; c -> 0 gives the mean of the values, a large c the nearest key's") as check:
    check.close("c = 1", pool_answer(1.0)[1], hand_answer, rtol=1e-6)
    check.close("c = 1e-4: uniform weights", pool_answer(1e-4)[0], 0.25, rtol=1e-3)
    check.close("c = 1e-4: the mean", pool_answer(1e-4)[1], np.mean(values), rtol=1e-3)
    check.close("c = 50: v_3", pool_answer(50.0)[1], values[2], rtol=1e-6)

# %% [markdown]
# ## Attention as kernel regression
#
# d2l.ai (§11.2) starts attention from a regression problem: 50 noisy samples (x_i, y_i) of
# y = 2 sin x + x^0.8, and the task of predicting y at any new x. Nadaraya and Watson's answer
# (1964) is attention with numbers for keys: the query is the new x, the keys are the x_i, the
# values the y_i, and the score says how close the query is to a key:
#
#     f(q) = Σ_i α(q, x_i) y_i,    α(q, x_i) = softmax_i( -(q - x_i)² / (2 σ²) )
#
# (a Gaussian kernel, 高斯核, of width σ). Expand the square: -(q - x_i)²/2σ² = (q x_i - x_i²/2 -
# q²/2)/σ². The q² term is the same for every key, and adding one number to all the scores
# does not change a softmax, so the score is q x_i / σ² - x_i² / 2σ²: a dot product, as in the
# pool, less a penalty for large keys. The width σ is the temperature again: a narrow kernel
# follows every noisy point, a wide one flattens the curve towards the mean of all y.

# %%
rng = np.random.default_rng(0)
x_train = np.sort(rng.uniform(0, 5, 50))                                   # the keys
y_train = 2 * np.sin(x_train) + x_train ** 0.8 + rng.normal(0, 0.5, 50)    # the values
x_query = np.linspace(0, 5, 101)                                           # the queries
truth = 2 * np.sin(x_query) + x_query ** 0.8


def kernel_attention(sigma):
    """(weights (101, 50), predictions (101,)) of Nadaraya-Watson with a Gaussian of width sigma."""
    q = tt.tensor(x_query, device=dev).unsqueeze(1)                        # (101, 1)
    k = tt.tensor(x_train, device=dev).unsqueeze(0)                        # (1, 50)
    alpha = tt.softmax(-((q - k) ** 2) / (2 * sigma ** 2), -1)             # (101, 50)
    return alpha, alpha @ tt.tensor(y_train, device=dev)                   # (101,)


def draw_regression(ax, sigma):
    _, prediction = kernel_attention(sigma)
    ax.plot(x_train, y_train, "o", color="#90a4ae", ms=3, label="data (keys, values)")
    ax.plot(x_query, truth, "--", color="grey", label="2 sin x + x^0.8")
    ax.plot(x_query, prediction.cpu().numpy(), color="#c62828", label="attention's prediction")
    ax.set_ylim(-1.5, 5.5)
    ax.legend(fontsize=7, loc="lower left")


slider(draw_regression, name="07_kernel_regression.png", sigma=[0.05, 0.1, 0.2, 0.5, 1.0, 3.0])

# %% [markdown]
# The weights themselves, one row per query and one column per key, both sorted by x: a bright
# band along the diagonal. Each query looks at the keys near it, and the band's width is σ.

# %%
alpha, prediction = kernel_attention(0.5)
figure = Figure(figsize=(4.6, 4))
ax = figure.subplots()
image = ax.imshow(alpha.cpu().numpy(), aspect="auto", cmap="Blues", extent=(0.5, 50.5, x_query[-1], x_query[0]))
ax.set(xlabel="key i (the 50 training x_i, sorted)", ylabel="query x", title="attention weights, σ = 0.5")
figure.colorbar(image, ax=ax)
show(figure, "07_kernel_weights.png")

# %% tags=["check"] jupyter={"source_hidden": true}
def nadaraya_watson(sigma):
    """The same in NumPy, written out."""
    scores = -((x_query[:, None] - x_train[None, :]) ** 2) / (2 * sigma ** 2)
    a = np.exp(scores - scores.max(1, keepdims=True))
    a /= a.sum(1, keepdims=True)
    return a, a @ y_train


with checks("weights and predictions against NumPy; a narrow σ looks at the nearest key, a wide one gives the mean") as check:
    check.close("weights, σ = 0.5", alpha, nadaraya_watson(0.5)[0], rtol=1e-10, atol=1e-14)
    check.close("predictions, σ = 0.5", prediction, nadaraya_watson(0.5)[1], rtol=1e-10)
    check.close("rows sum to 1", alpha.sum(-1), 1.0, rtol=1e-12)
    nearest = np.abs(x_query[:, None] - x_train[None, :]).argmin(1)
    check.equal("σ = 0.05: each query's largest weight is its nearest key",
                kernel_attention(0.05)[0].cpu().numpy().argmax(1), nearest)
    check.close("σ = 1000: the mean of y", kernel_attention(1000.0)[1], y_train.mean(), rtol=1e-4)
    dot_form = x_query[:, None] * x_train[None, :] / 0.25 - x_train[None, :] ** 2 / (2 * 0.25)  # σ² = 0.25
    check.close("the score as q x_i/σ² - x_i²/2σ²", tt.softmax(tt.tensor(dot_form), -1), alpha, rtol=1e-8)
    check.true("σ = 0.5 follows the truth better than the mean",
               np.abs(prediction.cpu().numpy() - truth).mean() < np.abs(y_train.mean() - truth).mean())

# %% [markdown]
# ## Why divide by √d_k
#
# If the entries of q and k are independent with mean 0 and variance 1, qᵀk is a sum of d_k
# such products: mean 0, variance d_k (§3.2.1, footnote 4). In the paper's d_k = 64 the scores
# would spread ±8, a temperature far too cold: the softmax would put almost all its weight on
# one key, where its gradient is almost 0. Seed 004 divides "为了防止内积过大" (so that the dot
# products do not grow too large). Dividing by √d_k brings the spread back to 1, for every width.

# %%
tt.manual_seed(0)
d_k = 64
qs, ks = tt.randn(10000, d_k).to(dev), tt.randn(10000, d_k).to(dev)
dots = (qs * ks).sum(-1)
print(f"std of q·k: {dots.std().item():.2f} (√d_k = {math.sqrt(d_k):.0f}); "
      f"after / √d_k: {(dots / math.sqrt(d_k)).std().item():.3f}")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("the spread of q·k is √d_k to 5%, and 1 after the division; NumPy's std agrees") as check:
    check.close("std / √d_k", dots.std().item() / math.sqrt(d_k), 1.0, atol=0.05)
    check.close("std after / √d_k", (dots / math.sqrt(d_k)).std().item(), dots.std().item() / math.sqrt(d_k),
                rtol=1e-5)
    check.close("NumPy's std", dots.cpu().numpy().std(ddof=1), dots.std().item(), rtol=1e-5)

# %% [markdown]
# ## Self-attention: Q = X W_Q, K = X W_K, V = X W_V
#
# In self-attention the pool is the sentence itself. Seed 002 takes "我有一只猫" as four words,
# 我 / 有 / 一只 / 猫, each a row of X. Three learned matrices turn every row into a query, a
# key and a value (seed 004: "X, Q, K, V 的每一行都表示一个单词"):
#
#     Q = X W_Q,  K = X W_K,  V = X W_V                       (4, d_k)
#     Z = softmax(Q Kᵀ / √d_k) V                              (4, d_k)
#
# Q Kᵀ is 4 × 4: row i holds word i's query against every word's key, and the softmax runs
# along each row, so "每一行的和都变为 1". Then, in seed 002's words, z_1 = w_1 v_1 + w_2 v_2 +
# w_3 v_3 + w_4 v_4: 我's output is a blend of all four values. The weights here are random
# (an untrained layer); lesson 14 shows what a trained translator's look at.

# %%
words = ["我", "有", "一只", "猫"]
d_model, d_k = 8, 4
tt.manual_seed(3)
X = tt.randn(len(words), d_model).to(dev)                        # one row per word
W_Q, W_K, W_V = (tt.randn(d_model, d_k).to(dev) * d_model ** -0.5 for _ in range(3))

Q, K, V = X @ W_Q, X @ W_K, X @ W_V                              # (4, d_k) each
scores = Q @ K.T / math.sqrt(d_k)                                # (4, 4): query i, key j
A = tt.softmax(scores, -1)                                       # each row sums to 1
Z = A @ V                                                        # (4, d_k)
z_1 = sum(A[0, i] * V[i] for i in range(len(words)))             # seed 002's z1 = w1 v1 + ... + w4 v4
print("attention weights (rows: queries, columns: keys):\n", A.cpu().numpy().round(3))
print("row sums:", A.sum(-1).cpu().numpy().round(6))

# %% [markdown]
# A heat map draws the 4 × 4 weights: row i is where word i looks, dark is a large weight
# (`visualize.plot_attention`, [visualize/attention.py](../visualize/attention.py), which takes
# one (T, S) map per head: here one head).

# %%
show(visualize.plot_attention(A.unsqueeze(0), x_tokens=words, y_tokens=words,
                              title="Self-attention of 我有一只猫 (random, untrained weights)"),
     "07_self_attention.png")

# %% tags=["check"] jupyter={"source_hidden": true}
x_np, wq, wk, wv = (t.cpu().numpy().astype(np.float64) for t in (X, W_Q, W_K, W_V))
s_np = (x_np @ wq) @ (x_np @ wk).T / math.sqrt(d_k)   # NumPy written out, from X and the three matrices
a_np = np.exp(s_np - s_np.max(1, keepdims=True))
a_np /= a_np.sum(1, keepdims=True)
z_np = a_np @ (x_np @ wv)
with checks("A and Z against NumPy, seed 002's z_1, the Transformer's two attentions (and PyTorch's)") as check:
    check.close("A", A, a_np, rtol=1e-5, atol=1e-7)
    check.close("Z", Z, z_np, rtol=1e-5, atol=1e-6)
    check.close("rows sum to 1", A.sum(-1), 1.0, rtol=1e-6)
    check.true("every weight above 0", (A.cpu().numpy() > 0).all())
    check.close("z_1 = w_1 v_1 + ... + w_4 v_4", z_1, Z[0], rtol=1e-5, atol=1e-7)
    for fn in (scaled_dot_product_attention, attention_reference):  # the fused op and its reference
        out, w = fn(Q, K, V)
        check.close(f"{fn.__name__}'s output", out, z_np, rtol=1e-5, atol=1e-6)
        check.close(f"{fn.__name__}'s weights", w, a_np, rtol=1e-5, atol=1e-7)
    if torch is not None:
        q_t, k_t, v_t = (torch.tensor(t.cpu().numpy()) for t in (Q, K, V))
        check.close("torch's", Z, torch.nn.functional.scaled_dot_product_attention(q_t, k_t, v_t),
                    rtol=1e-5, atol=1e-6)

# %% [markdown]
# ## Exercise
#
# A dict returns exactly one value; attention returns a blend. Make it a lookup: with the pool
# above, find the smallest whole number c for which the weight on k_3 is at least 0.99 (the
# temperature slider shows the direction), and the value then retrieved. Set `c_lookup` and
# `lookup_value`; the check recomputes both by hand with `retrieve_by_hand`.

# %% tags=["exercise"]
c_lookup = ...      # your answer: the smallest whole c with weight >= 0.99 on k_3
lookup_value = ...  # your answer: the value retrieved with that c

# %% tags=["check"]
exercise(globals(), "07_attention", "lookup")
