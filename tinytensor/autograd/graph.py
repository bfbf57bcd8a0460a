"""Walking the computation graph: the one walker that backward and the pictures share.

The graph's nodes are ``Function`` objects (one per op that ran) and leaf
``Tensor`` objects (what the user made with ``requires_grad=True``). Each node's
``parents`` are the nodes that produced its inputs; a leaf has none.

Backward must visit a node only after every node that *uses* it, because a
node's gradient is the sum of what all its users send back. That is a
topological order of the graph, reversed. We compute it with an explicit stack
instead of recursion, so a chain of 100,000 ops does not hit Python's
recursion limit.

Of the many such orders, the walk picks one that reaches each weight early: it
explores a node's first parent (the path deeper into the network: the ``x`` of
``x @ W``) before the others (``W``), so a weight is finished after everything
below it and comes, in backward's order, right after the layer that used it.
Its gradient is complete, and in ``.grad``, while backward still has the layers
below to do: DistributedDataParallel sends it to the other processes meanwhile
(nn/parallel/distributed.py).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable

from .function import Function

if TYPE_CHECKING:
    from ..tensor import Tensor


def node_of(t: "Tensor") -> Any:
    """The graph node a tensor's gradient goes to: the op that made it, or the tensor itself (a leaf)."""
    return t.grad_fn or t


def topological_order(roots: Iterable[Any]) -> list:
    """Every node reachable from ``roots``, each listed after all of its parents.

    Depth-first search, post-order: a node is appended once all its parents
    have been. ``reversed(...)`` of the result is the order backward runs in.
    """
    order: list = []
    visited: set = set()
    stack = [(root, False) for root in roots if root is not None]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
            continue
        if node in visited:
            continue
        visited.add(node)
        stack.append((node, True))
        if isinstance(node, Function):  # a leaf Tensor has no parents
            for parent in reversed(node.parents):  # the first parent explored first: see above
                if parent is not None and parent not in visited:
                    stack.append((parent, False))
    return order
