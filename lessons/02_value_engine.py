# %% [markdown]
# # Lesson 2: Write the backward yourself
#
# Lesson 1 called `o.backward()` and five gradients appeared. Here we write what computes
# them, in about forty lines: a number that remembers how it was made (`Value`), the local
# rule of each operation for sending a gradient back, the order in which to visit the
# numbers (a topological sort, 拓扑排序), and the loop that applies the chain rule
# (链式法则) along it. Our engine reproduces the neuron's gradients; then we meet the bug
# every first engine has, a number used twice, and its one-character fix (梯度累加,
# accumulating the gradient); last, we find the same loop in tinytensor, where it runs on
# arrays instead of numbers.
#
# Seed 002 calls backpropagation (反向传播) "误差反向传播", the error sent backward, and
# plays it as 你画我猜 in a line: the last player learns how far off the answer was and tells
# the one before how to describe it better, and so on back to the first. Our engine is that
# game with one rule added: a player who described to *two* others hears from both, and must
# take both pieces of advice, not only the last one.
#
# "Attention Is All You Need" takes all this for granted: every one of its weights is trained
# by Adam (§5.3), which needs the gradient of the loss with respect to each weight. This is
# how those gradients are computed: reverse-mode automatic differentiation (反向模式自动微分).
#
# Read along: [`tinytensor/autograd/engine.py`](../tinytensor/autograd/engine.py) (the loop),
# [`tinytensor/autograd/graph.py`](../tinytensor/autograd/graph.py) (the order),
# [`tinytensor/autograd/function.py`](../tinytensor/autograd/function.py) (one op, one node).

# %%
import inspect
import linecache
import math
from pathlib import Path

import graphviz

import tinytensor as tt
from lesson_tools import checks, exercise, show

# %% [markdown]
# ## A number that remembers where it came from
#
# A `Value` holds a number, `value`, computed by the forward pass (前向传播), and a gradient,
# `grad`, which starts at 0 and which backward fills in: how much the final result changes
# per unit change of this number. To send gradients back it keeps two more things:
#
# * `parents`: the Values it was computed from (none for an input);
# * `send_back`: a small function, written by the operation that made the Value, that takes
#   this Value's gradient and returns each parent's share of it. That is the chain rule at one
#   node: the share is the local derivative times the gradient arriving from above.
#
# For `c = a + b`, `dc/da = dc/db = 1`, so each parent's share is the gradient itself. For
# `c = a * b`, `dc/da = b` and `dc/db = a`: each parent gets the *other* one times the
# gradient. For `t = tanh(n)`, `dt/dn = 1 - t²`. Each rule is a `lambda` written beside the
# forward computation, so it can read the numbers of that forward (a closure, 闭包).

# %%
class Value:
    """A number of a computation, with what backward needs: where it came from, how to send back."""

    def __init__(self, value, parents=(), send_back=None, op=""):
        self.value = float(value)    # computed by the forward pass
        self.grad = 0.0              # d(result)/d(this number), filled in by backward()
        self.parents = parents       # the Values this one was computed from
        self.send_back = send_back   # gradient of this -> the share of each parent (None: an input)
        self.op = op                 # the operation that made it, for the pictures

    def __add__(self, other):
        other = as_value(other)
        return Value(self.value + other.value, (self, other), lambda g: (g, g), "+")

    def __mul__(self, other):
        other = as_value(other)
        return Value(self.value * other.value, (self, other),
                     lambda g: (g * other.value, g * self.value), "*")

    def tanh(self):
        t = math.tanh(self.value)
        return Value(t, (self,), lambda g: (g * (1 - t * t),), "tanh")

    __radd__, __rmul__ = __add__, __mul__   # so that 2 * a works as well as a * 2

    def __repr__(self):
        return f"Value({self.value:.4f}, grad={self.grad:.4f})"


def as_value(x):
    """A plain number becomes an input Value (a constant: nothing will read its gradient)."""
    return x if isinstance(x, Value) else Value(x)


# %% [markdown]
# ## The walk backward
#
# A Value's gradient is the sum of the shares sent by every Value that used it. So backward
# must visit a Value only after *all* its users have sent their shares: users before what
# they use. A depth-first walk that lists each Value after its parents (post-order) gives the
# opposite, parents before users, a topological order; backward walks it reversed.
#
# The loop is the whole algorithm: start with `d(root)/d(root) = 1`, and at each Value ask
# its `send_back` for the parents' shares and add each into that parent's `grad`.

# %%
def topological_order(root):
    """Every Value root was computed from, and root, each listed after all of its parents."""
    order, visited = [], set()

    def visit(v):
        if v not in visited:
            visited.add(v)
            for parent in v.parents:
                visit(parent)
            order.append(v)          # after its parents

    visit(root)
    return order


