"""From the engine's graph to a picture: which boxes, which arrows, which groups.

The engine's graph (tinytensor/autograd/graph.py) has two kinds of node: a
``Function`` (an op that ran) and a leaf ``Tensor``. A picture of backprop
wants both the op and the tensor it produced, as micrograd draws them::

    [ w1 | data -3 | grad 1 ] ---> (mul) ---> [ data -6 | grad 0.5 ]

so each Function becomes two boxes, an op box ``op7`` and a tensor box ``t7``
(the number is the node's place in ``topological_order``, the walker backward
uses), and each leaf one tensor box. These names are also the ids of the SVG
elements, which is how the backprop page finds a node to highlight.

An input that needs no gradient (the batch ``x``, a target, a mask, the 2 of
``x ** 2``) is not a node of the engine's graph: ``parents`` holds ``None`` in
its place, because backward has nothing to send there. It is still an input of
the op, so it gets a box of its own, ``d7_0`` (input 0 of ``op7``), drawn as data: without
it the first matmul of a model would seem to multiply the weight by nothing.
The op keeps these tensors in ``inputs`` until backward frees them; after
that, only a trace (trace.py) still knows them.

Arrows point the way the forward pass ran; gradients flow against them. The
arrow from an op to its tensor carries that tensor's gradient; the arrow from
a tensor into an op carries what the op's backward sends back to that input.

Every tensor box has a role, its colour in the picture: ``parameter`` (a leaf
named in ``params=``/``model=``, or an ``nn.Parameter``), ``input`` (any other
leaf), ``intermediate``, ``output`` (a root) or ``data`` (needs no gradient).
A number in the expression (a 0-d tensor) sits in the group of the op that
uses it; any other data comes from outside the model and sits outside every
group, where the inputs are.

Ops run inside an nn.Module record its path in ``Function.scope``
("layers.0.linear1"); the picture groups boxes by that path, and with
``depth=k`` a module nested deeper than k levels becomes a single box.

An add that is a residual connection, ``x + sublayer(x)``, gets the role
``residual`` and its two arrows the labels ``skip`` and ``sublayer``: residual.py
finds which adds those are, from the graph alone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import tinytensor
from tinytensor import Tensor
from tinytensor.autograd import Function, topological_order
from tinytensor.autograd.graph import node_of

from . import describe
from .residual import residual_adds
from .trace import BackwardTrace


@dataclass
class Box:
    """One node of the picture: a tensor, an op, or a collapsed module."""

    id: str
    kind: str           # "tensor", "op" or "module"
    role: str           # tensor: input/parameter/intermediate/output/data; op: op/residual; "module"
    title: str          # a tensor's name ("" if it has none), an op's name, a module's path
    scope: str          # the module path whose group holds the box ("" for none)
    shape: tuple = ()
    dtype: Any = None
    value: Any = None   # the forward value, for small tensors whose value is known
    grad: Tensor | None = None
    ops: int = 0        # a module box: how many ops it hides


@dataclass
class Arrow:
    """One edge of the picture, with the gradients that flow back along it."""

    tail: str
    head: str
    grads: dict = field(default_factory=dict)  # engine node at the tail -> gradient sent to it
    residual: str = ""                          # "skip" or "sublayer" into a residual add
    data: bool = False                          # from data: no gradient ever flows back along it

    @property
    def id(self) -> str:
        return f"{self.tail}__{self.head}"

    @property
    def norm(self) -> float | None:
        """How much gradient flows back along the arrow, or None when unknown.

        An arrow can carry gradients for several tensors (after modules collapse);
        its norm is then the norm of all of them together, sqrt(sum of squares).
        """
        if not self.grads:
            return None
        return sum(describe.norm(g.array) ** 2 for g in self.grads.values()) ** 0.5


@dataclass
class Picture:
    """Boxes and arrows, and where each engine node ended up."""

    boxes: dict[str, Box] = field(default_factory=dict)
    arrows: dict[tuple[str, str], Arrow] = field(default_factory=dict)
    tensor_box: dict[Any, str] = field(default_factory=dict)  # engine node (or data tensor) -> its box
    op_box: dict[Any, str] = field(default_factory=dict)      # Function -> its op's box
    residuals: dict[Any, tuple[str, str]] = field(default_factory=dict)  # residual add -> its inputs' roles

    def connect(self, tail: str, head: str, grads: Mapping[Any, Tensor], residual: str = "",
                data: bool = False) -> None:
        """Add an arrow, or merge into the one already joining the same boxes.

        Gradients sent to the same tensor add up (x * x sends two: the chain rule sums them).
        """
        arrow = self.arrows.setdefault((tail, head), Arrow(tail, head, residual=residual, data=data))
        for node, grad in grads.items():
            arrow.grads[node] = arrow.grads[node] + grad if node in arrow.grads else grad

    def op_name(self, op: Function) -> str:
        """What the picture calls an op: its own name, or "residual add" (residual.py)."""
        return "residual add" if op in self.residuals else op.name

    def lit_by(self, node: Any) -> list[str]:
        """The ids that light up when backward finishes ``node``.

        Its tensor box (the gradient is complete), its op box and every arrow into
        them that carries a gradient (the op's backward now sends the gradient on to
        those inputs; an arrow from data carries none).
        """
        boxes = list(dict.fromkeys([self.tensor_box[node], self.op_box.get(node, self.tensor_box[node])]))
        return boxes + [a.id for a in self.arrows.values() if a.head in boxes and not a.data]


@dataclass
class Known:
    """What is known about the graph's nodes before any box is drawn."""

    outputs: set            # the roots' nodes
    titles: dict            # node -> name
    parameters: set         # leaf nodes drawn as parameters
    values: dict            # node -> forward value (small tensors)
    grads: BackwardTrace | None

    def gradient(self, node: Any) -> Tensor | None:
        """The node's gradient from the trace; without one, a leaf's ``.grad`` is all we know."""
        if self.grads is not None:
            return self.grads.grads.get(node)
        return node.grad if isinstance(node, Tensor) else None

    def constants(self, op: Function) -> list[tuple[int, Tensor]]:
        """(place, tensor) for each input of ``op`` that needs no gradient, while it is known.

        The op holds its inputs until backward frees them; the trace kept its own copy.
        After a plain ``backward()`` they are gone, and so are their boxes.
        """
        if op.inputs is not None:
            inputs = op.inputs
        elif self.grads is not None and op in self.grads.constants:
            inputs = self.grads.constants[op]
        else:
            return []
        return [(j, t) for j, (parent, t) in enumerate(zip(op.parents, inputs)) if parent is None]

    def inputs(self, op: Function) -> list:
        """Each input of ``op``: its node, or the tensor itself if it is data (None once that is gone)."""
        data = dict(self.constants(op))
        return [parent if parent is not None else data.get(j) for j, parent in enumerate(op.parents)]


