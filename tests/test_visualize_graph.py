"""The picture of the graph: boxes, arrows, labels, gradients, residual marks, module groups, depth.

Nothing here runs a renderer: everything is read from the DOT text (draw_graph(...).source)
or from the Picture it is written from.
"""
import re

import pytest

import tinytensor as tt
from tinytensor import nn
from tinytensor.autograd import topological_order
from visualize import build_picture, describe, draw_graph, trace_backward
from visualize.dot import RESIDUAL
from visualize.gallery import mlp, residual_block, residual_stack

pytest.importorskip("graphviz")

NODE = re.compile(r"^\t*(\S+) \[(.*)\]$")
EDGE = re.compile(r"^\t*(\S+) -> (\S+) \[(.*)\]$")


def parse(dot):
    """(nodes: id -> attribute text, edges: (tail, head) -> attribute text, group: id -> cluster)."""
    nodes, edges, group, clusters = {}, {}, {}, []
    for line in dot.source.splitlines():
        if match := re.match(r"^\t*subgraph (\S+) \{$", line):
            clusters.append(match.group(1).strip('"'))
        elif line.strip() == "}" and clusters:
            clusters.pop()
        elif match := EDGE.match(line):
            edges[match.group(1).strip('"'), match.group(2).strip('"')] = match.group(3)
        elif (match := NODE.match(line)) and match.group(1) not in ("graph", "node", "edge"):
            name = match.group(1).strip('"')
            nodes[name] = match.group(2)
            group[name] = clusters[-1] if clusters else ""
    return nodes, edges, group


def rows(attributes):
    """The lines of text a box shows: one per table row, or the plain label of an op."""
    cells = re.findall(r"<td>(.*?)</td>", attributes)
    if cells:
        return [re.sub(r"<[^>]*>", "", cell).replace("&#160;", "") for cell in cells]  # no padding
    match = re.search(r'label=(?:"([^"]*)"|([^ ]+))', attributes)
    return [match.group(1) if match.group(1) is not None else match.group(2)]


def attribute(attributes, name):
    return re.search(rf'\b{name}="?([^" ]+)"?', attributes).group(1)


def small_graph():
    a = tt.tensor([1.0, 2.0], requires_grad=True)
    a.name = "a"
    b = tt.tensor(3.0, requires_grad=True)
    b.name = "b"
    c = (a * b).sum()
    c.name = "c"
    place = {node: i for i, node in enumerate(topological_order([c.grad_fn]))}  # a box's number
    mul, total = c.grad_fn.parents[0], c.grad_fn
    ids = {"a": f"t{place[a]}", "b": f"t{place[b]}", "mul": f"op{place[mul]}", "a*b": f"t{place[mul]}",
           "sum": f"op{place[total]}", "c": f"t{place[total]}"}
    return a, b, c, ids


def test_dot_of_a_small_graph_has_exactly_the_expected_boxes_arrows_and_labels():
    a, b, c, ids = small_graph()
    nodes, edges, _ = parse(draw_graph(c))
    assert set(nodes) == set(ids.values())
    assert set(edges) == {(ids["a"], ids["mul"]), (ids["b"], ids["mul"]), (ids["mul"], ids["a*b"]),
                          (ids["a*b"], ids["sum"]), (ids["sum"], ids["c"])}
    assert rows(nodes[ids["a"]]) == ["a", "(2,) float32", "data [1.0000, 2.0000]"]
    assert rows(nodes[ids["b"]]) == ["b", "scalar float32", "data 3.0000"]
    assert rows(nodes[ids["a*b"]]) == ["(2,) float32", "data [3.0000, 6.0000]"]
    assert rows(nodes[ids["c"]]) == ["c", "scalar float32", "data 9.0000"]
    assert rows(nodes[ids["mul"]]) == ["mul"] and rows(nodes[ids["sum"]]) == ["sum"]
    for name, box in ids.items():  # explicit SVG ids, so the backprop page can find each box
        assert f"id={box}" in nodes[box]
    assert "penwidth" not in "".join(edges.values())  # no gradient yet: plain arrows


