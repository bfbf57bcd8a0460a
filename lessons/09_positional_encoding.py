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
# B + cos A sin B and cos(A + B) = cos A cos B - sin A sin B. We look at both, after seeing why
# positions are needed at all; whether a trained model really does handle longer sentences is
# tested in lesson 14. The code is [transformer/embedding.py](../transformer/embedding.py).

# %%
import math

import matplotlib.pyplot as plt
import numpy as np

import tinytensor as tt
from lesson_tools import checks, device, exercise, show, slider
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
pe = positional_encoding(4, d_model, device=dev)
with_pe, swapped_pe = self_attention(X + pe), self_attention(X_swapped + pe)
moved = np.abs(swapped.detach().cpu().numpy() - plain[:, order].detach().cpu().numpy()).max()
moved_pe = np.abs(swapped_pe.detach().cpu().numpy() - with_pe[:, order].detach().cpu().numpy()).max()
print(f"without PE, 猫's output moved by {moved:.1e} when 猫 moved; with PE, by {moved_pe:.2f}")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("without PE the outputs are only permuted; with PE they change") as check:
    check.close("permuted outputs", swapped, plain[:, order], atol=1e-6)
    check.true("with PE, more than 0.1 apart", moved_pe > 0.1)

# %% [markdown]
# ## The formula, by hand and in NumPy
#
# Each pair of dimensions (2i, 2i + 1) is a clock: the angle pos · ω_i with ω_i = 1 / 10000^(2i/d),
# read as (sin, cos). For d_model = 4 and pos = 1 the two clocks turn at ω_0 = 1 and ω_1 =
# 1 / 10000^(2/4) = 1/100, so PE(1) = (sin 1, cos 1, sin 0.01, cos 0.01).

# %%
small = positional_encoding(2, 4, dtype=tt.float64, device=dev).cpu().numpy()
print("PE(1), d_model = 4:", small[1].round(6))

positions = 1000
table = positional_encoding(positions, d_model, dtype=tt.float64, device=dev).cpu().numpy()   # (1000, 16)
omega = 1 / 10000 ** (np.arange(0, d_model, 2) / d_model)                                    # (8,)

# %% tags=["check"] jupyter={"source_hidden": true}
pos = np.arange(positions)[:, None]
by_numpy = np.empty((positions, d_model))
by_numpy[:, 0::2], by_numpy[:, 1::2] = np.sin(pos * omega), np.cos(pos * omega)
with checks("PE(1) for d_model = 4 by hand, PE(0), and the 1000 x 16 table against NumPy") as check:
    check.close("PE(1)", small[1], [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)], atol=1e-12)
    check.close("PE(0): every clock at angle 0", small[0], [0, 1, 0, 1], atol=0)
    check.close("the table", table, by_numpy, atol=1e-12)

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
shifted = table[:-k] @ M.T                        # row pos: M_k PE(pos), for pos = 0..994
print(f"max |M_{k} PE(pos) - PE(pos + {k})| over 995 positions: {np.abs(shifted - table[k:]).max():.1e}")
dots = (table[:-k] * table[k:]).sum(1)            # PE(pos) · PE(pos + 5) for every pos
print(f"PE(pos) · PE(pos + {k}): from {dots.min():.6f} to {dots.max():.6f}; Σ cos({k} ω_i) = "
      f"{np.cos(k * omega).sum():.6f}")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("M_5 moves all 995 positions; a rotation (orthogonal, det 1); 2 steps then 3 = 5; dot products Σ cos(k ω_i)") as check:
    check.close("M_5 PE(pos) = PE(pos + 5)", shifted, table[k:], atol=1e-10)
    check.close("orthogonal", M @ M.T, np.eye(d_model), atol=1e-15)
    check.close("no reflection", np.linalg.det(M), 1.0, rtol=1e-12)
    check.close("M_2 M_3 = M_5", rotation(2) @ rotation(3), rotation(5), atol=1e-15)
    check.close("PE(pos) · PE(pos + 5)", dots, np.cos(k * omega).sum(), atol=1e-10)

