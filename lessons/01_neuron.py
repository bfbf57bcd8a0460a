# %% [markdown]
# # Lesson 1: A neuron by hand
#
# One neuron (神经元) of Andrej Karpathy's micrograd lecture, the smallest thing that learns:
#
#     o = tanh(x1*w1 + x2*w2 + b)
#
# with inputs `x1 = 2`, `x2 = 0`, weights `w1 = -3`, `w2 = 1` and bias `b = 6.8813735870195432`.
# We compute it forward (the forward pass, 前向传播), then ask how `o` changes when each input
# or weight changes: its gradient (梯度). We find the gradients twice, once by hand with the
# chain rule (链式法则) and once with tinytensor's `backward()`, the backpropagation
# (反向传播) that every later lesson uses to train.
#
# Seed 002 explains backpropagation as a game of 你画我猜 (Pictionary) played in a line: the last
# player learns how far off the answer was and tells the one before how to describe it better,
# and so on back to the first. Here the "players" are the nodes of the computation graph
# (计算图), and what they pass back is a gradient.
#
# Read along: [`tinytensor/autograd/function.py`](../tinytensor/autograd/function.py) (one op,
# one node), [`tinytensor/autograd/engine.py`](../tinytensor/autograd/engine.py) (the walk
# backward), [`visualize/dot.py`](../visualize/dot.py) (the pictures).
#
# **How a lesson reads.** Cells marked *check* (collapsed in Jupyter: click to open them) compare
# the numbers of the section with an independent reference and print one line; the lesson is
# right where they pass. An *exercise* has a cell for you to write in, then a check that reads
# your names; its solution is in [`solutions/`](solutions/01_neuron.py) when you want it.

# %%
import math
import tempfile
from pathlib import Path

import tinytensor as tt
import visualize
from lesson_tools import checks, device, exercise, optional_torch, show

torch = optional_torch()  # a second reference for the checks, when installed; never needed

dev = device()
print("device:", dev)

# %% [markdown]
# ## Forward
#
# Every number is a 0-d tensor in float64 (a scalar with 16 significant digits), created with
# `requires_grad=True` so that tinytensor records each operation into a graph as it runs.
# We keep a name for each intermediate result, to see it in the picture.

# %%
def neuron():
    """The neuron as a graph of five leaves and five ops; returns the leaves and named results."""
    def scalar(value):
        return tt.tensor(value, dtype=tt.float64, device=dev, requires_grad=True)

    x1, x2, w1, w2, b = scalar(2.0), scalar(0.0), scalar(-3.0), scalar(1.0), scalar(6.8813735870195432)
    x1w1 = x1 * w1
    x2w2 = x2 * w2
    x1w1x2w2 = x1w1 + x2w2
    n = x1w1x2w2 + b          # the neuron's raw activation
    o = n.tanh()              # squashed by the activation function (激活函数) tanh
    leaves = {"x1": x1, "x2": x2, "w1": w1, "w2": w2, "b": b}
    results = {"x1*w1": x1w1, "x2*w2": x2w2, "x1*w1 + x2*w2": x1w1x2w2, "n": n, "o": o}
    return leaves, results


leaves, results = neuron()
o = results["o"]
print("n =", results["n"].item())
print("o =", o.item())

# %% [markdown]
# Why that strange bias? `n = 2*(-3) + 0*1 + b = b - 6 = 0.8813735870195432`, which is
# `atanh(1/√2)`: the bias was chosen so that `o = 1/√2 = 0.7071` exactly, and `1 - o² = 1/2`,
# which makes the gradients below round numbers.

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("n and o against Python's math, o = 1/sqrt(2)") as check:
    n_ref = 2.0 * -3.0 + 0.0 * 1.0 + 6.8813735870195432
    check.close("n", results["n"].item(), n_ref, rtol=1e-15)
    check.close("o", o.item(), math.tanh(n_ref), rtol=1e-15)
    check.close("n = atanh(1/sqrt 2)", n_ref, math.atanh(1 / math.sqrt(2)), rtol=1e-15)
    check.close("o = 1/sqrt 2", o.item(), 1 / math.sqrt(2), rtol=1e-15)

