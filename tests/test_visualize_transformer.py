"""The Transformer pictures of the gallery: layer graphs, post-norm against pre-norm, attention maps.

Everything but the one trained model (a module fixture, about 4 s) runs on
untrained tiny models in well under a second.
"""
import numpy as np
import pytest

import tinytensor as tt
import transformer as T
from visualize import build_picture, draw_graph, plot_attention, reversal, trace_backward
from visualize.gallery import decoder_layer, encoder_layer
from visualize.norm_placement import encoder_gradient_norms

pytest.importorskip("graphviz")

ENCODER_SUBLAYERS = {"self_attn", "linear1", "linear2", "norm1", "norm2"}
DECODER_SUBLAYERS = {"self_attn", "multihead_attn", "linear1", "linear2", "norm1", "norm2", "norm3"}


def picture_after_backward(scene, **changes):
    loss, options = scene()
    options.pop("rankdir")  # the drawing's direction: not the picture's business
    return build_picture([loss], grads=trace_backward(loss), **{**options, **changes})


@pytest.mark.parametrize("scene, sublayers, adds", [(encoder_layer, ENCODER_SUBLAYERS, 2),
                                                    (decoder_layer, DECODER_SUBLAYERS, 3)])
def test_each_sublayer_is_a_box_and_each_add_and_norm_a_purple_residual_add(scene, sublayers, adds):
    picture = picture_after_backward(scene)  # the gallery's depth=0
    modules = {box.title for box in picture.boxes.values() if box.kind == "module"}
    assert modules == sublayers
    residual = [box for box in picture.boxes.values() if box.role == "residual"]
    assert len(residual) == adds
    into_adds = [arrow for arrow in picture.arrows.values() if arrow.residual]
    assert sorted(arrow.residual for arrow in into_adds) == ["skip"] * adds + ["sublayer"] * adds
    assert all(arrow.norm > 0 for arrow in into_adds)  # after backward, each carries a gradient


@pytest.mark.parametrize("scene, sublayers", [(encoder_layer, ENCODER_SUBLAYERS),
                                              (decoder_layer, DECODER_SUBLAYERS)])
def test_opened_up_every_sublayer_is_a_cluster_named_after_it(scene, sublayers):
    loss, options = scene()
    source = draw_graph(loss, **{**options, "depth": None}).source
    for name in sublayers | {"self_attn.out_proj"}:
        assert f"subgraph cluster_{name} {{" in source or f'subgraph "cluster_{name}" {{' in source


@pytest.mark.parametrize("scene", [encoder_layer, decoder_layer])
def test_ops_sit_in_the_group_of_the_module_that_owns_their_weights(scene):
    picture = picture_after_backward(scene, depth=None)
    boxes = picture.boxes
    parameters = [box for box in boxes.values() if box.role == "parameter"]
    assert {box.scope for box in parameters} >= {"self_attn", "self_attn.out_proj", "linear1", "norm1"}
    for box in parameters:
        assert box.scope == box.title.rpartition(".")[0]   # self_attn.out_proj.weight -> self_attn.out_proj
        users = [boxes[head] for (tail, head) in picture.arrows if tail == box.id]
        assert users and all(user.scope == box.scope for user in users), box.title
    assert all(box.scope == "" for box in boxes.values() if box.role == "residual")  # the layer's own


def test_a_layer_inside_a_stack_is_grouped_by_its_path_in_the_stack():
    tt.manual_seed(0)
    model = T.Transformer(d_model=4, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                          dim_feedforward=8, dropout=0.0, batch_first=True)
    memory = model.encoder(tt.randn(1, 3, 4))
    scopes = {box.scope for box in build_picture([memory.sum()], model=model).boxes.values()}
    assert {"encoder.layers.0", "encoder.layers.0.self_attn", "encoder.layers.0.linear1",
            "encoder.norm"} <= scopes


def test_post_norm_gradient_peaks_at_the_top_and_pre_norm_at_the_bottom():
    """Measured at initialization (24 layers, d_model 32): neither vanishes; where it is largest differs."""
    post, pre = encoder_gradient_norms(norm_first=False), encoder_gradient_norms(norm_first=True)
    assert len(post) == len(pre) == 24
    assert max(post) == post[-1] and post[-1] > 1.5 * post[0]      # 0.62 against 0.31
    assert max(pre) == pre[0] and pre[0] > 1.5 * pre[-1]            # 0.23 against 0.11
    assert 0.5 < pre[0] / post[0] < 1.5                              # layer 1: about the same
    assert min(post + pre) > 0.05 * max(post + pre)                  # no vanishing at this depth


def test_plot_attention_takes_what_record_attention_records(tmp_path):
    tt.manual_seed(0)
    model = T.Seq2SeqTransformer(9, 9, d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2,
                                 dim_feedforward=16, dropout=0.0).eval()
    src, tgt_in = tt.tensor([[3, 4, 5, 6, 7]]), tt.tensor([[1, 8, 7, 6]])
    with tt.no_grad(), T.record_attention(model) as hooks:
        model(src, tgt_in)
    cross = {path: hook for path, hook in hooks.items() if path.endswith("multihead_attn")}
    figure = plot_attention(cross, list("abcde"), ["<bos>", "e", "d", "c"])
    assert [ax.get_ylabel() for ax in figure.axes if ax.images][::2] == [
        "transformer.decoder.layers.0.multihead_attn", "transformer.decoder.layers.1.multihead_attn"]
    assert len([ax for ax in figure.axes if ax.images]) == 2 * 2
    one = hooks["transformer.encoder.layers.1.self_attn"].weights[0]  # a Tensor (heads, S, S)
    assert plot_attention(one, list("abcde"), list("abcde"), tmp_path / "e.png").exists()
    with pytest.raises(ValueError, match="different shapes"):  # self- and cross-attention mixed
        plot_attention(hooks, list("abcde"), list("abcde"))


@pytest.fixture(scope="module")
def hijack():
    """The attention of the model (trained for 300 steps, not the gallery's 500) reversing "hijack"."""
    return reversal.attention_of(reversal.train(steps=300), "hijack")


def test_the_trained_model_reverses_and_its_cross_attention_is_an_anti_diagonal(hijack):
    cross = hijack["cross"]
    assert cross.y_tokens == list("kcajih") + ["<eos>"]
    weights = cross.weights.numpy()[0]                     # (heads, T, S)
    n = len(cross.x_tokens)
    anti = np.array([weights[:, t, n - 1 - t] for t in range(n)])  # writing letter t: source n-1-t
    assert anti.mean() > 0.4 > 2 / n                    # 0.5 at 300 steps; uniform would be 1/6
    assert anti.mean(0).max() > 0.5                     # one head at least follows it closely


def test_the_decoder_self_attention_is_a_triangle_and_every_row_a_distribution(hijack):
    decoder = hijack["decoder"].weights.numpy()[0]
    assert decoder.shape == (4, 7, 7) and hijack["decoder"].x_tokens[0] == "<bos>"
    assert np.all(np.triu(decoder, k=1) == 0)            # the causal mask: no future at all
    for kind in hijack.values():
        np.testing.assert_allclose(kind.weights.numpy().sum(-1), 1, rtol=1e-5)


def test_a_word_with_letters_the_model_does_not_know_is_a_clear_error():
    with pytest.raises(ValueError, match="knows the letters 'abcdefghijk' only"):
        reversal.attention_of(reversal.train(steps=0), "xyz")
