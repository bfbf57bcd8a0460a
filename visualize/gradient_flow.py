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
        h = tt.residual_add(h, out) if residual else out
    h.mean().backward()
    return [describe.norm(w.grad.data) for w, _ in params]


def plot_gradient_flow(path: "str | Path", depth: int = 24, width: int = 32) -> Path:
    """Write the PNG comparing the stack without and with residual connections."""
    figure, canvas = _figure()
    axes = figure.add_subplot()
    weights = make_weights(depth, width)
    layers = range(1, depth + 1)
    for residual, colour, name, below in ((False, "#c62828", "plain:  h = tanh(hW + b)", True),
                                          (True, "#2e7d32", "residual:  h = h + tanh(hW + b)", False)):
        norms = layer_gradient_norms(weights, residual)
        axes.plot(layers, norms, "o-", color=colour, label=name, markersize=4)
        axes.annotate(f"layer 1: {norms[0]:.1e}", (1, norms[0]), textcoords="offset points",
                      xytext=(2, -14 if below else 8), color=colour, fontsize=9)
    axes.set_yscale("log")
    axes.set_xlabel("layer (1 = nearest the input, where the gradient arrives last)")
    axes.set_ylabel("gradient norm  ||dL/dW||  (log scale)")
    axes.set_title(f"Gradient reaching each layer of {depth} blocks of Linear + tanh")
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    path = Path(path)
    canvas.print_png(str(path))
    return path


def _figure() -> tuple:
    """A matplotlib Figure drawn by Agg (no window, no display needed), imported on demand."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ImportError:
        raise ImportError("the gradient-flow plot needs matplotlib: pip install 'tinytensor[viz]' "
                          "(or pip install matplotlib)") from None
    figure = Figure(figsize=(7.5, 4.2), dpi=100)
    return figure, FigureCanvasAgg(figure)
