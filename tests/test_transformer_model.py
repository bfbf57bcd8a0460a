"""The whole model: gradient checks, the invariances a Transformer must have, positions, the seeds' numbers.

* gradcheck of a one-layer encoder-decoder, every parameter and both inputs, float64;
* causality: changing target tokens after position t leaves the decoder's outputs at <= t unchanged;
* padding: appending pad tokens leaves the outputs at the real positions unchanged;
* a sentence's output does not depend on the other sentences of its batch;
* the sinusoidal positional encoding: PE(pos + k) is a fixed linear function of PE(pos);
* LayerNorm of (1, 3, 5) is (-1.22, 0, 1.22); bad input gets a clear error.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinytensor as tt
import transformer as T
from gradcheck_inputs import leaf, normal


def tiny_seq2seq(device="cpu", norm_first=False, seed=0):
    tt.manual_seed(seed)
    return T.Seq2SeqTransformer(11, 13, d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2,
                                dim_feedforward=16, dropout=0.0, norm_first=norm_first).double().to(device)


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_gradcheck_of_a_one_layer_encoder_decoder(norm_first, device):
    tt.manual_seed(0)
    model = T.Transformer(4, 2, 1, 1, 6, dropout=0.0, batch_first=True, norm_first=norm_first).double().to(device)
    src, tgt = leaf(normal((2, 3, 4), 1), device), leaf(normal((2, 2, 4), 2), device)
    padding = tt.tensor([[False, False, True], [False, False, False]], device=device)

    def run(s, t, *params):
        return model(s, t, tgt_mask=T.causal_mask(2, device=device), src_key_padding_mask=padding,
                     memory_key_padding_mask=padding)

    assert tt.gradcheck(run, [src, tgt, *model.parameters()])


def test_second_derivatives_through_an_encoder_layer(device):
    tt.manual_seed(1)
    layer = T.TransformerEncoderLayer(4, 2, 6, dropout=0.0, batch_first=True, activation="gelu").double().to(device)
    x = leaf(normal((1, 3, 4)), device)
    assert tt.gradgradcheck(lambda a: layer(a, src_mask=T.causal_mask(3, device=device)), [x])


def test_the_decoder_cannot_see_the_future(device):
    model = tiny_seq2seq(device)
    src = tt.tensor([[3, 4, 5, 6]], device=device)
    tgt = tt.tensor([[1, 7, 8, 9, 10]], device=device)
    changed = tt.tensor([[1, 7, 8, 12, 4]], device=device)  # tokens after position 2 differ
    a, b = model(src, tgt).numpy(), model(src, changed).numpy()
    np.testing.assert_allclose(a[:, :3], b[:, :3], rtol=1e-12, atol=1e-13)
    assert np.abs(a[:, 3:] - b[:, 3:]).max() > 1e-3


def test_padding_changes_nothing_at_the_real_positions(device):
    model = tiny_seq2seq(device, norm_first=True)
    src, tgt = tt.tensor([[3, 4, 5]], device=device), tt.tensor([[1, 6, 7]], device=device)
    padded_src = tt.tensor([[3, 4, 5, 0, 0]], device=device)
    padded_tgt = tt.tensor([[1, 6, 7, 0]], device=device)
    plain = model(src, tgt).numpy()
    np.testing.assert_allclose(model(padded_src, tgt).numpy(), plain, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(model(padded_src, padded_tgt).numpy()[:, :3], plain, rtol=1e-12, atol=1e-13)


def test_a_sentence_does_not_depend_on_its_batch(device):
    model = tiny_seq2seq(device)
    src = tt.tensor([[3, 4, 5, 6], [7, 8, 0, 0], [9, 10, 4, 0]], device=device)
    tgt = tt.tensor([[1, 5, 6], [1, 7, 0], [1, 8, 9]], device=device)
    together = model(src, tgt).numpy()
    for row, length in enumerate([4, 2, 3]):
        alone = model(src[row:row + 1, :length], tgt[row:row + 1]).numpy()
        np.testing.assert_allclose(together[row:row + 1], alone, rtol=1e-12, atol=1e-13)


def test_seq2seq_shapes_tied_weights_and_masks(device):
    model = T.Seq2SeqTransformer(20, 30, d_model=16, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
                                 dim_feedforward=32).to(device)
    logits = model(tt.tensor([[4, 5, 6, 0]], device=device), tt.tensor([[1, 7, 8]], device=device))
    assert logits.shape == (1, 3, 30)
    assert model.generator.weight is model.tgt_embed.embedding.weight       # section 3.4
    names = [name for name, _ in model.named_parameters()]
    assert "generator.weight" not in names and "generator.bias" in names    # a tied weight is listed once
    assert (model.src_embed.embedding.weight.numpy()[0] == 0).all()         # the padding row
    untied = T.Seq2SeqTransformer(20, 30, d_model=16, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
                                  tie_embeddings=False)
    assert untied.generator.weight is not untied.tgt_embed.embedding.weight


def test_the_paper_base_model_defaults():
    model = T.Transformer()
    assert (model.d_model, model.nhead, len(model.encoder.layers), len(model.decoder.layers)) == (512, 8, 6, 6)
    layer = model.encoder.layers[0]
    assert layer.linear1.out_features == 2048 and layer.dropout.p == 0.1 and not layer.norm_first
    assert sum(p.numel() for p in model.parameters()) == 44_140_544  # torch.nn.Transformer() has the same


# ----------------------------------------------------------------------------
# Positional encoding (section 3.5)
# ----------------------------------------------------------------------------
def test_positional_encoding_is_the_papers_sinusoids(device):
    pe = T.positional_encoding(50, 16, dtype=tt.float64, device=device).numpy()
    pos, i = 7, 3
    assert pe[pos, 2 * i] == pytest.approx(math.sin(pos / 10000 ** (2 * i / 16)), abs=1e-15)
    assert pe[pos, 2 * i + 1] == pytest.approx(math.cos(pos / 10000 ** (2 * i / 16)), abs=1e-15)
    np.testing.assert_allclose(pe[0, 0::2], 0.0) and np.testing.assert_allclose(pe[0, 1::2], 1.0)
    assert T.positional_encoding(3, 7, device=device).shape == (3, 7)      # odd d_model


def test_pe_of_pos_plus_k_is_a_linear_function_of_pe_of_pos():
    """For every k there is one matrix M_k with PE(pos + k) = M_k PE(pos), whatever pos."""
    d, k = 16, 5
    pe = T.positional_encoding(60, d, dtype=tt.float64).numpy()
    fitted, *_ = np.linalg.lstsq(pe[:40], pe[k:40 + k], rcond=None)          # fitted on pos 0..39
    np.testing.assert_allclose(pe[40:55] @ fitted, pe[45:60], atol=1e-9)  # and right on pos 40..54
    # The matrix itself: each (sin, cos) pair rotated by the angle k w_i, the same for every pos.
    rotation = np.zeros((d, d))
    for j, w in enumerate(1 / 10000 ** (np.arange(0, d, 2) / d)):
        c, s = math.cos(k * w), math.sin(k * w)
        rotation[2 * j:2 * j + 2, 2 * j:2 * j + 2] = [[c, -s], [s, c]]
    np.testing.assert_allclose(pe[:-k] @ rotation, pe[k:], atol=1e-12)


def test_positions_exist_beyond_any_training_length():
    layer = T.PositionalEncoding(8, dropout=0.0)
    far = layer(tt.zeros(1, 3, 8), offset=100_000).numpy()[0]
    np.testing.assert_allclose(far, T.positional_encoding(3, 8, offset=100_000).numpy(), atol=1e-6)
    assert layer(tt.zeros(2, 5000, 8)).shape == (2, 5000, 8)               # no maximum length


def test_token_embedding_is_scaled_by_sqrt_d_model(device):
    embedding = T.TokenEmbedding(10, 64).to(device)
    ids = tt.tensor([[1, 2]], device=device)
    np.testing.assert_allclose(embedding(ids).numpy(), embedding.embedding(ids).numpy() * 8.0, rtol=1e-6)


def test_layer_norm_of_1_3_5():
    """Seed 001: mean 3, std 1.63, normalized (-1.22, 0, 1.22); the slide's -1.83 is a slip."""
    out = tt.nn.LayerNorm(3, eps=0.0)(tt.tensor([1.0, 3.0, 5.0], dtype=tt.float64)).numpy()
    np.testing.assert_allclose(out, [-math.sqrt(1.5), 0.0, math.sqrt(1.5)], rtol=1e-12)
    assert [round(v, 2) for v in out] == [-1.22, 0.0, 1.22]