def build_picture(roots: Iterable[Tensor], *, params: Mapping[str, Tensor] | None = None,
                  model: Any = None, names: Mapping[str, Tensor] | None = None,
                  grads: BackwardTrace | None = None, depth: int | None = None) -> Picture:
    """The picture of everything ``roots`` were computed from (draw_graph explains the options)."""
    roots = list(roots)
    order = topological_order([node_of(r) for r in roots])
    params = {**(params or {}), **dict(model.named_parameters() if model is not None else {})}
    named, parameter_type = {node_of(t) for t in params.values()}, _parameter_class()
    known = Known(outputs={node_of(r) for r in roots},
                  titles=_titles(order, roots, params, names or {}),
                  parameters={n for n in order if n in named or isinstance(n, parameter_type)},
                  values=_forward_values(order, roots, grads), grads=grads)
    picture = Picture(residuals=residual_adds(order, known.inputs, known.parameters))
    for i, node in enumerate(order):
        if isinstance(node, Function):
            _add_op(picture, i, node, known)
        else:
            _add_leaf(picture, i, node, known)
    return picture if depth is None else collapse(picture, depth)


def _add_op(picture: Picture, i: int, node: Function, known: Known) -> None:
    """An op box, the tensor box of its result, and an arrow from each input."""
    op_id, residual = f"op{i}", picture.residuals.get(node)
    picture.boxes[op_id] = Box(op_id, "op", "residual" if residual else "op", picture.op_name(node), node.scope)
    picture.op_box[node] = op_id
    grad = known.gradient(node)
    role = "output" if node in known.outputs else "intermediate"
    _add_tensor(picture, f"t{i}", node, role, node.scope, grad, known)
    picture.connect(op_id, f"t{i}", {node: grad} if grad is not None else {})
    sent = known.grads.sent.get(node) if known.grads is not None else None
    for j, parent in enumerate(node.parents):
        if parent is None:  # an input that needs no gradient: drawn below, as data
            continue
        message = sent[j] if sent is not None else None
        picture.connect(picture.tensor_box[parent], op_id,
                        {parent: message} if message is not None else {}, residual[j] if residual else "")
    for j, tensor in known.constants(node):
        if tensor not in picture.tensor_box:  # one box per tensor, however many ops use it
            scope = node.scope if tensor.ndim == 0 else ""  # a number belongs to its op; data to no module
            _add_tensor(picture, f"d{i}_{j}", tensor, "data", scope, None, known)  # input j of op i
        picture.connect(picture.tensor_box[tensor], op_id, {}, residual[j] if residual else "", data=True)