def test_a_shape_prints_as_python_prints_the_tuple():
    assert describe.shape((4,), "float32") == "(4,) float32"       # not "(4)", the number 4
    assert describe.shape((2, 3), "int64") == "(2, 3) int64"
    assert describe.shape((), "float64") == "scalar float64"


def test_after_backward_each_box_shows_its_gradient():
    a, b, c, ids = small_graph()
    trace = trace_backward(c)
    nodes, edges, _ = parse(draw_graph(c, grads=trace))
    assert rows(nodes[ids["a"]])[-1] == "grad [3.0000, 3.0000]"
    assert rows(nodes[ids["b"]])[-1] == "grad 3.0000"
    assert rows(nodes[ids["a*b"]])[-1] == "grad [1.0000, 1.0000]"
    assert rows(nodes[ids["c"]])[-1] == "grad 1.0000"
    assert all("penwidth" in style for style in edges.values())


def test_roles_are_coloured():
    a, b, c, ids = small_graph()
    nodes, _, _ = parse(draw_graph(c, params={"b": b}))
    colours = {name: attribute(nodes[ids[name]], "bgcolor") for name in ("a", "b", "a*b", "c")}
    assert len(set(colours.values())) == 4  # input, parameter, intermediate, output


def test_the_gradient_on_every_box_is_the_tensors_true_gradient():
    tt.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    x = tt.randn(4, 3, requires_grad=True)
    hidden = model[0](x)
    hidden.retain_grad()
    out = model[2](model[1](hidden))
    out.retain_grad()
    loss = (out * out).mean()
    trace = trace_backward(loss)
    picture = build_picture([loss], model=model, grads=trace)
    nodes, _, _ = parse(draw_graph(loss, model=model, grads=trace))
    checked = [x, hidden, out, *model.parameters()]
    for tensor in checked:
        box = picture.boxes[picture.tensor_box[tensor.grad_fn or tensor]]
        assert (box.grad.numpy() == tensor.grad.numpy()).all()
        assert rows(nodes[box.id])[-1] == describe.gradient(tensor.grad.array)
    assert rows(nodes[picture.tensor_box[model[0].weight]])[0] == "0.weight"


def test_a_tensor_used_twice_gets_the_sum_of_both_messages():
    x = tt.tensor([1.0, -2.0], requires_grad=True)
    y = (x * x).sum()
    picture = build_picture([y], grads=trace_backward(y))
    arrow = picture.arrows[picture.tensor_box[x], picture.op_box[y.grad_fn.parents[0]]]
    assert arrow.norm == pytest.approx(describe.norm(x.grad.array))  # |2x| on one merged arrow


def test_arrow_widths_are_ordered_as_the_gradient_norms():
    xs = [tt.ones(3, requires_grad=True) for _ in range(4)]
    loss = (xs[0] * 0.001 + xs[1] * 0.1 + xs[2] * 1 + xs[3] * 30).sum()
    trace = trace_backward(loss)
    picture = build_picture([loss], grads=trace)
    _, edges, _ = parse(draw_graph(loss, grads=trace))
    pairs = sorted((arrow.norm, float(attribute(edges[key], "penwidth")))
                   for key, arrow in picture.arrows.items() if not arrow.data)  # not 0.001 -> mul
    widths = [w for _, w in pairs]
    assert widths == sorted(widths) and widths[0] < widths[-1]
    assert len({n for n, _ in pairs}) > 4  # really several different norms


def test_an_arrow_that_carries_zero_gradient_is_dotted():
    x = tt.tensor([-1.0, -2.0], requires_grad=True)
    y = (x.relu() + 1).sum()
    _, edges, _ = parse(draw_graph(y, grads=trace_backward(y)))
    assert sum("dotted" in style for style in edges.values()) == 1  # what relu sends back to x


