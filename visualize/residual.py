"""Which adds are residual connections: read from the graph, so the model writes plain ``x + sublayer(x)``.

A residual connection (He et al., 2016; "Add & Norm", section 3.1 of the paper) is
an add like any other to the engine: ``x + Dropout(SelfAttention(x))``. The
picture draws it purple, its two arrows labelled ``skip`` and ``sublayer``,
because the graph says which add it is:

    an add is a residual connection when one input, x, is an activation (not a
    parameter), and the other was computed from x inside the add's module: going
    back from it through ops of the add's scope (``layers.0``, or a scope nested in
    it, ``layers.0.self_attn``) reaches an op that read x.

x is the ``skip``, the other input the ``sublayer``. So in a Transformer layer

    x = x + Dropout(SelfAttention(LayerNorm(x)))      pre-norm: layer_norm read x
    x = LayerNorm(x + Dropout(FFN(x)))                post-norm: linear1 read x

each add is found, the decoder's three included: its cross-attention's keys and
values come from the memory, outside the layer, where the walk stops; its queries
come from x. Not residual: ``a + b`` where b was not computed from a; ``x + x``
(nothing was computed); ``y + f(x)`` where f ran in another module than the add;
and ``h W + b`` in a loop written without modules (an RNN's steps), where b reaches
the add through the earlier steps: b is a parameter, not an activation. The
picture knows b is one when it is an ``nn.Parameter`` or named (``params=``); an
unnamed tensor added at every step would read as a skip.

x may be data, a tensor that needs no gradient (a layer fed a plain batch): it is
no node of the graph then, and an op read it if it holds that same tensor among
its inputs. Ops hold them until backward frees them (a trace keeps them), so after
a plain ``backward()`` such an add is drawn plain, like the data that is gone. So
is one whose sublayer first reshaped the data: a reshape of data is recorded
nowhere (``nn.MultiheadAttention`` with ``batch_first=False`` transposes its input),
so nothing links the copy the sublayer read to x.

Cost: a walk runs only for an add whose x some other op read, and it visits only
ops of the add's scope that come after the first such reader in the topological
order (nothing before it can lie between x and the sublayer): in a Transformer,
the sublayer's own ops, so all the walks together visit about as many nodes as the
graph has.
"""
from __future__ import annotations

from typing import Any, Callable, Collection

from tinytensor.autograd import Function
from tinytensor.ops.arithmetic import Add

SKIP, SUBLAYER = "skip", "sublayer"
Inputs = Callable[[Function], list]  # an op -> each input's node, or its tensor if data, or None if gone


def residual_adds(order: list, inputs_of: Inputs, parameters: Collection) -> dict[Function, tuple[str, str]]:
    """Each residual add among ``order`` (a topological order) -> the role of each of its two inputs."""
    place = {node: i for i, node in enumerate(order)}
    inputs = {op: inputs_of(op) for op in order if isinstance(op, Function)}
    readers: dict[Any, list[Function]] = {}  # a node or a data tensor -> the ops that read it
    for op, sources in inputs.items():
        for source in sources:
            if source is not None:
                readers.setdefault(source, []).append(op)
    found = {}
    for op, sources in inputs.items():
        roles = _roles(op, sources, readers, place, parameters) if isinstance(op, Add) else None
        if roles is not None:
            found[op] = roles
    return found


def _roles(add: Function, inputs: list, readers: dict[Any, list[Function]], place: dict[Any, int],
           parameters: Collection) -> tuple[str, str] | None:
    """("skip", "sublayer"), ("sublayer", "skip"), or None where the add is no residual connection."""
    a, b = inputs
    if a is None or b is None:
        return None
    # x comes first: data comes from outside, and of two nodes only the earlier can be the other's ancestor.
    a_first = a not in place or (b in place and place[a] < place[b])
    skip, sublayer = (a, b) if a_first else (b, a)
    if not isinstance(sublayer, Function) or skip in parameters:
        return None
    others = [op for op in readers[skip] if op is not add]
    if not others or not _computed_from(sublayer, set(others), add.scope, place):
        return None
    return (SKIP, SUBLAYER) if a_first else (SUBLAYER, SKIP)


def _computed_from(sublayer: Function, readers: set[Function], scope: str, place: dict[Any, int]) -> bool:
    """Whether ``sublayer`` is one of ``readers`` or comes from one, through ops of ``scope``."""
    first = min(place[op] for op in readers)
    stack, seen = [sublayer], {sublayer}
    while stack:
        node = stack.pop()
        if not _inside(node.scope, scope):
            continue
        if node in readers:
            return True
        for parent in node.parents:
            if isinstance(parent, Function) and parent not in seen and place[parent] >= first:
                seen.add(parent)
                stack.append(parent)
    return False


def _inside(scope: str, outer: str) -> bool:
    """``layers.0.self_attn`` is inside ``layers.0``; everything is inside the top, ``""``."""
    return not outer or scope == outer or scope.startswith(outer + ".")