# %% [markdown]
# ## The graph before backward
#
# `visualize.draw_graph(o, ...)` draws the graph tinytensor recorded: yellow boxes are inputs,
# blue ones parameters (what training would change), white ones intermediate results, the green
# one the output; grey ovals are the ops. Each box shows its value. No gradient yet.

# %%
params = {name: leaves[name] for name in ("w1", "w2", "b")}
names = {"x1": leaves["x1"], "x2": leaves["x2"], **results}
show(visualize.draw_graph(o, params=params, names=names), "01_neuron_before.svg")

# %% [markdown]
# ## Backward by hand
#
# We want `do/dv` for every leaf `v`. The chain rule (链式法则) says: walk from `o` back to `v`
# and multiply the local derivative of each op on the way.
#
# * `o = tanh(n)`: `do/dn = 1 - tanh(n)² = 1 - o²`. With `o = 1/√2` that is `1/2`.
# * `n = (x1*w1 + x2*w2) + b`: an add passes its gradient unchanged to both inputs (`∂n/∂b = 1`),
#   so `do/db = do/d(x1*w1) = do/d(x2*w2) = 1/2`.
# * `x1*w1`: a multiply sends each input the *other* input times the gradient:
#   `do/dx1 = w1 * 1/2 = -1.5`, `do/dw1 = x1 * 1/2 = 1.0`.
# * `x2*w2`: `do/dx2 = w2 * 1/2 = 0.5`, `do/dw2 = x2 * 1/2 = 0.0` (x2 is 0: nudging w2 does nothing).

# %%
do_dn = 1 - o.item() ** 2
by_hand = {
    "x1": -3.0 * do_dn,  # w1 * do/dn
    "w1": 2.0 * do_dn,   # x1 * do/dn
    "x2": 1.0 * do_dn,   # w2 * do/dn
    "w2": 0.0 * do_dn,   # x2 * do/dn
    "b": do_dn,          # the adds pass do/dn through
}
print("by hand:", {name: round(g, 4) for name, g in by_hand.items()})

# %% tags=["check"] jupyter={"source_hidden": true}
LECTURE = {"x1": -1.5, "w1": 1.0, "x2": 0.5, "w2": 0.0, "b": 0.5}  # micrograd's lecture's numbers
with checks("do/dn = 1/2 and the five hand gradients against micrograd's lecture") as check:
    check.close("do/dn", do_dn, 0.5, rtol=1e-15)
    for name, lecture in LECTURE.items():
        check.close(f"do/d{name}", by_hand[name], lecture, rtol=1e-15, atol=1e-15)

# %% [markdown]
# ## Backward by tinytensor
#
# `visualize.trace_backward(o)` runs `o.backward()` and watches it, so that it also keeps the
# gradient of every intermediate result (a plain `backward()` fills only the leaves' `.grad`).
# The gradient of `o` with respect to itself is 1: that is where backward starts.

# %%
trace = visualize.trace_backward(o)
for name, leaf in leaves.items():
    print(f"{name}.grad = {leaf.grad.item():+.4f}")

# %% [markdown]
# The engine visits the nodes in reverse topological order: a node's gradient is complete only
# after every node that used it has sent its share back. `trace.order` lists them as visited,
# and `tt.autograd.topological_order`, the walker backward uses, lists the ops of a graph.

# %%
label = {id(t.grad_fn or t): name for name, t in {**leaves, **results}.items()}
visited = [label[id(node)] for node in trace.order]
print(" -> ".join(visited))


def op_names(root):
    """The ops of root's graph, parents first (the leaves are not ops)."""
    return [node.name for node in tt.autograd.topological_order([root.grad_fn])
            if isinstance(node, tt.autograd.Function)]


