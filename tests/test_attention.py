"""Scaled dot-product attention and multi-head attention: gradients, masks, the fully masked row, errors.

The fused op (one node, analytic backward) is held equal to the composed
reference (matmul, add, softmax) and checked against central differences in
float64, first and second order, with and without masks, on every device.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinytensor as tt
import transformer as T
from gradcheck_inputs import leaf, normal
from transformer import masks
from transformer.attention import attention_reference, scaled_dot_product_attention


def qkv(device, batch=2, heads=3, queries=4, keys=5, d=6):
    return (leaf(normal((batch, heads, queries, d), 1), device), leaf(normal((batch, heads, keys, d), 2), device),
            leaf(normal((batch, heads, keys, d), 3), device))


def blocked(batch=2, queries=4, keys=5):
    """A key padding mask merged with a causal-like mask, bool (B, 1, T, S)."""
    m = np.zeros((batch, 1, queries, keys), dtype=bool)
    m[0, :, :, keys - 1:] = True                # sentence 0: the last key is padding
    m[-1] |= np.triu(np.ones((queries, keys), dtype=bool), 2)
    return m


def additive(mask, device):
    return tt.tensor(np.where(mask, -np.inf, 0.0), device=device)


# ----------------------------------------------------------------------------
# The fused op against the composed reference, and against finite differences
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("with_mask", [False, True], ids=["no mask", "mask"])
def test_fused_attention_equals_the_reference(with_mask, device):
    q, k, v = qkv(device)
    mask = additive(blocked(), device) if with_mask else None
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    ref_out, ref_weights = attention_reference(q, k, v, mask)
    np.testing.assert_allclose(out.numpy(), ref_out.numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(weights.numpy(), ref_weights.numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(weights.numpy().sum(-1), 1.0, rtol=1e-14)  # every row sums to 1
    upstream = (tt.tensor(normal(out.shape, 9), device=device), tt.tensor(normal(weights.shape, 8), device=device))
    grads = tt.autograd.grad((out * upstream[0]).sum() + (weights * upstream[1]).sum(), [q, k, v])
    ref_grads = tt.autograd.grad((ref_out * upstream[0]).sum() + (ref_weights * upstream[1]).sum(), [q, k, v])
    for g, r in zip(grads, ref_grads):
        np.testing.assert_allclose(g.numpy(), r.numpy(), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("with_mask", [False, True], ids=["no mask", "mask"])
def test_attention_gradcheck_first_and_second_order(with_mask, device):
    q, k, v = qkv(device, batch=1, heads=2, queries=3, keys=4, d=3)
    mask = additive(blocked(1, 3, 4), device) if with_mask else None

    def output_and_weights(a, b, c):
        out, weights = scaled_dot_product_attention(a, b, c, mask)
        return tt.cat([out.reshape(-1), weights.reshape(-1) * 0.7])

    assert tt.gradcheck(output_and_weights, [q, k, v])
    assert tt.gradgradcheck(output_and_weights, [q, k, v])


def test_dropout_in_attention_equals_the_reference_with_the_same_draws(device):
    q, k, v = qkv(device)
    tt.manual_seed(5)
    out, weights = scaled_dot_product_attention(q, k, v, dropout_p=0.3)
    tt.manual_seed(5)
    ref_out, ref_weights = attention_reference(q, k, v, dropout_p=0.3)
    np.testing.assert_allclose(out.numpy(), ref_out.numpy(), rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(weights.numpy(), ref_weights.numpy(), rtol=1e-13, atol=1e-14)
    assert (weights.numpy() == 0).mean() > 0.15               # some weights were dropped
    g = tt.autograd.grad(out.sum() + weights.sum(), [q, k, v])
    r = tt.autograd.grad(ref_out.sum() + ref_weights.sum(), [q, k, v])
    for a, b in zip(g, r):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-13)
    untouched, _ = scaled_dot_product_attention(q, k, v, dropout_p=0.3, training=False)
    np.testing.assert_allclose(untouched.numpy(), scaled_dot_product_attention(q, k, v)[0].numpy())


# ----------------------------------------------------------------------------
# A query with nothing to attend to: zero weights, zero output, zero gradients, no NaN
# ----------------------------------------------------------------------------
def fully_masked(queries=3, keys=4):
    m = np.zeros((1, 1, queries, keys), dtype=bool)
    m[0, 0, 1] = True  # query 1 may attend to no key at all
    return m


@pytest.mark.parametrize("path", ["fused", "reference"])
def test_a_fully_masked_row_is_zero_everywhere(path, device):
    q, k, v = qkv(device, batch=1, heads=1, queries=3, keys=4, d=2)
    attend = scaled_dot_product_attention if path == "fused" else attention_reference
    out, weights = attend(q, k, v, additive(fully_masked(), device))
    assert np.isfinite(out.numpy()).all() and np.isfinite(weights.numpy()).all()
    np.testing.assert_array_equal(weights.numpy()[0, 0, 1], 0.0)
    np.testing.assert_array_equal(out.numpy()[0, 0, 1], 0.0)
    (out.sum() + weights.sum()).backward()
    for t in (q, k, v):
        assert np.isfinite(t.grad.numpy()).all()
    np.testing.assert_array_equal(q.grad.numpy()[0, 0, 1], 0.0)  # nothing flows back through it


def test_a_fully_masked_row_through_multihead_attention_in_both_mask_kinds(device):
    torch_style = T.MultiheadAttention(4, 2, batch_first=True).double().to(device)
    x = leaf(normal((1, 3, 4)), device)
    every_key = tt.ones(1, 3, dtype=tt.bool_, device=device)          # a sentence that is all padding
    for kw in (dict(key_padding_mask=every_key),
               dict(attn_mask=tt.full((3, 3), float("-inf"), dtype=tt.float64, device=device))):
        out, weights = torch_style(x, x, x, **kw)
        assert np.isfinite(out.numpy()).all()
        np.testing.assert_array_equal(weights.numpy(), 0.0)
        # the output is out_proj of a zero vector: its bias alone
        np.testing.assert_allclose(out.numpy()[0], np.broadcast_to(torch_style.out_proj.bias.numpy(), (3, 4)))
        out.sum().backward()
        assert np.isfinite(x.grad.numpy()).all()


# ----------------------------------------------------------------------------
# The seeds' numbers
# ----------------------------------------------------------------------------
def test_multihead_attention_output_has_its_inputs_shape(device):
    """Seeds 002 and 004: h = 8 heads of d_k = 64, concatenated and projected back to 512."""
    attention = T.MultiheadAttention(512, 8, batch_first=True).to(device)
    x = tt.randn(2, 5, 512, device=device)
    out, weights = attention(x, x, x)
    assert out.shape == x.shape and weights.shape == (2, 5, 5)
    assert attention(x, x, x, average_attn_weights=False)[1].shape == (2, 8, 5, 5)
    assert attention.head_dim == 64


def test_attention_as_retrieval_weights_sum_to_one(device):
    """Seed 003: a query close to one key retrieves (mostly) that key's value."""
    keys = tt.tensor([[[10.0, 0.0], [0.0, 10.0], [-10.0, 0.0]]], dtype=tt.float64, device=device)
    values = tt.tensor([[[1.0, 0.0], [0.0, 1.0], [5.0, 5.0]]], dtype=tt.float64, device=device)
    query = tt.tensor([[[0.0, 1.0]]], dtype=tt.float64, device=device)
    out, weights = scaled_dot_product_attention(query, keys, values)
    assert weights.numpy().sum() == pytest.approx(1.0)
    assert weights.numpy()[0, 0].argmax() == 1 and out.numpy()[0, 0, 1] > 0.99


