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

    Depth-first search, post-order: go down to the first parent not yet seen;
    when a node has none left, it is done and appended. ``reversed(...)`` of the
    result is the order backward runs in. Each node enters the stack once, with
    an iterator over its parents that remembers how far it got.
    """
    order: list = []
    visited: set = set()
    for root in roots:
        if root is None or root in visited:
            continue
        visited.add(root)
        stack = [(root, iter(root.parents if isinstance(root, Function) else ()))]  # a leaf has none
        while stack:
            node, parents = stack[-1]
            for parent in parents:
                if parent is not None and parent not in visited:  # down there first
                    visited.add(parent)
                    stack.append((parent, iter(parent.parents if isinstance(parent, Function) else ())))
                    break
            else:  # every parent is done, so this node is
                stack.pop()
                order.append(node)
    return order

