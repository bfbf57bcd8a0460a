# %% [markdown]
# # Lesson 9: Positional encoding
#
# Attention (lesson 7) compares every word with every word, and nothing in it says which word
# came first. Seed 002: a Transformer without positions "就是一个词袋模型了", a bag-of-words
# model (词袋模型); seed 003's summary: "需要引入位置的embedding". So each word's vector gets its
# position added, the positional encoding (位置编码, "Attention Is All You Need", §3.5):
#
#     PE(pos, 2i)     = sin(pos / 10000^(2i / d_model))
#     PE(pos, 2i + 1) = cos(pos / 10000^(2i / d_model))
#
# Seeds 002 and 004 give the formula's two reasons: it works for sentences longer than any in
# the training set, and PE(pos + k) can be computed from PE(pos), because sin(A + B) = sin A cos
# B + cos A sin B and cos(A + B) = cos A cos B - sin A sin B. We check both, after seeing why
# positions are needed at all. The code is
# [transformer/embedding.py](../transformer/embedding.py).

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

import tinytensor as tt
from lesson_tools import device, show
from transformer import MultiheadAttention, PositionalEncoding, positional_encoding

dev = device()
print("device:", dev)

# %% [markdown]
# ## Without positions, word order is invisible
#
# Self-attention of "我 有 一只 猫" and of the same words in the order "猫 有 一只 我": every word
# gets the same output in both, only in a different row. Permuting the input permutes the
# output (permutation equivariance), so "我有一只猫" and "猫有一只我" look alike to the model.
# Adding PE(0), PE(1), ... to the rows, by place and not by word, breaks the tie.

# %%
d_model = 16
tt.manual_seed(4)
attention = MultiheadAttention(d_model, 2, batch_first=True).to(dev)
X = tt.randn(1, 4, d_model).to(dev)              # 我, 有, 一只, 猫
order = [3, 1, 2, 0]                             # 猫, 有, 一只, 我
X_swapped = X[:, order]


def self_attention(x):
    return attention(x, x, x)[0]


plain, swapped = self_attention(X), self_attention(X_swapped)
assert np.allclose(swapped.numpy(), plain[:, order].numpy(), atol=1e-6)   # the same outputs, moved

pe = positional_encoding(4, d_model, device=dev)
with_pe, swapped_pe = self_attention(X + pe), self_attention(X_swapped + pe)
gap = np.abs(swapped_pe.numpy() - with_pe[:, order].numpy()).max()
assert gap > 0.1                                 # the outputs now depend on where each word stands
print("without PE, 猫's output moves with it unchanged; with PE, moving 猫 changes its output")

# %% [markdown]
# ## The formula, by hand and in NumPy
#
# Each pair of dimensions (2i, 2i + 1) is a clock: the angle pos · ω_i with ω_i = 1 / 10000^(2i/d),
# read as (sin, cos). For d_model = 4 and pos = 1 the two clocks turn at ω_0 = 1 and ω_1 =
# 1 / 10000^(2/4) = 1/100, so PE(1) = (sin 1, cos 1, sin 0.01, cos 0.01).

# %%
small = positional_encoding(2, 4, dtype=tt.float64, device=dev).numpy()
print("PE(1), d_model = 4:", small[1].round(6))
assert np.allclose(small[1], [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)], rtol=0, atol=1e-12)
assert np.allclose(small[0], [0, 1, 0, 1])       # position 0: every clock at angle 0

positions = 1000
table = positional_encoding(positions, d_model, dtype=tt.float64, device=dev).numpy()   # (1000, 16)
pos = np.arange(positions)[:, None]
omega = 1 / 10000 ** (np.arange(0, d_model, 2) / d_model)                              # (8,)
by_numpy = np.empty((positions, d_model))
by_numpy[:, 0::2], by_numpy[:, 1::2] = np.sin(pos * omega), np.cos(pos * omega)
assert np.allclose(table, by_numpy, rtol=0, atol=1e-12)

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [3, 2]})
image = left.imshow(table[:100].T, aspect="auto", cmap="RdBu", vmin=-1, vmax=1)
left.set(title="PE(pos) for pos 0..99, d_model = 16", xlabel="position pos", ylabel="dimension")
fig.colorbar(image, ax=left)
for i in range(4):
    right.plot(table[:100, 2 * i], ".-", markersize=3, linewidth=0.8,   # dots: only whole positions exist
               label=f"dim {2 * i}: sin(pos · {omega[i]:.3g})")
right.set(title="the first four clocks (even dimensions)", xlabel="position pos")
right.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
fig.tight_layout()
show(fig, "09_positional_encoding.png")

# %% [markdown]
# The top rows (fast clocks) change from word to word; the bottom rows (slow ones) barely move
# in 100 words, so together they tell near positions and far ones apart.
#
# ## PE(pos + k) = M_k PE(pos)
#
# The sum formulas rotate each clock by the angle k ω_i, whatever pos is:
#
#     ( sin(ω(pos+k)) )   (  cos ωk   sin ωk ) ( sin(ω pos) )
#     ( cos(ω(pos+k)) ) = ( -sin ωk   cos ωk ) ( cos(ω pos) )
#
# So M_k is block-diagonal, one 2 × 2 rotation per clock, and depends on k only: one matrix
# moves *every* position k steps on. A layer can read "k words to the left" with one linear map
# (§3.5: "for any fixed offset k, PE_{pos+k} can be represented as a linear function of
# PE_pos"). Being a rotation, it keeps lengths: PE(pos) · PE(pos + k) = Σ_i cos(k ω_i), the same
# for every pos, so the dot products that attention takes depend on the distance only.

