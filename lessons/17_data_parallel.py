# %% [markdown]
# # Lesson 17: Data parallelism, one model trained by several processes
#
# When one core, one GPU or one machine is too slow, start N copies of the training program,
# give each a share of every batch, and keep their weights identical. That is data parallelism
# (数据并行), PyTorch's `DistributedDataParallel`, and tinytensor's
# [`tinytensor/nn/parallel/distributed.py`](../tinytensor/nn/parallel/distributed.py), which this
# lesson reads and runs. Three ideas make it work:
#
# 1. **The mean of means** (均值的均值): averaging the gradients (梯度) of N equal shards of a
#    batch gives exactly the gradient of the whole batch.
# 2. **Ring all-reduce** (环形全归约): how N processes (进程) sum their gradients, each sending
#    only 2(N-1)/N of the gradient's bytes, however large N grows.
# 3. **Buckets and overlap** (梯度桶与计算通信重叠): gradients travel in a few large buckets, each
#    sent while backward is still computing the earlier layers.
#
# A Jupyter kernel cannot be one of the processes of an MPI job, so the training runs as a
# separate program, started from a cell with `mpiexec -n 2` through `subprocess`, as you would
# start it from a terminal. Read along: [`docs/distributed.md`](../docs/distributed.md) (install,
# launch, cost on paper) and [`tinytensor/distributed/`](../tinytensor/distributed/__init__.py)
# (the collectives).

# %%
import json
import os
import runpy
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

import lesson_tools
import tinytensor as tt
from lesson_tools import checks, exercise, optional_torch, show

torch = optional_torch()  # not needed here; imported so that its threads follow the lesson's
ROOT = Path(lesson_tools.__file__).resolve().parent.parent  # the repository: the ranks import from it

# %% [markdown]
# ## 1. The mean of means
#
# The loss of a batch of B examples is their mean, `L = (1/B) Σ_i l_i`, so its gradient is the
# mean of the examples' gradients. Cut the batch into N shards of B/N examples; shard r's mean
# loss has the gradient `g_r = (N/B) Σ_{i in shard r} ∇l_i`. Then
#
#     (1/N) Σ_r g_r = (1/N) Σ_r (N/B) Σ_{i in shard r} ∇l_i = (1/B) Σ_i ∇l_i = ∇L
#
# So if each process computes the gradient of its own shard and they average the results, every
# process holds the whole batch's gradient, takes the same optimizer step from the same weights,
# and the weights stay identical. Here is that equation in float64, in one process: a small
# linear layer, a batch of 8 examples, 4 shards of 2.

# %%
rng = np.random.default_rng(0)
W = tt.tensor(rng.normal(size=(3, 5)), requires_grad=True)
X, Y = tt.tensor(rng.normal(size=(8, 5))), tt.tensor(rng.normal(size=(8, 3)))


def gradient(x, y):
    """dL/dW of the mean squared error of the examples x, y."""
    W.grad = None
    ((x @ W.T - y) ** 2).mean().backward()
    return W.grad.numpy().copy()


whole = gradient(X, Y)
shards = [gradient(X[2 * r:2 * r + 2], Y[2 * r:2 * r + 2]) for r in range(4)]
print("the whole batch's gradient, first row:   ", whole[0].round(4))
print("the mean of the 4 shards' gradients:     ", np.mean(shards, axis=0)[0].round(4))
print("largest difference:", np.abs(np.mean(shards, axis=0) - whole).max())

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("the mean of 4 shards' gradients against the whole batch's, and against NumPy's formula") as check:
    check.close("mean of means", np.mean(shards, axis=0), whole, rtol=1e-12, atol=1e-15)
    x, y, w = X.numpy(), Y.numpy(), W.detach().numpy()
    check.close("dL/dW by hand", 2 * (x @ w.T - y).T @ x / y.size, whole, rtol=1e-12)

