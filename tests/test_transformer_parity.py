"""Parity with torch.nn.MultiheadAttention and torch.nn.Transformer, on copied weights, in float64.

PyTorch's own weights are loaded into tinytensor's model with
``load_state_dict({k: tt.tensor(v.numpy()) ...})`` (and tinytensor's into PyTorch's),
then both run on the same inputs and masks; the outputs, and the gradients of
every parameter and of the inputs for the same upstream gradient, must agree to
rounding. Dropout is 0 so both are deterministic; the layers run in training
mode, so PyTorch takes its ordinary (not its inference fast) path.
"""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="PyTorch not installed: parity tests need it "
                                            "(pip install torch==2.13.0)")

import tinytensor as tt  # noqa: E402 - after the torch importorskip
import transformer as T  # noqa: E402

TOLERANCE = dict(rtol=1e-9, atol=1e-11)
# PyTorch warns about its fast paths not being taken (pre-norm, sequence first, mixed mask types)
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def copy_weights(theirs: "torch.nn.Module", ours: tt.nn.Module) -> None:
    state = theirs.state_dict()
    assert list(state) == list(ours.state_dict())  # the same keys, in the same order
    ours.load_state_dict({k: tt.tensor(v.numpy()) for k, v in state.items()})


def both(array: np.ndarray, grad: bool = True) -> tuple[tt.Tensor, "torch.Tensor"]:
    return tt.tensor(array, requires_grad=grad), torch.tensor(array, requires_grad=grad)


def assert_same_backward(ours_out: tt.Tensor, theirs_out: "torch.Tensor", ours: tt.nn.Module,
                         theirs: "torch.nn.Module", inputs: list) -> None:
    """Backward the same random upstream gradient through both; compare every gradient."""
    upstream = np.random.default_rng(7).standard_normal(tuple(theirs_out.shape))
    (ours_out * tt.tensor(upstream)).sum().backward()
    (theirs_out * torch.tensor(upstream)).sum().backward()
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), named[name].grad.numpy(), err_msg=name, **TOLERANCE)
    for mine, ref in inputs:
        np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), **TOLERANCE)


def padding(batch: int, length: int, lengths: list[int]) -> np.ndarray:
    mask = np.zeros((batch, length), dtype=bool)
    for row, n in enumerate(lengths):
        mask[row, n:] = True
    return mask


# ----------------------------------------------------------------------------
# MultiheadAttention
# ----------------------------------------------------------------------------
MHA_CASES = {
    "self, no mask": dict(),
    "self, key padding": dict(key_padding_mask="padding"),
    "self, causal bool": dict(attn_mask="causal bool"),
    "self, causal float + padding": dict(attn_mask="causal float", key_padding_mask="padding"),
    "per head weights": dict(average_attn_weights=False),
    "no weights": dict(need_weights=False),
    "3-D float mask": dict(attn_mask="per head"),
}


def _masks(case: dict, batch: int, heads: int, queries: int, keys: int) -> tuple[dict, dict]:
    rng = np.random.default_rng(3)
    ours, theirs = {}, {}
    for name, kind in case.items():
        if kind == "padding":
            m = padding(batch, keys, [keys, keys - 2, 1][:batch])
        elif kind == "causal bool":
            m = np.triu(np.ones((queries, keys), dtype=bool), 1)
        elif kind == "causal float":
            m = np.triu(np.full((queries, keys), -np.inf), 1)
        elif kind == "per head":
            m = rng.standard_normal((batch * heads, queries, keys))
        else:
            ours[name] = theirs[name] = kind
            continue
        ours[name], theirs[name] = tt.tensor(m), torch.tensor(m)
    return ours, theirs


@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("case", MHA_CASES)
def test_multihead_self_attention(case, batch_first):
    torch.manual_seed(0)
    E, h, B, L = 12, 3, 3, 5
    theirs = torch.nn.MultiheadAttention(E, h, batch_first=batch_first).double()
    ours = T.MultiheadAttention(E, h, batch_first=batch_first).double()
    copy_weights(theirs, ours)
    shape = (B, L, E) if batch_first else (L, B, E)
    x, tx = both(np.random.default_rng(1).standard_normal(shape))
    kw, tkw = _masks(MHA_CASES[case], B, h, L, L)
    out, weights = ours(x, x, x, **kw)
    ref, ref_weights = theirs(tx, tx, tx, **tkw)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOLERANCE)
    if ref_weights is None:
        assert weights is None
        assert_same_backward(out, ref, ours, theirs, [(x, tx)])
    else:
        np.testing.assert_allclose(weights.numpy(), ref_weights.detach().numpy(), **TOLERANCE)
        both_out = tt.cat([out.reshape(-1), weights.reshape(-1)])  # gradients through the weights too
        assert_same_backward(both_out, torch.cat([ref.reshape(-1), ref_weights.reshape(-1)]),
                             ours, theirs, [(x, tx)])