def test_residual_adds_and_both_inputs_are_marked_and_the_skip_carries_the_gradient_undiminished():
    loss, options = residual_block()
    trace = trace_backward(loss)
    picture = build_picture([loss], grads=trace, **{k: v for k, v in options.items() if k != "rankdir"})
    nodes, edges, _ = parse(draw_graph(loss, grads=trace, **options))
    adds = [box for box in picture.boxes.values() if box.role == "residual"]
    assert len(adds) == 1 and rows(nodes[adds[0].id]) == ["residual add"]
    assert attribute(nodes[adds[0].id], "color") == RESIDUAL
    into = {key: style for key, style in edges.items() if key[1] == adds[0].id}
    assert len(into) == 2 and all(attribute(style, "color") == RESIDUAL for style in into.values())
    labels = sorted(re.search(r'balign="left">(\w+)', style).group(1) for style in into.values())
    assert labels == ["skip", "sublayer"]
    arriving = describe.norm(picture.boxes[f"t{adds[0].id[2:]}"].grad.array)
    for key in into:  # d(x + f)/dx = 1: both inputs receive exactly the gradient that arrived
        assert picture.arrows[key].norm == pytest.approx(arriving)
        assert f"{describe.number(arriving)}" in into[key]


def test_boxes_are_grouped_by_module_path():
    loss, options = residual_block()
    picture = build_picture([loss], model=options["model"])
    _, _, group = parse(draw_graph(loss, **options))
    scopes = {box.id: box.scope for box in picture.boxes.values()}
    for box_id, scope in scopes.items():
        assert group[box_id] == (f"cluster_{scope}" if scope else "")
    named = {picture.boxes[picture.tensor_box[p]].title: scopes[picture.tensor_box[p]]
             for p in options["model"].parameters()}
    assert named["blocks.0.linear1.weight"] == "blocks.0.linear1"
    assert named["blocks.0.norm.bias"] == "blocks.0.norm"
    ops = {box.title: box.scope for box in picture.boxes.values() if box.kind == "op"}
    assert ops["residual add"] == "blocks.0" and ops["layer_norm"] == "blocks.0.norm"
    assert ops["mean"] == ""


@pytest.mark.parametrize("depth, modules", [
    (0, {"blocks"}),
    (1, {"blocks.0", "blocks.1"}),
    (2, {f"blocks.{i}.{m}" for i in (0, 1) for m in ("norm", "linear1", "linear2")}),
])
def test_depth_collapses_modules_nested_deeper_than_it(depth, modules):
    loss, options = residual_stack()
    options = {**options, "depth": depth}
    trace = trace_backward(loss)
    picture = build_picture([loss], grads=trace, **{k: v for k, v in options.items() if k != "rankdir"})
    boxes = picture.boxes.values()
    assert {box.title for box in boxes if box.kind == "module"} == modules
    assert all(len(box.scope.split(".")) <= depth for box in boxes if box.scope)
    assert sum(box.role == "residual" for box in boxes) == (2 if depth >= 2 else 0)
    nodes, edges, _ = parse(draw_graph(loss, grads=trace, **options))
    assert set(nodes) == {box.id for box in boxes}
    x = options["names"]["x"]
    first = "m.blocks" if depth == 0 else "m.blocks.0" if depth == 1 else None
    if first:  # x feeds the norm and the skip path, both inside: one arrow, its whole gradient
        assert picture.arrows[picture.tensor_box[x], first].norm == pytest.approx(describe.norm(x.grad.array))


def test_gradients_are_drawn_from_any_device(device):
    x = tt.tensor([[1.0, -2.0], [0.5, 3.0]], device=device, requires_grad=True)
    w = tt.randn(2, 3, device=device, requires_grad=True)
    loss = (x @ w).tanh().sum()
    trace = trace_backward(loss)
    picture = build_picture([loss], params={"w": w}, grads=trace)
    nodes, _, _ = parse(draw_graph(loss, params={"w": w}, grads=trace))
    assert rows(nodes[picture.tensor_box[x]])[-1] == describe.gradient(x.grad.array)
    assert rows(nodes[picture.tensor_box[w]])[-1] == f"|grad| {describe.number(describe.norm(w.grad.array))}"