# %% [markdown]
# Move the offset k and watch M_k. The fast clocks (top left, ω_0 = 1 radian a word) turn
# through whole circles as k grows; the slowest (bottom right, ω_7 = 1/3162 radian a word) hardly
# move even at k = 200, so its block stays the identity. Every offset is a different matrix, and
# every one is the same for every pos.

# %%
def draw_rotation(ax, k):
    ax.imshow(rotation(k), cmap="RdBu", vmin=-1, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])


slider(draw_rotation, name="09_offset_rotation.png", k=[1, 2, 5, 10, 50, 200])

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
seen = encode(tt.zeros(1, 20, d_model, device=dev)).cpu().numpy()      # x = 0, so the output is PE
longer = encode(tt.zeros(1, 21, d_model, device=dev)).cpu().numpy()
very_long = encode(tt.zeros(1, 5000, d_model, device=dev)).cpu().numpy()
print("PE of the 21st word:", longer[0, 20].round(4))

learned = tt.nn.Embedding(20, d_model).to(dev)    # one learned row per position 0..19
try:
    learned(tt.tensor([20], device=dev))
except IndexError as error:
    print("a learned table of 20 positions:", error)

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("the 21st position by the formula, the first 20 unchanged, 5000 positions in [-1, 1], a learned table refuses") as check:
    check.close("the first 20", longer[0, :20], seen[0], rtol=0, atol=0)
    check.close("the 21st", longer[0, 20], [f(20 * w) for w in omega for f in (math.sin, math.cos)], atol=1e-6)
    check.equal("5000 positions", very_long.shape, (1, 5000, d_model))
    check.true("all within [-1, 1]", np.abs(very_long).max() <= 1.0)
    check.close("position 4999, made in float64", very_long[0, 4999, 0::2], np.sin(4999 * omega), atol=1e-6)
    with check.raises("a 20-row table has no row 20", IndexError):
        learned(tt.tensor([20], device=dev))

# %% [markdown]
# The encoding exists for every length; whether a trained model can *use* position 30 when it
# only ever saw positions up to 18 is another question, which lesson 14 puts to the translator.

# %% [markdown]
# ## Exercise
#
# We wrote M_k down from the trigonometry. A model has no trigonometry: could it *learn* the
# map from PE(pos) to PE(pos + k) from the table alone? Fit the matrix that sends each row
# PE(pos) closest to PE(pos + k), by least squares (`np.linalg.lstsq(P, Q, rcond=None)[0]`
# solves P A ≈ Q; the map is Aᵀ), for k = 7:
#
# * `M_fit`: fitted on all 1000 positions of `table`;
# * `M_fit_100`: fitted on the first 100 positions only (`table[:100]`).
#
# Before you run the check, guess: is each of them `rotation(7)`?

# %% tags=["exercise"]
M_fit = ...      # your answer: the 16 x 16 map fitted on the 1000 positions
M_fit_100 = ...  # your answer: the same, fitted on the first 100 positions

# %% tags=["check"]
exercise(globals(), "09_positional_encoding", "fit_rotation")

# %% [markdown]
# **The answer.** Over 1000 positions least squares finds M_7 exactly (to 1e-10): the rotation is
# in the data, and nothing else fits. Over the first 100 positions the fit is just as perfect on
# the pairs it saw, yet the matrix is not M_7: its slowest clocks' blocks are off by up to 0.9.
# In 100 words the two slowest clocks turn by a few hundredths of a radian, so their sin and cos
# columns are almost constant, and the table's 16 columns have only 15 independent directions:
# many matrices fit, and least squares returns the smallest, not the true one. The data say
# nothing about what those clocks do further on. Carried on to position 1000 that matrix is
# off by 0.01, and fitted on 30 positions it is off by more than 1 there. What is not in the
# training data is not learnt, which is lesson 14's finding about long sentences too.