# ----------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------
def test_token_ids_outside_the_vocabulary(device):
    model = T.Seq2SeqTransformer(10, 12, d_model=8, nhead=2, num_encoder_layers=1,
                                 num_decoder_layers=1).to(device)
    with pytest.raises(IndexError, match=r"src holds a token id outside its vocabulary: embedding: "
                                         r"index 10 is out of range for a table of 10 rows \(valid: 0..9\)"):
        model(tt.tensor([[3, 10]], device=device), tt.tensor([[1, 2]], device=device)).sum().item()
    with pytest.raises(IndexError, match=r"tgt_in holds a token id outside its vocabulary.*index -1"):
        model(tt.tensor([[3, 4]], device=device), tt.tensor([[1, -1]], device=device)).sum().item()
    with pytest.raises(ValueError, match=r"src must be a \(batch, length\) tensor of token ids, got \(4,\)"):
        model(tt.tensor([3, 4, 5, 6], device=device), tt.tensor([[1, 2]], device=device))


def test_mismatched_widths_and_activation():
    with pytest.raises(ValueError, match=r"PositionalEncoding: expected \(..., T, 8\), got shape \(2, 3, 6\)"):
        T.PositionalEncoding(8)(tt.ones(2, 3, 6))
    with pytest.raises(ValueError, match="activation should be 'relu', 'gelu' or a function of one tensor, not 'tanh'"):
        T.TransformerEncoderLayer(8, 2, activation="tanh")
    with pytest.raises(ValueError, match="a stack needs at least one layer, got num_layers=0"):
        T.TransformerEncoder(T.TransformerEncoderLayer(8, 2), 0)
