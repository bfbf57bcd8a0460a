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
* data, a tensor that needs no gradient (the batch, a target, a mask, the 2 of
  ``x ** 2``), is a grey dashed box, and its arrow a grey dashed line: nothing
  flows back along it;
* ops are grey ovals; a residual add is purple, and so are its two inputs,
  labelled ``skip`` and ``sublayer`` with the gradient each carries back;
* after backward every arrow is as thick and as red as the gradient flowing
  back along it (ink.py);
* ops run inside an nn.Module sit in a dashed group labelled with its path.

Text is measured by the program that lays the picture out and drawn by the
program that shows it, and the two need not use the same font. Graphviz
(and graphviz-pure) size every box from a font's metrics; if the viewer then
draws a wider font, text runs out of its box. Asked for "Helvetica", Graphviz
measures Helvetica, but a Linux viewer without it draws DejaVu Sans, about
15% wider. So the pictures ask for DejaVu Sans, which both programs have
metrics for and which is installed nearly everywhere Helvetica is not; where it
is missing, the SVG names fonts that are narrower than it (renderer.py), so
text has room to spare, never too little. The boxes keep a little padding for
the rest (graphviz-pure measures bold text up to 10% short: see ``_roomy``).
"""
from __future__ import annotations

import html
from typing import Any, Mapping

from tinytensor import Tensor

from . import describe
from .graph import Arrow, Box, Picture, build_picture
from .ink import THICKEST, Ink
from .trace import BackwardTrace

TENSOR_COLOURS = {  # role -> (fill, border)
    "input": ("#fff3c4", "#c49a00"),
    "parameter": ("#dcebff", "#3a6fb0"),
    "intermediate": ("#ffffff", "#9e9e9e"),
    "output": ("#d9f2dc", "#2e7d32"),
    "data": ("#f2f2f2", "#8d8d8d"),
}
DATA_ARROW = {"color": "#9e9e9e", "style": "dashed",
              "tooltip": "data: needs no gradient, so none flows back along this arrow"}
OP_STYLE = {"style": "filled", "fillcolor": "#eeeeee", "color": "#757575", "shape": "oval"}
RESIDUAL = "#8e24aa"
RESIDUAL_STYLE = {"style": "filled,bold", "fillcolor": "#f3e5f5", "color": RESIDUAL,
                  "fontcolor": "#4a148c", "shape": "oval", "penwidth": "2"}
MODULE_STYLE = {"style": "filled", "fillcolor": "#eceff1", "color": "#546e7a", "shape": "box3d"}
GRAD_COLOUR = "#b71c1c"
FONT = "DejaVu Sans"  # measured as it is drawn: see the module docstring (and renderer.SVG_FONTS)


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
    _draw_group(dot, "", members, _children(members), rankdir in ("TB", "BT"))
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
                children: dict[str, list[str]], vertical: bool) -> None:
    for box in members.get(scope, []):
        graph.node(box.id, **_box_style(box))
    for child in children.get(scope, []):
        with graph.subgraph(name=f"cluster_{child}") as cluster:
            cluster.attr(label=_group_label(child, vertical), style="rounded,dashed", color="#90a4ae",
                         fontcolor="#455a64", fontsize="11", labeljust="l")
            _draw_group(cluster, child, members, children, vertical)


def _group_label(path: str, vertical: bool) -> str:
    """A group's name in its top left corner, with room to its right when arrows run top to bottom.

    Arrows enter a group at the middle of its top edge. A group as narrow as one oval
    (``layers.1``, around a lone tanh) puts that middle inside its own name, and the arrow
    crosses it out: the name read ``layers..``. An empty cell as wide as the name, after it,
    makes the group at least twice as wide as the name, so its middle (where the arrows come
    in) lies past the name's end. Left to right, arrows enter at the side and need no room.
    """
    if not vertical:
        return path
    room = 7 * len(path) + 8  # points: a DejaVu Sans character at 11 points is 3.5 to 7 wide
    return (f'<<table border="0" cellborder="0" cellpadding="0" cellspacing="0"><tr>'
            f'<td>{html.escape(path)}</td><td width="{room}"></td></tr></table>>')


# -- boxes -------------------------------------------------------------------------------
def _box_style(box: Box) -> dict[str, str]:
    if box.kind == "tensor":
        return {"id": box.id, "shape": "plain", "label": _tensor_label(box)}
    if box.kind == "module":
        return {"id": box.id, "label": f"{box.title}\\n{box.ops} op{'s' * (box.ops != 1)}", **MODULE_STYLE}
    style = RESIDUAL_STYLE if box.role == "residual" else OP_STYLE
    return {"id": box.id, "label": box.title, **style}


def _tensor_label(box: Box) -> str:
    """An HTML-like label: a rounded table with one row per fact (dashed for data)."""
    fill, border = TENSOR_COLOURS[box.role]
    rows = [f"<b>{_roomy(box.title)}</b>"] if box.title else []
    rows.append(f'<font point-size="9" color="#616161">{describe.shape(box.shape, box.dtype)}</font>')
    if box.value is not None:
        rows.append(f"data {describe.numbers(box.value)}")
    if box.grad is not None:
        rows.append(f'<font color="{GRAD_COLOUR}">{describe.gradient(box.grad.array)}</font>')
    cells = "".join(f"<tr><td>{row}</td></tr>" for row in rows)
    style = "rounded,dashed" if box.role == "data" else "rounded"
    return (f'<<table border="1" cellborder="0" cellspacing="0" cellpadding="3" style="{style}" '
            f'bgcolor="{fill}" color="{border}">{cells}</table>>')


def _roomy(name: str) -> str:
    """A bold name with room for its true width: graphviz-pure measures bold DejaVu Sans up to
    10% narrower than it is drawn (regular text within 3%). A no-break space for every 12
    characters, on each side, makes up the difference; with Graphviz's own dot it is a little
    air."""
    pad = "&#160;" * -(-len(name) // 12)
    return f"{pad}{html.escape(name)}{pad}"


# -- arrows ------------------------------------------------------------------------------
def _arrow_style(arrow: Arrow, ink: Ink) -> dict[str, str]:
    style = {"id": arrow.id, **(DATA_ARROW if arrow.data else {})}
    norm = arrow.norm
    if norm is not None:
        style.update(penwidth=str(ink.width(norm)), color=ink.colour(norm),
                     tooltip=f"gradient flowing back: |grad| {describe.number(norm)}")
        if norm == 0:
            style["style"] = "dotted"
    if arrow.residual:
        width = style.get("penwidth", "2.5")
        lines = [arrow.residual] + ([] if norm is None else [f"|grad| {describe.number(norm)}"])
        style.update(color=RESIDUAL, fontcolor=RESIDUAL, label=_beside(lines, float(width)),
                     penwidth=width, style="bold")
    return style


def _beside(lines: list[str], width: float) -> str:
    """An arrow's label, set off from the arrows on both sides of it.

    Graphviz puts a label's left edge on its arrow's line, and routes the next arrow along
    its right edge: lines drawn along their middle, so a thick arrow (7 points) covers the
    first or last letters. Empty cells keep the text clear: on the left, half the arrow's
    width plus 12 points, for an arrow that runs slantwise (it meets the label's edge at
    the label's middle and drifts under the line of text below by up to half the label's
    height); on the right, half the thickest arrow's width plus 4.
    """
    gap = round(width / 2 + 12)
    text = "<br/>".join(html.escape(line) for line in lines)
    return (f'<<table border="0" cellborder="0" cellpadding="0" cellspacing="0"><tr><td width="{gap}"></td>'
            f'<td align="left" balign="left">{text}</td><td width="{round(THICKEST / 2 + 4)}"></td></tr></table>>')
