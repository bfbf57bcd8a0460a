"""The gradient-flow experiment: 24 blocks of Linear + tanh, without and with residual connections."""
import pytest

from visualize.gradient_flow import Curve, layer_gradient_norms, layer_norms_figure, make_weights, plot_gradient_flow


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


def curves_of_both_plots():
    """The gradient-flow curves, and two that start close together as post- and pre-norm do."""
    weights = make_weights(depth=24, width=32)
    flow = [Curve("plain", layer_gradient_norms(weights, False), "#c62828"),
            Curve("residual", layer_gradient_norms(weights, True), "#2e7d32")]
    close = [Curve("post-norm", [0.31, 0.30, 0.31, 0.29, 0.27] + [0.25] * 18 + [0.62], "#c62828"),
             Curve("pre-norm", [0.23, 0.22, 0.22, 0.20] + [0.15] * 19 + [0.11], "#2e7d32")]
    return [flow, close]


@pytest.mark.parametrize("curves", curves_of_both_plots())
def test_no_text_crosses_the_frame_and_the_legend_hides_no_point(curves):
    pytest.importorskip("matplotlib")
    figure = layer_norms_figure(curves, "title")
    figure.canvas.draw()  # places the legend
    renderer = figure.canvas.get_renderer()
    axes = figure.axes[0]
    frame = axes.get_window_extent(renderer)
    legend = axes.get_legend()
    texts = [*axes.texts, *legend.get_texts()]
    assert all(legend.get_texts()[i].get_text().endswith(f"(layer 1: {c.norms[0]:.1e})")
               for i, c in enumerate(curves))  # layer 1's value is said once, in the legend
    for text in texts:
        box = text.get_window_extent(renderer)
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, \
            text.get_text()
    box = legend.get_window_extent(renderer)
    for line in axes.get_lines():
        for x, y in axes.transData.transform(line.get_xydata()):
            assert not box.contains(x, y), (line.get_label(), x, y)
