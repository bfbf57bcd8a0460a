"""The pictures of docs/visualize.md: small graphs, drawn before and after backward.

Each scene builds its graph fresh (backward frees a graph's saved values) and
returns the loss with draw_graph's options for it: the model whose parameter
names label the picture, and names for a few other tensors.

    neuron          micrograd's classic: o = tanh(x1*w1 + x2*w2 + b)
    mlp             one training step of a 3-4-1 MLP (nn.Sequential) on a batch of 4, squared error
    residual_block  pre-norm: x + Linear(GELU(Linear(LayerNorm(x))))
    residual_stack  two such blocks, drawn with depth=2: each Linear and LayerNorm one box
    encoder_layer   one Transformer encoder layer (post-norm, as the paper), each sublayer one box
    decoder_layer   one decoder layer: masked self-attention, cross-attention to a memory, FFN
    pytorch_gpt     a GPT written for PyTorch (examples/pytorch_gpt.py), run unchanged on tinytensor
                    through tinytensor.as_torch: its modules grouped by the program's own names

and the plots: gradient flow with and without residuals (gradient_flow.py), post-norm
against pre-norm (norm_placement.py), and the attention of a tiny model trained here,
in a few seconds, to reverse words (reversal.py).
"""
from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any, Callable

import tinytensor as tt
from tinytensor import Tensor, as_torch, nn
from tinytensor.functional import gelu
from transformer import TransformerDecoderLayer, TransformerEncoderLayer, causal_mask

from .backprop_html import render_backprop
from .dot import draw_graph
from .gradient_flow import plot_gradient_flow
from .norm_placement import plot_norm_placement
from .renderer import render
from .reversal import plot_reversal_attention
from .trace import trace_backward

Scene = tuple[Tensor, dict[str, Any]]  # the loss, and draw_graph's options for it


def neuron() -> Scene:
    """The neuron of Karpathy's micrograd lecture: o = 0.7071, and dL/dn = 1 - o^2 = 0.5."""
    def scalar(value: float) -> Tensor:
        return tt.tensor(value, dtype=tt.float64, requires_grad=True)

    x1, x2, w1, w2, b = scalar(2.0), scalar(0.0), scalar(-3.0), scalar(1.0), scalar(6.8813735870195432)
    x1w1, x2w2 = x1 * w1, x2 * w2
    x1w1x2w2 = x1w1 + x2w2
    n = x1w1x2w2 + b
    o = n.tanh()
    names = {"x1": x1, "x2": x2, "x1*w1": x1w1, "x2*w2": x2w2, "x1*w1 + x2*w2": x1w1x2w2, "n": n, "o": o}
    return o, {"params": {"w1": w1, "w2": w2, "b": b}, "names": names}


class MLP(nn.Module):
    """3 -> 4 -> 1 with tanh: parameters ``layers.0.weight`` ... ``layers.2.bias``."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


def mlp() -> Scene:
    """Forward and backward of one training step; the data and target need no gradient (grey boxes)."""
    tt.manual_seed(0)
    model = MLP()
    x, target = tt.randn(4, 3), tt.randn(4, 1)
    prediction = model(x)
    loss = ((prediction - target) ** 2).mean()
    names = {"x": x, "target": target, "prediction": prediction, "loss": loss}
    return loss, {"model": model, "names": names, "rankdir": "TB"}


class PreNormBlock(nn.Module):
    """x + Linear(GELU(Linear(LayerNorm(x)))): a Transformer's feed-forward sublayer, pre-norm."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.linear1 = nn.Linear(width, 2 * width)
        self.linear2 = nn.Linear(2 * width, width)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.linear2(gelu(self.linear1(self.norm(x))))