# %% [markdown]
# The shards must be equal. With 2 examples in one shard and 6 in another, the plain mean of
# the two means weighs each of the first two examples three times as much as the others: not
# the batch's gradient. This is why `DistributedSampler` gives every rank the same number of
# examples (padding the last share, or dropping the tail with `drop_last=True`). The exercise
# at the end asks how to average unequal shards correctly.

# %%
unequal = [gradient(X[:2], Y[:2]), gradient(X[2:], Y[2:])]
print("plain mean of a 2-example and a 6-example shard, off by:",
      np.abs(np.mean(unequal, axis=0) - whole).max().round(4))

# %% [markdown]
# ## 2. Ring all-reduce, step by step
#
# Every rank (进程编号) r holds its gradient `g_r`; all must end with `Σ_r g_r` (then divide by N).
# Sending everything to one rank would make it receive (N-1) gradients. The ring does better:
# arrange the ranks in a ring, cut each gradient into N chunks, and
#
# * **reduce-scatter**, N-1 steps: at step s, rank r sends chunk (r - s) mod N to rank r+1,
#   which adds it to its own copy of that chunk. After N-1 steps rank r holds the complete
#   sum of chunk (r + 1) mod N.
# * **all-gather**, N-1 steps: the complete chunks go round once more, each rank passing on
#   what it has just received, until every rank holds every complete chunk.
#
# Each step, every rank sends one chunk (M/N bytes) and receives one, all at the same time:
# 2(N-1) steps, 2(N-1)/N · M bytes per rank. Here it is simulated for N = 4 ranks, each
# gradient 4 numbers (one per chunk), recording every step.

# %%
def ring_all_reduce(gradients):
    """Simulate the ring on N arrays of N chunks; the states after every step and what was sent."""
    n = len(gradients)
    held = [np.array(g, dtype=float) for g in gradients]
    count = [np.ones(n, dtype=int) for _ in range(n)]  # how many ranks' values each chunk holds
    states = [([h.copy() for h in held], [c.copy() for c in count], None)]
    for phase, steps in (("reduce-scatter", range(n - 1)), ("all-gather", range(n - 1))):
        for s in steps:
            first = 0 if phase == "reduce-scatter" else 1  # all-gather passes on the complete chunks
            sent = {r: (r + first - s) % n for r in range(n)}  # rank r sends this chunk to r + 1
            values = {r: (held[r][c], count[r][c]) for r, c in sent.items()}  # all send at once
            for r, c in sent.items():
                value, contributions = values[r]
                right = (r + 1) % n
                if phase == "reduce-scatter":
                    held[right][c] += value
                    count[right][c] += contributions
                else:
                    held[right][c], count[right][c] = value, contributions
            states.append(([h.copy() for h in held], [c.copy() for c in count], (phase, s + 1, sent)))
    return states


N = 4
gradients = [np.arange(1, N + 1) * 10 ** r for r in range(N)]  # rank r: 10^r x (1, 2, 3, 4)
states = ring_all_reduce(gradients)
final, _, _ = states[-1]
print("each rank's gradient:", [g.tolist() for g in gradients])
print("after the ring, every rank holds:", final[0].tolist())
print(f"steps: {len(states) - 1}; chunks each rank sent: {len(states) - 1} of {N} per gradient = "
      f"{(len(states) - 1) / N:g} gradients' worth, 2(N-1)/N = {2 * (N - 1) / N:g}")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("the ring's result on every rank against the sum, and its step count against 2(N-1)") as check:
    for r in range(N):
        check.equal(f"rank {r}", final[r], np.sum(gradients, axis=0))
    check.equal("steps", len(states) - 1, 2 * (N - 1))
    middle, counts, _ = states[N - 1]  # after reduce-scatter: rank r holds chunk r + 1 complete
    check.true("after reduce-scatter, rank r has chunk r+1 complete",
               all(counts[r][(r + 1) % N] == N for r in range(N)))