def backward(root):
    """d(root)/d(v) into v.grad, for every Value v that root was computed from."""
    root.grad = 1.0                                   # d(root)/d(root)
    for node in reversed(topological_order(root)):    # users before what they use
        if node.send_back is None:                    # an input: the gradient stops here
            continue
        for parent, share in zip(node.parents, node.send_back(node.grad)):
            parent.grad += share                      # +=, not =: see "A Value used twice"


# %% [markdown]
# ## The neuron of lesson 1, on our engine
#
# The same neuron, `o = tanh(x1*w1 + x2*w2 + b)`, with the same numbers, built from Values.

# %%
def neuron_values():
    """Fresh input Values of lesson 1's neuron, by name."""
    return {"x1": Value(2.0), "x2": Value(0.0), "w1": Value(-3.0), "w2": Value(1.0),
            "b": Value(6.8813735870195432)}


v = neuron_values()
x1w1, x2w2 = v["x1"] * v["w1"], v["x2"] * v["w2"]
n = x1w1 + x2w2 + v["b"]
o = n.tanh()
backward(o)
print(f"o = {o.value:.4f}")
for name, leaf in v.items():
    print(f"{name}.grad = {leaf.grad:+.4f}")

# %% [markdown]
# The picture draws each Value as a box (its name or operation, its value, its gradient) and
# each use as an arrow, labelled with the share of gradient that backward sent back along it.
# The arrow into `w2` carries 0: `x2` is 0, so nudging `w2` changes nothing.

# %%
def draw(root, names):
    """root's graph: a box per Value (name, value, grad), an arrow per use, labelled with its share."""
    dot = graphviz.Digraph(graph_attr={"rankdir": "LR"},
                           node_attr={"shape": "record", "fontname": "DejaVu Sans", "fontsize": "11"},
                           edge_attr={"fontname": "DejaVu Sans", "fontsize": "10", "fontcolor": "#c62828"})
    label = {id(value): name for name, value in names.items()}
    for node in topological_order(root):
        title = label.get(id(node)) or node.op or f"{node.value:g}"
        dot.node(str(id(node)), f"{title} | {node.value:.4f} | grad {node.grad:.4f}")
        shares = node.send_back(node.grad) if node.send_back else ()
        for parent, share in zip(node.parents, shares):
            dot.edge(str(id(parent)), str(id(node)), label=f"{share:.4g}")
    return dot


show(draw(o, {**v, "n": n, "o": o}), "02_neuron_values.svg")

# %% tags=["check"] jupyter={"source_hidden": true}
LECTURE = {"x1": -1.5, "w1": 1.0, "x2": 0.5, "w2": 0.0, "b": 0.5}  # lesson 1, micrograd's lecture


def central_difference(f, inputs, name, h=1e-6):
    """d f / d inputs[name] from f's values at name ± h: no backward involved."""
    up, down = dict(inputs), dict(inputs)
    up[name] += h
    down[name] -= h
    return (f(**up) - f(**down)) / (2 * h)


def neuron_number(x1, x2, w1, w2, b):
    return math.tanh(x1 * w1 + x2 * w2 + b)


with checks("our engine's o and five gradients against lesson 1, central differences and tinytensor") as check:
    check.close("o", o.value, 1 / math.sqrt(2), rtol=1e-15)
    numbers = {name: leaf.value for name, leaf in neuron_values().items()}
    leaves = {name: tt.tensor(value, dtype=tt.float64, requires_grad=True) for name, value in numbers.items()}
    (leaves["x1"] * leaves["w1"] + leaves["x2"] * leaves["w2"] + leaves["b"]).tanh().backward()
    for name, leaf in v.items():
        check.close(f"{name}.grad", leaf.grad, LECTURE[name], rtol=1e-12, atol=1e-15)
        check.close(f"{name}.grad by central differences", leaf.grad,
                    central_difference(neuron_number, numbers, name), rtol=1e-7, atol=1e-9)
        check.close(f"{name}.grad as tinytensor's", leaf.grad, leaves[name].grad.item(), rtol=1e-15, atol=1e-15)
    order = topological_order(o)
    check.true("each Value after its parents",
               all(order.index(p) < order.index(node) for node in order for p in node.parents))
    check.equal("root last", order[-1] is o, True)

# %% [markdown]
# ## A Value used twice
#
# In the neuron every Value is used once. Now use one twice: `b = a + a`. Then `db/da = 2`,
# because a nudge of `a` reaches `b` along two paths. `b`'s `send_back` returns two shares,
# one per parent, and both parents are `a`:

# %%
a = Value(3.0)
b = a + a
print("both parents of b are a:", b.parents[0] is a and b.parents[1] is a, "| b.send_back(1.0) =", b.send_back(1.0))

