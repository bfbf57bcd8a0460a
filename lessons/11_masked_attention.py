# %% [markdown]
# # Lesson 11: Masked self-attention and teacher forcing
#
# The decoder writes the translation one word after another: "<Begin>" → "I" → "have" → ...
# (autoregressive, 自回归). In training, though, we know the whole target sentence, and we
# want to learn from every position of it in one parallel pass. That is teacher forcing
# (教师强制): feed the decoder the correct target shifted right by one, "<Begin> I have a cat",
# and ask position t to predict token t + 1 of "I have a cat <end>" (seed 004).
#
# One thing must stop position t from cheating by reading tokens t + 1, t + 2, ... of the very
# answer it predicts: the mask (掩码) of the decoder's masked self-attention (掩码自注意力).
# "We need to prevent leftward information flow in the decoder ... by masking out (setting to
# -∞) all values in the input of the softmax which correspond to illegal connections"
# ("Attention Is All You Need", §3.2.3). The masks are built in
# [transformer/masks.py](../transformer/masks.py) and applied in one place,
# [transformer/attention.py](../transformer/attention.py).

# %%
import math

import numpy as np

import tinytensor as tt
import visualize
from lesson_tools import checks, device, exercise, optional_torch, show
from transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer, causal_mask, record_attention,
                         scaled_dot_product_attention)

torch = optional_torch()  # a second reference for the checks, when installed; never needed

dev = device()
print("device:", dev)

# %% [markdown]
# ## The 5 × 5 mask of "<Begin> I have a cat"
#
# Seed 004 numbers the decoder's input "<Begin> I have a cat" as tokens 0..4: token 0 may use
# only token 0, token 1 tokens 0 and 1, and so on, a lower-triangular pattern. transformer
# gives it two ways, both PyTorch's conventions:
#
# * `causal_mask(5)`: boolean, **True where attention is not allowed** (above the diagonal);
# * `Transformer.generate_square_subsequent_mask(5)`: float, -inf above the diagonal and 0
#   elsewhere, to be *added* to the scores.

# %%
tokens = ["<Begin>", "I", "have", "a", "cat"]
blocked = causal_mask(5, device=dev)
additive = Transformer.generate_square_subsequent_mask(5, device=dev)

print(f"{'may see':>8s} " + " ".join(f"{t:>7s}" for t in tokens))
for name, row in zip(tokens, blocked.cpu().numpy()):
    print(f"{name:>8s} " + " ".join(f"{'.' if b else 'yes':>7s}" for b in row))
print("the float mask:\n", additive.cpu().numpy())

# %% tags=["check"] jupyter={"source_hidden": true}
allowed = np.tril(np.ones((5, 5), dtype=bool))  # the lower triangle, written out
with checks("both masks against the lower triangle written out (and PyTorch's)") as check:
    check.equal("True above the diagonal", ~blocked.cpu().numpy(), allowed)
    check.equal("-inf above, 0 elsewhere", additive, np.where(allowed, 0.0, -np.inf))
    check.equal('"have" sees "<Begin> I have"', blocked.cpu().numpy()[2].tolist(), [False, False, False, True, True])
    if torch is not None:
        check.equal("PyTorch's", additive, torch.nn.Transformer.generate_square_subsequent_mask(5))

# %% [markdown]
# ## Seed 001's masked softmax row
#
# Seed 001's slide takes a query whose scores against four keys are α = (1, 2, α₁₃, α₁₄), the
# last two in its future. The mask adds -∞ to them, and exp(-∞) = 0, so
#
#     α'₁₁ = e¹ / (e¹ + e² + 0 + 0) = 1 / (1 + e) = 0.2689,   α'₁₂ = e / (1 + e) = 0.7311
#
# whatever the future scores were. We give the future scores 0.5 and 3.0 (any values do) and
# run the row through `tt.softmax`, and through `scaled_dot_product_attention` with d_k = 1
# (so that QKᵀ/√d_k is the scores themselves). A query that sees two of four keys is position 1
# (counting from 0) of a 4-token sentence, whose mask row is row 1 of `causal_mask(4)`.

