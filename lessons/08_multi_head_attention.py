# %% [markdown]
# # Lesson 8: Multi-head attention
#
# One attention (lesson 7) gives each word one set of weights, so its output is one blend of
# the others. But a word relates to others in several ways at once. Seed 002's example: in "The
# animal didn't cross the street because it was too tired", one head learns that *it* is the
# animal, another that *it* is tired ("从橙色知道it指代了The animal，从绿色知道it的状态是tired").
# Multi-head attention (多头注意力) runs h attentions side by side ("Attention Is All You Need",
# §3.2.2):
#
#     MultiHead(X) = Concat(head_1, ..., head_h) W_O,    head_i = Attention(X W_Q^i, X W_K^i, X W_V^i)
#
# Seed 002 and seed 004 draw h = 8 heads, concatenated (拼接, Concat) and passed through one
# Linear layer, and stress that the output Z has the input X's shape ("Multi-Head Attention
# 输出的矩阵Z与其输入的矩阵X的维度是一样的"). Two readers' comments under seed 004 add what its
# picture leaves out: each head is d_k = d_model / h wide, and in code X is multiplied by one
# d_model × d_model W_Q, whose columns are then split into the h heads. That split is a reshape
# and a transpose, and it is what
# [transformer/multihead_attention.py](../transformer/multihead_attention.py) does. We build it
# by hand, then check it against the per-head formula in NumPy, `transformer.MultiheadAttention`
# and PyTorch's.

# %%
import math

import numpy as np

import tinytensor as tt
import visualize
from lesson_tools import device, optional_torch, show
from transformer import MultiheadAttention

torch = optional_torch()

dev = device()
print("device:", dev, "| torch:", torch.__version__ if torch else "not installed")

# %% [markdown]
# ## h heads from one projection, by reshape and transpose
#
# X is a batch of B sentences of T words, (B, T, d_model). Q = X W_Q + b_Q is (B, T, d_model);
# its last axis is h blocks of d_k columns, one block per head. `reshape(B, T, h, d_k)` names
# the blocks, `transpose(1, 2)` brings the head axis forward, (B, h, T, d_k), and from there
# every head is one more batch dimension for the same attention of lesson 7. Going back,
# `transpose(1, 2)` and `reshape(B, T, d_model)` lay the h outputs side by side: that is the
# Concat.

# %%
def multi_head_attention(X, p, h):
    """(output, weights) of h-head self-attention of X (B, T, d_model) with the weights in p."""
    B, T, d_model = X.shape
    d_k = d_model // h

    def split(M):                                                  # (B, T, d_model)
        return M.reshape(B, T, h, d_k).transpose(1, 2)             # (B, h, T, d_k)

    Q, K, V = (split(X @ p[f"W_{n}"] + p[f"b_{n}"]) for n in "QKV")   # (B, h, T, d_k) each
    A = tt.softmax(Q @ K.mT / math.sqrt(d_k), -1)                  # (B, h, T, T): one map per head
    heads = A @ V                                                  # (B, h, T, d_k)
    concat = heads.transpose(1, 2).reshape(B, T, d_model)          # (B, T, h * d_k): Concat
    return concat @ p["W_O"] + p["b_O"], A                         # (B, T, d_model), like X


B, T, d_model, h = 2, 5, 32, 8          # h = 8 heads as in the seeds' picture, d_k = 4
tt.manual_seed(2)
X = tt.randn(B, T, d_model).to(dev)
params = {f"W_{n}": (tt.randn(d_model, d_model) * d_model ** -0.5).to(dev) for n in "QKVO"}
params.update({f"b_{n}": (tt.randn(d_model) * 0.1).to(dev) for n in "QKVO"})

out, A = multi_head_attention(X, params, h)
print("X", X.shape, "-> output", out.shape, "| weights", A.shape)
assert out.shape == X.shape and A.shape == (B, h, T, T)
assert np.allclose(A.sum(-1).numpy(), 1.0, rtol=1e-6)    # every row of every head sums to 1

# %% [markdown]
# ## The same as the paper's per-head matrices
#
# The paper writes a separate W_Q^i (d_model × d_k) for each head. Column block i of our
# W_Q *is* W_Q^i, so the per-head formula, written out in NumPy with a loop over heads and a
# `np.concatenate`, must give the same output. Reshaping Q straight to (B, h, T, d_k), without
# the transpose, would cut across the words instead of the columns: a bug that runs, with the
# right shape, and the wrong numbers.

# %%
def softmax_np(s):
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


