"""The primitives the Transformer needs: erf and exact GELU, sin/cos, tril/triu, topk and gather,
boolean logic for masks, the fully-masked softmax row, Module dtypes, and module scopes that
follow registration. Gradients are checked in float64 against central differences on every device."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinytensor as tt
import tinytensor.functional as F
from tinytensor import nn
from tinytensor.autograd import topological_order
from tinytensor.autograd.function import Function
from gradcheck_inputs import leaf, normal


# ----------------------------------------------------------------------------
# erf: written from scratch (NumPy has none), so checked point by point against math.erf
# ----------------------------------------------------------------------------
def test_erf_matches_math_erf_in_float64_everywhere():
    x = np.concatenate([np.linspace(-8, 8, 40001), [0.0, -0.0, 1e-300, -1e-20, 1.999999, 2.0, 2.000001]])
    ours = tt.tensor(x, dtype=tt.float64).erf().numpy()
    expected = np.array([math.erf(v) for v in x])
    assert np.abs(ours - expected).max() < 2e-15
    assert ours[-6] == 0.0 and math.copysign(1, ours[-6]) == -1  # erf(-0.0) = -0.0


def test_erf_in_float32_is_within_rounding():
    x = np.linspace(-6, 6, 20001).astype(np.float32)
    ours = tt.tensor(x).erf()
    assert ours.dtype == tt.float32
    expected = np.array([math.erf(float(v)) for v in x])
    # within one unit in the last place of float32 (6e-8 near 1), i.e. correctly rounded or next to it
    ulps = np.abs(ours.numpy().astype(np.float64) - expected) / np.spacing(expected.astype(np.float32))
    assert ulps.max() <= 1.0


def test_erf_of_infinities_and_float16(device):
    x = tt.tensor([-np.inf, np.inf, 0.5], dtype=tt.float64, device=device)
    np.testing.assert_array_equal(x.erf().numpy()[:2], [-1.0, 1.0])
    half = tt.tensor([0.5, -1.0], dtype=tt.float16, device=device).erf()
    assert half.dtype == tt.float16
    np.testing.assert_allclose(half.numpy(), [math.erf(0.5), math.erf(-1.0)], atol=1e-3)


def test_erf_and_exact_gelu_gradients_twice(device):
    x = leaf(normal((3, 4)) * 2, device)
    assert tt.gradcheck(lambda a: a.erf(), [x])
    assert tt.gradgradcheck(lambda a: a.erf(), [x])
    assert tt.gradcheck(F.gelu, [x]) and tt.gradgradcheck(F.gelu, [x])


# ----------------------------------------------------------------------------
# sin and cos: the positional encoding's functions
# ----------------------------------------------------------------------------
def test_sin_cos_values_and_gradients(device):
    x = leaf(normal((2, 5)) * 3, device)
    np.testing.assert_allclose(x.sin().numpy(), np.sin(x.numpy()), rtol=1e-15)
    np.testing.assert_allclose(tt.cos(x).numpy(), np.cos(x.numpy()), rtol=1e-15)
    assert tt.gradcheck(lambda a: a.sin() * a.cos(), [x])
    assert tt.gradgradcheck(lambda a: a.sin() + a.cos(), [x])


# ----------------------------------------------------------------------------
# tril and triu: the causal mask
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("diagonal", [-1, 0, 1, 2])
def test_tril_triu_match_numpy_and_have_gradients(diagonal, device):
    x = leaf(normal((2, 3, 4)), device)
    np.testing.assert_array_equal(x.tril(diagonal).numpy(), np.tril(x.numpy(), diagonal))
    np.testing.assert_array_equal(tt.triu(x, diagonal=diagonal).numpy(), np.triu(x.numpy(), diagonal))
    assert tt.gradcheck(lambda a: a.tril(diagonal) * 2 + a.triu(diagonal), [x])


def test_the_causal_mask_of_begin_i_have_a_cat():
    """Seed 004: "<Begin> I have a cat" as tokens 0..4; token i may see tokens 0..i only."""
    mask = tt.triu(tt.full((5, 5), float("-inf")), diagonal=1)
    sees = (mask == 0).numpy()
    np.testing.assert_array_equal(sees, np.tril(np.ones((5, 5), dtype=bool)))
    assert sees[0].tolist() == [True, False, False, False, False]   # <Begin> sees itself
    assert sees[3].tolist() == [True, True, True, True, False]      # "a" sees <Begin> I have a


def test_tril_needs_a_matrix():
    with pytest.raises(ValueError, match="tril: needs a tensor with at least 2 dimensions, got shape"):
        tt.ones(3).tril()


# ----------------------------------------------------------------------------
# topk and gather
# ----------------------------------------------------------------------------
def test_topk_values_indices_and_gradient(device):
    x = leaf([[0.3, 2.0, -1.0, 0.7], [5.0, 4.0, 6.0, -2.0]], device)
    values, indices = result = x.topk(2)
    assert type(result).__name__ == "topk" and result.values is values
    np.testing.assert_array_equal(values.numpy(), [[2.0, 0.7], [6.0, 5.0]])
    np.testing.assert_array_equal(indices.numpy(), [[1, 3], [2, 0]])
    assert indices.dtype == tt.int64
    smallest = tt.topk(x, 1, dim=0, largest=False)
    np.testing.assert_array_equal(smallest.values.numpy(), [[0.3, 2.0, -1.0, -2.0]])
    assert tt.gradcheck(lambda a: a.topk(3, dim=1).values * 2, [x])
    assert tt.gradcheck(lambda a: a.topk(1, dim=0).values, [x])


def test_topk_ties_keep_the_lower_index_first(device):
    _, indices = tt.tensor([1.0, 3.0, 3.0, 2.0, 3.0], device=device).topk(3)
    assert indices.tolist() == [1, 2, 4]


def test_topk_k_out_of_range(device):
    with pytest.raises(ValueError, match=r"topk: k=5 is out of range for dimension -1 of size 4 "
                                         r"\(input shape \(2, 4\)\)"):
        tt.ones(2, 4, device=device).topk(5)


def test_gather_picks_and_scatters_back(device):
    x = leaf(normal((3, 4)), device)
    index = tt.tensor([[0, 0, 3], [1, 2, 1], [3, 3, 3]], device=device)
    picked = x.gather(1, index)
    np.testing.assert_array_equal(picked.numpy(), np.take_along_axis(x.numpy(), index.numpy(), 1))
    assert tt.gradcheck(lambda a: a.gather(1, index) * a.gather(1, index), [x])  # repeats accumulate
    assert tt.gradgradcheck(lambda a: a.gather(0, tt.tensor([[0, 2, 1, 0], [2, 2, 0, 1]])) ** 2, [x])


def test_gather_errors_name_the_problem(device):
    with pytest.raises(IndexError, match=r"gather: index 4 is out of range for dimension 1 of size 4"):
        tt.ones(2, 4, device=device).gather(1, tt.tensor([[4], [0]], device=device)).tolist()
    with pytest.raises(IndexError, match=r"gather: index -1 is out of range"):
        tt.ones(2, 4, device=device).gather(1, tt.tensor([[-1], [0]], device=device)).tolist()
    with pytest.raises(ValueError, match="as many dimensions as the input"):
        tt.ones(2, 4, device=device).gather(1, tt.tensor([1, 2], device=device))
    with pytest.raises(TypeError, match="gather: indices must be integers"):
        tt.ones(2, 4, device=device).gather(1, tt.ones(2, 1, device=device))


# ----------------------------------------------------------------------------
# Boolean logic: masks combine
# ----------------------------------------------------------------------------
def test_and_or_xor_not_combine_masks(device):
    padding = tt.tensor([[False, False, True]], device=device)
    causal = tt.tensor([[False, True, True], [False, False, True], [False, False, False]], device=device)
    np.testing.assert_array_equal((padding | causal).numpy(), padding.numpy() | causal.numpy())
    np.testing.assert_array_equal((padding & causal).numpy(), padding.numpy() & causal.numpy())
    np.testing.assert_array_equal((padding ^ causal).numpy(), padding.numpy() ^ causal.numpy())
    np.testing.assert_array_equal((~padding).numpy(), [[True, True, False]])
    assert (causal | True).numpy().all() and (True & padding).tolist() == [[False, False, True]]
    assert (tt.tensor([6, 3]) & tt.tensor([3, 3])).tolist() == [2, 3]  # integers: bit by bit


def test_logic_on_floats_says_to_compare_first(device):
    with pytest.raises(TypeError, match=r"and: needs bool or integer tensors, got float32; make a mask "
                                        r"by comparing first, e.g. \(x > 0\)"):
        tt.ones(2, device=device) & tt.ones(2, device=device)
    with pytest.raises(TypeError, match="not: needs bool or integer tensors"):
        ~tt.ones(2, device=device)


# ----------------------------------------------------------------------------
# Softmax of a row with nothing to attend to: zeros, never NaN
# ----------------------------------------------------------------------------
def test_a_fully_masked_softmax_row_is_zero_forward_and_backward(device):
    x = leaf([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0]], device)
    blocked = tt.tensor([[False, False, True], [True, True, True]], device=device)
    y = F.softmax(x.masked_fill(blocked, float("-inf")), -1)
    np.testing.assert_allclose(y.numpy()[0], [math.e / (math.e + math.e ** 2), math.e ** 2 / (math.e + math.e ** 2), 0])
    np.testing.assert_array_equal(y.numpy()[1], [0.0, 0.0, 0.0])
    (y * tt.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=tt.float64, device=device)).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_array_equal(x.grad.numpy()[1], [0.0, 0.0, 0.0])


def test_the_seeds_masked_softmax_row():
    """Seed 001: softmax(1, 2, -inf, -inf) = (e/(e+e^2), e^2/(e+e^2), 0, 0) = (0.2689, 0.7311, 0, 0)."""
    row = F.softmax(tt.tensor([1.0, 2.0, float("-inf"), float("-inf")], dtype=tt.float64), -1).numpy()
    np.testing.assert_allclose(row, [0.2689414213699951, 0.7310585786300049, 0, 0], rtol=1e-15)
    assert round(row[0], 4) == 0.2689  # the slide's 0.268199 is a slip


# ----------------------------------------------------------------------------
# Module dtypes: a model in float64 for gradient checks and parity tests
# ----------------------------------------------------------------------------
def test_module_double_float_half_cast_every_floating_tensor(device):
    model = nn.Sequential(nn.Embedding(5, 3), nn.LayerNorm(3), nn.Linear(3, 2)).to(device)
    model.register_buffer("ids", tt.arange(4, device=device))
    model.register_buffer("table", tt.ones(2, device=device))
    assert model.double() is model
    assert {p.dtype for p in model.parameters()} == {tt.float64}
    assert model.table.dtype == tt.float64 and model.ids.dtype == tt.int64  # integers stay
    assert {p.dtype for p in model.half().parameters()} == {tt.float16}
    assert {p.dtype for p in model.float().parameters()} == {tt.float32}
    assert {p.dtype for p in model.to(tt.float64).parameters()} == {tt.float64}


def test_layer_norm_without_bias_as_pytorch():
    norm = nn.LayerNorm(4, bias=False)
    assert norm.bias is None and [name for name, _ in norm.named_parameters()] == ["weight"]


# ----------------------------------------------------------------------------
# Module scopes follow registration, not the chain of calls
# ----------------------------------------------------------------------------
class AddNorm(nn.Module):
    """The Annotated Transformer's SublayerConnection: x + sublayer(norm(x)), the sublayer a callable."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)

    def forward(self, x: tt.Tensor, sublayer) -> tt.Tensor:
        return x + sublayer(self.norm(x))