# %%
scores = tt.tensor([1.0, 2.0, 0.5, 3.0], dtype=tt.float64, device=dev)
row_mask = Transformer.generate_square_subsequent_mask(4, device=dev, dtype=tt.float64)[1]
masked_row = tt.softmax(scores + row_mask, dim=-1).cpu().numpy()
print("softmax((1, 2, 0.5, 3) + (0, 0, -inf, -inf)) =", masked_row.round(4))

query = tt.tensor([[[0.0], [1.0], [0.0], [0.0]]], dtype=tt.float64, device=dev)  # (1, T=4, d_k=1)
key = tt.tensor([[[1.0], [2.0], [0.5], [3.0]]], dtype=tt.float64, device=dev)    # row 1 of QKᵀ: the scores
_, weights = scaled_dot_product_attention(query, key, key, causal_mask(4, device=dev))
print("the same row from scaled_dot_product_attention:", weights.cpu().numpy()[0, 1].round(4))

# %% tags=["check"] jupyter={"source_hidden": true}
e = math.e
with checks("the row is (e/(e+e²), e²/(e+e²), 0, 0), 0.2689 = 1/(1+e); the attention op's row (and PyTorch's)") as check:
    check.close("the masked row", masked_row, [e / (e + e**2), e**2 / (e + e**2), 0, 0], atol=1e-15)
    check.close("1 / (1 + e)", e / (e + e**2), 1 / (1 + e), rtol=1e-15)
    check.equal("0.2689", round(1 / (1 + e), 4), 0.2689)
    check.close("scaled_dot_product_attention", weights[0, 1], masked_row, atol=1e-15)
    check.equal("the future weights are exactly 0", masked_row[2:].tolist(), [0.0, 0.0])
    if torch is not None:
        t_row = torch.softmax(torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)
                              + torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)[1], -1)
        check.close("PyTorch", masked_row, t_row, atol=1e-15)

# %% [markdown]
# ## The slide's slip: 0.268199
#
# The slide writes 2.71828 / (2.71828 + 7.389056 + 0 + 0) = 0.268199. Its own fraction is
# 0.268941: the last three digits slipped. For the quotient to be 0.268199 the denominator
# would have to be 2.71828 / 0.268199 = 10.1353, which is 0.028 more than e + e²: as if the two
# masked terms were not 0 but 0.014 each, the exp of a score of about -4.3. A -∞ mask gives
# exactly 0, as the slide itself writes.

# %%
slide_fraction = 2.71828 / (2.71828 + 7.389056 + 0 + 0)
denominator_needed = 2.71828 / 0.268199
print(f"2.71828 / (2.71828 + 7.389056) = {slide_fraction:.6f} (the slide prints 0.268199)")
print(f"a denominator giving 0.268199: {denominator_needed:.4f} = e + e^2 + {denominator_needed - (e + e**2):.4f}")
print(f"exp(-inf) = {math.exp(-math.inf)}, so the masked terms add nothing")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("the slide's own fraction is 0.268941; 0.268199 needs 0.028 more, two terms of exp(-4.3)") as check:
    check.equal("0.268941", round(slide_fraction, 6), round(1 / (1 + e), 6))
    check.equal("0.268941 exactly", round(slide_fraction, 6), 0.268941)
    check.true("a real difference, not rounding", abs(slide_fraction - 0.268199) > 7e-4)
    check.equal("0.028 more", round(denominator_needed - (e + e**2), 3), 0.028)
    check.equal("each term the exp of -4.3", round(math.log((denominator_needed - (e + e**2)) / 2), 1), -4.3)