class Stack(nn.Module):
    """``depth`` pre-norm blocks, named ``blocks.0``, ``blocks.1``..."""

    def __init__(self, width: int, depth: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([PreNormBlock(width) for _ in range(depth)])

    def forward(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = block(x)
        return x


def residual_block() -> Scene:
    tt.manual_seed(0)
    model = Stack(width=4, depth=1)
    x = tt.randn(2, 4, requires_grad=True)  # requires grad to show what reaches it: skip + sublayer
    y = model(x)
    loss = (y * y).mean()
    return loss, {"model": model, "names": {"x": x, "y": y, "loss": loss}, "rankdir": "TB"}


def residual_stack() -> Scene:
    tt.manual_seed(0)
    model = Stack(width=4, depth=2)
    x = tt.randn(2, 4, requires_grad=True)
    loss = (model(x) ** 2).mean()
    return loss, {"model": model, "names": {"x": x, "loss": loss}, "depth": 2, "rankdir": "TB"}


LAYER_SIZES = dict(d_model=4, nhead=2, dim_feedforward=8, dropout=0.0, batch_first=True)  # readable


def encoder_layer() -> Scene:
    """x = LayerNorm(x + SelfAttention(x)), then x = LayerNorm(x + FFN(x)): 1 sentence of 3 tokens."""
    tt.manual_seed(0)
    layer = TransformerEncoderLayer(**LAYER_SIZES)
    src, target = tt.randn(1, 3, 4, requires_grad=True), tt.randn(1, 3, 4)
    loss = ((layer(src) - target) ** 2).mean()  # not mean(y^2): LayerNorm fixes that at 1
    return loss, {"model": layer, "names": {"src": src, "target": target, "loss": loss}, "depth": 0,
                  "rankdir": "TB"}


def decoder_layer() -> Scene:
    """The three Add & Norms of a decoder layer, the memory coming in from the encoder."""
    tt.manual_seed(0)
    layer = TransformerDecoderLayer(**LAYER_SIZES)
    tgt, memory = tt.randn(1, 3, 4, requires_grad=True), tt.randn(1, 3, 4, requires_grad=True)
    target = tt.randn(1, 3, 4)
    loss = ((layer(tgt, memory, tgt_mask=causal_mask(3)) - target) ** 2).mean()
    names = {"tgt": tgt, "memory": memory, "target": target, "loss": loss}
    return loss, {"model": layer, "names": names, "depth": 0, "rankdir": "TB"}


PYTORCH_GPT = Path(__file__).resolve().parent.parent / "examples" / "pytorch_gpt.py"


def pytorch_gpt() -> Scene:
    """A one-block GPT written for PyTorch, run unchanged: its loss on 4 tokens, as nanoGPT computes it.

    The program is read from the checkout's examples/ and run under ``as_torch.imports()``, so its
    ``import torch`` is tinytensor; the boxes are grouped by the program's own module names.
    """
    if not PYTORCH_GPT.exists():
        raise FileNotFoundError(f"{PYTORCH_GPT} is not here: this scene draws a program of the "
                                f"tinytensor checkout's examples/ (run python -m visualize from one)")
    with as_torch.imports():
        program = runpy.run_path(str(PYTORCH_GPT), run_name="pytorch_gpt")  # defines, does not train
    tt.manual_seed(0)
    config = program["GPTConfig"](block_size=4, vocab_size=6, n_layer=1, n_head=2, n_embd=4, bias=False)
    model = program["GPT"](config)
    idx, targets = tt.tensor([[0, 3, 1, 4]]), tt.tensor([[3, 1, 4, 2]])
    _, loss = model(idx, targets)
    # depth=3: each block's sublayers (ln_1, attn, ln_2, mlp) one box each; depth=None opens them
    return loss, {"model": model, "names": {"idx": idx, "targets": targets, "loss": loss}, "depth": 3,
                  "rankdir": "TB"}


SCENES: dict[str, Callable[[], Scene]] = {
    "neuron": neuron, "mlp": mlp, "residual_block": residual_block, "residual_stack": residual_stack,
    "encoder_layer": encoder_layer, "decoder_layer": decoder_layer, "pytorch_gpt": pytorch_gpt}
REPLAYS = ("neuron", "residual_block", "pytorch_gpt")  # the scenes that also get a step-by-step page


def write_scene(name: str, out: Path, fmt: str = "svg") -> list[Path]:
    """``NAME_before`` and ``NAME_after`` pictures of one scene."""
    loss, options = SCENES[name]()
    before = render(draw_graph(loss, **options), out / f"{name}_before.{fmt}")
    trace = trace_backward(loss)
    after = render(draw_graph(loss, grads=trace, **options), out / f"{name}_after.{fmt}")
    return [before, after]


def write_all(out: "str | Path", fmt: str = "svg") -> list[Path]:
    """Every picture of the docs, into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [path for name in SCENES for path in write_scene(name, out, fmt)]
    for name in REPLAYS:
        loss, options = SCENES[name]()
        written.append(render_backprop(loss, out / f"{name}_backprop.html", **options))
    written.append(plot_gradient_flow(out / "gradient_flow.png"))
    written.append(plot_norm_placement(out / "norm_placement.png"))
    return written + plot_reversal_attention(out)
