"""Finding the residual connections in a graph (visualize/residual.py): x + sublayer(x), and what is not one.

The model writes plain ``x + sublayer(x)``; the picture tells from the graph which adds are
residual connections and which of their inputs is the skip. Each case below builds a graph and
reads the picture: the adds drawn as residual, and the box each ``skip``/``sublayer`` arrow comes from.
"""
import pytest

import tinytensor as tt
import transformer as T
from tinytensor import nn
from tinytensor.functional import gelu
from visualize import build_picture, trace_backward
from visualize.gradient_flow import make_weights


def residual_inputs(picture):
    """For each residual add, in the forward order: {"skip": box, "sublayer": box} of its inputs."""
    found = []
    for box in sorted(picture.boxes.values(), key=lambda b: int(b.id[2:]) if b.id.startswith("op") else -1):
        if box.role == "residual":
            found.append({a.residual: picture.boxes[a.tail] for a in picture.arrows.values() if a.head == box.id})
    return found


def result_of(add_inputs, picture):
    """The box of the tensor a residual add computed: the op's box ``opN`` makes ``tN``."""
    (op,) = {a.head for a in picture.arrows.values() if a.tail == add_inputs["skip"].id and a.residual}
    return picture.boxes[f"t{op[2:]}"]


LAYER = dict(d_model=4, nhead=2, dim_feedforward=8, dropout=0.0, batch_first=True)


def run_layer(layer_type, norm_first, src_requires_grad=True):
    tt.manual_seed(0)
    layer = layer_type(**LAYER, norm_first=norm_first)
    src = tt.randn(1, 3, 4, requires_grad=src_requires_grad)
    if layer_type is T.TransformerEncoderLayer:
        y = layer(src)
    else:
        y = layer(src, tt.randn(1, 3, 4, requires_grad=True), tgt_mask=T.causal_mask(3))
    loss = (y ** 2).mean()
    return layer, src, loss


@pytest.mark.parametrize("layer_type, sublayers", [
    (T.TransformerEncoderLayer, ["self_attn.out_proj", "linear2"]),
    (T.TransformerDecoderLayer, ["self_attn.out_proj", "multihead_attn.out_proj", "linear2"])])
@pytest.mark.parametrize("norm_first", [False, True])
def test_every_add_and_norm_of_a_layer_is_found_and_x_is_its_skip(layer_type, sublayers, norm_first):
    layer, src, loss = run_layer(layer_type, norm_first)
    picture = build_picture([loss], model=layer, grads=trace_backward(loss))
    adds = residual_inputs(picture)
    assert [add["sublayer"].scope for add in adds] == sublayers  # each sublayer's last op
    assert adds[0]["skip"].id == picture.tensor_box[src]         # the layer's input, then...
    for k in range(1, len(adds)):
        if norm_first:   # x = x + Sublayer(Norm(x)): the skip is the previous add's result
            assert adds[k]["skip"] is result_of(adds[k - 1], picture)
        else:            # x = Norm(x + Sublayer(x)): the skip is the previous norm's result
            assert adds[k]["skip"].scope == f"norm{k}"


@pytest.mark.parametrize("norm_first", [False, True])
def test_a_whole_translation_model_has_one_residual_add_per_sublayer_and_no_other(norm_first):
    """The embedding's ``x * sqrt(d_model) + positions`` and everything else stay plain adds."""
    tt.manual_seed(0)
    model = T.Seq2SeqTransformer(11, 13, d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2,
                                 dim_feedforward=16, dropout=0.0, norm_first=norm_first)
    src, tgt = tt.tensor([[3, 4, 5, 0]]), tt.tensor([[1, 6, 7]])
    loss = model(src, tgt).logsumexp(-1).mean()
    picture = build_picture([loss], model=model)
    scopes = sorted(box.scope for box in picture.boxes.values() if box.role == "residual")
    assert scopes == sorted([f"transformer.encoder.layers.{i}" for i in (0, 1)] * 2
                            + [f"transformer.decoder.layers.{i}" for i in (0, 1)] * 3)
    assert any(box.title == "add" for box in picture.boxes.values())  # the positions' add, not residual


def test_a_gpt_is_pre_norm_residual_adds_only():
    tt.manual_seed(0)
    model = T.GPT(17, d_model=8, nhead=2, num_layers=3, dim_feedforward=16, dropout=0.0)
    loss = model(tt.tensor([[1, 2, 3, 4]])).mean()
    adds = residual_inputs(build_picture([loss], model=model))
    assert len(adds) == 6
    assert [add["sublayer"].scope for add in adds] == [f"layers.layers.{i}.{m}" for i in range(3)
                                                       for m in ("self_attn.out_proj", "linear2")]


