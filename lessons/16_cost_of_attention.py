# %% [markdown]
# # Lesson 16: The cost of attention
#
# Seed 003's summary lists three things about the Transformer: no recurrence, so it
# parallelizes (容易并行); it needs position embeddings (位置的 embedding); and its memory cost
# is huge (内存开销巨大). Seeds 002 and 004 say why: QKᵀ has one row and one column per word,
# an n × n matrix for a sentence of n words, and the attention weights (注意力权重)
# softmax(QKᵀ/√d_k) are that size for every head and every sentence of the batch, kept for the
# backward pass. "Attention Is All You Need", §4 and Table 1, puts self-attention's cost per
# layer at O(n² · d), against O(n · d²) for a recurrent layer: cheaper while n < d, and
# quadratic beyond.
#
# We measure both sides of that trade. First the paper's Table 1 for a recurrent layer and a
# self-attention layer of the same size: the work each does, how many of its operations must
# run one after another, and how long a path a signal travels from the first word to the last;
# seed 000's "RNNs are slow" timed, 30 sequential steps against one attention product. Then the
# price: one multi-head attention layer
# ([transformer/multihead_attention.py](../transformer/multihead_attention.py)) runs a
# training step, forward and backward, on sentences of n = 16 ... 1024 tokens. We count the
# bytes of the weights exactly, measure the step's peak memory and its time, and fit the
# exponent p of cost ∝ nᵖ on a log-log plot (对数坐标): a straight line of slope p.

# %%
import math
import time
import tracemalloc

import matplotlib.pyplot as plt
import numpy as np

import tinytensor as tt
from lesson_tools import checks, device, exercise, show
from transformer import MultiheadAttention

dev = device()
print("device:", dev)

batch, d_model, heads = 1, 64, 4
lengths = [16, 32, 64, 128, 256, 512, 1024]

# %% [markdown]
# ## Table 1, measured: a recurrent layer against self-attention
#
# Both layers turn n input vectors of width d into n output vectors. The recurrent one,
# h_t = tanh(x_t W_x + h_{t-1} W_h), must finish step t - 1 before step t: n steps in a row,
# each a (1 × d)(d × d) product. Self-attention, softmax(Q Kᵀ/√d) V with Q = X W_Q and so on,
# is a few big products over all positions at once. The paper's Table 1 (§4) compares them
# three ways; we measure each on tinytensor's own graph, for n = 8, 16, 32 and d = 128:
#
# * **work** (complexity per layer): the multiply-adds of the products that connect positions,
#   counted from their shapes: h_{t-1} W_h, n·d² in all, against QKᵀ and AV, n²·d each (the
#   position-wise projections, x W_x and X W_Q, X W_K, X W_V, are the same kind of work in
#   both, and Table 1 leaves them out);
# * **sequential operations**: the ops the layer's graph holds, each of which must wait for the
#   one before it (a GPU can run one op over many numbers at once, but not two dependent ops);
# * **maximum path length**: the ops on the longest path from the first input x_1 to the last
#   output: how far a signal (and its gradient, backward) must travel between the two ends.

# %%
def recurrent_layer(xs, W_x, W_h):
    """h_t = tanh(x_t W_x + h_{t-1} W_h) for the n inputs xs (each (1, d)); the n outputs."""
    h, outputs = tt.zeros(1, W_h.shape[0], device=dev), []
    for x in xs:
        h = (x @ W_x + h @ W_h).tanh()
        outputs.append(h)
    return outputs


def attention_layer(xs, W_Q, W_K, W_V):
    """softmax(Q Kᵀ / √d) V over all n inputs at once; the (n, d) outputs."""
    X = tt.cat(xs)                                                    # (n, d)
    Q, K, V = X @ W_Q, X @ W_K, X @ W_V
    return tt.softmax(Q @ K.T / math.sqrt(X.shape[1]), -1) @ V       # (n, d)


def longest_path(root, start):
    """The ops on the longest path from the leaf ``start`` to ``root`` in root's graph."""
    depth = {}
    for node in tt.autograd.topological_order([root.grad_fn]):       # parents first
        if node is start:
            depth[node] = 0
        elif isinstance(node, tt.autograd.Function):
            reached = [depth[p] for p in node.parents if p is not None and depth.get(p) is not None]
            depth[node] = 1 + max(reached) if reached else None
    return depth[root.grad_fn]