def test_multihead_cross_attention_with_padding_and_unbatched():
    torch.manual_seed(1)
    E, h = 8, 2
    theirs, ours = torch.nn.MultiheadAttention(E, h).double(), T.MultiheadAttention(E, h).double()
    copy_weights(theirs, ours)
    rng = np.random.default_rng(2)
    q, tq = both(rng.standard_normal((4, 2, E)))                 # (T, B, E): sequence first
    kv, tkv = both(rng.standard_normal((6, 2, E)))
    pad = padding(2, 6, [6, 3])
    out, w = ours(q, kv, kv, key_padding_mask=tt.tensor(pad))
    ref, rw = theirs(tq, tkv, tkv, key_padding_mask=torch.tensor(pad))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOLERANCE)
    np.testing.assert_allclose(w.numpy(), rw.detach().numpy(), **TOLERANCE)
    assert_same_backward(out, ref, ours, theirs, [(q, tq), (kv, tkv)])
    one, t_one = both(rng.standard_normal((3, E)))              # unbatched (L, E)
    out, w = ours(one, one, one)
    ref, rw = theirs(t_one, t_one, t_one)
    assert out.shape == (3, E) and w.shape == (3, 3)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOLERANCE)
    np.testing.assert_allclose(w.numpy(), rw.detach().numpy(), **TOLERANCE)


def test_multihead_without_bias():
    torch.manual_seed(2)
    theirs, ours = torch.nn.MultiheadAttention(8, 4, bias=False).double(), T.MultiheadAttention(8, 4, bias=False).double()
    copy_weights(theirs, ours)
    x, tx = both(np.random.default_rng(0).standard_normal((3, 2, 8)))
    np.testing.assert_allclose(ours(x, x, x)[0].numpy(), theirs(tx, tx, tx)[0].detach().numpy(), **TOLERANCE)


# ----------------------------------------------------------------------------
# Transformer: post-norm and pre-norm, relu and gelu, every mask
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_transformer_with_padding_and_causal_masks(norm_first, activation):
    torch.manual_seed(0)
    E, h, B, S, L = 16, 4, 3, 6, 5
    theirs = torch.nn.Transformer(E, h, 2, 2, 24, dropout=0.0, activation=activation,
                                  norm_first=norm_first, batch_first=True).double()
    ours = T.Transformer(E, h, 2, 2, 24, dropout=0.0, activation=activation, norm_first=norm_first,
                         batch_first=True).double()
    copy_weights(theirs, ours)
    rng = np.random.default_rng(5)
    src, t_src = both(rng.standard_normal((B, S, E)))
    tgt, t_tgt = both(rng.standard_normal((B, L, E)))
    src_pad, tgt_pad = padding(B, S, [6, 4, 2]), padding(B, L, [5, 5, 3])
    out = ours(src, tgt, tgt_mask=T.causal_mask(L), src_key_padding_mask=tt.tensor(src_pad),
               tgt_key_padding_mask=tt.tensor(tgt_pad), memory_key_padding_mask=tt.tensor(src_pad))
    ref = theirs(t_src, t_tgt, tgt_mask=torch.nn.Transformer.generate_square_subsequent_mask(L, dtype=torch.float64),
                 src_key_padding_mask=torch.tensor(src_pad), tgt_key_padding_mask=torch.tensor(tgt_pad),
                 memory_key_padding_mask=torch.tensor(src_pad))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOLERANCE)
    assert_same_backward(out, ref, ours, theirs, [(src, t_src), (tgt, t_tgt)])


def test_transformer_sequence_first_with_a_memory_mask():
    torch.manual_seed(3)
    theirs = torch.nn.Transformer(8, 2, 1, 1, 16, dropout=0.0).double()
    ours = T.Transformer(8, 2, 1, 1, 16, dropout=0.0).double()
    copy_weights(theirs, ours)
    rng = np.random.default_rng(1)
    src, t_src = both(rng.standard_normal((5, 2, 8)))   # (S, B, E), PyTorch's default layout
    tgt, t_tgt = both(rng.standard_normal((4, 2, 8)))
    memory_mask = rng.standard_normal((4, 5))            # a float mask: added to the scores
    out = ours(src, tgt, memory_mask=tt.tensor(memory_mask))
    ref = theirs(t_src, t_tgt, memory_mask=torch.tensor(memory_mask))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOLERANCE)
    assert_same_backward(out, ref, ours, theirs, [(src, t_src), (tgt, t_tgt)])


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_transformer_with_an_empty_source_matches_torch(norm_first):
    """A source of length 0 once raised "zero-size array to reduction"; PyTorch answers: the
    encoder gives an empty memory, and cross-attention to no keys adds nothing but its bias."""
    torch.manual_seed(2)
    theirs = torch.nn.Transformer(8, 2, 1, 2, 16, dropout=0.0, norm_first=norm_first,
                                  batch_first=True).double()
    ours = T.Transformer(8, 2, 1, 2, 16, dropout=0.0, norm_first=norm_first, batch_first=True).double()
    for p in theirs.parameters():  # PyTorch starts the biases at 0: make them count
        torch.nn.init.normal_(p)
    copy_weights(theirs, ours)
    rng = np.random.default_rng(2)
    src, t_src = both(np.zeros((2, 0, 8)))
    tgt, t_tgt = both(rng.standard_normal((2, 3, 8)))
    out = ours(src, tgt, tgt_mask=T.causal_mask(3))
    causal = torch.nn.Transformer.generate_square_subsequent_mask(3, dtype=torch.float64)
    ref = theirs(t_src, t_tgt, tgt_mask=causal)
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOLERANCE)
    assert_same_backward(out, ref, ours, theirs, [(src, t_src), (tgt, t_tgt)])