def _add_leaf(picture: Picture, i: int, node: Tensor, known: Known) -> None:
    """A tensor the user made: a parameter sits in the group of the module that owns it."""
    if node in known.parameters:
        _add_tensor(picture, f"t{i}", node, "parameter", _owner(known.titles.get(node, "")),
                    known.gradient(node), known)
    else:
        _add_tensor(picture, f"t{i}", node, "input", "", known.gradient(node), known)


def _add_tensor(picture: Picture, box_id: str, node: Any, role: str, scope: str,
                grad: Tensor | None, known: Known) -> None:
    if role == "data":  # a plain tensor: it holds its own value and may carry its own name
        title, value = known.titles.get(node, node.name or ""), node.array if describe.is_few(node.array) else None
    else:
        title, value = known.titles.get(node, ""), known.values.get(node)
    picture.boxes[box_id] = Box(box_id, "tensor", role, title, scope, tuple(node.shape), node.dtype, value, grad)
    picture.tensor_box[node] = box_id


def _titles(order: list, roots: list[Tensor], params: Mapping[str, Tensor],
            names: Mapping[str, Tensor]) -> dict[Any, str]:
    """Each node's name: given in ``names``, else its parameter name, else the tensor's ``.name``.

    Only leaves and roots are Tensors we hold; an intermediate tensor is known by its
    op alone, so its name can come from ``names`` only.
    """
    titles: dict[Any, str] = {}
    for tensor in [node for node in order if isinstance(node, Tensor)] + roots:
        if tensor.name:
            titles[node_of(tensor)] = tensor.name
    for name, tensor in [*params.items(), *names.items()]:  # later entries win
        titles[node_of(tensor)] = name
    return titles


def _parameter_class() -> tuple[type, ...]:
    """nn.Parameter, when tinytensor.nn is there: a parameter even if nobody named it."""
    parameter = getattr(getattr(tinytensor, "nn", None), "Parameter", None)
    return (parameter,) if parameter is not None else ()


def _owner(name: str) -> str:
    """The module path of a parameter: ``layers.0.linear1.weight`` -> ``layers.0.linear1``."""
    return name.rpartition(".")[0]


def _forward_values(order: list, roots: list[Tensor], grads: BackwardTrace | None) -> dict[Any, Any]:
    """The forward value of each small tensor, wherever it can still be found.

    Leaves and roots hold theirs. An intermediate's value sits in the ``inputs``
    of the ops that used it until backward frees them; the trace kept a copy.
    """
    values = dict(grads.values) if grads is not None else {}
    for node in order:
        if isinstance(node, Function) and node.inputs is not None:
            values.update((p, t.array) for p, t in zip(node.parents, node.inputs)
                          if p is not None and t.array is not None)  # None: an input the op did not keep
        elif isinstance(node, Tensor):
            values[node] = node.array
    values.update((node_of(r), r.array) for r in roots)
    return {node: v for node, v in values.items() if describe.is_few(v)}


def collapse(picture: Picture, depth: int) -> Picture:
    """Draw every module nested deeper than ``depth`` levels as one box.

    ``layers.0.linear1`` is 3 levels deep; with ``depth=1`` it disappears into a
    box ``layers.0`` inside the group ``layers``. Arrows inside a box vanish;
    arrows that cross its border are kept, merged when they join the same boxes.
    """
    moved: dict[str, str] = {}  # box id -> id of the module box that swallowed it
    result = Picture(residuals=picture.residuals)
    for box in picture.boxes.values():
        levels = box.scope.split(".") if box.scope else []
        if len(levels) <= depth:
            result.boxes[box.id] = box
            continue
        path = ".".join(levels[:depth + 1])
        module = result.boxes.setdefault(f"m.{path}", Box(f"m.{path}", "module", "module", path,
                                                          ".".join(levels[:depth])))
        module.ops += box.kind == "op"
        moved[box.id] = module.id
    for arrow in picture.arrows.values():
        tail, head = moved.get(arrow.tail, arrow.tail), moved.get(arrow.head, arrow.head)
        if tail != head:
            result.connect(tail, head, arrow.grads, arrow.residual if head == arrow.head else "", arrow.data)
    result.tensor_box = {node: moved.get(b, b) for node, b in picture.tensor_box.items()}
    result.op_box = {node: moved.get(b, b) for node, b in picture.op_box.items()}
    return result
