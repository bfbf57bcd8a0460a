"""Why deep networks need residual connections: the gradient reaching each layer of a deep stack.

Take 24 blocks of ``h = tanh(h W + b)``. Backward goes through them in reverse,
and each block multiplies the gradient by ``W^T`` and by ``tanh'`` (at most 1).
With the usual initialization (PyTorch's ``nn.Linear``: W uniform in
+-1/sqrt(width)) every block shrinks the gradient by a roughly constant factor,
so the first layers get a gradient hundreds of thousands of times smaller
than the last: the *vanishing gradient*. They barely learn.

Add a residual connection, ``h = h + tanh(h W + b)``, and backward through the
add sends the gradient down the skip path unchanged (d(h + f)/dh = 1 + f'),
so every layer receives at least what arrives from above. The plot shows
||dL/dW|| for every layer of both stacks, built with the same weights, on a
log scale.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import tinytensor as tt
from tinytensor import Tensor

from . import describe


def make_weights(depth: int, width: int, seed: int = 0) -> list[tuple[Tensor, Tensor]]:
    """(W, b) for each block, initialised as nn.Linear does: uniform in +-1/sqrt(width)."""
    tt.manual_seed(seed)
    bound = width ** -0.5
    return [((tt.rand(width, width) * 2 - 1) * bound, (tt.rand(width) * 2 - 1) * bound)
            for _ in range(depth)]


def layer_gradient_norms(weights: list[tuple[Tensor, Tensor]], residual: bool, batch: int = 16,
                         seed: int = 0) -> list[float]:
    """||dL/dW|| of each block, first block first, for L = mean of the stack's output."""
    tt.manual_seed(seed)
    h = tt.randn(batch, weights[0][0].shape[0])
    params = [(w.detach().requires_grad_(), b.detach().requires_grad_()) for w, b in weights]
    for w, b in params:
        out = (h @ w + b).tanh()
        h = h + out if residual else out
    h.mean().backward()
    return [describe.norm(w.grad.array) for w, _ in params]


class Curve(NamedTuple):
    """One line of a gradient-flow plot: ||dL/dW|| of each layer, first layer first."""

    label: str
    norms: list[float]
    colour: str


def plot_gradient_flow(path: "str | Path", depth: int = 24, width: int = 32) -> Path:
    """Write the PNG comparing the stack without and with residual connections."""
    weights = make_weights(depth, width)
    curves = [Curve("plain:  h = tanh(hW + b)", layer_gradient_norms(weights, False), "#c62828"),
              Curve("residual:  h = h + tanh(hW + b)", layer_gradient_norms(weights, True), "#2e7d32")]
    return plot_layer_norms(path, curves, f"Gradient reaching each layer of {depth} blocks of Linear + tanh")


def plot_layer_norms(path: "str | Path", curves: list[Curve], title: str) -> Path:
    """A PNG of each curve's gradient norm per layer, on a log scale, with layer 1's value in the legend."""
    figure = layer_norms_figure(curves, title)
    path = Path(path)
    figure.canvas.print_png(str(path))
    return path


def layer_norms_figure(curves: list[Curve], title: str) -> Any:
    """The figure plot_layer_norms writes: one line per curve, layer 1's value in its legend entry.

    The value of layer 1 is what the plot is about (how much reaches the bottom), so the legend
    says it, placed where no line is. Not a note beside the first point: layer 1 is often a
    curve's smallest or largest value, where a note would cross the frame, and two curves that
    start close together would put their notes on top of each other.
    """
    figure, _ = new_figure()
    axes = figure.add_subplot()
    for curve in curves:
        layers = range(1, len(curve.norms) + 1)
        axes.plot(layers, curve.norms, "o-", color=curve.colour, markersize=4,
                  label=f"{curve.label}   (layer 1: {curve.norms[0]:.1e})")
    axes.set_yscale("log")
    axes.margins(x=0.03, y=0.12)  # a share of the axes' height: room for the legend above or below the lines
    axes.set_xlabel("layer (1 = nearest the input, where the gradient arrives last)")
    axes.set_ylabel("gradient norm  ||dL/dW||  (log scale)")
    axes.set_title(title)
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(loc="best")
    figure.tight_layout()
    return figure


def new_figure(figsize: tuple[float, float] = (7.5, 4.2), **options: Any) -> tuple:
    """A matplotlib Figure drawn by Agg (no window, no display needed), imported on demand;
    ``options`` go to the Figure (``layout="constrained"``)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ImportError:
        raise ImportError("the plots need matplotlib: pip install 'tinytensor[viz]' "
                          "(or pip install matplotlib)") from None
    figure = Figure(figsize=figsize, dpi=100, **options)
    return figure, FigureCanvasAgg(figure)