# %%
def rotation(k):
    """M_k: the d_model × d_model block-diagonal rotation with PE(pos + k) = M_k PE(pos)."""
    M = np.zeros((d_model, d_model))
    for i, w in enumerate(omega):
        c, s = math.cos(k * w), math.sin(k * w)
        M[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[c, s], [-s, c]]
    return M


k = 5
M = rotation(k)
moved = table[:-k] @ M.T                          # row pos: M_k PE(pos), for pos = 0..994
print(f"max |M_{k} PE(pos) - PE(pos + {k})| over 995 positions: {np.abs(moved - table[k:]).max():.1e}")
assert np.allclose(moved, table[k:], rtol=0, atol=1e-10)
assert np.allclose(M @ M.T, np.eye(d_model), atol=1e-15)        # a rotation: orthogonal ...
assert math.isclose(np.linalg.det(M), 1.0, rel_tol=1e-12)       # ... and no reflection
assert np.allclose(rotation(2) @ rotation(3), rotation(5), atol=1e-15)   # 2 steps then 3 = 5 steps

dots = (table[:-k] * table[k:]).sum(1)            # PE(pos) · PE(pos + 5) for every pos
print(f"PE(pos) · PE(pos + {k}): from {dots.min():.6f} to {dots.max():.6f}; Σ cos({k} ω_i) = "
      f"{np.cos(k * omega).sum():.6f}")
assert np.allclose(dots, np.cos(k * omega).sum(), rtol=0, atol=1e-10)

# %% [markdown]
# ## Longer than any sentence seen in training
#
# Seed 004's example: if the longest training sentence has 20 words and a sentence of 21 comes,
# the formula simply computes the 21st position. `PositionalEncoding` has no maximum length: it
# keeps a table of the positions seen so far and computes more when a longer input arrives (the
# first word is position 0, so the 21st is pos = 20). A learned table of positions (an
# `nn.Embedding` with one row per position, §3.5's alternative) has no row for a position it
# was never given: the paper chose the sinusoids because they "may allow the model to
# extrapolate to sequence lengths longer than the ones encountered during training".

# %%
encode = PositionalEncoding(d_model, dropout=0.0)
seen = encode(tt.zeros(1, 20, d_model, device=dev)).numpy()         # x = 0, so the output is PE
longer = encode(tt.zeros(1, 21, d_model, device=dev)).numpy()
word_21 = [f(20 * w) for w in omega for f in (math.sin, math.cos)]
print("PE of the 21st word:", longer[0, 20].round(4))
assert np.allclose(longer[0, :20], seen[0])       # the first 20 positions do not change
assert np.allclose(longer[0, 20], word_21, atol=1e-6)

very_long = encode(tt.zeros(1, 5000, d_model, device=dev)).numpy()
assert very_long.shape == (1, 5000, d_model) and np.abs(very_long).max() <= 1.0
assert np.allclose(very_long[0, 4999, 0::2], np.sin(4999 * omega), atol=1e-6)   # made in float64

learned = tt.nn.Embedding(20, d_model).to(dev)    # one learned row per position 0..19
try:
    learned(tt.tensor([20], device=dev))
except IndexError as error:
    print("a learned table of 20 positions:", error)
else:
    raise AssertionError("a 20-row table cannot have a row for position 20")

# %% [markdown]
# ## Exercise
#
# We wrote M_k down from the trigonometry. A model has no trigonometry: could it *learn* the
# map from PE(pos) to PE(pos + k) from the table alone? Fit the matrix A that sends each row
# PE(pos) closest to PE(pos + k), by least squares (`np.linalg.lstsq` solves
# PE[:-k] A ≈ PE[k:]), for k = 7 over the 1000 positions of `table`, and compare Aᵀ with
# `rotation(7)`. Try it yourself first; the solution is below. (Then try it over 100 positions:
# the slowest clocks hardly turn in 100 words, and the fit can no longer tell them apart.)

# %%
k_fit = 7
A, *_ = np.linalg.lstsq(table[:-k_fit], table[k_fit:], rcond=None)
M_fit = A.T
print("largest entry outside the 2 × 2 blocks:",
      f"{np.abs(M_fit - np.kron(np.eye(d_model // 2), np.ones((2, 2))) * M_fit).max():.1e}")

# %% [markdown]
# ### Check

# %%
assert M_fit.shape == (d_model, d_model)
assert np.allclose(M_fit, rotation(k_fit), rtol=0, atol=1e-6), "the fitted map is not M_7"
assert np.allclose(table[:-k_fit] @ M_fit.T, table[k_fit:], atol=1e-8)
print("correct: least squares finds the block-diagonal rotation, independent of pos")
