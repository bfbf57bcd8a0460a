"""Recording one backward pass: every gradient, in the order the engine computed it.

After ``loss.backward()`` only the leaves keep their gradient (``.grad``); the
gradient of every intermediate tensor was computed, used and dropped. To draw
them we watch backward as it runs, with ``tinytensor.autograd.observe``: the
engine calls us once per node, at the moment that node's gradient is complete::

    trace = trace_backward(loss)      # runs loss.backward() and watches it
    trace[h]                          # dL/dh for any tensor h of the graph
    trace.order                       # the nodes, in the engine's real order
    trace.complete_at()               # node -> the step its gradient was complete
    draw_graph(loss, grads=trace)     # the picture with every gradient

Three more things are kept while they still exist (backward frees them right
after our callback returns):

* ``sent[node]``: what the op's backward sends to each of its inputs. A tensor
  used twice receives two such messages and its gradient is their sum (the
  chain rule); each edge of the picture is drawn with its own message.
* ``values[node]``: the forward value of each small tensor, so the picture can
  print ``data 0.7071`` next to ``grad 0.5000`` as micrograd does.
* ``constants[node]``: the op's inputs that need no gradient (the batch, a
  target, a mask, the 2 of ``x ** 2``), as tensors, ``None`` in the places of
  the others. They are not nodes of the graph (``parents`` has ``None`` there),
  and once backward frees the op's ``inputs`` nothing else remembers them; the
  picture draws them as data, so that every op shows all of its inputs.
"""
from __future__ import annotations

from typing import Any, Iterator, Mapping

from tinytensor import Tensor
from tinytensor.autograd import Function, observe
from tinytensor.autograd.graph import node_of

from . import describe


class BackwardTrace(Mapping[Any, Tensor]):
    """The gradient of every node of one backward pass, by node (or by tensor)."""

    def __init__(self) -> None:
        self.order: list = []                       # nodes, in the order backward finished them
        self.grads: dict[Any, Tensor] = {}          # node -> dL/d(node's tensor)
        self.sent: dict[Any, tuple] = {}            # op -> its backward's result, one per input
        self.values: dict[Any, Any] = {}            # node -> forward value (small tensors only)
        self.constants: dict[Any, tuple] = {}       # op -> its inputs that need no gradient, else None

    def record(self, node: Any, grad: Tensor, sent: tuple) -> None:
        """The ``observe`` callback: called once per node, before the engine moves on."""
        self.order.append(node)
        self.grads[node] = grad
        if isinstance(node, Function):
            self.sent[node] = tuple(sent)
            self.values.update((parent, t.array) for parent, t in zip(node.parents, node.inputs)
                               if parent is not None and describe.is_few(t.array))
            if any(parent is None for parent in node.parents):
                self.constants[node] = tuple(t if parent is None else None
                                             for parent, t in zip(node.parents, node.inputs))

    def complete_at(self) -> dict[Any, int]:
        """The step (1 = the first node of ``order``) at which each node's gradient was complete.

        A node's gradient is the sum of what its users send it, so it is complete once the
        last of its users has run its backward and sent its share (``sent``); the root's, the
        seed, at its own step. That can be long before the engine reaches the node: the walk
        is one topological order among many, and a leaf, whose step only writes ``.grad``,
        may wait there behind whole branches (the neuron's bias: complete at step 2, reached
        at step 10). A hook on the tensor (``register_hook``) still runs at the node's own step.
        """
        last_user: dict[Any, int] = {}
        for step, node in enumerate(self.order, 1):  # users come first: the last write is the last user
            if isinstance(node, Function):
                for parent, message in zip(node.parents, self.sent[node]):
                    if parent is not None and message is not None:
                        last_user[parent] = step
        return {node: last_user.get(node, step) for step, node in enumerate(self.order, 1)}

    # -- Mapping: trace[tensor] or trace[node] -----------------------------------
    def __getitem__(self, key: Any) -> Tensor:
        return self.grads[key if isinstance(key, Function) else node_of(key)]

    def __iter__(self) -> Iterator:
        return iter(self.order)

    def __len__(self) -> int:
        return len(self.order)


def trace_backward(loss: Tensor, gradient: Tensor | None = None,
                   retain_graph: bool = False) -> BackwardTrace:
    """Run ``loss.backward(gradient)`` and return every gradient it computed.

    The leaves' ``.grad`` are filled exactly as a plain ``loss.backward()`` would.
    """
    trace = BackwardTrace()
    with observe(trace.record):
        loss.backward(gradient, retain_graph=retain_graph)
    return trace