def test_a_loop_without_modules_h_plus_tanh_of_h_w_plus_b_has_one_residual_add_per_step():
    """The 24 blocks of gradient_flow.py: every op in the top scope; the ``+ b`` adds are no skips."""
    weights = [(w.requires_grad_(), b.requires_grad_()) for w, b in make_weights(24, 8)]
    h = tt.randn(4, 8, requires_grad=True)
    start = h
    for w, b in weights:
        h = h + (h @ w + b).tanh()
    picture = build_picture([h.mean()])
    adds = residual_inputs(picture)
    assert len(adds) == 24
    assert adds[0]["skip"].id == picture.tensor_box[start]
    for before, add in zip(adds, adds[1:]):
        assert add["skip"] is result_of(before, picture)
        assert add["sublayer"].role == "intermediate" and add["sublayer"] is not add["skip"]


def test_an_rnn_step_with_a_shared_named_bias_marks_the_skip_and_not_the_bias():
    """h = h + tanh(x W + h U + b), b reused at every step: b reaches each step through the earlier
    ones, but a parameter is no skip path."""
    tt.manual_seed(0)
    W, U, b = (tt.randn(3, 5, requires_grad=True), tt.randn(5, 5, requires_grad=True),
               tt.randn(5, requires_grad=True))
    h = tt.randn(2, 5, requires_grad=True)
    for x in tt.randn(6, 2, 3):
        h = h + (x @ W + h @ U + b).tanh()
    picture = build_picture([h.sum()], params={"W": W, "U": U, "b": b})
    adds = residual_inputs(picture)
    assert len(adds) == 6
    assert all(add["skip"].title != "b" and add["sublayer"].title != "b" for add in adds)


def test_a_data_input_is_the_skip_while_its_ops_still_hold_it():
    """A layer fed a plain batch: x needs no gradient, so it is data, not a node; the first add
    still reads as residual, its skip arrow a data arrow (nothing flows back along it)."""
    layer, src, loss = run_layer(T.TransformerEncoderLayer, norm_first=True, src_requires_grad=False)
    picture = build_picture([loss], model=layer, grads=trace_backward(loss))
    adds = residual_inputs(picture)
    assert len(adds) == 2 and adds[0]["skip"].role == "data" and adds[0]["skip"].shape == (1, 3, 4)
    skip_arrow = next(a for a in picture.arrows.values() if a.residual == "skip" and a.tail == adds[0]["skip"].id)
    assert skip_arrow.data and not skip_arrow.grads


def test_the_skip_may_come_second():
    x = tt.randn(2, 3, requires_grad=True)
    linear = nn.Linear(3, 3)
    y = linear(x) + x
    picture = build_picture([y.sum()], model=linear)
    (add,) = residual_inputs(picture)
    assert add["skip"].id == picture.tensor_box[x] and add["sublayer"].id == picture.tensor_box[y.grad_fn.parents[0]]


class Adder(nn.Module):
    def forward(self, a, b):
        return a + b


class Sibling(nn.Module):
    """``adder`` adds x to what ``linear``, a module beside it, computed from x."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 3)
        self.adder = Adder()

    def forward(self, x):
        return self.adder(x, self.linear(x))


def not_residual_cases():
    """Adds that are no residual connections, each as a loss to draw with its draw options."""
    a, b = tt.randn(2, 3, requires_grad=True), tt.randn(2, 3, requires_grad=True)
    yield "a + b, neither computed from the other", (a * 2 + b.exp()).sum(), {}
    x = tt.randn(2, 3, requires_grad=True)
    yield "x + x: nothing computed", (x + x).sum(), {}
    y = x.tanh()
    yield "y + y, the same node twice", (y + y).sum(), {}
    yield "x + 1", (x + 1).sum(), {}
    tt.manual_seed(0)
    model = Sibling()
    yield "y + f(x) with f in another module than the add", model(x).sum(), {"model": model}
    w = nn.Parameter(tt.randn(3, 3))
    yield "a parameter plus something computed from it", (w + gelu(w @ w)).sum(), {}


@pytest.mark.parametrize("case", list(not_residual_cases()), ids=lambda case: case[0])
def test_adds_that_are_not_residual_connections_stay_plain(case):
    _, loss, options = case
    picture = build_picture([loss], **options)
    assert not residual_inputs(picture)
    assert any(box.title == "add" for box in picture.boxes.values())  # there is an add, drawn plain