def test_the_input_batch_and_other_data_get_boxes_of_their_own():
    """x, the target and the 2 of ** 2 need no gradient: not graph nodes, but inputs, drawn as data."""
    loss, options = mlp()
    options.pop("rankdir")
    x, target = options["names"]["x"], options["names"]["target"]
    trace = trace_backward(loss, retain_graph=True)
    for picture in (build_picture([loss], **options), build_picture([loss], grads=trace, **options)):
        data = {box.title: box for box in picture.boxes.values() if box.role == "data"}
        assert set(data) == {"x", "target", ""} and data["x"].shape == (4, 3)
        assert picture.tensor_box[x] == data["x"].id and picture.tensor_box[target] == data["target"].id
        assert data[""].shape == () and float(data[""].value) == 2.0          # the exponent of ** 2
        assert all(box.scope == "" and box.grad is None for box in data.values())
        for op, op_id in picture.op_box.items():  # every op shows all its inputs, data included
            assert len([a for a in picture.arrows.values() if a.head == op_id]) == len(op.parents), op.name
        [first] = [arrow for arrow in picture.arrows.values() if arrow.tail == data["x"].id]
        assert picture.boxes[first.head].title == "linear"                  # the first layer's op
        assert first.data and first.grads == {} and first.norm is None      # nothing flows back to x
        [linear] = [op for op, op_id in picture.op_box.items() if op_id == first.head]
        assert first.id not in picture.lit_by(linear)
    nodes, edges, group = parse(draw_graph(loss, grads=trace, **options))
    assert 'style="rounded,dashed"' in nodes[data["x"].id] and group[data["x"].id] == ""
    assert rows(nodes[data["x"].id]) == ["x", "(4, 3) float32"]            # 12 numbers: too many to print
    assert "dashed" in edges[first.tail, first.head] and "penwidth" not in edges[first.tail, first.head]


def test_a_number_in_a_modules_expression_sits_in_its_group_and_data_outside():
    class Half(nn.Module):
        def forward(self, x):
            return x * 0.5

    model = nn.Sequential(nn.Linear(2, 2), Half())
    x = tt.randn(3, 2)
    picture = build_picture([model(x).sum()], model=model)
    data = {box.shape: box for box in picture.boxes.values() if box.role == "data"}
    assert data[()].scope == "1" and data[(3, 2)].scope == ""


def test_after_a_plain_backward_the_data_is_gone_and_so_are_its_boxes():
    loss, options = mlp()
    loss.backward()                       # frees every op's inputs: no trace kept them
    picture = build_picture([loss], model=options["model"])
    assert not [box for box in picture.boxes.values() if box.role == "data"]


def test_a_group_name_keeps_room_to_its_right_when_arrows_run_top_to_bottom():
    """Arrows enter a group at the middle of its top: a group as wide as its name has the name there."""
    loss, options = mlp()
    lines = draw_graph(loss, **options).source.splitlines()  # the gallery draws it top to bottom
    room = {}
    for line, attributes in zip(lines, lines[1:]):
        if match := re.match(r'^\t*subgraph "?cluster_([\w.]+)"? \{$', line):
            name = match.group(1)
            room[name] = int(re.search(rf'<td>{re.escape(name)}</td><td width="(\d+)"></td>', attributes).group(1))
    assert set(room) == {"layers", "layers.0", "layers.1", "layers.2"}
    assert all(width >= 7 * len(name) for name, width in room.items())  # the name's width again, at least
    across = draw_graph(loss, **{**options, "rankdir": "LR"}).source     # left to right: arrows come in sideways
    assert re.search(r'label="?layers\.1"? ', across)