# %% [markdown]
# The picture: one row per step, one group of four boxes per rank, a box per chunk. The darker
# a box, the more ranks' values it holds (white: its own only, darkest: all four, complete).
# A red edge marks the chunk each rank sends to its right neighbour (the last rank to rank 0)
# at that step.

# %%
def draw_ring(states, n):
    figure = Figure(figsize=(9, 0.75 * len(states) + 0.6), layout="constrained")
    ax = figure.subplots()
    cmap = matplotlib.colormaps["Blues"]
    for row, (held, counts, step) in enumerate(states):
        y = -row
        for r in range(n):
            for c in range(n):
                x = r * (n + 1) + c
                shade = cmap(0.15 + 0.75 * (counts[r][c] - 1) / (n - 1))
                edge = "#c62828" if row + 1 < len(states) and states[row + 1][2][2].get(r) == c else "#555"
                ax.add_patch(Rectangle((x, y - 0.4), 0.95, 0.8, facecolor=shade, edgecolor=edge,
                                       linewidth=2.2 if edge != "#555" else 0.6))
                ax.text(x + 0.47, y, f"{held[r][c]:g}", ha="center", va="center", fontsize=6.5,
                        color="white" if counts[r][c] > n / 2 else "black")
        label = "start" if step is None else f"{step[0]} {step[1]}"
        ax.text(-0.6, y, label, ha="right", va="center", fontsize=8)
    for r in range(n):
        ax.text(r * (n + 1) + n / 2, 0.75, f"rank {r}", ha="center", fontsize=9)
    ax.set_xlim(-7.5, n * (n + 1))
    ax.set_ylim(-len(states) + 0.4, 1.2)
    ax.axis("off")
    ax.set_title("ring all-reduce of 4 gradients (red edge: the chunk sent to the right next)", fontsize=10)
    return figure


show(draw_ring(states, N), "17_ring_all_reduce.png")

# %% [markdown]
# ## 3. Two real processes
#
# Now the real thing: a program that `mpiexec -n 2` starts twice. Each copy joins the process
# group (`init_process_group`), learns its rank, builds the model **from weights of its own**
# (seeded by its rank), wraps it in `DistributedDataParallel`, which broadcasts rank 0's weights
# to every rank, and trains 3 steps on its half of each batch. The model is 6 layers of 256 x 256
# in float64 (half a megabyte of gradient each), in buckets of a quarter of a megabyte: one
# layer's weight per bucket, so we can watch them leave one by one.
#
# The cell writes the program to a file and runs it; each rank saves its weights and the
# timeline DDP recorded of its last step (`ddp.timeline`).

# %%
PROGRAM = r'''
import json, sys, time
import numpy as np
import tinytensor as tt
import tinytensor.distributed as dist
from tinytensor import nn, optim
from tinytensor.nn.parallel import DistributedDataParallel

STEPS, BATCH, WIDTH, LAYERS = 3, 64, 256, 6


def make_model(seed):
    tt.manual_seed(seed)
    layers = []
    for _ in range(LAYERS):
        layers += [nn.Linear(WIDTH, WIDTH), nn.Tanh()]
    return nn.Sequential(*layers, nn.Linear(WIDTH, 1)).double()


def batch(step):
    rng = np.random.default_rng(step)
    return tt.tensor(rng.normal(size=(BATCH, WIDTH))), tt.tensor(rng.normal(size=(BATCH, 1)))


def train(model, rank, size):
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    marks = {}
    for step in range(STEPS):
        x, y = batch(step)
        share = slice(rank * BATCH // size, (rank + 1) * BATCH // size)  # this rank's half
        optimizer.zero_grad()
        marks["forward"] = time.perf_counter()
        loss = ((model(x[share]) - y[share]) ** 2).mean()
        marks["backward"] = time.perf_counter()
        loss.backward()  # DDP averages the gradients across the ranks in here
        marks["step end"] = time.perf_counter()
        optimizer.step()
    return marks


if __name__ == "__main__":
    dist.init_process_group("mpi")
    rank, size = dist.get_rank(), dist.get_world_size()
    model = make_model(seed=rank)  # each rank its own random weights...
    before = model[0].weight.numpy()[0, :3].tolist()
    ddp = DistributedDataParallel(model, bucket_cap_mb=0.25)  # ...and now rank 0's everywhere
    after = model[0].weight.numpy()[0, :3].tolist()
    marks = train(ddp, rank, size)
    start = marks["forward"]
    np.savez(f"{sys.argv[1]}/rank{rank}.npz", **{k: v.numpy() for k, v in model.state_dict().items()})
    with open(f"{sys.argv[1]}/rank{rank}.json", "w") as file:
        json.dump({"before": before, "after": after, "buckets": len(ddp._buckets),
                   "marks": {k: v - start for k, v in marks.items()},
                   "timeline": [(kind, i, t - start) for kind, i, t in ddp.timeline]}, file)
'''