def count_ops(root):
    return sum(isinstance(node, tt.autograd.Function) for node in tt.autograd.topological_order([root.grad_fn]))


tt.manual_seed(5)
d = 128
W = {name: (tt.randn(d, d, device=dev) / math.sqrt(d)).requires_grad_() for name in ("x", "h", "Q", "K", "V")}
table = {}
for n in (8, 16, 32):
    xs = [tt.randn(1, d, device=dev).requires_grad_() for _ in range(n)]
    last_rnn = recurrent_layer(xs, W["x"], W["h"])[-1]
    last_attention = attention_layer(xs, W["Q"], W["K"], W["V"])[-1:]
    table[n] = {"recurrent": (n * d * d, count_ops(last_rnn), longest_path(last_rnn, xs[0])),
                "self-attention": (2 * n * n * d, count_ops(last_attention), longest_path(last_attention, xs[0]))}
print(f"{'':>16} {'n':>3} {'multiply-adds':>14} {'ops in the graph':>17} {'ops from x_1 to the end':>24}")
for n, rows in table.items():
    for name, (work, ops, path) in rows.items():
        print(f"{name:>16} {n:3d} {work:14,d} {ops:17d} {path:24d}")
print("the paper's Table 1:  recurrent O(n·d²), O(n), O(n);  self-attention O(n²·d), O(1), O(1)")

# %% [markdown]
# The recurrent layer's ops and its path both double with n: step 32 cannot start before step
# 31, and a signal from the first word crosses 3 ops for every word after it. Self-attention's
# stay the same: 10 ops, 8 of them between x_1 and the last output, for any n. Its work, 2·n²·d
# against n·d², is the smaller while n < d/2 (the paper's "n < d", up to the constant its O()
# drops; "which is most often the case with sentence representations"). Seconds tell the
# same story: seed 000's "slow to train" is this loop. Below, 30 sequential steps against the
# one attention over the same 30 positions, and then both as the sentence grows (the times
# depend on the machine; nothing is asserted about them).

