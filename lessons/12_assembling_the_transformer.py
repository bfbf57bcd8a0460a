# %% [markdown]
# # Lesson 12: Assembling the Transformer
#
# Every part is built: attention (lesson 7), its heads (8), positions (9), Add & Norm (10),
# the mask (11). Here we put them together with our own hands into the whole model of
# Figure 1 of "Attention Is All You Need", from token ids to a probability for every word of
# the vocabulary, in the order the paper's §3 describes it:
#
# 1. words become vectors: the embedding lookup (词嵌入, §3.4), times √d_model, plus the
#    positional encoding (位置编码, §3.5);
# 2. the position-wise feed-forward network (前馈神经网络, §3.3), the one sublayer not built yet;
# 3. an encoder layer (编码器层, §3.1): our multi-head attention and feed-forward network, each
#    in Add & Norm; N of them stacked give the encoder's output C, seed 004's 编码信息矩阵 C;
# 4. a decoder layer (解码器层, §3.1): masked self-attention, then the cross-attention
#    (交叉注意力, §3.2.3) whose Q comes from the decoder and K, V from C, then the
#    feed-forward network; N of them stacked;
# 5. the final Linear and softmax over the vocabulary (词表, §3.4).
#
# Seed 004 says the encoder block "接收输入矩阵 X(n×d)，并输出一个矩阵 O(n×d)", and seed 002
# that the feed-forward network "独立处理每个位置", handles each position on its own: we check
# both. Last, we load the very same weights into the project's `transformer.Transformer` and
# the translation model `transformer.Seq2SeqTransformer`, and their outputs must equal ours to
# the last digits of float64: then the library is nothing but what we assembled.
#
# Read along: [`transformer/embedding.py`](../transformer/embedding.py),
# [`transformer/layer.py`](../transformer/layer.py),
# [`transformer/encoder.py`](../transformer/encoder.py),
# [`transformer/decoder.py`](../transformer/decoder.py),
# [`transformer/seq2seq.py`](../transformer/seq2seq.py).

# %%
import math

import numpy as np

import tinytensor as tt
import visualize
from lesson_tools import checks, exercise, show
from transformer import Seq2SeqTransformer, Transformer, TransformerEncoderLayer, positional_encoding
from visualize.fonts import font_for
from visualize.gradient_flow import new_figure

# %% [markdown]
# ## The sentence and the sizes
#
# One sentence pair, seed 004's: the encoder reads 我有一只猫。 one character at a time, and
# the decoder is given "<bos> I have a cat ." (the target shifted right, lesson 11) and must
# predict "I have a cat . <eos>". Each vocabulary numbers its tokens; id 0 is the padding
# token, which this lesson never needs (lesson 13 does).
#
# The model is small, so that every matrix can be printed: d_model = 16, h = 4 heads of
# d_k = 4, d_ff = 32, N = 2 layers in each stack (the paper's base model: 512, 8, 64, 2048, 6).
# Everything is float64, so that two ways of computing the same thing agree to about 1e-15.
# The weights are random: this lesson assembles, lesson 13 trains.

# %%
SRC_VOCAB = ["<pad>", "<bos>", "<eos>", "我", "有", "一", "只", "猫", "。"]
TGT_VOCAB = ["<pad>", "<bos>", "<eos>", "I", "have", "a", "cat", "."]
src_tokens = list("我有一只猫。")
tgt_in_tokens = ["<bos>", "I", "have", "a", "cat", "."]
src_ids = tt.tensor([[SRC_VOCAB.index(t) for t in src_tokens]])       # (1, S): one sentence
tgt_in_ids = tt.tensor([[TGT_VOCAB.index(t) for t in tgt_in_tokens]])  # (1, T)
S, T = len(src_tokens), len(tgt_in_tokens)

d_model, h, d_ff, N = 16, 4, 32, 2
d_k = d_model // h
tt.manual_seed(12)


def weight(rows, cols):
    """A random matrix whose product with a vector of unit entries keeps unit size."""
    return tt.randn(rows, cols, dtype=tt.float64) * rows ** -0.5


def small(size):
    return tt.randn(size, dtype=tt.float64) * 0.1


print("source ids", src_ids.tolist(), "| target input ids", tgt_in_ids.tolist())