# %% [markdown]
# ## Why the mask goes before the softmax
#
# Seed 004 insists: the mask is applied *before* the softmax (在 Softmax 之前). Try it the
# other way, softmax all four scores and then zero the future weights:
#
# * the row no longer sums to 1: it is not a distribution (the weights no longer average the
#   values, they shrink them);
# * worse, the weights that remain still depend on the future: the softmax's denominator
#   summed over every key, e^0.5 + e^3 included. Change a future token's score and the
#   weight on a past token moves. The future leaks in through the denominator.
#
# Masking the scores first removes the future from the numerator and the denominator at once.
# (Dividing the zeroed row by its sum would repair it, and give exactly the masked-first row:
# the same thing in two more steps.)

# %%
def mask_after(scores_row):
    """The wrong order: softmax over all keys, then zero the future ones."""
    return tt.softmax(scores_row, dim=-1).cpu().numpy() * np.array([1, 1, 0, 0])


def mask_before(scores_row):
    return tt.softmax(scores_row + row_mask, dim=-1).cpu().numpy()


other_future = tt.tensor([1.0, 2.0, 0.5, 10.0], dtype=tt.float64, device=dev)  # token 3's score changed
after, after_other = mask_after(scores), mask_after(other_future)
before, before_other = mask_before(scores), mask_before(other_future)
for name, row, row_other in (("after ", after, after_other), ("before", before, before_other)):
    print(f"mask {name} softmax: {row.round(4)}  sum {row.sum():.4f};  "
          f"with the future score 3 -> 10: {row_other.round(4)}")

# %% tags=["check"] jupyter={"source_hidden": true}
past, future = np.exp([1.0, 2.0]), np.exp([0.5, 3.0])   # NumPy written out
with checks("masked after, the row sums to the past's share and moves with the future; before, neither") as check:
    check.close("the past's share", after.sum(), past.sum() / (past.sum() + future.sum()), rtol=1e-12)
    check.true("under 0.6", after.sum() < 0.6)
    check.close("the past's weights", after[:2], past / (past.sum() + future.sum()), rtol=1e-12)
    check.true("the future leaks in", not np.allclose(after, after_other, atol=1e-3))
    check.close("before: sums to 1", before.sum(), 1.0, rtol=1e-15)
    check.equal("before: the future does not leak", before, before_other)
    check.close("renormalized, the wrong order is the right one", after / after.sum(), before, rtol=1e-12)

# %% [markdown]
# ## Teacher forcing, and the proof that it does not cheat
#
# A small decoder (2 layers, 2 heads, width 8,
# [transformer/decoder.py](../transformer/decoder.py)) reads the shifted target "<Begin> I have
# a cat" (ids 0..4) all at once, with a random stand-in for the encoder's output C of
# "我有一只猫" (the memory). Its target is "I have a cat <end>" (ids 1..5): position t is
# trained to predict token t + 1.
#
# Causality means: position t's output is a function of tokens 0..t only. Two checks.
#
# 1. Change a later token ("a" → "cat" at position 3, or "have" → "I" at 2): the positions
#    before it keep their outputs, and the changed one and those after move. With no mask,
#    every position moves.
# 2. Run the decoder on "<Begin>", then "<Begin> I", ... (as it runs while translating, one more
#    token each time): position t's output is the one the single teacher-forced pass gave.
#    One pass trains all five predictions as if each were made alone.

# %%
tt.manual_seed(0)
width = 8
embed = tt.nn.Embedding(6, width).to(dev)  # ids 0..5: <Begin> I have a cat <end>
layer = TransformerDecoderLayer(d_model=width, nhead=2, dim_feedforward=16, dropout=0.0, batch_first=True)
decoder = TransformerDecoder(layer, num_layers=2).to(dev).eval()
memory = tt.randn(1, 6, width, device=dev)  # stands for the encoder's C of 我有一只猫。

decoder_input = [0, 1, 2, 3, 4]   # <Begin> I have a cat
decoder_target = [1, 2, 3, 4, 5]  # I have a cat <end>: the input shifted left by one
print("in :", [tokens[i] for i in decoder_input], "\nout:", [(tokens + ["<end>"])[i] for i in decoder_target])