def test_scores_are_divided_by_sqrt_d_k(device):
    q = tt.tensor([[[1.0, 1.0, 1.0, 1.0]]], dtype=tt.float64, device=device)
    k = tt.tensor([[[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]], dtype=tt.float64, device=device)
    _, weights = scaled_dot_product_attention(q, k, tt.zeros(1, 2, 3, dtype=tt.float64, device=device))
    scores = np.array([4.0 / math.sqrt(4), 0.0])  # q.k = 4, over sqrt(d_k) = 2
    np.testing.assert_allclose(weights.numpy()[0, 0], np.exp(scores) / np.exp(scores).sum())


# ----------------------------------------------------------------------------
# Bad input: every message names the argument, the shapes and what to do
# ----------------------------------------------------------------------------
def test_num_heads_must_divide_embed_dim():
    with pytest.raises(ValueError, match=r"embed_dim \(10\) must be a positive multiple of num_heads \(4\)"):
        T.MultiheadAttention(10, 4)
    with pytest.raises(ValueError, match="must be a positive multiple"):
        T.Transformer(d_model=10, nhead=3)


def test_inputs_of_the_wrong_width_or_rank(device):
    attention = T.MultiheadAttention(8, 2, batch_first=True).to(device)

    def ones(*shape: int) -> tt.Tensor:
        return tt.ones(*shape, device=device)

    with pytest.raises(ValueError, match=r"query has 6 features \(shape \(2, 3, 6\)\) but embed_dim is 8"):
        attention(ones(2, 3, 6), ones(2, 3, 8), ones(2, 3, 8))
    with pytest.raises(ValueError, match=r"must all be 3-D \(\(B, L, E\)\) or all 2-D"):
        attention(ones(2, 3, 8), ones(3, 8), ones(3, 8))
    with pytest.raises(ValueError, match="different batch sizes"):
        attention(ones(2, 3, 8), ones(4, 3, 8), ones(4, 3, 8))
    with pytest.raises(ValueError, match=r"Transformer: the feature number of src \(2, 3, 6\) and tgt "
                                         r"\(2, 4, 8\) must equal d_model=8"):
        T.Transformer(8, 2, 1, 1, 16, batch_first=True).to(device)(ones(2, 3, 6), ones(2, 4, 8))


def test_masks_of_the_wrong_shape_or_dtype(device):
    attention = T.MultiheadAttention(8, 2, batch_first=True).to(device)
    x = tt.ones(2, 3, 8, device=device)
    with pytest.raises(ValueError, match=r"attn_mask: expected shape \(3, 3\) \(queries, keys\) or "
                                         r"\(4, 3, 3\) \(batch \* heads, queries, keys\), got \(3, 4\)"):
        attention(x, x, x, attn_mask=tt.zeros(3, 4, device=device))
    with pytest.raises(ValueError, match=r"key_padding_mask: expected shape \(2, 3\) \(batch, keys\), got \(3, 2\)"):
        attention(x, x, x, key_padding_mask=tt.zeros(3, 2, dtype=tt.bool_, device=device))
    with pytest.raises(TypeError, match=r"attn_mask: must be bool \(True = may not attend\) or floating "
                                        r"\(added to the scores\), got int64"):
        attention(x, x, x, attn_mask=tt.zeros(3, 3, dtype=tt.int64, device=device))
    with pytest.raises(ValueError, match="is_causal=True is only a hint"):
        attention(x, x, x, is_causal=True)
    with pytest.raises(ValueError, match="a mask that requires grad is not supported"):
        attention(x, x, x, attn_mask=tt.zeros(3, 3, requires_grad=True, device=device))


def test_causal_and_padding_masks(device):
    causal = masks.causal_mask(3, device=device)
    assert causal.device == device
    assert causal.tolist() == [[False, True, True], [False, False, True], [False, False, False]]
    assert masks.causal_mask(1, offset=2, device=device).tolist() == [[False, False, False]]
    padding = masks.padding_mask(tt.tensor([[5, 6, 0, 0]], device=device), 0)
    assert padding.device == device and padding.tolist() == [[False, False, True, True]]
    with pytest.raises(ValueError, match="causal_mask: needs size >= 1"):
        masks.causal_mask(0)


def test_a_boolean_mask_forbids_in_the_fused_op_and_the_reference(device):
    q, k, v = qkv(device, batch=1, heads=1, queries=3, keys=3, d=2)
    causal = T.causal_mask(3, device=device)
    for attend in (scaled_dot_product_attention, attention_reference):
        _, weights = attend(q, k, v, causal)
        np.testing.assert_array_equal(weights.numpy()[0, 0][np.triu_indices(3, 1)], 0.0)
        np.testing.assert_allclose(weights.numpy(), attend(q, k, v, additive(causal.numpy(), device))[1].numpy())