# %% [markdown]
# ## Words as vectors: the embedding lookup (§3.4)
#
# A word embedding (词嵌入) is a table E with one row of d_model numbers per token of the
# vocabulary, V × d_model. Seed 002 calls it a dictionary looked up by id ("通过查表的方式去
# 完成映射"); its numbers are learnt, by Word2Vec or GloVe beforehand or, as here, by the
# Transformer's own training (seed 004), so that words used alike end up with vectors alike.
#
# The lookup `E[ids]` picks rows. It is also a matrix product: write each token as a one-hot
# row (独热向量), V numbers with a single 1 at its id, and the one-hot matrix (n × V) times E
# (V × d_model) is the n rows of E, in the sentence's order. That is why the embedding is a
# layer like any other: its gradient is onehotᵀ G, so a training step changes only the rows of
# the tokens in the batch, and a token used twice gets the sum of both gradients (lesson 2).

# %%
E_src = tt.randn(len(SRC_VOCAB), d_model, dtype=tt.float64) * d_model ** -0.5  # N(0, 1/d_model), V × d
E_tgt = tt.randn(len(TGT_VOCAB), d_model, dtype=tt.float64) * d_model ** -0.5
one_hot = tt.functional.one_hot(src_ids[0], len(SRC_VOCAB)).to(tt.float64)   # (S, V)
looked_up = E_src[src_ids[0]]                                                  # (S, d_model)
print("one-hot", one_hot.shape, "@ E", E_src.shape, "=", (one_hot @ E_src).shape,
      "| the same as E[ids]:", bool(tt.allclose(one_hot @ E_src, looked_up, rtol=0, atol=0)))


