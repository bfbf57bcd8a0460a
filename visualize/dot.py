"""Drawing the picture in Graphviz's DOT language: shapes, colours, labels, groups.

``draw_graph`` is the function a learner calls::

    dot = draw_graph(loss, model=model)                   # before backward
    dot = draw_graph(loss, model=model, grads=trace)      # after trace_backward(loss)
    dot.source                                            # the DOT text, no binary needed

It returns a ``graphviz.Digraph`` (the ``graphviz`` Python package only writes
DOT; turning DOT into SVG or PNG is renderer.py's job). What the picture means:

* tensors are boxes, coloured by role: input (yellow), parameter (blue),
  intermediate (white), output (green); each shows its name, shape and dtype,
  its value when it has at most 4 elements and, after backward, its gradient;
* ops are grey ovals; a residual add is purple, and so are its two inputs,
  labelled ``skip`` and ``sublayer`` with the gradient each carries back;
* after backward every arrow is as thick and as red as the gradient flowing
  back along it (ink.py);
* ops run inside an nn.Module sit in a dashed group labelled with its path.
"""
from __future__ import annotations

import html
from typing import Any, Mapping

from tinytensor import Tensor

from . import describe
from .graph import Arrow, Box, Picture, build_picture
from .ink import Ink
from .trace import BackwardTrace

TENSOR_COLOURS = {  # role -> (fill, border)
    "input": ("#fff3c4", "#c49a00"),
    "parameter": ("#dcebff", "#3a6fb0"),
    "intermediate": ("#ffffff", "#9e9e9e"),
    "output": ("#d9f2dc", "#2e7d32"),
}
OP_STYLE = {"style": "filled", "fillcolor": "#eeeeee", "color": "#757575", "shape": "oval"}
RESIDUAL = "#8e24aa"
RESIDUAL_STYLE = {"style": "filled,bold", "fillcolor": "#f3e5f5", "color": RESIDUAL,
                  "fontcolor": "#4a148c", "shape": "oval", "penwidth": "2"}
MODULE_STYLE = {"style": "filled", "fillcolor": "#eceff1", "color": "#546e7a", "shape": "box3d"}
GRAD_COLOUR = "#b71c1c"
FONT = "Helvetica"


def draw_graph(*roots: Tensor, params: Mapping[str, Tensor] | None = None, model: Any = None,
               names: Mapping[str, Tensor] | None = None, grads: BackwardTrace | None = None,
               depth: int | None = None, rankdir: str = "LR") -> Any:
    """The graph that computed ``roots``, as a ``graphviz.Digraph``.

    params: name -> parameter tensor (drawn blue, named, grouped by module path);
    model:  an nn.Module, whose ``named_parameters()`` give those names;
    names:  name -> any tensor of the graph, to label intermediate ones too;
    grads:  the ``trace_backward(loss)`` of these roots, to show every gradient
            (without it a leaf still shows its ``.grad``);
    depth:  draw modules nested deeper than this many levels as single boxes;
    rankdir: "LR" (left to right, as micrograd) or "TB" (top to bottom).
    """
    picture = build_picture(roots, params=params, model=model, names=names, grads=grads, depth=depth)
    return to_digraph(picture, rankdir)


def to_digraph(picture: Picture, rankdir: str = "LR") -> Any:
    """Write a Picture as DOT: boxes inside their module groups, then arrows."""
    graphviz = _graphviz()
    dot = graphviz.Digraph(
        graph_attr={"rankdir": rankdir, "fontname": FONT, "nodesep": "0.25", "ranksep": "0.35",
                    "bgcolor": "white"},
        node_attr={"fontname": FONT, "fontsize": "11"},
        edge_attr={"fontname": FONT, "fontsize": "10", "arrowsize": "0.7"})
    members: dict[str, list[Box]] = {}
    for box in picture.boxes.values():
        members.setdefault(box.scope, []).append(box)
    _draw_group(dot, "", members, _children(members))
    ink = Ink(arrow.norm for arrow in picture.arrows.values())
    for arrow in picture.arrows.values():
        dot.edge(arrow.tail, arrow.head, **_arrow_style(arrow, ink))
    return dot