def test_layers_alone_and_weights_moved_the_other_way():
    """An encoder layer and a decoder layer on their own; tinytensor's weights loaded into torch."""
    torch.manual_seed(4)
    rng = np.random.default_rng(0)
    for ours, theirs_cls in ((T.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True),
                              torch.nn.TransformerEncoderLayer),
                             (T.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True),
                              torch.nn.TransformerDecoderLayer)):
        ours = ours.double()
        theirs = theirs_cls(8, 2, 16, dropout=0.0, batch_first=True).double()
        theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
        x, tx = both(rng.standard_normal((2, 3, 8)))
        if isinstance(ours, T.TransformerDecoderLayer):
            m, tm = both(rng.standard_normal((2, 4, 8)))
            out, ref = ours(x, m), theirs(tx, tm)
        else:
            out, ref = ours(x), theirs(tx)
        np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), **TOLERANCE)


def test_state_dict_keys_and_shapes_are_pytorchs():
    theirs = torch.nn.Transformer(16, 4, 2, 1, 32)
    ours = T.Transformer(16, 4, 2, 1, 32)
    ours_state = ours.state_dict()
    assert list(ours_state) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        assert tuple(ours_state[key].shape) == tuple(value.shape), key
    assert "encoder.layers.0.self_attn.in_proj_weight" in ours_state
    assert "decoder.layers.0.multihead_attn.out_proj.bias" in ours_state
    assert "encoder.norm.weight" in ours_state and "decoder.norm.bias" in ours_state


def test_initialization_has_pytorchs_scale():
    """Xavier uniform for every matrix: bound sqrt(6 / (fan_in + fan_out)); zero attention biases."""
    ours = T.Transformer(64, 4, 1, 1, 256)
    w = ours.encoder.layers[0].linear1.weight.numpy()
    bound = np.sqrt(6 / (64 + 256))
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert abs(w.std() - bound / np.sqrt(3)) < 0.05 * bound
    assert (ours.encoder.layers[0].self_attn.in_proj_bias.numpy() == 0).all()
    # two layers of a stack are initialized independently (PyTorch's deep copies start identical)
    assert not np.array_equal(ours.encoder.layers[0].linear1.weight.numpy(),
                              T.Transformer(64, 4, 2, 1, 256).encoder.layers[1].linear1.weight.numpy())


def test_generate_square_subsequent_mask_is_pytorchs():
    np.testing.assert_array_equal(T.Transformer.generate_square_subsequent_mask(4).numpy(),
                                  torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())


# ----------------------------------------------------------------------------
# Under nn, where a PyTorch user looks for them
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["MultiheadAttention", "Transformer", "TransformerEncoder",
                                  "TransformerEncoderLayer", "TransformerDecoder", "TransformerDecoderLayer"])
def test_the_model_classes_are_under_nn_with_torchs_arguments(name):
    import inspect  # noqa: PLC0415

    ours, theirs = getattr(tt.nn, name), getattr(torch.nn, name)
    assert ours is getattr(T, name)  # the model's own class, imported on first use
    mine = list(inspect.signature(ours.__init__).parameters)
    missing = [p for p in inspect.signature(theirs.__init__).parameters if p not in mine]
    # what the README lists as not there; torch's device/dtype factory arguments
    assert set(missing) <= {"kdim", "vdim", "add_bias_kv", "add_zero_attn", "device", "dtype",
                            "enable_nested_tensor", "mask_check"}, missing


def test_generate_square_subsequent_mask_is_torchs():
    for size in (1, 3, 5):
        ours = tt.nn.Transformer.generate_square_subsequent_mask(size)
        theirs = torch.nn.Transformer.generate_square_subsequent_mask(size)
        assert ours.dtype == tt.float32 and ours.tolist() == theirs.tolist()
    assert tt.nn.Transformer.generate_square_subsequent_mask(2, dtype=tt.float64).dtype == tt.float64
