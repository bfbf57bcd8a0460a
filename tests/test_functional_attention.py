"""F.scaled_dot_product_attention with PyTorch's meanings: against torch (outputs and gradients), central
differences in float64 (first and second order), dropout in distribution, and clear errors.

PyTorch's conventions, which differ from the model's (transformer/masks.py): a boolean attn_mask is
True where a query MAY attend; a float one is added to the scores; is_causal lets query i see keys
0..i; dropout_p applies whenever it is above 0; only the output is returned.
"""
from __future__ import annotations

import numpy as np
import pytest

import tinytensor as tt
import tinytensor.nn.functional as F
from gradcheck_inputs import leaf, normal
from transformer.attention import attention_reference

TORCH_REASON = "PyTorch is the reference for parity tests: pip install -e '.[torch]'"


def qkv(device, q_lead=(2, 3), kv_lead=(2, 3), queries=4, keys=5, d=6, d_v=3):
    return (leaf(normal((*q_lead, queries, d), 1), device), leaf(normal((*kv_lead, keys, d), 2), device),
            leaf(normal((*kv_lead, keys, d_v), 3), device))


def allowed(queries=4, keys=5):
    """True where a query may attend: a band, and query 2 may attend to nothing at all."""
    rng = np.random.default_rng(7)
    mask = rng.random((queries, keys)) < 0.6
    mask[:, 0] = True
    mask[2] = False
    return mask


# Each case: keyword arguments of tinytensor's call, as numpy (masks) and shapes (inputs)
CASES = {
    "plain": dict(),
    "bool mask": dict(attn_mask=allowed()),
    "float mask": dict(attn_mask=np.where(allowed(), normal((4, 5), 4) * 0.5, -np.inf)),
    "mask per head": dict(attn_mask=np.broadcast_to(allowed(), (3, 4, 5)).copy()),
    "causal": dict(is_causal=True),
    "scale": dict(scale=0.37),
    "gqa": dict(enable_gqa=True, kv_lead=(2, 1)),
    "batch broadcast": dict(kv_lead=(1, 3)),
    "2-D": dict(q_lead=(), kv_lead=()),
}


def call(case, device):
    """(inputs, tinytensor's kwargs) for a case."""
    kwargs = dict(CASES[case])
    shapes = {k: kwargs.pop(k) for k in ("q_lead", "kv_lead") if k in kwargs}
    if "attn_mask" in kwargs:
        kwargs["attn_mask"] = tt.tensor(kwargs["attn_mask"], device=device)
    return qkv(device, **shapes), kwargs


@pytest.mark.parametrize("case", list(CASES))
def test_outputs_and_gradients_match_torch(case, device):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    (q, k, v), kwargs = call(case, device)
    out = F.scaled_dot_product_attention(q, k, v, **kwargs)
    upstream = normal(out.shape, 9)
    (out * tt.tensor(upstream, device=device)).sum().backward()

    theirs = [torch.tensor(t.numpy(), requires_grad=True) for t in (q, k, v)]
    their_kwargs = {k: torch.tensor(m.numpy()) if isinstance(m, tt.Tensor) else m for k, m in kwargs.items()}
    expected = torch.nn.functional.scaled_dot_product_attention(*theirs, **their_kwargs)
    (expected * torch.tensor(upstream)).sum().backward()
    assert out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-13)
    for mine, their in zip((q, k, v), theirs):
        np.testing.assert_allclose(mine.grad.numpy(), their.grad.numpy(), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("case", ["bool mask", "float mask", "causal", "scale", "gqa", "batch broadcast"])
def test_gradcheck_first_and_second_order(case, device):
    (q, k, v), kwargs = call(case, device)
    if "attn_mask" in kwargs:  # the fully masked query is checked on its own below: here every row has keys
        kwargs["attn_mask"][2] = True if kwargs["attn_mask"].dtype == tt.bool_ else 0.0

    def attend(a, b, c):
        return F.scaled_dot_product_attention(a, b, c, **kwargs)

    assert tt.gradcheck(attend, [q, k, v])
    assert tt.gradgradcheck(attend, [q, k, v])


def test_a_causal_mask_when_there_are_more_keys_than_queries_is_top_left_as_torch():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    q, k, v = (normal((1, 2, n, 4), s) for s, n in ((1, 3), (2, 5), (3, 5)))
    out = F.scaled_dot_product_attention(tt.tensor(q), tt.tensor(k), tt.tensor(v), is_causal=True)
    expected = torch.nn.functional.scaled_dot_product_attention(*map(torch.tensor, (q, k, v)), is_causal=True)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-12)


def test_it_equals_the_models_readable_formula_with_the_mask_turned_round(device):
    """The engine's function, True = may attend, is the model's reference with True = may not."""
    q, k, v = qkv(device)
    may = tt.tensor(allowed(), device=device)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=may)
    reference, _ = attention_reference(q, k, v, ~may)
    np.testing.assert_allclose(out.numpy(), reference.numpy(), rtol=1e-13, atol=1e-14)


