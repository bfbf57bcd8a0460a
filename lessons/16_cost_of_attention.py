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
# Here we measure it. One multi-head attention layer
# ([transformer/multihead_attention.py](../transformer/multihead_attention.py)) runs a
# training step, forward and backward, on sentences of n = 16 ... 1024 tokens. We count the
# bytes of the weights exactly, measure the step's peak memory and its time, and fit the
# exponent p of cost ∝ nᵖ on a log-log plot (对数坐标): a straight line of slope p.

# %%
import os

# Time one thread of linear algebra: NumPy's BLAS starts a worker per core, and on a machine
# that is busy with other work the workers wait for each other, so that the same step takes
# 1 ms or 500 ms at random. This must come before NumPy is first imported (in a notebook,
# in a fresh kernel); a value you set yourself is kept.
for variable in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

import math
import time
import tracemalloc

import matplotlib.pyplot as plt
import numpy as np

import tinytensor as tt
from lesson_tools import device, show
from transformer import MultiheadAttention

dev = device()
print("device:", dev)

batch, d_model, heads = 1, 64, 4
lengths = [16, 32, 64, 128, 256, 512, 1024]

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
    assert weights.shape == (batch, heads, n, n)
    assert weight_bytes[n] == batch * heads * n * n * itemsize  # exactly, for every n
print({n: f"{b / 2**20:g} MiB" for n, b in weight_bytes.items()})
assert weight_bytes[1024] == 16 * 2**20

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
assert math.isclose(slope(lengths, list(weight_bytes.values())), 2.0)  # the weights: exactly n²
assert all(peaks[n] >= weight_bytes[n] for n in lengths)  # backward needs the weights alive
assert 1.85 < memory_exponent < 2.1, memory_exponent
exponents = list(doubling_exponents.values())
assert exponents == sorted(exponents) and exponents[-1] < 2.05  # rising towards 2, from below
assert 2 < peaks[1024] / weight_bytes[1024] < 8  # a few n × n arrays alive at once

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
# its memory before you measure it: give `peak_bytes` the network
# `nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 64))` (width 4 · d_model, as the
# paper's 2048 = 4 · 512), wrapped so that it is called as the attention is, and fit it on the
# same lengths. Which of the two sublayers costs more memory at n = 1024, and from which n on
# does attention cost more?
# (Try it yourself first; the cell below is one solution.)

# %%
class FeedForward(tt.nn.Module):
    """The position-wise feed-forward network, called like the attention above."""

    def __init__(self):
        super().__init__()
        self.net = tt.nn.Sequential(tt.nn.Linear(d_model, 4 * d_model), tt.nn.ReLU(),
                                    tt.nn.Linear(4 * d_model, d_model))

    def forward(self, query, key, value, need_weights=False):
        return self.net(query), None


tt.manual_seed(0)
feed_forward = FeedForward()
ffn_peaks = {n: peak_bytes(feed_forward, n) for n in lengths}
ffn_exponent = slope(lengths[-3:], [ffn_peaks[n] for n in lengths[-3:]])
print(f"feed-forward memory exponent: {ffn_exponent:.2f}")
for n in lengths:
    print(f"n = {n:4d}: attention {peaks[n] / 2**20:6.2f} MiB, feed-forward {ffn_peaks[n] / 2**20:5.2f} MiB")
attention_costs_more_from = next(n for n in lengths if peaks[n] > ffn_peaks[n])
print("attention costs more from n =", attention_costs_more_from)

# %% [markdown]
# ### Check

# %%
assert 0.8 < ffn_exponent < 1.2, ffn_exponent          # linear in n: each position alone
assert peaks[1024] > 4 * ffn_peaks[1024]               # at n = 1024 attention dominates
assert attention_costs_more_from == 64                 # where n reaches d_model = 64
assert all(peaks[n] > ffn_peaks[n] for n in lengths if n >= 64)
print("correct: the feed-forward network costs n, attention n²")