# %%
def best_of(fn, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if dev == "cuda":
            tt.cuda.synchronize()  # the GPU runs queued work; wait for it before reading the clock
        times.append(time.perf_counter() - start)
    return min(times)


step_lengths = [8, 16, 30, 64, 128, 256]
rnn_seconds, attention_seconds = {}, {}
with tt.no_grad():
    for n in step_lengths:
        xs = [tt.randn(1, d, device=dev) for _ in range(n)]
        rnn_seconds[n] = best_of(lambda: recurrent_layer(xs, W["x"], W["h"]))
        attention_seconds[n] = best_of(lambda: attention_layer(xs, W["Q"], W["K"], W["V"]))
print(f"n = 30: {rnn_seconds[30] * 1e3:.2f} ms for 30 recurrent steps, {attention_seconds[30] * 1e3:.2f} ms "
      f"for attention over all 30 ({rnn_seconds[30] / attention_seconds[30]:.0f} times faster)")

fig, ax = plt.subplots(figsize=(6.2, 3.6))
ax.loglog(step_lengths, [rnn_seconds[n] for n in step_lengths], "o-", base=2, label="recurrent: n steps in a row")
ax.loglog(step_lengths, [attention_seconds[n] for n in step_lengths], "s-", base=2, label="self-attention: one pass")
ax.set(xlabel="sentence length n", ylabel="seconds (forward)", title=f"one layer, d = {d}, on {dev}")
ax.grid(True, which="both", alpha=0.3)
ax.legend()
show(fig, "16_recurrent_against_attention.png")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("Table 1's columns: recurrent ops and paths grow as n, attention's are constant; work n·d² against n²·d") as check:
    for n in (16, 32):
        check.equal(f"recurrent ops, n = {n}", table[n]["recurrent"][1], 2 * table[n // 2]["recurrent"][1])
        check.equal(f"recurrent path, n = {n}", table[n]["recurrent"][2], 2 * table[n // 2]["recurrent"][2])
        check.equal(f"attention ops, n = {n}", table[n]["self-attention"][1], table[8]["self-attention"][1])
        check.equal(f"attention path, n = {n}", table[n]["self-attention"][2], table[8]["self-attention"][2])
    check.equal("the recurrent path: 3 ops a step", table[32]["recurrent"][2], 3 * 32)
    check.equal("the attention path: 8 ops", table[32]["self-attention"][2], 8)
    check.true("attention's work is smaller while n < d", all(table[n]["self-attention"][0] < table[n]["recurrent"][0]
                                                              for n in table))

# %% [markdown]
# ## The weights: exactly B · h · n² numbers
#
# `need_weights=True, average_attn_weights=False` returns the weights of every head,
# shape (B, h, n, n). In float32 each is 4 bytes, so B · h · n² · 4 bytes in all: 16 MiB for a
# single sentence of 1024 tokens with 4 heads, in a single layer, before the backward pass
# makes more arrays of the same shape.

# %%
tt.manual_seed(0)
attention = MultiheadAttention(d_model, heads, batch_first=True).to(dev)
itemsize = np.dtype(np.float32).itemsize  # 4: NumPy's own answer, not tinytensor's
weight_bytes = {}
for n in lengths:
    x = tt.randn(batch, n, d_model, device=dev)
    with tt.no_grad():
        _, weights = attention(x, x, x, need_weights=True, average_attn_weights=False)
    weight_bytes[n] = weights.numel() * weights.dtype.itemsize
print({n: f"{b / 2**20:g} MiB" for n, b in weight_bytes.items()}, "of weights, shape", tuple(weights.shape))

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("the weights are B·h·n² numbers of 4 bytes, for every n: 16 MiB at n = 1024") as check:
    check.equal("shape at n = 1024", weights.shape, (batch, heads, 1024, 1024))
    for n in lengths:
        check.equal(f"bytes at n = {n}", weight_bytes[n], batch * heads * n * n * itemsize)
    check.equal("16 MiB", weight_bytes[1024], 16 * 2**20)

# %% [markdown]
# ## The peak memory of a training step
#
# `tracemalloc` (Python's own memory tracer) sees every NumPy array as it is allocated, so its
# peak during one forward + backward is the most memory the step held at once. This is host
# memory, so we measure it on the CPU even when there is a GPU. The input is made before the
# tracing starts: the peak is what the step itself needs.

# %%
def training_step(layer, x):
    out, _ = layer(x, x, x, need_weights=False)
    loss = (out * out).mean()
    loss.backward()


def peak_bytes(layer, n):
    x = tt.randn(batch, n, d_model)
    tracemalloc.start()
    training_step(layer, x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    layer.zero_grad()
    return peak


def slope(xs, ys):
    """The exponent p of y ∝ x^p: the slope of the least-squares line through (log x, log y)."""
    return np.polyfit(np.log(xs), np.log(ys), 1)[0]


tt.manual_seed(0)
cpu_attention = MultiheadAttention(d_model, heads, batch_first=True)
peaks = {n: peak_bytes(cpu_attention, n) for n in lengths}
doubling_exponents = {n: math.log2(peaks[n] / peaks[n // 2]) for n in lengths[1:]}  # from n/2 to n
print(f"{'n':>5s} {'peak':>10s} {'peak / weights':>15s} {'exponent from n/2':>18s}")
for n in lengths:
    step_exponent = f"{doubling_exponents[n]:.2f}" if n in doubling_exponents else ""
    print(f"{n:5d} {peaks[n] / 2**20:7.2f} MiB {peaks[n] / weight_bytes[n]:15.2f} {step_exponent:>18s}")

memory_exponent = slope(lengths[-3:], [peaks[n] for n in lengths[-3:]])
print(f"memory exponent, fitted on n = {lengths[-3]}..{lengths[-1]}: {memory_exponent:.2f}")

# %% tags=["check"] jupyter={"source_hidden": true}
exponents = list(doubling_exponents.values())
with checks("the weights' slope is exactly 2; the peak holds them; its exponent rises to about 2 from below") as check:
    check.close("the weights: exactly n²", slope(lengths, list(weight_bytes.values())), 2.0, rtol=1e-9)
    check.true("backward needs the weights alive", all(peaks[n] >= weight_bytes[n] for n in lengths))
    check.true("memory exponent 1.85..2.1", 1.85 < memory_exponent < 2.1)
    check.true("rising towards 2, from below", exponents == sorted(exponents) and exponents[-1] < 2.05)
    check.true("a few n × n arrays alive at once", 2 < peaks[1024] / weight_bytes[1024] < 8)

# %% [markdown]
# At small n the peak hardly moves: the parameters, their gradients and Python's own objects
# are a fixed cost, and the n × n arrays are still smaller than the n × d ones (n < d = 64).
# Past that the n × n arrays take over and each doubling of n costs four times the memory. The
# step holds a few such arrays at once (the ratio column): the weights, kept for backward, and
# in the backward dP = G Vᵀ and the softmax's dS, each n × n per head.
#
# ## The time of a step
#
# Time is measured too, but only shown: it depends on the machine, on what else runs, and at
# small n on Python's fixed overhead per op (on a GPU on the launch of each kernel), so the
# curve is flat at first and bends up where the n² work dominates, to slope 2 or steeper
# (once the n × n arrays outgrow the processor's caches, each of their bytes costs more). We
# take the best of a few runs, the least disturbed one.

# %%
def best_time(layer, n, repeats=3):
    x = tt.randn(batch, n, d_model, device=dev)
    training_step(layer, x)  # once to warm up (allocator, caches)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        training_step(layer, x)
        if dev == "cuda":
            tt.cuda.synchronize()  # the GPU runs queued work; wait for it before reading the clock
        times.append(time.perf_counter() - start)
    layer.zero_grad()
    return min(times)


seconds = {n: best_time(attention, n) for n in lengths}
time_exponent = slope(lengths[-3:], [seconds[n] for n in lengths[-3:]])
print({n: f"{s * 1e3:.2f} ms" for n, s in seconds.items()})
print(f"time exponent, fitted on n = {lengths[-3]}..{lengths[-1]}: {time_exponent:.2f} (not asserted)")

# %%
figure, (ax_memory, ax_time) = plt.subplots(1, 2, figsize=(10, 4))
n_axis = np.array(lengths, dtype=float)
ax_memory.loglog(n_axis, [peaks[n] for n in lengths], "o-", base=2, label="peak of a training step")
ax_memory.loglog(n_axis, [weight_bytes[n] for n in lengths], "s-", base=2, label="attention weights B·h·n²·4")
ax_memory.loglog(n_axis, peaks[lengths[-1]] * (n_axis / lengths[-1]) ** 2, "k--", base=2, label="∝ n²")
ax_memory.set(xlabel="sentence length n (tokens)", ylabel="bytes",
              title=f"memory: exponent {memory_exponent:.2f} at large n")
ax_time.loglog(n_axis, [seconds[n] for n in lengths], "o-", base=2, label=f"one training step ({dev})")
ax_time.loglog(n_axis, seconds[lengths[-2]] * (n_axis / lengths[-2]) ** 2, "k--", base=2, label="∝ n²")
ax_time.set(xlabel="sentence length n (tokens)", ylabel="seconds",
            title=f"time: exponent {time_exponent:.2f} at large n")
for ax in (ax_memory, ax_time):
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
figure.suptitle(f"one attention layer, d_model={d_model}, {heads} heads, batch {batch}")
show(figure, "16_cost_of_attention.png")

# %% [markdown]
# ## Exercise
#
# The other sublayer of every Transformer layer, the feed-forward network
# max(0, x W₁ + b₁) W₂ + b₂ (§3.3), works on each position alone. Predict the exponent of
# its memory before you measure it. Measure `peak_bytes` for the network
# `nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 64))` (width 4 · d_model, as the
# paper's 2048 = 4 · 512) at every n of `lengths`: `peak_bytes` calls `layer(x, x, x,
# need_weights=False)` and reads `[0]`, so wrap the network in a module with that `forward`.
# Put the peaks in the dict `ffn_peaks` (n -> bytes) and the smallest n of `lengths` from which
# attention costs more memory than the feed-forward network in `attention_costs_more_from`.

# %% tags=["exercise"]
ffn_peaks = ...                  # your answer: {n: peak bytes of the feed-forward network's training step}
attention_costs_more_from = ...  # your answer: the first n of lengths where peaks[n] > ffn_peaks[n]

# %% tags=["check"]
exercise(globals(), "16_cost_of_attention", "feed_forward_memory")
