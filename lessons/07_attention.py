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

# %%
import math

import numpy as np

import tinytensor as tt
import visualize
from lesson_tools import device, optional_torch, show
from transformer import attention_reference, scaled_dot_product_attention

torch = optional_torch()

dev = device()
print("device:", dev, "| torch:", torch.__version__ if torch else "not installed")

# %% [markdown]
# ## A pool of four (key, value) pairs
#
# Keys in d = 2 dimensions, one number as each value, and the query q = (1, 2). The dot
# products are qᵀk = (1, 2, 3, -1): the query is most like k_3 = (1, 1). We do the slide's
# formula by hand with `math`, then with tinytensor's `softmax`, then with the Transformer's
# `scaled_dot_product_attention`.

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
print("weights:", weights.numpy().round(4), " sum:", round(weights.sum().item(), 6))
print(f"retrieved value: {answer.item():.4f}")

assert np.allclose(weights.numpy()[0], hand_weights, rtol=1e-6)
assert math.isclose(answer.item(), hand_answer, rel_tol=1e-6)
assert math.isclose(weights.sum().item(), 1.0, rel_tol=1e-6)
assert int(weights.numpy().argmax()) == 2           # the key most like the query weighs most
out, w = scaled_dot_product_attention(q_pool, K_pool, V_pool)
assert np.allclose(out.numpy(), answer.numpy(), rtol=1e-6)
assert np.allclose(w.numpy(), weights.numpy(), rtol=1e-6)

# %% [markdown]
# The answer, 24.87, is mostly v_3 = 30 (weight 0.557), some v_2 = 20 (0.275), a little of the
# others: a blend, not a lookup. Every key keeps a weight above 0, which is what lets a gradient
# reach every key and value.
#
# ## Why divide by √d_k
#
# If the entries of q and k are independent with mean 0 and variance 1, qᵀk is a sum of d_k
# such products: mean 0, variance d_k (§3.2.1, footnote 4). In the paper's d_k = 64 the scores
# would spread ±8 and the softmax would put almost all its weight on one key, where its
# gradient is almost 0. Seed 004 divides "为了防止内积过大" (so that the dot products do not
# grow too large). Dividing by √d_k brings the spread back to 1, for every width.

# %%
tt.manual_seed(0)
d_k = 64
qs, ks = tt.randn(10000, d_k).to(dev), tt.randn(10000, d_k).to(dev)
dots = (qs * ks).sum(-1)
print(f"std of q·k: {dots.std().item():.2f} (√d_k = {math.sqrt(d_k):.0f}); "
      f"after / √d_k: {(dots / math.sqrt(d_k)).std().item():.3f}")
assert abs(dots.std().item() / math.sqrt(d_k) - 1) < 0.05
assert math.isclose((dots / math.sqrt(d_k)).std().item(), dots.std().item() / math.sqrt(d_k), rel_tol=1e-5)
assert np.isclose(dots.numpy().std(ddof=1), dots.std().item(), rtol=1e-5)   # NumPy's std agrees

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
# (an untrained layer); lesson 14 shows what trained ones look at.

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
print("attention weights (rows: queries, columns: keys):\n", A.numpy().round(3))
print("row sums:", A.sum(-1).numpy().round(6))

# NumPy written out, from X and the three matrices
x_np, wq, wk, wv = (t.numpy().astype(np.float64) for t in (X, W_Q, W_K, W_V))
s_np = (x_np @ wq) @ (x_np @ wk).T / math.sqrt(d_k)
a_np = np.exp(s_np - s_np.max(1, keepdims=True))
a_np /= a_np.sum(1, keepdims=True)
z_np = a_np @ (x_np @ wv)
assert np.allclose(A.numpy(), a_np, rtol=1e-5, atol=1e-7)
assert np.allclose(Z.numpy(), z_np, rtol=1e-5, atol=1e-6)
assert np.allclose(A.sum(-1).numpy(), 1.0, rtol=1e-6)
assert (A.numpy() > 0).all()
z_1 = sum(A[0, i] * V[i] for i in range(len(words)))             # seed 002's z1 = w1 v1 + ... + w4 v4
assert np.allclose(z_1.numpy(), Z[0].numpy(), rtol=1e-5, atol=1e-7)
# The Transformer's fused op (one graph node, analytic backward) and its composed reference
for fn in (scaled_dot_product_attention, attention_reference):
    out, w = fn(Q, K, V)
    assert np.allclose(out.numpy(), z_np, rtol=1e-5, atol=1e-6)
    assert np.allclose(w.numpy(), a_np, rtol=1e-5, atol=1e-7)
if torch is not None:
    q_t, k_t, v_t = (torch.tensor(t.numpy()) for t in (Q, K, V))
    z_torch = torch.nn.functional.scaled_dot_product_attention(q_t, k_t, v_t)
    assert np.allclose(Z.numpy(), z_torch.numpy(), rtol=1e-5, atol=1e-6)
    print("torch.nn.functional.scaled_dot_product_attention agrees")

# %% [markdown]
# A heat map draws the 4 × 4 weights: row i is where word i looks, dark is a large weight
# (`visualize.plot_attention`, [visualize/attention.py](../visualize/attention.py), which takes
# one (T, S) map per head: here one head).

# %%
show(visualize.plot_attention(A.unsqueeze(0), x_tokens=words, y_tokens=words,
                              title="Self-attention of 我有一只猫 (random, untrained weights)"),
     "07_self_attention.png")

# %% [markdown]
# ## Exercise
#
# A dict returns exactly one value; attention returns a blend. Make it a lookup: multiply the
# query of the pool above by a number c > 0. The weights move towards the nearest key k_3 as
# c grows (the scores are multiplied by c, and the softmax sharpens). Find the smallest whole
# number c for which the weight on k_3 is at least 0.99, and what value is then retrieved. Try
# it yourself first; the solution below searches c = 1, 2, 3, ...

# %%
def pool_weights(c):
    return tt.softmax((q_pool * c) @ K_pool.T / math.sqrt(d), -1)   # (1, m)


c = 1
while pool_weights(c)[0, 2].item() < 0.99:
    c += 1
lookup = (pool_weights(c) @ V_pool).item()
print(f"c = {c}: retrieved {lookup:.3f}, v_3 = {values[2]}")

# %% [markdown]
# ### Check

# %%
def weight_on_k3(scale):
    return retrieve_by_hand([scale * qi for qi in query])[0][2]


assert weight_on_k3(c) >= 0.99 > weight_on_k3(c - 1), f"c = {c} is not the smallest"
assert math.isclose(lookup, retrieve_by_hand([c * qi for qi in query])[1], rel_tol=1e-5)
assert abs(lookup - values[2]) < 0.5
print(f"correct: from c = {c} on, attention is (almost) a dictionary lookup")