# %% [markdown]
# A first engine often *sets* the parent's gradient to the share, `parent.grad = share`. Here
# is what that does with those two shares: the second overwrites the first, and `a.grad`
# comes out 1. The player who described to two others listened only to the last of them.

# %%
a.grad = 0.0
for parent, share in zip(b.parents, b.send_back(1.0)):
    parent.grad = share          # the bug: the second share replaces the first
assigned = a.grad
print("assigned:   a.grad =", assigned)

a.grad = 0.0
for parent, share in zip(b.parents, b.send_back(1.0)):
    parent.grad += share         # the fix: every share is added
accumulated = a.grad
print("accumulated: a.grad =", accumulated)

# %% [markdown]
# Our `backward` adds, so it gets 2: two arrows leave `a`, each carries a share of 1, and the
# box of `a` holds their sum.

# %%
a = Value(3.0)
b = a + a
backward(b)
show(draw(b, {"a": a, "b": b}), "02_a_plus_a.svg")

# %% [markdown]
# The bug is silent wherever it strikes, and it strikes
# wherever one number is used more than once, which in a real model is everywhere: one
# weight matrix W_Q multiplies every word of a sentence, so its gradient is a sum over the
# words (lesson 12 shows the same weights at every position). Here is a graph where `a` is
# used three times, by two different operations: `f = (a * c) * (a + c) + a`.

# %%
a, c = Value(3.0), Value(-2.0)
ac, a_plus_c = a * c, a + c
f = ac * a_plus_c + a
backward(f)
print(f"f = {f.value},  df/da = {a.grad},  df/dc = {c.grad}")
show(draw(f, {"a": a, "c": c, "a*c": ac, "a+c": a_plus_c, "f": f}), "02_used_twice.svg")

# %% [markdown]
# Three arrows leave `a`, each with its own share; `a.grad` is their sum. By hand:
# `f = a²c + ac² + a`, so `df/da = 2ac + c² + 1 = -12 + 4 + 1 = -7` and
# `df/dc = a² + 2ac = 9 - 12 = -3`.
#
# Adding is also why, in PyTorch and tinytensor, `.grad` *accumulates* across calls of
# `backward()`, and why every training loop calls `optimizer.zero_grad()` before the next
# one (lesson 13).

# %% tags=["check"] jupyter={"source_hidden": true}
def f_number(a, c):
    return (a * c) * (a + c) + a


with checks("a + a: assigning gives 1, adding 2 (= central differences); f's gradients by hand") as check:
    check.equal("assigned", assigned, 1.0)
    check.equal("accumulated", accumulated, 2.0)
    a2 = Value(3.0)
    b2 = a2 + a2
    backward(b2)
    check.equal("our backward on a + a", a2.grad, 2.0)
    check.close("d(a + a)/da by central differences", central_difference(lambda a: a + a, {"a": 3.0}, "a"),
                2.0, rtol=1e-9)
    check.close("df/da", a.grad, -7.0, rtol=1e-15)
    check.close("df/dc", c.grad, -3.0, rtol=1e-15)
    for name, grad in (("a", a.grad), ("c", c.grad)):
        check.close(f"df/d{name} by central differences", grad,
                    central_difference(f_number, {"a": 3.0, "c": -2.0}, name), rtol=1e-8)
    ta = tt.tensor(3.0, dtype=tt.float64, requires_grad=True)
    (ta + ta).backward()
    check.equal("tinytensor adds too", ta.grad.item(), 2.0)

# %% [markdown]
# ## The same engine in tinytensor
#
# tinytensor's engine is ours with numbers replaced by arrays. Side by side:
#
# | our engine | tinytensor |
# |---|---|
# | `Value`: a number, its `grad`, its `parents`, its `send_back` | a `Tensor` holds the array and `.grad`; the op that made it is a `Function` node (its `grad_fn`), which holds `parents` and the op's `backward` |
# | `send_back`, a lambda written by `__mul__` | `backward(self, grad)`, a method of the op's class written beside its `forward` (`Mul` in `tinytensor/ops/arithmetic.py`) |
# | `topological_order`, recursive | `tinytensor/autograd/graph.py`'s, with an explicit stack, so that a chain of 100,000 ops does not reach Python's recursion limit |
# | `backward`'s loop, `parent.grad += share` | `run_backward` in `tinytensor/autograd/engine.py`; `_add` sums the shares |
#
# Three differences come from arrays. The shares are arrays, and an input that was
# broadcast gets its share summed back to its own shape (`sum_to`, lesson 4). The running
# sums live in a dictionary, `grads`, rather than on every node, so only the leaves (what you
# made with `requires_grad=True`) end up with a `.grad`, and each sum is dropped as soon as
# it is used. And each node frees the arrays it saved for backward once it has run
# (`node.release()`), unless `retain_graph=True`: memory does not grow with every step of
# training. (tinytensor also has a name `Value`, in `autograd/value.py`: there it means
# "an array, or a Tensor", what a backward computes with. Not our class.)
#
# The file and line numbers below are found now, in the source you have, with `inspect`.