x_np = X.numpy().astype(np.float64)
p_np = {name: t.numpy().astype(np.float64) for name, t in params.items()}
d_k = d_model // h
head_outputs, head_weights = [], []
for i in range(h):
    cols = slice(i * d_k, (i + 1) * d_k)                          # head i's own W_Q^i, W_K^i, W_V^i
    q, k, v = (x_np @ p_np[f"W_{n}"][:, cols] + p_np[f"b_{n}"][cols] for n in "QKV")   # (B, T, d_k)
    a = softmax_np(q @ k.transpose(0, 2, 1) / math.sqrt(d_k))      # (B, T, T)
    head_weights.append(a)
    head_outputs.append(a @ v)
out_np = np.concatenate(head_outputs, axis=-1) @ p_np["W_O"] + p_np["b_O"]
assert np.allclose(out.numpy(), out_np, rtol=1e-4, atol=1e-5)
assert np.allclose(A.numpy(), np.stack(head_weights, axis=1), rtol=1e-4, atol=1e-6)

Q_full = X @ params["W_Q"] + params["b_Q"]
wrong = Q_full.reshape(B, h, T, d_k)                               # no transpose: mixes the words
right = Q_full.reshape(B, T, h, d_k).transpose(1, 2)
assert wrong.shape == right.shape and not np.allclose(wrong.numpy(), right.numpy())
print("the per-head formula agrees; reshape without transpose does not")

# %% [markdown]
# ## Against `transformer.MultiheadAttention` and PyTorch's
#
# `MultiheadAttention` stores W_Q, W_K, W_V stacked in one `in_proj_weight` of shape
# (3 d_model, d_model), as PyTorch does, in `nn.Linear`'s convention y = x Wᵀ + b: so its rows
# are our matrices transposed, and `out_proj.weight` is W_Oᵀ. Loaded with the same weights
# it must give our output, and per head (`average_attn_weights=False`) our weights. The same
# state_dict loads into `torch.nn.MultiheadAttention` unchanged.
#
# Splitting one width into h heads costs nothing: 4 d_model² + 4 d_model parameters for any h
# (the paper: "the total computational cost is similar to that of single-head attention with
# full dimensionality").

# %%
state = {"in_proj_weight": tt.cat([params[f"W_{n}"].T for n in "QKV"]),
         "in_proj_bias": tt.cat([params[f"b_{n}"] for n in "QKV"]),
         "out_proj.weight": params["W_O"].T, "out_proj.bias": params["b_O"]}
mha = MultiheadAttention(d_model, h, batch_first=True).to(dev)
mha.load_state_dict(state)
theirs, their_weights = mha(X, X, X, average_attn_weights=False)
assert np.allclose(theirs.numpy(), out.numpy(), rtol=1e-5, atol=1e-6)
assert np.allclose(their_weights.numpy(), A.numpy(), rtol=1e-5, atol=1e-7)
for heads in (1, 2, 4, 8):
    n_params = sum(p.numel() for p in MultiheadAttention(d_model, heads).parameters())
    assert n_params == 4 * d_model ** 2 + 4 * d_model
print(f"transformer.MultiheadAttention agrees; {4 * d_model ** 2 + 4 * d_model} parameters for any h")

if torch is not None:
    torch_mha = torch.nn.MultiheadAttention(d_model, h, batch_first=True)
    torch_mha.load_state_dict({k: torch.tensor(v.numpy()) for k, v in state.items()})
    x_t = torch.tensor(X.numpy())
    torch_out, torch_weights = torch_mha(x_t, x_t, x_t, average_attn_weights=False)
    assert np.allclose(torch_out.detach().numpy(), out.numpy(), rtol=1e-5, atol=1e-6)
    assert np.allclose(torch_weights.detach().numpy(), A.numpy(), rtol=1e-5, atol=1e-7)
    print("torch.nn.MultiheadAttention agrees")

# %% [markdown]
# ## Two heads, two questions about "it"
#
# Trained heads specialise (lesson 14 shows a trained translator's); to see what that means
# without training, we write two heads' weights by hand. Each word gets d_model = 4 features:
# *animate*, *place*, *state*, *pronoun* (animal = (1, 0, 0, 0), street = (0, 1, 0, 0), tired =
# (0, 0, 1, 0), it = (0, 0, 0, 1), every other word 0). With h = 2, head 0 owns columns 0-1 of
# Q, K, V and head 1 owns columns 2-3:
#
# * head 0: a pronoun's query (W_Q[3, 0] = s) meets an animate word's key (W_K[0, 0] = s);
# * head 1: a pronoun's query (W_Q[3, 2] = s) meets a state's key (W_K[2, 2] = s).
#
# The score of it → animal in head 0 is s² / √d_k and every other score in its row is 0, so its
# weight is e^(s²/√2) / (e^(s²/√2) + 10). W_V and W_O are the identity, so the output of "it" is
# its two heads' outputs side by side: head 0 copies the *animate* feature of the animal, head 1 the
# *state* feature of tired. After this layer, "it" carries both.