def decode(ids, mask=causal_mask):
    """The decoder's outputs (T, width) for ``ids``; ``mask(T, device=...)`` makes the mask (None: no mask)."""
    with tt.no_grad():  # only looking: no graph to record
        x = embed(tt.tensor([ids], device=dev))
        return decoder(x, memory, tgt_mask=mask(len(ids), device=dev) if mask else None).cpu().numpy()[0]


full = decode(decoder_input)
moves = {}
for changed in ([0, 1, 2, 4, 4], [0, 1, 1, 3, 4]):  # "a" -> "cat" at 3, "have" -> "I" at 2
    first = next(i for i, (c, d) in enumerate(zip(changed, decoder_input)) if c != d)
    moves[first] = np.abs(decode(changed) - full).max(axis=1)
    print(f"token {first} changed: how far each position's output moved {moves[first].round(6)}")
unmasked_moved = np.abs(decode([0, 1, 2, 4, 4], mask=None) - decode(decoder_input, mask=None)).max(axis=1)
print("without the mask, token 3 changed:", unmasked_moved.round(6))
alone = [decode(decoder_input[:t + 1])[t] for t in range(5)]  # what the decoder computes while generating
print("largest difference, prefix-only run against the teacher-forced pass:",
      f"{max(np.abs(a - f).max() for a, f in zip(alone, full)):.1e}")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("the past does not notice a changed token, the rest does; unmasked, all do; each prefix run = the pass") as check:
    for first, moved in moves.items():
        check.close(f"token {first} changed: the positions before it", moved[:first], 0.0, atol=1e-6)
        check.true(f"token {first} changed: it and the later ones moved", (moved[first:] > 1e-3).all())
    check.true("without the mask every position moves", (unmasked_moved > 1e-3).all())
    for t in range(5):
        check.close(f"position {t} alone", alone[t], full[t], atol=1e-5)

# %% [markdown]
# The decoder's self-attention, drawn (the first layer, both heads): every cell above the
# diagonal is white, weight 0, and every row sums to 1.

# %%
with record_attention(decoder) as hooks, tt.no_grad():
    decoder(embed(tt.tensor([decoder_input], device=dev)), memory, tgt_mask=causal_mask(5, device=dev))
self_attention = hooks["layers.0.self_attn"].weights.cpu().numpy()[0]  # (heads, T, S)
show(visualize.plot_attention(self_attention, tokens, tokens, title="masked self-attention, layer 0"),
     "11_masked_self_attention.png")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("every weight above the diagonal is exactly 0, every row sums to 1") as check:
    check.true("zero above the diagonal", (self_attention[:, ~allowed] == 0).all())
    check.close("rows sum to 1", self_attention.sum(-1), 1.0, rtol=1e-6)

# %% [markdown]
# ## Exercise
#
# The mask can be read back from the model's behaviour alone. For each input position j,
# change token j (to any other id) and record which output positions t move by more than
# 1e-6: that is `influence[t, j]`, a 5 × 5 array of booleans. Predict it before you compute it.
#
# Then do the same with the mask transposed, `decode(ids, mask=lambda n, device: causal_mask(n,
# device=device).mT)` (the future allowed, the past hidden), into `influence_mT`: what does the
# matrix become, and what would teacher forcing learn with that mask?

# %% tags=["exercise"]
influence = ...     # your answer: (5, 5) booleans, True where changing token j moves output t
influence_mT = ...  # your answer: the same with the transposed mask

# %% tags=["check"]
exercise(globals(), "11_masked_attention", "influence")

# %% [markdown]
# **The answer.** With the causal mask the influence is the lower triangle: token j reaches
# position t exactly when j <= t, the mask's "may see" read back from behaviour. With `.mT` it is
# the upper triangle: every position sees itself and everything after it. Through two layers
# nothing of the past gets in either, since each layer only passes on what its keys could see.
# Trained that way, position t would be shown token t + 1, the very token it must predict, and
# would learn to copy it; when translating, that token does not exist yet. The mask must hide the
# future, and only the future.
