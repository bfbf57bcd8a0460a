"""nn.init: the bounds and spreads of Xavier and Kaiming, in place, seeded, on every device."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinytensor as tt
from tinytensor import nn


def test_gains() -> None:
    assert nn.init.calculate_gain("linear") == 1.0
    assert nn.init.calculate_gain("relu") == math.sqrt(2)
    assert nn.init.calculate_gain("tanh") == 5 / 3
    assert nn.init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    assert nn.init.calculate_gain("leaky_relu") == math.sqrt(2 / (1 + 0.01 ** 2))
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        nn.init.calculate_gain("swish")


def test_gains_match_torch() -> None:
    torch = pytest.importorskip("torch", reason="PyTorch is the reference: pip install 'tinytensor[torch]'")
    for name, param in [("linear", None), ("relu", None), ("tanh", None), ("leaky_relu", 0.3)]:
        assert nn.init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))


def test_xavier_uniform_bound_and_variance(device: str) -> None:
    w = tt.zeros(300, 200, device=device)  # fan_out 300, fan_in 200
    assert nn.init.xavier_uniform_(w, gain=2.0) is w
    values, bound = w.numpy(), 2.0 * math.sqrt(6 / 500)
    assert np.abs(values).max() <= bound and np.abs(values).max() > 0.99 * bound
    assert values.var() == pytest.approx(bound ** 2 / 3, rel=0.02)
    assert w.device == device and w.dtype == tt.float32


def test_xavier_normal_std() -> None:
    w = nn.init.xavier_normal_(tt.zeros(300, 200))
    assert w.numpy().mean() == pytest.approx(0, abs=0.002)
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / 500), rel=0.02)


@pytest.mark.parametrize("mode, fan", [("fan_in", 3 * 5 * 5), ("fan_out", 64 * 5 * 5)])
def test_kaiming_uniform_uses_the_receptive_field_in_the_fan(mode: str, fan: int) -> None:
    w = nn.init.kaiming_uniform_(tt.zeros(64, 3, 5, 5), mode=mode, nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / fan)
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.99 * bound


def test_fans_need_two_dimensions() -> None:
    with pytest.raises(ValueError, match=r"at least 2 dimensions \(out, in, ...\), got shape \(5,\)"):
        nn.init.xavier_uniform_(tt.zeros(5))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out'"):
        nn.init.kaiming_uniform_(tt.zeros(2, 2), mode="fan")


def test_simple_fills_work_in_place_and_keep_the_dtype(device: str) -> None:
    w = tt.zeros(50, 40, dtype=tt.float64, device=device)
    array = w.array
    nn.init.uniform_(w, -3.0, -2.0)
    assert w.array is array and w.dtype == tt.float64 and w.device == device
    assert -3 <= w.numpy().min() and w.numpy().max() < -2
    nn.init.normal_(w, mean=5.0, std=0.1)
    assert w.numpy().mean() == pytest.approx(5.0, abs=0.01)
    np.testing.assert_array_equal(nn.init.constant_(w, 0.25).numpy(), 0.25)
    np.testing.assert_array_equal(nn.init.ones_(w).numpy(), 1)
    np.testing.assert_array_equal(nn.init.zeros_(w).numpy(), 0)


def test_manual_seed_repeats_initialization() -> None:
    tt.manual_seed(42)
    first = nn.Linear(4, 3).weight.numpy()
    tt.manual_seed(42)
    np.testing.assert_array_equal(nn.Linear(4, 3).weight.numpy(), first)
    assert not np.array_equal(nn.Linear(4, 3).weight.numpy(), first)


def test_init_does_not_touch_the_graph() -> None:
    w = nn.Parameter(tt.zeros(3, 2))
    nn.init.xavier_uniform_(w)
    assert w.is_leaf and w.requires_grad and w.grad is None