print("the ops of o:", op_names(o))

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("backward's gradients against the hand ones (and PyTorch's), the order of the walk") as check:
    for name, leaf in leaves.items():  # 1 - o**2 rounds to 0.4999999999999999: the last few bits
        check.close(f"{name}.grad", leaf.grad.item(), by_hand[name], rtol=1e-12, atol=1e-15)
    for name in ("n", "x1*w1", "x2*w2", "x1*w1 + x2*w2"):
        check.close(f"d o/d({name})", trace[results[name]].item(), do_dn, rtol=1e-12)
    check.equal("backward starts with do/do", trace[o].item(), 1.0)
    check.equal("the walk starts at o, then n", visited[:2], ["o", "n"])
    for later, earlier in [("x1*w1", "x1*w1 + x2*w2"), ("x1", "x1*w1"), ("w2", "x2*w2"), ("b", "n")]:
        check.true(f"{earlier} is visited before {later}", visited.index(earlier) < visited.index(later))
    check.equal("five ops", sorted(op_names(o)), ["add", "add", "mul", "mul", "tanh"])
    if torch is not None:
        tx = {name: torch.tensor(leaf.item(), dtype=torch.float64, requires_grad=True)
              for name, leaf in leaves.items()}
        torch.tanh(tx["x1"] * tx["w1"] + tx["x2"] * tx["w2"] + tx["b"]).backward()
        for name, leaf in leaves.items():
            check.close(f"torch's {name}.grad", leaf.grad.item(), tx[name].grad.item(), rtol=1e-15, atol=1e-15)

# %% [markdown]
# ## The graph after backward
#
# Drawn again with `grads=trace`, every box now shows its gradient in red, and every arrow is as
# thick and as red as the gradient flowing back along it. The thickest arrow is the one into
# `x1` (`|grad| 1.5`); the arrow into `w2` is dotted: no gradient flows there.

# %%
show(visualize.draw_graph(o, params=params, names=names, grads=trace), "01_neuron_after.svg")

# %% [markdown]
# ## Backprop, one step at a time
#
# `visualize.render_backprop(o, "page.html")` writes a page that replays the backward pass one
# node at a time, in the engine's order: step through it with the buttons or arrow keys.
# Backward frees what the graph kept for it, so we build a fresh neuron for the page.

# %%
leaves2, results2 = neuron()
scratch = Path(tempfile.mkdtemp())  # the page is written here; show() displays it or copies it
page = visualize.render_backprop(results2["o"], scratch / "01_neuron_backprop.html",
                                 params={name: leaves2[name] for name in ("w1", "w2", "b")},
                                 names={"x1": leaves2["x1"], "x2": leaves2["x2"], **results2},
                                 title="Lesson 1: the neuron, backward step by step")
show(page, "01_neuron_backprop.html")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("the page's backward gave the same gradients") as check:
    for name, leaf in leaves2.items():
        check.close(f"{name}.grad", leaf.grad.item(), by_hand[name], rtol=1e-12, atol=1e-15)

# %% [markdown]
# ## Exercise
#
# micrograd's lecture then writes tanh out with exponentials,
# `tanh(n) = (e^(2n) - 1) / (e^(2n) + 1)`, to show that backward does not care how a function is
# split into ops: more, smaller nodes, the same gradients.
#
# Take fresh leaves (`leaves3, _ = neuron()`), build `o3` that way from them (with `.exp()`,
# `-`, `+`, `/`), and run `o3.backward()`. The check compares the five gradients with the
# lecture's and counts the ops of your graph with `op_names`: how many do you expect?

# %% tags=["exercise"]
leaves3 = ...  # your answer: the five leaves of a fresh neuron(), after o3.backward()
o3 = ...       # your answer: tanh(n) written with exp

# %% tags=["check"]
exercise(globals(), "01_neuron", "tanh_from_exp")
