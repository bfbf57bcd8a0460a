"""The gradient-flow experiment: 24 blocks of Linear + tanh, without and with residual connections."""
import pytest

from visualize.gradient_flow import layer_gradient_norms, make_weights, plot_gradient_flow


def test_the_plain_stack_vanishes_and_the_residual_stack_does_not():
    weights = make_weights(depth=24, width=32)
    plain, residual = layer_gradient_norms(weights, False), layer_gradient_norms(weights, True)
    assert len(plain) == len(residual) == 24
    assert plain[0] < 1e-4 * plain[-1]          # the first layer gets almost nothing
    assert residual[0] > 0.5 * residual[-1]       # the skip paths carry it down
    assert residual[0] > 1e4 * plain[0]


def test_the_plot_is_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    path = plot_gradient_flow(tmp_path / "flow.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