def test_a_query_with_no_key_to_attend_gives_zeros_and_zero_gradients(device):
    q, k, v = qkv(device)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=tt.tensor(allowed(), device=device))
    out.sum().backward()
    np.testing.assert_array_equal(out.numpy()[:, :, 2], 0.0)
    np.testing.assert_array_equal(q.grad.numpy()[:, :, 2], 0.0)
    assert all(np.isfinite(t.grad.numpy()).all() for t in (q, k, v))


def test_it_returns_the_output_alone_in_one_node():
    q, k, v = qkv("cpu")
    out = F.scaled_dot_product_attention(q, k, v)
    assert isinstance(out, tt.Tensor) and out.grad_fn.name == "attention"
    assert all(parent is leaf for parent, leaf in zip(out.grad_fn.parents, (q, k, v)))  # straight to them


# ----------------------------------------------------------------------------
# Dropout: applied whenever dropout_p > 0, as torch's function does; compared in distribution
# ----------------------------------------------------------------------------
def dropped_weights(library, p, n=64, draws=40):
    """Q = K = 0 gives every weight 1/n; V = I makes the output the weights after dropout."""
    q = library.zeros(draws, n, 4, dtype=library.float64)
    v = library.eye(n, dtype=library.float64).reshape(1, n, n)  # broadcast over the draws
    return library.nn.functional.scaled_dot_product_attention(q, q, v, dropout_p=p).numpy()


def test_dropout_zeroes_and_scales_as_torch_does_in_distribution():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    p, n = 0.3, 64
    mine, theirs = dropped_weights(tt, p), dropped_weights(torch, p)
    kept = 1 / n / (1 - p)
    for weights in (mine, theirs):
        assert set(np.unique(np.round(weights, 12))) == {0.0, round(kept, 12)}  # dropped, or kept and scaled
    # The fraction dropped: binomial over 40 * 64 * 64 weights, five standard deviations apart at most
    sd = np.sqrt(p * (1 - p) / mine.size)
    assert abs((mine == 0).mean() - p) < 5 * sd and abs((theirs == 0).mean() - p) < 5 * sd
    with tt.no_grad():  # no training flag: still applied
        assert (dropped_weights(tt, p, draws=2) == 0).any()
    assert (dropped_weights(tt, 0.0, draws=2) == 1 / n).all()


def test_dropout_gradient_uses_the_same_mask(device):
    q, k, v = qkv(device)
    tt.manual_seed(3)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)
    tt.manual_seed(3)
    reference, _ = attention_reference(q, k, v, dropout_p=0.4)
    np.testing.assert_allclose(out.numpy(), reference.numpy(), rtol=1e-13, atol=1e-14)
    mine, theirs = tt.autograd.grad(out.sum(), [q, k, v]), tt.autograd.grad(reference.sum(), [q, k, v])
    for a, b in zip(mine, theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-13)


# ----------------------------------------------------------------------------
# Bad input: one clear message naming what is wrong
# ----------------------------------------------------------------------------
def test_errors(device):
    q, k, v = qkv(device)
    sdpa = F.scaled_dot_product_attention
    with pytest.raises(ValueError, match="pass attn_mask or is_causal=True, not both"):
        sdpa(q, k, v, attn_mask=tt.ones(4, 5, dtype=tt.bool_, device=device), is_causal=True)
    with pytest.raises(TypeError, match="attn_mask must be bool .True = may attend. or floating.*got int64"):
        sdpa(q, k, v, attn_mask=tt.ones(4, 5, dtype=tt.int64, device=device))
    with pytest.raises(ValueError, match=r"the mask's shape \(4, 4\) does not broadcast to the scores' "
                                         r"shape \(2, 3, 4, 5\)"):
        sdpa(q, k, v, attn_mask=tt.ones(4, 4, dtype=tt.bool_, device=device))
    with pytest.raises(ValueError, match="to learn a bias, add it to the scores yourself"):
        sdpa(q, k, v, attn_mask=tt.zeros(4, 5, dtype=tt.float64, device=device, requires_grad=True))
    with pytest.raises(ValueError, match=r"with enable_gqa=True, the key's heads .* must divide the query's"):
        sdpa(q, k[:, :2], v[:, :2], enable_gqa=True)
    with pytest.raises(ValueError, match=r"leading \(batch, head\) dimensions .* must be equal or 1"):
        sdpa(q, k[:, :2], v[:, :2])
    with pytest.raises(ValueError, match=r"dropout_p must be a probability in \[0, 1\], got 1.5"):
        sdpa(q, k, v, dropout_p=1.5)
    with pytest.raises(ValueError, match="must share d_k"):
        sdpa(q, k[..., :5], v)
    with pytest.raises(TypeError, match="attn_mask must be a Tensor"):
        sdpa(q, k, v, attn_mask=allowed())


def test_a_mask_on_another_device_is_refused(cuda):
    q, k, v = qkv(cuda)
    with pytest.raises(RuntimeError, match=r"attn_mask is on cpu but the query on cuda:0; move it with "
                                           r"\.to\('cuda:0'\)"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=tt.tensor(allowed()))
