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
from lesson_tools import device, optional_torch, show
from transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer, causal_mask, record_attention,
                         scaled_dot_product_attention)

torch = optional_torch()

dev = device()
print("device:", dev, "| torch:", torch.__version__ if torch else "not installed")

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
for name, row in zip(tokens, blocked.numpy()):
    print(f"{name:>8s} " + " ".join(f"{'.' if b else 'yes':>7s}" for b in row))
print("the float mask:\n", additive.numpy())

allowed = np.tril(np.ones((5, 5), dtype=bool))  # the lower triangle, written out
assert (~blocked.numpy() == allowed).all()
assert (additive.numpy() == np.where(allowed, 0.0, -np.inf)).all()
assert blocked.numpy()[2].tolist() == [False, False, False, True, True]  # "have" sees "<Begin> I have"
if torch is not None:
    assert (additive.numpy() == torch.nn.Transformer.generate_square_subsequent_mask(5).numpy()).all()

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
masked_row = tt.softmax(scores + row_mask, dim=-1).numpy()
print("softmax((1, 2, 0.5, 3) + (0, 0, -inf, -inf)) =", masked_row.round(4))

query = tt.tensor([[[0.0], [1.0], [0.0], [0.0]]], dtype=tt.float64, device=dev)  # (1, T=4, d_k=1)
key = tt.tensor([[[1.0], [2.0], [0.5], [3.0]]], dtype=tt.float64, device=dev)    # row 1 of QKᵀ: the scores
_, weights = scaled_dot_product_attention(query, key, key, causal_mask(4, device=dev))
print("the same row from scaled_dot_product_attention:", weights.numpy()[0, 1].round(4))

e = math.e
assert np.allclose(masked_row, [e / (e + e**2), e**2 / (e + e**2), 0, 0], rtol=0, atol=1e-15)
assert math.isclose(e / (e + e**2), 1 / (1 + e)) and round(1 / (1 + e), 4) == 0.2689
assert np.allclose(weights.numpy()[0, 1], masked_row, rtol=0, atol=1e-15)
assert masked_row[2] == 0.0 and masked_row[3] == 0.0  # exactly zero, not just small
if torch is not None:
    t_row = torch.softmax(torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)
                          + torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)[1], -1)
    assert np.allclose(masked_row, t_row.numpy(), rtol=0, atol=1e-15)

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

assert round(slide_fraction, 6) == 0.268941 == round(1 / (1 + e), 6)
assert abs(slide_fraction - 0.268199) > 7e-4                # a real difference, not rounding
assert round(denominator_needed - (e + e**2), 3) == 0.028
assert round(math.log((denominator_needed - (e + e**2)) / 2), 1) == -4.3  # the score of each term
assert math.exp(-math.inf) == 0.0

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
    return tt.softmax(scores_row, dim=-1).numpy() * np.array([1, 1, 0, 0])


def mask_before(scores_row):
    return tt.softmax(scores_row + row_mask, dim=-1).numpy()


other_future = tt.tensor([1.0, 2.0, 0.5, 10.0], dtype=tt.float64, device=dev)  # token 3's score changed
after, after_other = mask_after(scores), mask_after(other_future)
before, before_other = mask_before(scores), mask_before(other_future)
for name, row, row_other in (("after ", after, after_other), ("before", before, before_other)):
    print(f"mask {name} softmax: {row.round(4)}  sum {row.sum():.4f};  "
          f"with the future score 3 -> 10: {row_other.round(4)}")

# NumPy written out: the wrong order's row sum is the share of the softmax the past gets.
past, future = np.exp([1.0, 2.0]), np.exp([0.5, 3.0])
assert math.isclose(after.sum(), past.sum() / (past.sum() + future.sum())) and after.sum() < 0.6
assert np.allclose(after[:2], past / (past.sum() + future.sum()))
assert not np.allclose(after, after_other, atol=1e-3)   # the future leaks into the past's weights
assert math.isclose(before.sum(), 1.0) and np.array_equal(before, before_other)  # it does not
assert np.allclose(after / after.sum(), before)  # renormalized, the wrong order is the right one

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


def decode(ids, mask=True):
    with tt.no_grad():  # only looking: no graph to record
        x = embed(tt.tensor([ids], device=dev))
        return decoder(x, memory, tgt_mask=causal_mask(len(ids), device=dev) if mask else None).numpy()[0]


full = decode(decoder_input)
for changed in ([0, 1, 2, 4, 4], [0, 1, 1, 3, 4]):  # "a" -> "cat" at 3, "have" -> "I" at 2
    first = next(i for i, (c, d) in enumerate(zip(changed, decoder_input)) if c != d)
    other = decode(changed)
    moved = np.abs(other - full).max(axis=1)
    print(f"token {first} changed: how far each position's output moved {moved.round(6)}")
    assert np.allclose(other[:first], full[:first], rtol=0, atol=1e-6)   # the past did not notice
    assert (moved[first:] > 1e-3).all()                                 # the changed one did

unmasked_moved = np.abs(decode([0, 1, 2, 4, 4], mask=False) - decode(decoder_input, mask=False)).max(axis=1)
print("without the mask:", unmasked_moved.round(6))
assert (unmasked_moved > 1e-3).all()  # every position read the future

for t in range(5):
    alone = decode(decoder_input[:t + 1])  # what the decoder computes while generating
    assert np.allclose(alone[t], full[t], rtol=0, atol=1e-5), t
print("each position's output equals the prefix-only run: teacher forcing is honest")

# %% [markdown]
# The decoder's self-attention, drawn (the first layer, both heads): every cell above the
# diagonal is white, weight 0, and every row sums to 1.

# %%
with record_attention(decoder) as hooks, tt.no_grad():
    decoder(embed(tt.tensor([decoder_input], device=dev)), memory, tgt_mask=causal_mask(5, device=dev))
self_attention = hooks["layers.0.self_attn"].weights.numpy()[0]  # (heads, T, S)
show(visualize.plot_attention(self_attention, tokens, tokens, title="masked self-attention, layer 0"),
     "11_masked_self_attention.png")
assert (self_attention[:, ~allowed] == 0).all()
assert np.allclose(self_attention.sum(-1), 1.0)

# %% [markdown]
# ## Exercise
#
# The mask can be read back from the model's behaviour alone. For each input position j,
# change token j (to any other id) and record which output positions t move by more than
# 1e-6: that is `influence[t, j]`. Predict the 5 × 5 matrix before you run the cell. Then
# replace `causal_mask(...)` in `decode` by `causal_mask(...).mT` (the future allowed, the
# past hidden): what does the matrix become?
# (Try it yourself first; the cell below is one solution.)

# %%
influence = np.zeros((5, 5), dtype=bool)
for j in range(5):
    changed = list(decoder_input)
    changed[j] = 5 if changed[j] != 5 else 0
    influence[:, j] = np.abs(decode(changed) - full).max(axis=1) > 1e-6
print(influence.astype(int))

# %% [markdown]
# ### Check

# %%
assert (influence == allowed).all(), influence  # token j reaches position t exactly when j <= t
assert (influence == ~causal_mask(5).numpy()).all()
print("correct: influence is the lower triangle, the mask's 'may see'")
