"""A Transformer layer: sublayers in a row, each wrapped in Add & Norm (paper, section 3.1).

Every layer of the encoder and of the decoder is a few sublayers (attention, then
the feed-forward network), each wrapped in "Add & Norm": a residual connection, the
input added back to the sublayer's output so that the gradient has a straight path
down through every layer, then LayerNorm. Dropout is applied to the sublayer's
output before the add (section 5.4):

    x = LayerNorm(x + Dropout(Sublayer(x)))       post-norm: the paper's, PyTorch's default
    x = x + Dropout(Sublayer(LayerNorm(x)))       pre-norm: norm_first=True (Xiong et al., 2020)

Pre-norm moves the norm inside the residual branch, so nothing on the skip path
rescales the gradient, and deep stacks train without warmup tricks. ``add_and_norm``
is this wrapper, written once; a layer's forward is one call of it per sublayer.

The last sublayer is the position-wise feed-forward network (section 3.3), the
same two Linears at every position, d_model -> dim_feedforward -> d_model:

    FFN(x) = max(0, x W1 + b1) W2 + b2            with dropout after the activation, as PyTorch

Names, arguments and state_dict keys are PyTorch's, registered in its order (the
attentions, ``linear1``, ``dropout``, ``linear2``, ``norm1``.., ``dropout1``..), so
``load_state_dict`` takes a torch layer's weights as they are.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from tinytensor import Tensor, nn
from tinytensor.functional import gelu, relu

from .multihead_attention import MultiheadAttention


class TransformerLayer(nn.Module):
    """What the encoder's and the decoder's layers share; each names its attention sublayers."""

    attentions: tuple[str, ...] = ()  # the attention sublayers, in order: ("self_attn",) ...

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True) -> None:
        super().__init__()
        self.settings = dict(d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward,
                             dropout=dropout, activation=activation, layer_norm_eps=layer_norm_eps,
                             batch_first=batch_first, norm_first=norm_first, bias=bias)
        for name in self.attentions:
            setattr(self, name, MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                   batch_first=batch_first))
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        sublayers = range(1, len(self.attentions) + 2)  # the attentions and the feed-forward network
        for i in sublayers:
            setattr(self, f"norm{i}", nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
        for i in sublayers:
            setattr(self, f"dropout{i}", nn.Dropout(dropout))
        self.activation = get_activation(activation)

    def add_and_norm(self, i: int, x: Tensor, sublayer: Callable[[Tensor], Tensor]) -> Tensor:
        """Sublayer ``i`` (1, 2, ...) in Add & Norm, with ``norm{i}`` and ``dropout{i}``."""
        norm, dropout = getattr(self, f"norm{i}"), getattr(self, f"dropout{i}")
        if self.norm_first:
            return x + dropout(sublayer(norm(x)))
        return norm(x + dropout(sublayer(x)))

    def feed_forward(self, x: Tensor) -> Tensor:
        """The last sublayer: Linear, activation, dropout, Linear."""
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


def attend(attention: MultiheadAttention, x: Tensor, source: Tensor, mask: Any, key_padding_mask: Any,
           is_causal: bool) -> Tensor:
    """An attention sublayer: x's queries look at the keys and values of ``source`` (x itself in
    self-attention, the encoder's memory in cross-attention); the output only, no weights."""
    return attention(x, source, source, attn_mask=mask, key_padding_mask=key_padding_mask,
                     need_weights=False, is_causal=is_causal)[0]


GELU_TANH = functools.partial(gelu, approximate="tanh")  # BERT's and GPT-2's GELU


def get_activation(activation: str | Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """"relu" or "gelu" (PyTorch's exact GELU), or any function of one tensor."""
    if callable(activation):
        return activation
    if activation == "relu":
        return relu
    if activation == "gelu":
        return gelu
    raise ValueError(f"activation should be 'relu', 'gelu' or a function of one tensor, not {activation!r}")


def fresh_layers(layer: nn.Module, count: int) -> list[nn.Module]:
    """``count`` new layers built with ``layer``'s settings, each with weights of its own (for the stacks)."""
    settings = getattr(layer, "settings", None)
    if settings is None:
        raise TypeError(f"{type(layer).__name__} has no .settings: the Transformer stacks build "
                        f"their layers from a TransformerEncoderLayer or TransformerDecoderLayer")
    if count < 1:
        raise ValueError(f"a stack needs at least one layer, got num_layers={count}")
    return [type(layer)(**settings) for _ in range(count)]