class Layer(nn.Module):
    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.attn = nn.Linear(width, width)
        self.sublayer = AddNorm(width)

    def forward(self, x: tt.Tensor) -> tt.Tensor:
        return self.sublayer(x, lambda y: self.attn(y))  # attn runs inside sublayer's call


def _op_scopes(out: tt.Tensor) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for node in topological_order([out.grad_fn]):
        if isinstance(node, Function):
            found.setdefault(node.scope, set()).add(node.name)
    return found


def test_a_layer_called_through_its_parents_helper_keeps_its_own_scope():
    model = nn.Module()
    model.layers = nn.ModuleList([Layer(), Layer()])
    scopes = _op_scopes(model.layers[1](tt.ones(2, 4, requires_grad=True)))
    assert "linear" in scopes["layers.1.attn"]          # next to its weights layers.1.attn.weight
    assert "layers.1.sublayer.attn" not in scopes       # not where the call happened to come from
    assert "layer_norm" in scopes["layers.1.sublayer.norm"]
    assert "add" in scopes["layers.1.sublayer"]


def test_scopes_follow_a_subtree_registered_late_and_taken_out():
    layer = Layer()
    model = nn.Module()
    model.block = nn.Sequential(nn.Linear(4, 4))
    model.block.append(layer)                             # registered after its parent was
    assert "linear" in _op_scopes(layer(tt.ones(1, 4)))["block.1.attn"]
    del model.block                                       # the Sequential is a root now
    assert "linear" in _op_scopes(layer(tt.ones(1, 4)))["1.attn"]
