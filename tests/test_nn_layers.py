"""The layers: shapes, behaviour, gradcheck in float64 on every device, parity with torch.nn."""
from __future__ import annotations

import numpy as np
import pytest

import tinytensor as tt
from tinytensor import nn

TORCH_REASON = "PyTorch is the reference for parity tests: pip install -e '.[torch]'"


def double(x: np.ndarray | list, device: str, requires_grad: bool = True) -> tt.Tensor:
    return tt.tensor(x, dtype=tt.float64, device=device, requires_grad=requires_grad)


def check(layer: nn.Module, x: tt.Tensor, device: str) -> None:
    """Gradcheck ``layer`` w.r.t. its input (when float) and every parameter, in float64."""
    layer.to(device, tt.float64)
    params = list(layer.parameters())
    assert tt.gradcheck(lambda x, *_: layer(x), [x, *params])


def randn(*shape: int) -> np.ndarray:
    return np.random.default_rng(sum(shape)).standard_normal(shape)


# ----------------------------------------------------------------------------
# Linear
# ----------------------------------------------------------------------------
def test_linear_computes_x_w_transposed_plus_b() -> None:
    layer = nn.Linear(3, 2)
    assert layer.weight.shape == (2, 3) and layer.bias.shape == (2,)
    x = tt.randn(5, 7, 3)  # any leading dimensions
    expected = x.numpy() @ layer.weight.numpy().T + layer.bias.numpy()
    np.testing.assert_allclose(layer(x).numpy(), expected, rtol=1e-6)
    assert nn.Linear(3, 2, bias=False)(x).shape == (5, 7, 2)


def test_linear_default_init_is_uniform_within_one_over_sqrt_fan_in() -> None:
    layer = nn.Linear(100, 400)
    bound = 1 / np.sqrt(100)
    for p in (layer.weight, layer.bias):
        assert np.abs(p.numpy()).max() <= bound
        assert np.abs(p.numpy()).max() > 0.95 * bound


@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradcheck(device: str, bias: bool) -> None:
    check(nn.Linear(3, 2, bias=bias), double(randn(2, 4, 3), device), device)


# ----------------------------------------------------------------------------
# Embedding
# ----------------------------------------------------------------------------
def test_embedding_looks_up_rows() -> None:
    table = nn.Embedding(10, 4)
    ids = tt.tensor([[1, 2, 1], [9, 0, 3]])
    out = table(ids)
    assert out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out.numpy()[0, 2], table.weight.numpy()[1])
    assert abs(nn.Embedding(1000, 64).weight.numpy().std() - 1) < 0.02  # N(0, 1), as PyTorch


@pytest.mark.parametrize("padding_idx", [0, -1])
def test_embedding_padding_row_is_zero_and_gets_no_gradient(padding_idx: int, device) -> None:
    table = nn.Embedding(5, 3, padding_idx=padding_idx).to(device)
    pad = padding_idx % 5
    assert table.padding_idx == pad
    np.testing.assert_array_equal(table.weight.numpy()[pad], 0)
    (table(tt.tensor([pad, 1, pad, 1], device=device)) * tt.randn(4, 3, device=device)).sum().backward()
    grad = table.weight.grad.numpy()
    np.testing.assert_array_equal(grad[pad], 0)
    assert np.abs(grad[1]).sum() > 0  # a token used twice collects both gradients


def test_embedding_rejects_a_padding_idx_outside_the_table() -> None:
    with pytest.raises(ValueError, match="padding_idx 5 is outside the table of 5 rows"):
        nn.Embedding(5, 3, padding_idx=5)


def test_embedding_gradcheck(device: str) -> None:
    # no padding_idx: its row's zero gradient is a rule, not a derivative finite differences see
    table = nn.Embedding(6, 3).to(device, tt.float64)
    ids = tt.tensor([[0, 2, 5], [5, 1, 2]], device=device)
    assert tt.gradcheck(lambda w: table(ids), [table.weight])


# ----------------------------------------------------------------------------
# LayerNorm
# ----------------------------------------------------------------------------
def test_layer_norm_worked_example_of_seed_001() -> None:
    norm = nn.LayerNorm(3)
    np.testing.assert_allclose(norm(tt.tensor([[1.0, 3.0, 5.0]])).numpy(), [[-1.2247, 0, 1.2247]],
                               atol=1e-4)
    assert [n for n, _ in norm.named_parameters()] == ["weight", "bias"]
    np.testing.assert_array_equal(norm.weight.numpy(), 1)
    np.testing.assert_array_equal(norm.bias.numpy(), 0)
    assert list(nn.LayerNorm(3, elementwise_affine=False).parameters()) == []


@pytest.mark.parametrize("shape", [3, (2, 3)])
def test_layer_norm_gradcheck(device: str, shape: int | tuple[int, int]) -> None:
    norm = nn.LayerNorm(shape)
    nn.init.normal_(norm.weight)
    nn.init.normal_(norm.bias)
    check(norm, double(randn(2, 2, 3), device), device)


# ----------------------------------------------------------------------------
# Dropout and the activations
# ----------------------------------------------------------------------------
def test_dropout_follows_the_training_flag(device) -> None:
    drop = nn.Dropout(0.5)
    x = tt.ones(1000, device=device)
    kept = drop(x).numpy()
    assert set(np.unique(kept)) == {0.0, 2.0}  # the survivors scaled by 1 / (1 - p)
    assert 400 < (kept == 0).sum() < 600
    drop.eval()
    assert drop(x) is x