def mpiexec():
    """The mpiexec beside this Python (the mpich wheel puts it there), else the one on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    found = str(beside) if beside.exists() else shutil.which("mpiexec")
    if found is None:
        raise RuntimeError('this lesson starts 2 processes with mpiexec: pip install -e ".[distributed]"')
    return found


work = Path(tempfile.mkdtemp())
program = work / "ddp_program.py"
program.write_text(PROGRAM)
env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           OMP_NUM_THREADS="1")  # one BLAS thread per process: two processes share two cores
done = subprocess.run([mpiexec(), "-n", "2", sys.executable, str(program), str(work)], env=env,
                      capture_output=True, text=True, timeout=300)
print(done.stdout, done.stderr[-2000:] if done.returncode else "", sep="")
ranks = [json.loads((work / f"rank{r}.json").read_text()) for r in range(2)]
weights = [dict(np.load(work / f"rank{r}.npz")) for r in range(2)]
for r, got in enumerate(ranks):
    print(f"rank {r}: first weights {np.round(got['before'], 4)} -> after DDP {np.round(got['after'], 4)}")

# %% [markdown]
# The ranks started from different weights and, after `DistributedDataParallel(model)`, hold
# rank 0's. After 3 steps on different halves of each batch they still agree, and they agree
# with one process that trains the same model on the whole batches, here in the notebook:

# %%
program_ns = runpy.run_path(str(program))  # the program's functions, without running its main
alone = program_ns["make_model"](seed=0)   # rank 0's weights
program_ns["train"](alone, rank=0, size=1)  # one process, the whole batch
one_process = {k: v.numpy() for k, v in alone.state_dict().items()}
difference = max(np.abs(weights[0][k] - one_process[k]).max() for k in one_process)
print(f"largest difference between 2 processes and 1, after 3 steps: {difference:.1e}")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("the ranks' start, their agreement after 3 steps, and one process on the whole batch") as check:
    check.true("the ranks started apart", not np.allclose(ranks[0]["before"], ranks[1]["before"]))
    check.close("rank 1 after DDP holds rank 0's", ranks[1]["after"], ranks[0]["before"], rtol=0)
    for name in one_process:
        check.equal(f"{name} on both ranks", weights[1][name], weights[0][name])
        check.close(f"{name}, 2 processes against 1", weights[0][name], one_process[name],
                    rtol=1e-12, atol=1e-14)

# %% [markdown]
# ## 4. Buckets and overlap on a timeline
#
# The gradients of the last layer are ready first, since backward runs from the loss back. The
# hook DDP put on each parameter (`register_post_accumulate_grad_hook`) copies a gradient into
# its bucket as soon as it is complete; a full bucket's all-reduce starts at once, without
# waiting (`async_op=True`), while backward goes on with the earlier layers; and MPI moves it
# forward each time a later hook asks whether it is done. When backward ends, a callback queued
# on the engine (`tinytensor.autograd.queue_callback`) waits for the buckets still on the way
# and writes the averages into `.grad`.
#
# The picture shows rank 0's last step: the forward, the backward, each bucket's all-reduce from
# its launch to the moment DDP saw it done, and the wait at the end of backward.

# %%
def draw_timeline(got):
    marks, events = got["marks"], got["timeline"]
    launched = {i: t for kind, i, t in events if kind == "launch"}
    finished = {i: t for kind, i, t in events if kind == "done"}
    end = next(t for kind, _, t in events if kind == "backward end")
    averaged = next(t for kind, _, t in events if kind == "averaged")
    figure = Figure(figsize=(9, 3.2), layout="constrained")
    ax = figure.subplots()
    ms = 1e3
    ax.barh(0, (marks["backward"] - 0) * ms, left=0, color="#90caf9", label="forward")
    ax.barh(0, (end - marks["backward"]) * ms, left=marks["backward"] * ms, color="#1e88e5", label="backward")
    ax.barh(0, (averaged - end) * ms, left=end * ms, color="#e53935", label="waiting for the last buckets")
    for i in sorted(launched):
        ax.barh(1 + i * 0.35, (finished[i] - launched[i]) * ms, left=launched[i] * ms, height=0.28,
                color="#43a047", label="a bucket's all-reduce" if i == 0 else None)
        ax.text(finished[i] * ms, 1 + i * 0.35, f" bucket {i}", va="center", fontsize=7)
    ax.set_yticks([0, 1 + 0.35 * (len(launched) - 1) / 2], ["compute", "communication"])
    ax.set_xlabel("milliseconds since the forward began (rank 0, its last step)")
    ax.legend(loc="upper left", fontsize=7, ncol=2)
    return figure, launched, end, averaged


figure, launched, backward_end, averaged = draw_timeline(ranks[0])
show(figure, "17_buckets_timeline.png")
during = sum(t < backward_end for t in launched.values())
print(f"{len(launched)} buckets; {during} launched before backward ended; "
      f"left to wait after backward: {1e3 * (averaged - backward_end):.2f} ms of a "
      f"{1e3 * averaged:.1f} ms step")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("the buckets: one per layer's weight (7 with the biases' last), launched in order during backward") as check:
    check.equal("buckets", ranks[0]["buckets"], len(launched))
    check.equal("launch order", sorted(launched, key=launched.get), list(range(len(launched))))
    check.true("every bucket left during backward", during == len(launched))
    check.true("bucket 0 left well before backward ended", launched[0] < backward_end)

# %% [markdown]
# Every bucket left while backward was still running: the first one, holding the last layer's
# gradient, long before its end. On this 2-core machine the two processes also compete with
# MPI's copying for the cores, so how much time the overlap saves depends on the machine;
# `benchmarks/bench_distributed.py` measures it on the translator (docs/benchmarks.md): the
# same buckets all-reduced after backward against during it.
#
# Why reverse order, and why buckets rather than one all-reduce per parameter: the gradients
# arrive last layer first, so the buckets are filled in that order and the first is full soonest;
# and each all-reduce pays a fixed latency, which a few large buckets pay a few times instead of
# once per parameter. Every rank launches the buckets in the same order (bucket i only after
# buckets 0 to i-1), since collectives are matched by their order: two buckets of one shape
# launched in different orders on two ranks would be added to each other, silently.

# %% [markdown]
# ## Exercise
#
# Suppose the shards are not equal: rank r computed `grads[r]`, the gradient of the **mean**
# loss of its `sizes[r]` examples. Write `combine(grads, sizes)` that returns the gradient of the
# mean loss over all `sum(sizes)` examples. The check runs it on the 2-example and 6-example
# shards of section 1 (`unequal`, sizes 2 and 6), where the plain mean was off, and on random ones.

# %% tags=["exercise"]
combine = ...  # your answer: def combine(grads, sizes): ... returning the whole batch's gradient

# %% tags=["check"]
exercise(globals(), "17_data_parallel", "combine")