# %%
ROOT = Path(tt.__file__).resolve().parent.parent


def where(obj, text):
    """'file:line' of the first line of obj's source that contains text."""
    lines, first = inspect.getsourcelines(obj)
    offset = next(i for i, line in enumerate(lines) if text in line)
    return f"{Path(inspect.getsourcefile(obj)).resolve().relative_to(ROOT)}:{first + offset}"


def print_source(obj, start, stop):
    """obj's source from the line containing start to the one containing stop, numbered."""
    lines, first = inspect.getsourcelines(obj)
    i = next(i for i, line in enumerate(lines) if start in line)
    j = next(j for j in range(i, len(lines)) if stop in lines[j])
    print(where(obj, start))
    for number, line in enumerate(lines[i:j + 1], start=first + i):
        print(f"{number:4d}  {line.rstrip()}")


engine, graph = tt.autograd.engine, tt.autograd.graph
Mul = tt.ops.arithmetic.Mul
print_source(engine.run_backward, "for node in reversed", "node.release()")
print()
print_source(Mul, "class Mul", "sum_to(grad * a")

# %% [markdown]
# Read the loop against ours: `reversed(topological_order(...))`; a leaf, where the gradient
# stops (in `.grad`, `_reach_leaf`); `_backward(node, grad, ...)`, which calls the op's own
# `backward` (ours: `node.send_back(node.grad)`); and for each parent its share added in,
# the `+=` of our engine. `Mul.backward` is our `lambda g: (g * other.value, g * self.value)`
# with arrays, `sum_to` for broadcasting, and `needs_grad` to skip a share nobody wants.

# %%
for what, obj, text in [("the walk, reversed", engine.run_backward, "for node in reversed"),
                        ("a leaf's gradient stops in .grad", engine.run_backward, "_reach_leaf(node"),
                        ("the op's backward, our send_back", engine._backward, "node.backward"),
                        ("each share added in, our +=", engine.run_backward, "_add(grads, parent"),
                        ("the sum of the shares", engine._add, "_sum(total, grad)"),
                        ("the topological order", graph.topological_order, "def topological_order"),
                        ("Mul's backward", Mul, "def backward")]:
    print(f"{what:<36} {where(obj, text)}")

# %% tags=["check"] jupyter={"source_hidden": true}
def line_at(location):
    path, number = location.rsplit(":", 1)
    return linecache.getline(str(ROOT / path), int(number))


with checks("the cited lines hold what they are cited for; tinytensor's engine = ours on f") as check:
    check.true("the += of the engine", "_add(grads, parent, parent_grad)"
               in line_at(where(engine.run_backward, "_add(grads, parent")))
    check.true("the reversed walk", "reversed(topological_order(" in line_at(where(engine.run_backward, "reversed")))
    check.true("the loop is about a dozen lines",
               8 <= int(where(engine.run_backward, "node.release()").rsplit(":")[1])
               - int(where(engine.run_backward, "for node in reversed").rsplit(":")[1]) <= 16)
    check.true("Mul sends each input the other times the gradient",
               "grad * b" in line_at(where(Mul, "grad * b")) and "grad * a" in line_at(where(Mul, "grad * a")))
    ta, tc = (tt.tensor(x, dtype=tt.float64, requires_grad=True) for x in (3.0, -2.0))
    ((ta * tc) * (ta + tc) + ta).backward()
    check.equal("df/da", ta.grad.item(), a.grad)
    check.equal("df/dc", tc.grad.item(), c.grad)

# %% [markdown]
# ## Exercise
#
# Give the engine two more operations, writing their `send_back` yourself:
#
# * `exp_value(v)`, the Value of `e^v` (its derivative is itself);
# * `div_value(p, q)`, the Value of `p / q` (two shares: `d(p/q)/dp = 1/q`, and `d(p/q)/dq = ?`).
#
# Each returns `Value(result, parents, send_back, op)`. The check builds lesson 1's neuron with
# `tanh(n) = (e^(2n) - 1) / (e^(2n) + 1)` from them and compares the five gradients with
# lesson 1's, then tests each at a few points against central differences.

# %% tags=["exercise"]
exp_value = ...  # your answer: def exp_value(v): return Value(math.exp(v.value), (v,), lambda g: ..., "exp")
div_value = ...  # your answer: def div_value(p, q): ...

# %% tags=["check"]
exercise(globals(), "02_value_engine", "exp_and_div")