def test_dropout_gradcheck_with_a_fixed_mask(device: str) -> None:
    drop = nn.Dropout(0.3)

    def same_mask_each_call(x: tt.Tensor) -> tt.Tensor:
        tt.manual_seed(1)
        return drop(x)

    assert tt.gradcheck(same_mask_each_call, [double(randn(4, 5), device)])


@pytest.mark.parametrize("layer", [nn.ReLU(), nn.GELU(), nn.Tanh(), nn.Identity()], ids=repr)
def test_activation_gradcheck(device: str, layer: nn.Module) -> None:
    x = randn(3, 4)
    x[np.abs(x) < 1e-3] = 0.5  # keep away from ReLU's kink
    check(layer, double(x, device), device)


def test_gelu_layer_is_exact_by_default_as_pytorch() -> None:
    assert repr(nn.GELU()) == "GELU(approximate='none')"
    x = tt.tensor([-1.0, 0.5, 2.0], dtype=tt.float64)
    np.testing.assert_allclose(nn.GELU()(x).numpy(), nn.functional.gelu(x).numpy(), rtol=0, atol=0)
    np.testing.assert_allclose(nn.GELU("tanh")(x).numpy(), nn.functional.gelu(x, "tanh").numpy(), rtol=0, atol=0)
    with pytest.raises(ValueError, match="approximate must be"):
        nn.GELU(approximate="erf")(tt.ones(2))


# ----------------------------------------------------------------------------
# Containers
# ----------------------------------------------------------------------------
def test_sequential_runs_its_layers_in_order(device: str) -> None:
    mlp = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    assert len(mlp) == 3 and isinstance(mlp[1], nn.Tanh) and mlp[-1] is mlp[2]
    x = tt.randn(4, 3)
    np.testing.assert_allclose(mlp(x).numpy(), mlp[2](mlp[1](mlp[0](x))).numpy())
    check(mlp, double(randn(4, 3), device), device)


def test_module_list_indexes_iterates_and_appends() -> None:
    layers = nn.ModuleList([nn.Linear(2, 2), nn.ReLU()])
    assert layers.append(nn.Tanh()) is layers
    assert len(layers) == 3
    assert [type(m).__name__ for m in layers] == ["Linear", "ReLU", "Tanh"]
    assert layers[-1] is layers[2]
    assert [n for n, _ in layers.named_parameters()] == ["0.weight", "0.bias"]
    with pytest.raises(IndexError, match="index 3 is out of range for 3 modules"):
        layers[3]
    with pytest.raises(NotImplementedError):
        layers(tt.ones(2))  # a list of layers, not a layer: loop over it in your forward


# ----------------------------------------------------------------------------
# Parity with torch.nn: same weights in, same outputs and gradients out
# ----------------------------------------------------------------------------
def torch_pair(torch, ours: nn.Module, theirs) -> None:
    """Copy our weights into the torch layer (same names, same shapes)."""
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(ours.state_dict()[name].numpy()))


def assert_same(torch, ours: nn.Module, theirs, x: np.ndarray, atol: float = 1e-5) -> None:
    torch_pair(torch, ours, theirs)
    mine = tt.tensor(x, requires_grad=True)
    ref = torch.tensor(x, requires_grad=True)
    out, ref_out = ours(mine), theirs(ref)
    np.testing.assert_allclose(out.numpy(), ref_out.detach().numpy(), atol=atol)
    direction = randn(*out.shape).astype(np.float32)
    (out * tt.tensor(direction)).sum().backward()
    (ref_out * torch.from_numpy(direction)).sum().backward()
    np.testing.assert_allclose(mine.grad.numpy(), ref.grad.numpy(), atol=atol)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(dict(ours.named_parameters())[name].grad.numpy(),
                                   p.grad.numpy(), atol=atol, err_msg=name)


def test_parity_with_torch_linear_layer_norm_and_an_mlp() -> None:
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    x = randn(2, 3, 4).astype(np.float32)
    assert_same(torch, nn.Linear(4, 5), torch.nn.Linear(4, 5), x)
    norm = nn.LayerNorm(4)
    nn.init.normal_(norm.weight)
    assert_same(torch, norm, torch.nn.LayerNorm(4), x)
    assert_same(torch, nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 4)),
                torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.GELU(),
                                    torch.nn.Linear(8, 4)), x)


def test_parity_with_torch_embedding() -> None:
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    ours, theirs = nn.Embedding(6, 3, padding_idx=0), torch.nn.Embedding(6, 3, padding_idx=0)
    torch_pair(torch, ours, theirs)
    ids = [[0, 1, 5], [1, 0, 2]]
    out, ref_out = ours(tt.tensor(ids)), theirs(torch.tensor(ids))
    np.testing.assert_array_equal(out.numpy(), ref_out.detach().numpy())
    direction = randn(2, 3, 3).astype(np.float32)
    (out * tt.tensor(direction)).sum().backward()
    (ref_out * torch.from_numpy(direction)).sum().backward()
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), atol=1e-6)