def draw_lookup(one_hot, E, tokens, vocab):
    """Three heat maps side by side: one-hot (n × V) @ E (V × d) = the rows of E (n × d)."""
    figure, _ = new_figure((11, 3.2), layout="constrained")
    font = font_for("".join(tokens + vocab))
    panels = [(one_hot, "one-hot (n × V)", tokens, vocab), (E, "E (V × d_model)", vocab, None),
              (one_hot @ E, "one-hot @ E = E[ids] (n × d_model)", tokens, None)]
    for ax, (matrix, title, rows, cols) in zip(figure.subplots(1, 3, width_ratios=[9, 16, 16]), panels):
        ax.imshow(matrix.numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
        ax.set_title(title, fontsize=10)
        ax.set_yticks(range(len(rows)), rows, fontproperties=font)
        if cols:
            ax.set_xticks(range(len(cols)), cols, rotation=90, fontproperties=font)
        else:
            ax.set_xticks([])
    return figure


show(draw_lookup(one_hot, E_src, src_tokens, SRC_VOCAB), "12_embedding_lookup.png")

# %% [markdown]
# Each row of the left panel has one red cell, at the token's id; the right panel is made of
# rows of the middle one: 我 is row 3 of E, 猫 row 7.
#
# **Why times √d_model.** §3.4: "In the embedding layers, we multiply those weights by
# √d_model." The paper gives no reason; the usual one is the size of what is added next.
# E starts with entries of variance 1/d_model (as `transformer/embedding.py` initialises it; small,
# because the same matrix is the output layer's, below), so a row has length about 1, while a row of the positional encoding has d_model/2 pairs
# (sin, cos), each of length 1: length √(d_model/2). Unscaled, the word would be a whisper
# under its position; times √d_model, its length is about √d_model, the same order as the
# position's. At the paper's d_model = 512:

# %%
for width in (16, 512):
    E_wide = tt.randn(1000, width, dtype=tt.float64) * width ** -0.5      # 1000 tokens, N(0, 1/d)
    word = E_wide.norm(dim=-1).mean().item()
    position = positional_encoding(50, width, dtype=tt.float64).norm(dim=-1).mean().item()
    print(f"d_model {width:3d}: |word| = {word:5.2f}, |word| × √d_model = {word * width ** 0.5:5.2f}, "
          f"|position| = {position:5.2f} = √(d_model/2)")

# %% [markdown]
# So the input of each stack is X = E[ids] · √d_model + PE, one row per token, n × d_model.

# %%
def embed(ids, E):
    """Token ids (1, n) -> the stack's input (1, n, d_model): the lookup times √d_model, plus positions."""
    n = ids.shape[1]
    return E[ids] * math.sqrt(d_model) + positional_encoding(n, d_model, dtype=tt.float64)


X_src, X_tgt = embed(src_ids, E_src), embed(tgt_in_ids, E_tgt)
print("X_src", X_src.shape, "| X_tgt", X_tgt.shape)

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("lookup = one-hot @ E, its gradient onehotᵀ G, the lengths of word and position, X") as check:
    check.close("one-hot @ E", one_hot @ E_src, looked_up, rtol=0, atol=0)
    E_leaf = E_src.detach().requires_grad_()
    G = tt.randn(S, d_model, dtype=tt.float64)
    (E_leaf[src_ids[0]] * G).sum().backward()
    check.close("dE = onehotᵀ G", E_leaf.grad, one_hot.T @ G, rtol=1e-15)
    unused = [i for i in range(len(SRC_VOCAB)) if i not in src_ids[0].tolist()]
    check.equal("rows of unused tokens get no gradient", E_leaf.grad[unused].abs().sum().item(), 0.0)
    for width in (16, 512):
        pe = positional_encoding(50, width, dtype=tt.float64)
        check.close(f"|PE row| = sqrt(d/2) at d = {width}", pe.norm(dim=-1), math.sqrt(width / 2), rtol=1e-12)
    check.close("X_src by NumPy", X_src[0], E_src.numpy()[src_ids[0].numpy()] * math.sqrt(d_model)
                + positional_encoding(S, d_model, dtype=tt.float64).numpy(), rtol=1e-15)

# %% [markdown]
# ## The position-wise feed-forward network (§3.3)
#
#     FFN(x) = max(0, x W1 + b1) W2 + b2,      W1: d_model × d_ff,  W2: d_ff × d_model
#
# Two Linear layers with a ReLU between, widening each vector to d_ff and back. "Position-wise":
# X (n × d_model) goes in as a matrix, but each row is multiplied by the *same* W1 and W2 on its
# own ("the linear transformations are the same across different positions, [but] they use
# different parameters from layer to layer"), so n × d_model comes out and no row ever sees
# another. Mixing positions is attention's
# job; the feed-forward network transforms what each position gathered (seed 002's "对自注意力
# 机制输出的特征进行进一步的非线性变换"). We run it on the whole matrix, then row by row.

# %%
def ffn_params():
    return {"W1": weight(d_model, d_ff), "b1": small(d_ff), "W2": weight(d_ff, d_model), "b2": small(d_model)}


def feed_forward(x, p):
    """FFN(x) = max(0, x W1 + b1) W2 + b2 on the last axis: (..., n, d_model) -> (..., n, d_model)."""
    return tt.relu(x @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]


p_ffn = ffn_params()
whole = feed_forward(X_src, p_ffn)                                          # (1, S, d_model)
row_by_row = tt.stack([feed_forward(X_src[0, i], p_ffn) for i in range(S)])  # (S, d_model)
print("in", X_src.shape, "-> out", whole.shape,
      "| row by row the same:", bool(tt.allclose(whole[0], row_by_row, rtol=0, atol=1e-14)))

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("FFN: n × d in and out, row by row = whole, positions never mix, against NumPy") as check:
    check.equal("shape", tuple(whole.shape), tuple(X_src.shape))
    check.close("row by row", whole[0], row_by_row, rtol=0, atol=1e-14)
    shuffle = [3, 0, 5, 1, 4, 2]
    check.close("permuting the rows permutes the output", feed_forward(X_src[:, shuffle], p_ffn),
                whole[:, shuffle], rtol=0, atol=1e-14)
    x_np, q = X_src.numpy()[0], {k: v.numpy() for k, v in p_ffn.items()}
    check.close("NumPy", whole[0], np.maximum(0, x_np @ q["W1"] + q["b1"]) @ q["W2"] + q["b2"], rtol=0, atol=1e-13)

# %% [markdown]
# ## An encoder layer (§3.1)
#
# Two more pieces, as lessons 8 and 10 wrote them. Our multi-head attention (§3.2.2) is lesson
# 8's with two changes: the queries come from one sequence `x` and the keys and values from
# another, `source` (the same one in self-attention; C in the decoder's cross-attention), and
# an additive mask (lesson 11) may be added to the scores. Add & Norm is lesson 10's post-norm,
# LayerNorm(x + Sublayer(x)), with the LayerNorm written out.

# %%
def attention_params():
    p = {f"W_{n}": weight(d_model, d_model) for n in "QKVO"}
    return p | {f"b_{n}": small(d_model) for n in "QKVO"}


def multi_head_attention(x, source, p, mask=None):
    """h heads: queries from x (1, T, d), keys and values from source (1, S, d); (output, weights)."""
    def heads(M):                                                           # (1, L, d_model)
        return M.reshape(M.shape[0], M.shape[1], h, d_k).transpose(1, 2)   # (1, h, L, d_k)

    Q = heads(x @ p["W_Q"] + p["b_Q"])
    K, V = heads(source @ p["W_K"] + p["b_K"]), heads(source @ p["W_V"] + p["b_V"])
    scores = Q @ K.mT / math.sqrt(d_k)                                      # (1, h, T, S)
    A = tt.softmax(scores if mask is None else scores + mask, -1)
    concat = (A @ V).transpose(1, 2).reshape(x.shape)                      # (1, T, h * d_k)
    return concat @ p["W_O"] + p["b_O"], A


def norm_params():
    return {"gamma": 1 + small(d_model), "beta": small(d_model)}


def layer_norm(x, p, eps=1e-5):
    """Each row to mean 0 and variance 1, then scaled by gamma and shifted by beta."""
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / (var + eps).sqrt() * p["gamma"] + p["beta"]


def add_and_norm(x, sublayer, norm):
    """LayerNorm(x + Sublayer(x)): the residual connection, then the norm."""
    return layer_norm(x + sublayer(x), norm)


# %% [markdown]
# The encoder layer is two sublayers, each in Add & Norm: self-attention, where every word
# looks at every word of the source, then the feed-forward network.

# %%
def encoder_layer(x, p):
    x = add_and_norm(x, lambda x: multi_head_attention(x, x, p["self_attn"])[0], p["norm1"])
    return add_and_norm(x, lambda x: feed_forward(x, p["ffn"]), p["norm2"])


# %% [markdown]
# ## The stack of N: the memory C
#
# The encoder is N such layers, each with weights of its own; n × d_model in, n × d_model out,
# so they stack. What comes out is C, the encoding of the whole source sentence that every
# decoder layer will read.
#
# One detail of the library we are about to compare with: PyTorch's `nn.Transformer`, and
# `transformer.Transformer` which mirrors it, end each stack with one more LayerNorm
# (`encoder.norm`, `decoder.norm`). The paper's Figure 1 has none (a final norm belongs to the
# pre-norm arrangement of lesson 10, where the last layer's output is otherwise not
# normalised); we add it too, or the two would not match.

# %%
encoder_params = [{"self_attn": attention_params(), "ffn": ffn_params(), "norm1": norm_params(),
                   "norm2": norm_params()} for _ in range(N)]
encoder_final_norm = norm_params()


def encode(x):
    for p in encoder_params:
        x = encoder_layer(x, p)
    return layer_norm(x, encoder_final_norm)


C = encode(X_src)
print("X_src", X_src.shape, "-> C", C.shape)

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("our pieces against NumPy and the library's; the encoder keeps n × d") as check:
    x_np = X_src.numpy()
    check.close("layer_norm", layer_norm(X_src, encoder_final_norm),
                (x_np - x_np.mean(-1, keepdims=True)) / np.sqrt(x_np.var(-1, keepdims=True) + 1e-5)
                * encoder_final_norm["gamma"].numpy() + encoder_final_norm["beta"].numpy(), rtol=1e-12)
    check.close("layer_norm = tinytensor's", layer_norm(X_src, encoder_final_norm),
                tt.functional.layer_norm(X_src, (d_model,), encoder_final_norm["gamma"],
                                         encoder_final_norm["beta"]), rtol=1e-12)
    out, A = multi_head_attention(X_src, X_src, encoder_params[0]["self_attn"])
    check.close("attention rows sum to 1", A.sum(-1), 1.0, rtol=1e-14)
    p_np = {k: v.numpy() for k, v in encoder_params[0]["self_attn"].items()}
    heads = []
    for i in range(h):  # the paper's per-head formula, head by head
        cols = slice(i * d_k, (i + 1) * d_k)
        q, k, v = (x_np[0] @ p_np[f"W_{n}"][:, cols] + p_np[f"b_{n}"][cols] for n in "QKV")
        s = q @ k.T / math.sqrt(d_k)
        w = np.exp(s - s.max(-1, keepdims=True))
        heads.append(w / w.sum(-1, keepdims=True) @ v)
    check.close("multi-head attention per head in NumPy", out[0],
                np.concatenate(heads, -1) @ p_np["W_O"] + p_np["b_O"], rtol=1e-12)
    check.equal("C is n × d_model, like X_src", tuple(C.shape), (1, S, d_model))

# %% [markdown]
# ## A decoder layer, and its cross-attention by hand (§3.1, §3.2.3)
#
# A decoder layer has three sublayers, each in Add & Norm:
#
# 1. masked self-attention over the target so far: the causal mask (lesson 11) adds -∞ above
#    the diagonal, so position t sees positions 0..t only;
# 2. cross-attention: "the queries come from the previous decoder layer, and the memory keys
#    and values come from the output of the encoder" (§3.2.3). Seed 002: the second
#    Multi-Head Attention's "K, V矩阵使用 Encoder 的编码信息矩阵C进行计算，而Q使用上一个
#    Decoder block 的输出计算". No mask: every target position may read every source character;
#    so the rows are target positions (T) and the columns source characters (S), T × S;
# 3. the feed-forward network.

# %%
causal = tt.full((T, T), -math.inf, dtype=tt.float64).triu(1)   # (T, T): -inf above the diagonal


def decoder_layer(y, C, p):
    y = add_and_norm(y, lambda y: multi_head_attention(y, y, p["self_attn"], causal)[0], p["norm1"])
    y = add_and_norm(y, lambda y: multi_head_attention(y, C, p["cross_attn"])[0], p["norm2"])
    return add_and_norm(y, lambda y: feed_forward(y, p["ffn"]), p["norm3"])


decoder_params = [{"self_attn": attention_params(), "cross_attn": attention_params(), "ffn": ffn_params(),
                   "norm1": norm_params(), "norm2": norm_params(), "norm3": norm_params()} for _ in range(N)]
decoder_final_norm = norm_params()

# %% [markdown]
# Open up the first layer's cross-attention and compute it by hand. The decoder's state after
# its masked self-attention, `y1` (T × d_model), gives the queries; C (S × d_model) gives the
# keys and the values. Each head's weights are a T × S matrix, each row a distribution over
# the six Chinese characters.

# %%
p = decoder_params[0]
y1 = add_and_norm(X_tgt, lambda y: multi_head_attention(y, y, p["self_attn"], causal)[0], p["norm1"])
cross = p["cross_attn"]
Q = y1 @ cross["W_Q"] + cross["b_Q"]                               # (1, T, d_model): from the decoder
K = C @ cross["W_K"] + cross["b_K"]                                # (1, S, d_model): from C
V = C @ cross["W_V"] + cross["b_V"]                                # (1, S, d_model): from C
Q_h = Q.reshape(1, T, h, d_k).transpose(1, 2)                      # (1, h, T, d_k)
K_h, V_h = (M.reshape(1, S, h, d_k).transpose(1, 2) for M in (K, V))  # (1, h, S, d_k)
A_cross = tt.softmax(Q_h @ K_h.mT / math.sqrt(d_k), -1)            # (1, h, T, S)
read = (A_cross @ V_h).transpose(1, 2).reshape(1, T, d_model) @ cross["W_O"] + cross["b_O"]
print("Q", Q.shape, "K", K.shape, "V", V.shape, "-> weights", A_cross.shape, "-> output", read.shape)
show(visualize.plot_attention(A_cross[0], x_tokens=src_tokens, y_tokens=tgt_in_tokens,
                              title="Cross-attention of decoder layer 1: Q from the target, K and V from C "
                                    "(random weights)"),
     "12_cross_attention.png")

# %% [markdown]
# Each panel is one head: rows are the target positions (the queries, T of them), columns the
# source characters (the keys, S of them). Both are 6 here by chance: "She does not like cats."
# would give 7 rows ("<bos> She does not like cats .") against the 6 of 她不喜欢猫。. The
# weights are random, so no head has learnt where to look: what the picture shows is the
# shape, every row a distribution over the source, and no mask: even "<bos>" may read all of
# 我有一只猫。, the whole sentence being known before the first word is written. Lesson 14
# shows what a trained translator makes of it.

# %%
def decode(y, C):
    for p in decoder_params:
        y = decoder_layer(y, C, p)
    return layer_norm(y, decoder_final_norm)


Y = decode(X_tgt, C)
print("X_tgt", X_tgt.shape, "and C", C.shape, "-> Y", Y.shape)

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("cross-attention by hand = our attention(y1, C); the causal mask keeps the future out") as check:
    out, A = multi_head_attention(y1, C, cross)
    check.close("weights", A_cross, A, rtol=0, atol=1e-14)
    check.close("output", read, out, rtol=0, atol=1e-13)
    check.close("rows sum to 1", A_cross.sum(-1), 1.0, rtol=1e-14)
    _, A_self = multi_head_attention(X_tgt, X_tgt, p["self_attn"], causal)
    check.equal("no weight above the diagonal", A_self[0].numpy()[:, np.triu_indices(T, 1)[0],
                                                                  np.triu_indices(T, 1)[1]].max(), 0.0)
    changed = X_tgt.detach().clone()
    changed[0, 4:] = changed[0, 4:] + 1.0          # change the last two target positions only
    check.close("the first four positions do not see the last two", decode(changed, C)[0, :4], Y[0, :4],
                rtol=0, atol=1e-13)

# %% [markdown]
# ## The output: Linear and softmax over the vocabulary (§3.4)
#
# The decoder's output Y is one d_model vector per target position. "We use the usual learned
# linear transformation and softmax function to convert the decoder output to predicted
# next-token probabilities" (§3.4). The Linear maps d_model to one score per word of the
# target vocabulary (the logits, V_tgt of them), the softmax makes them a distribution.
# "We share the same weight matrix between the two embedding layers and the pre-softmax
# linear transformation": the Linear's matrix is E_tgtᵀ, so a word's score is the dot product
# of Y's row with that word's own embedding. (The project's translator has separate source and
# target vocabularies, so it shares the target's only.)
#
# Row t of the probabilities is the prediction for the token after position t: trained, row 0
# ("<bos>") should put its mass on "I". These weights are random, so the guesses are too:
# lesson 13 trains.

# %%
b_out = small(len(TGT_VOCAB))
logits = Y @ E_tgt.T + b_out                       # (1, T, V_tgt)
probs = tt.softmax(logits, -1)
for t, token in enumerate(tgt_in_tokens):
    best = probs[0, t].numpy().argsort()[::-1][:3]
    print(f"after {token!r:8} " + "  ".join(f"{TGT_VOCAB[i]!r} {probs[0, t, i].item():.2f}" for i in best))

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("logits are T × V_tgt, each row of probabilities a distribution") as check:
    check.equal("shape", tuple(logits.shape), (1, T, len(TGT_VOCAB)))
    check.close("rows sum to 1", probs.sum(-1), 1.0, rtol=1e-14)
    check.close("a word's score = Y · its embedding + bias", logits[0, 2, 6],
                (Y[0, 2] * E_tgt[6]).sum() + b_out[6], rtol=0, atol=1e-13)

# %% [markdown]
# ## The same weights in `transformer.Transformer`
#
# The library stores the same numbers under PyTorch's names and conventions (so that a
# state_dict moves between them and PyTorch). A Linear computes x Wᵀ + b, so its `weight` is
# our matrix transposed; an attention stacks W_Q, W_K and W_V, transposed, in one
# `in_proj_weight`; the cross-attention is called `multihead_attn`; a LayerNorm's gamma and beta
# are its `weight` and `bias`. `state_dict` below writes our weights under those names.

# %%
def attention_state(p):
    return {"in_proj_weight": tt.cat([p["W_Q"].T, p["W_K"].T, p["W_V"].T]),       # (3 d_model, d_model)
            "in_proj_bias": tt.cat([p["b_Q"], p["b_K"], p["b_V"]]),
            "out_proj.weight": p["W_O"].T, "out_proj.bias": p["b_O"]}


def layer_state(p):
    state = {"linear1.weight": p["ffn"]["W1"].T, "linear1.bias": p["ffn"]["b1"],
             "linear2.weight": p["ffn"]["W2"].T, "linear2.bias": p["ffn"]["b2"]}
    for ours, theirs in (("self_attn", "self_attn"), ("cross_attn", "multihead_attn")):
        if ours in p:
            state |= {f"{theirs}.{k}": v for k, v in attention_state(p[ours]).items()}
    for i in (1, 2, 3):
        if f"norm{i}" in p:
            state |= {f"norm{i}.weight": p[f"norm{i}"]["gamma"], f"norm{i}.bias": p[f"norm{i}"]["beta"]}
    return state


def state_dict():
    """Our weights under transformer.Transformer's names."""
    state = {}
    for stack, layers, final in (("encoder", encoder_params, encoder_final_norm),
                                 ("decoder", decoder_params, decoder_final_norm)):
        for i, p in enumerate(layers):
            state |= {f"{stack}.layers.{i}.{k}": v for k, v in layer_state(p).items()}
        state |= {f"{stack}.norm.weight": final["gamma"], f"{stack}.norm.bias": final["beta"]}
    return state


model = Transformer(d_model, h, N, N, d_ff, dropout=0.0, batch_first=True).double().eval()
model.load_state_dict(state_dict())          # strict: every weight of the model must be given
with tt.no_grad():
    C_library = model.encoder(X_src)
    Y_library = model(X_src, X_tgt, tgt_mask=causal)
print(f"C: largest difference {(C_library - C).abs().max().item():.1e}; "
      f"Y: largest difference {(Y_library - Y).abs().max().item():.1e}")

# %% [markdown]
# And the translation model, from ids to logits: `Seq2SeqTransformer` wraps the same
# `Transformer` with the embeddings (`TokenEmbedding`: the lookup times √d_model;
# `PositionalEncoding`) and the output Linear, the `generator`, which shares the target
# embedding's matrix as ours does. It builds the causal mask itself from the target's length.
# Both models are built with `dropout=0.0`: dropout (§5.4, after each sublayer and on the sum
# of embeddings and positions) acts only in training, and we compare the computation itself.

# %%
translation_model = Seq2SeqTransformer(len(SRC_VOCAB), len(TGT_VOCAB), d_model, h, N, N, d_ff,
                                       dropout=0.0).double().eval()
translation_model.load_state_dict({**{f"transformer.{k}": v for k, v in state_dict().items()},
                                   "src_embed.embedding.weight": E_src, "tgt_embed.embedding.weight": E_tgt,
                                   "generator.weight": E_tgt, "generator.bias": b_out})
with tt.no_grad():
    logits_library = translation_model(src_ids, tgt_in_ids)
print(f"logits: largest difference {(logits_library - logits).abs().max().item():.1e}")

# %% [markdown]
# The differences are rounding at most: the library computes what we assembled. The names are
# PyTorch's, so the same `state_dict()` loads unchanged into `torch.nn.Transformer`;
# [`tests/test_transformer_parity.py`](../tests/test_transformer_parity.py) holds the two
# equal, outputs and gradients, with padding and causal masks.

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("our assembly = transformer.Transformer = Seq2SeqTransformer to 1e-12 in float64") as check:
    check.close("C", C_library, C, rtol=0, atol=1e-12)
    check.close("Y", Y_library, Y, rtol=0, atol=1e-12)
    check.close("logits", logits_library, logits, rtol=0, atol=1e-12)
    check.true("the generator shares the target embedding",
               translation_model.generator.weight is translation_model.tgt_embed.embedding.weight)
    check.close("the causal mask as the library builds it", causal,
                Transformer.generate_square_subsequent_mask(T, dtype=tt.float64), rtol=0, atol=0)

# %% [markdown]
# ## Exercise
#
# Lesson 10 compared post-norm, LayerNorm(x + Sublayer(x)), the paper's and ours above, with
# pre-norm, x + Sublayer(LayerNorm(x)), which most large models use because deep stacks of
# it train without a careful warm-up (Xiong et al., 2020). Assemble a pre-norm encoder layer: write
# `pre_norm_encoder_layer(x, p)`, taking the same `p` as `encoder_layer` (norm1 before the
# attention, norm2 before the feed-forward network). The check loads `encoder_params[0]` into
# `TransformerEncoderLayer(..., norm_first=True)` and compares the outputs on X_src.

# %% tags=["exercise"]
pre_norm_encoder_layer = ...  # your answer: def pre_norm_encoder_layer(x, p): ...

# %% tags=["check"]
exercise(globals(), "12_assembling_the_transformer", "pre_norm")