def _graphviz() -> Any:
    try:
        import graphviz  # noqa: PLC0415 - optional dependency, needed only for pictures
    except ImportError:
        raise ImportError("drawing graphs needs the graphviz Python package: "
                          "pip install 'tinytensor[viz]' (or pip install graphviz)") from None
    return graphviz


# -- groups: one dashed cluster per module path, nested as the paths are --------------
def _children(members: dict[str, list[Box]]) -> dict[str, list[str]]:
    """Each module path's direct sub-paths; every prefix of a used path is a group too."""
    children: dict[str, list[str]] = {}
    paths = {prefix for scope in members if scope for prefix in _prefixes(scope)}
    for path in sorted(paths):
        children.setdefault(path.rpartition(".")[0], []).append(path)
    return children


def _prefixes(scope: str) -> list[str]:
    """``layers.0.ffn`` -> ``layers``, ``layers.0``, ``layers.0.ffn``."""
    parts = scope.split(".")
    return [".".join(parts[:k]) for k in range(1, len(parts) + 1)]


def _draw_group(graph: Any, scope: str, members: dict[str, list[Box]],
                children: dict[str, list[str]]) -> None:
    for box in members.get(scope, []):
        graph.node(box.id, **_box_style(box))
    for child in children.get(scope, []):
        with graph.subgraph(name=f"cluster_{child}") as cluster:
            cluster.attr(label=child, style="rounded,dashed", color="#90a4ae", fontcolor="#455a64",
                         fontsize="11", labeljust="l")
            _draw_group(cluster, child, members, children)


# -- boxes -------------------------------------------------------------------------------
def _box_style(box: Box) -> dict[str, str]:
    if box.kind == "tensor":
        return {"id": box.id, "shape": "plain", "label": _tensor_label(box)}
    if box.kind == "module":
        return {"id": box.id, "label": f"{box.title}\\n{box.ops} ops", **MODULE_STYLE}
    style = RESIDUAL_STYLE if box.role == "residual" else OP_STYLE
    return {"id": box.id, "label": box.title, **style}


def _tensor_label(box: Box) -> str:
    """An HTML-like label: a rounded table with one row per fact."""
    fill, border = TENSOR_COLOURS[box.role]
    rows = [f"<b>{html.escape(box.title)}</b>"] if box.title else []
    rows.append(f'<font point-size="9" color="#616161">{describe.shape(box.shape, box.dtype)}</font>')
    if box.value is not None:
        rows.append(f"data {describe.numbers(box.value)}")
    if box.grad is not None:
        rows.append(f'<font color="{GRAD_COLOUR}">{describe.gradient(box.grad.data)}</font>')
    cells = "".join(f"<tr><td>{row}</td></tr>" for row in rows)
    return (f'<<table border="1" cellborder="0" cellspacing="0" cellpadding="2" style="rounded" '
            f'bgcolor="{fill}" color="{border}">{cells}</table>>')


# -- arrows ------------------------------------------------------------------------------
def _arrow_style(arrow: Arrow, ink: Ink) -> dict[str, str]:
    style = {"id": arrow.id}
    norm = arrow.norm
    if norm is not None:
        style.update(penwidth=str(ink.width(norm)), color=ink.colour(norm),
                     tooltip=f"gradient flowing back: |grad| {describe.number(norm)}")
        if norm == 0:
            style["style"] = "dotted"
    if arrow.residual:
        note = "" if norm is None else f"\\n |grad| {describe.number(norm)}"
        style.update(color=RESIDUAL, fontcolor=RESIDUAL, label=arrow.residual + note,
                     penwidth=style.get("penwidth", "2.5"), style="bold")
    return style