# %%
sentence = "The animal didn't cross the street because it was too tired".split()
features = {"animal": 0, "street": 1, "tired": 2, "it": 3}
X_it = tt.tensor([[[1.0 if features.get(word) == f else 0.0 for f in range(4)] for word in sentence]],
                 device=dev)                       # (1, 11, 4): one sentence
s = 3.0
W_Q, W_K = np.zeros((4, 4)), np.zeros((4, 4))
W_Q[3, 0] = W_Q[3, 2] = s                          # "it" asks in both heads
W_K[0, 0] = s                                      # head 0 answers for an animate word
W_K[2, 2] = s                                      # head 1 answers for a state


def hand_params(w_q, w_k):
    """The two heads' weights as tensors: W_V and W_O the identity, no biases."""
    p = {"W_Q": w_q, "W_K": w_k, "W_V": np.eye(4), "W_O": np.eye(4)}
    p.update({f"b_{n}": np.zeros(4) for n in "QKVO"})
    return {name: tt.tensor(a, dtype=tt.float32, device=dev) for name, a in p.items()}


it_out, it_A = multi_head_attention(X_it, hand_params(W_Q, W_K), h=2)
it, animal, tired = (sentence.index(w) for w in ("it", "animal", "tired"))
expected = math.exp(s ** 2 / math.sqrt(2)) / (math.exp(s ** 2 / math.sqrt(2)) + len(sentence) - 1)
for head in (0, 1):
    looked_at = int(it_A[0, head, it].numpy().argmax())
    print(f"head {head}: it -> {sentence[looked_at]} ({it_A[0, head, it, looked_at].item():.4f})")
print('output of "it" (animate, place, state, pronoun):', it_out[0, it].numpy().round(4))

assert int(it_A[0, 0, it].numpy().argmax()) == animal and int(it_A[0, 1, it].numpy().argmax()) == tired
assert math.isclose(it_A[0, 0, it, animal].item(), expected, rel_tol=1e-5)
assert math.isclose(it_A[0, 1, it, tired].item(), expected, rel_tol=1e-5)
rest = (1 - expected) / (len(sentence) - 1)        # the weight left for each other word
assert np.allclose(it_out[0, it].numpy(), [expected, rest, expected, rest], rtol=1e-4, atol=1e-7)
others = [i for i in range(len(sentence)) if i != it]
assert np.allclose(it_A[0][:, others].numpy(), 1 / len(sentence), rtol=1e-5)   # flat rows: all scores 0

# %%
show(visualize.plot_attention(it_A[0], x_tokens=sentence, y_tokens=sentence,
                              title="Two heads by hand: 'it' looks for the animal, and for its state"),
     "08_two_heads.png")

# %% [markdown]
# Every row but "it" is flat at 1/11: nothing in W_Q was written for those words, so all their
# scores are 0. In "it"'s row, head 0 is bright at *animal* and head 1 at *tired*. The two
# small entries of the output of "it", 0.0017, are what the softmax leaves to each other word: head 0
# takes that much of street's *place*, head 1 that much of the *pronoun* of "it" itself.
#
# ## Exercise
#
# A third question about "it": where did the animal not go? Change the hand-written weights
# so that head 1 makes "it" look at *street* (the *place* feature) instead of *tired*, while
# head 0 still looks at *animal*: copy W_K, change it, and run `multi_head_attention` with
# `hand_params(W_Q, your_W_K)`. Try it yourself first; one solution is below.

# %%
W_K_street = W_K.copy()
W_K_street[2, 2] = 0.0                             # head 1 stops answering for a state
W_K_street[1, 2] = s                               # ... and answers for a place
_, street_A = multi_head_attention(X_it, hand_params(W_Q, W_K_street), h=2)
print("head 1: it ->", sentence[int(street_A[0, 1, it].numpy().argmax())])

# %% [markdown]
# ### Check

# %%
street = sentence.index("street")
assert int(street_A[0, 0, it].numpy().argmax()) == animal, "head 0 must still look at the animal"
assert int(street_A[0, 1, it].numpy().argmax()) == street, "head 1 must look at the street"
assert street_A[0, 1, it, street].item() > 0.5
assert np.allclose(street_A.sum(-1).numpy(), 1.0, rtol=1e-6)
print("correct: one head per question")
