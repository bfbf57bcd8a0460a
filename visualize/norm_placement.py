"""Where the LayerNorm goes: the gradient reaching each layer of a deep Transformer encoder.

The paper's layer is post-norm, ``x = LayerNorm(x + Sublayer(x))``: the norm sits
on the main path, so backward meets a LayerNorm at every Add & Norm on its way
down, and each one rescales the gradient (it divides by the standard deviation
of x + Sublayer(x)) and removes two directions from it (along the mean, and
along its own output). Pre-norm,
``x = x + Sublayer(LayerNorm(x))``, moves the norm into the branch: the main
path from the loss down to every layer is then nothing but residual adds, which
pass the gradient on unchanged, and every sublayer above a layer adds its own
path on top of that one.

The experiment: 24 encoder layers of each kind, built with the same seed, the
same input and the same loss (squared error against a random target), and
||dL/dW|| of all the parameters of each layer. A pre-norm stack ends with a
LayerNorm of its own (``TransformerEncoder(..., norm=LayerNorm)``, as pre-norm
models do), so that both stacks hand the loss a normalised output.

What it shows, at initialization: neither vanishes (both have skip paths), but
post-norm's gradient is largest at the top layer, whose last LayerNorm sits
right at the loss, and flat below it; pre-norm's grows towards the bottom,
where the most paths arrive (docs/visualize.md has the numbers).
"""
from __future__ import annotations

from pathlib import Path

import tinytensor as tt
from tinytensor import nn
from transformer import TransformerEncoder, TransformerEncoderLayer

from . import describe
from .gradient_flow import Curve, plot_layer_norms


def encoder_gradient_norms(norm_first: bool, depth: int = 24, d_model: int = 32, nhead: int = 4,
                           batch: int = 8, tokens: int = 16, seed: int = 0) -> list[float]:
    """||dL/dW|| over each layer's parameters, first layer first, for L = mean((y - target)^2)."""
    tt.manual_seed(seed)
    encoder_layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward=4 * d_model, dropout=0.0,
                                            batch_first=True, norm_first=norm_first)
    encoder = TransformerEncoder(encoder_layer, depth, norm=nn.LayerNorm(d_model) if norm_first else None)
    tt.manual_seed(seed + 1)  # the same input and target for both stacks
    x, target = tt.randn(batch, tokens, d_model), tt.randn(batch, tokens, d_model)
    ((encoder(x) - target) ** 2).mean().backward()
    return [sum(describe.norm(p.grad.array) ** 2 for p in layer.parameters()) ** 0.5
            for layer in encoder.layers]


def plot_norm_placement(path: "str | Path", depth: int = 24) -> Path:
    """Write the PNG comparing post-norm and pre-norm stacks of ``depth`` encoder layers."""
    curves = [Curve("post-norm:  x = LayerNorm(x + Sublayer(x))", encoder_gradient_norms(False, depth),
                    "#c62828"),
              Curve("pre-norm:  x = x + Sublayer(LayerNorm(x))", encoder_gradient_norms(True, depth),
                    "#2e7d32")]
    title = f"Gradient reaching each of {depth} Transformer encoder layers, at initialization"
    return plot_layer_norms(path, curves, title)
