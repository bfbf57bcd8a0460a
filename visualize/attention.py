"""Heat maps of attention weights: which tokens each token looks at, head by head, layer by layer.

Attention gives every query (a token that is looking, one row) a weight for
every key (a token that can be looked at, one column): softmax over the row,
so each row is a distribution, non-negative and summing to 1. A picture of
the (T, S) matrix says what a model reads where. In a translation's
cross-attention the rows are the English words written and the columns the
Chinese characters of the source: a bright cell is the character a word was
written from, and the bright cells together are the alignment of the two
sentences (Bahdanau et al., 2015, Figure 3).

``plot_attention`` draws one panel per head (columns) and per layer (rows),
with the tokens on the axes and one colour bar for all, from 0 to 1::

    with transformer.record_attention(model) as hooks:
        model(src, tgt_in)
    cross = {name: hook for name, hook in hooks.items() if name.endswith("multihead_attn")}
    plot_attention(cross, x_tokens=list("我有一只猫。"), y_tokens=["I", "have", ...], path="cross.png")

The weights may be a (heads, T, S) array or Tensor for one layer, (layers,
heads, T, S) for several, or a dict from layer name to (heads, T, S) or (1,
heads, T, S), such as record_attention's hooks. Chinese tokens need a font
with Chinese glyphs (fonts.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import tinytensor as tt
from tinytensor import Tensor

from .fonts import font_for
from .gradient_flow import new_figure

COLOURS = "Blues"        # 0 is white: a masked-out key, nothing looked at
CELL = 0.34              # inches per token
SMALLEST_PANEL = 1.4     # inches, so that a three-token panel still has room for its title


def plot_attention(weights: Any, x_tokens: Sequence[str], y_tokens: Sequence[str],
                   path: "str | Path | None" = None, *, title: str | None = None,
                   layer_names: Sequence[str] | None = None, max_heads: int | None = None) -> Any:
    """Heat maps of ``weights``: keys (``x_tokens``) across, queries (``y_tokens``) down.

    With ``path`` writes the picture (PNG, or the format of the suffix: .svg, .pdf) and
    returns the Path; without, returns the matplotlib Figure. ``layer_names`` labels the
    rows (a dict's keys by default); ``max_heads`` draws only the first heads.
    """
    names, maps = _layers(weights, layer_names)
    _check_tokens(maps.shape, x_tokens, y_tokens)
    if max_heads is not None:
        if max_heads < 1:
            raise ValueError(f"plot_attention: max_heads must be at least 1, got {max_heads}")
        maps = maps[:, :max_heads]
    labels = [*x_tokens, *y_tokens, *names, title or ""]
    figure = _draw(maps, names, list(x_tokens), list(y_tokens), title, font_for("".join(labels)))
    if path is None:
        return figure
    path = Path(path)
    figure.savefig(path)
    return path


def _layers(weights: Any, layer_names: Sequence[str] | None) -> tuple[list[str], Tensor]:
    """Row names and the weights as one float64 tensor (layers, heads, T, S), checked."""
    if isinstance(weights, Mapping):
        if not weights:
            raise ValueError("plot_attention: an empty dict, no weights to draw")
        arrays = {name: _one_layer(_array(w), name) for name, w in weights.items()}
        if len({a.shape for a in arrays.values()}) > 1:
            shapes = {name: a.shape for name, a in arrays.items()}
            raise ValueError(f"plot_attention: the layers have different shapes {shapes}; draw each "
                             f"kind of attention (self-attention, cross-attention) on its own")
        maps, default_names = tt.stack(list(arrays.values())), list(arrays)
    else:
        maps = _array(weights)
        if maps.ndim == 3:
            maps = maps.unsqueeze(0)
        elif maps.ndim != 4:
            raise ValueError(f"plot_attention: weights must be (heads, T, S) or (layers, heads, T, S), "
                             f"got shape {maps.shape}")
        default_names = [f"layer {i}" for i in range(len(maps))] if len(maps) > 1 else [""]
    names = list(layer_names) if layer_names is not None else default_names
    if len(names) != len(maps):
        raise ValueError(f"plot_attention: {len(names)} layer_names for {len(maps)} layers")
    _check_weights(maps)
    return names, maps


def _check_tokens(shape: tuple, x_tokens: Sequence[str], y_tokens: Sequence[str]) -> None:
    """One x token per key (column) and one y token per query (row)."""
    queries, keys = shape[-2:]
    if (len(x_tokens), len(y_tokens)) != (keys, queries):
        raise ValueError(f"plot_attention: weights of shape (heads, T, S) = {tuple(shape[1:])} have "
                         f"T={queries} queries and S={keys} keys, but got {len(y_tokens)} y_tokens "
                         f"(queries) and {len(x_tokens)} x_tokens (keys)")


def _draw(maps: Tensor, names: list[str], x_tokens: list[str], y_tokens: list[str],
         title: str | None, font: Any) -> Any:
    """The Figure: a grid of panels, layers down and heads across, and a shared colour bar."""
    rows, heads, queries, keys = maps.shape
    width, height = (max(SMALLEST_PANEL, CELL * n + 0.6) for n in (keys, queries))
    figure, _ = new_figure(figsize=(heads * width + 1.6, rows * height + 1.2), layout="constrained")
    axes = figure.subplots(rows, heads, squeeze=False)
    for row, name in enumerate(names):
        for head in range(heads):
            ax = axes[row, head]
            image = ax.imshow(maps[row, head].numpy(), cmap=COLOURS, vmin=0.0, vmax=1.0)
            _tokens_on_ticks(ax, x_tokens, y_tokens, font)
            if row == 0:
                ax.set_title(f"head {head}", fontsize=10)
            ax.label_outer()  # tokens on the outer panels only
        axes[row, 0].set_ylabel(name, fontproperties=font)
    # One bar for every panel, since all share the scale 0..1; as narrow for 1 row as for 4.
    figure.colorbar(image, ax=axes, label="attention weight", shrink=0.8, aspect=20 * rows)
    figure.supxlabel("keys: the tokens looked at", fontsize=10)
    figure.supylabel("queries: the tokens looking", fontsize=10)
    if title:
        figure.suptitle(title, fontproperties=font)
    return figure


def _tokens_on_ticks(ax: Any, x_tokens: list[str], y_tokens: list[str], font: Any) -> None:
    """Each token under its column and beside its row, in the font that has its characters."""
    upright = all(len(token) <= 2 for token in x_tokens)  # a word or "<bos>" would collide
    ax.set_xticks(range(len(x_tokens)), x_tokens, fontproperties=font, rotation=0 if upright else 90)
    ax.set_yticks(range(len(y_tokens)), y_tokens, fontproperties=font)
    ax.tick_params(length=0)


def _array(weights: Any) -> Tensor:
    weights = getattr(weights, "weights", weights)  # an AttentionHook of record_attention: its weights
    if weights is None:
        raise ValueError("plot_attention: an attention hook holds no weights yet; run a forward "
                         "pass inside record_attention(model) first")
    return tt.tensor(weights.detach().cpu() if isinstance(weights, Tensor) else weights, dtype=tt.float64)


def _one_layer(weights: Tensor, name: str) -> Tensor:
    """(heads, T, S) from (heads, T, S) or a batch of one, (1, heads, T, S)."""
    if weights.ndim == 4 and weights.shape[0] == 1:
        return weights[0]
    if weights.ndim != 3:
        raise ValueError(f"plot_attention: layer {name!r} has weights of shape {weights.shape}; "
                         f"expected (heads, T, S) or (1, heads, T, S): pick one sentence of the batch, "
                         f"weights[b:b + 1]")
    return weights


def _check_weights(maps: Tensor) -> None:
    """Attention weights are a softmax: in [0, 1]. Scores (before the softmax) are not."""
    low, high = maps.min().item(), maps.max().item()
    if not (low >= -1e-6 and high <= 1 + 1e-6):  # (a NaN fails both comparisons)
        raise ValueError(f"plot_attention: attention weights lie in [0, 1], got values from {low:.4g} "
                         f"to {high:.4g}; pass the weights (after the softmax), not the scores")
