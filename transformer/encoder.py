"""The encoder: N identical layers, each self-attention then a feed-forward network (section 3.1).

    x = LayerNorm(x + Dropout(SelfAttention(x)))          sublayer 1: every word looks at every word
    x = LayerNorm(x + Dropout(FFN(x)))                    sublayer 2: each position on its own

with FFN(x) = max(0, x W1 + b1) W2 + b2 (section 3.3), d_model -> dim_feedforward ->
d_model. Each sublayer is wrapped in "Add & Norm": a residual connection (the
input added back to the sublayer's output, so the gradient has a straight path
down through every layer) followed by LayerNorm. Dropout is applied to each
sublayer's output before the add (section 5.4), and inside the FFN after the
activation, as PyTorch does.

That is the paper's post-norm layer, PyTorch's default. ``norm_first=True`` moves
the norm inside the residual branch, pre-norm (Xiong et al., 2020):

    x = x + Dropout(SelfAttention(LayerNorm(x)))
    x = x + Dropout(FFN(LayerNorm(x)))

which trains deep stacks without warmup tricks, because nothing on the skip path
rescales the gradient. The input (T, B, d_model), or (B, T, d_model) with
``batch_first=True``, comes out in the same shape: the output C of the stack is
the "memory" every decoder layer attends to.

Names, arguments and state_dict keys are PyTorch's (``self_attn``, ``linear1``,
``linear2``, ``norm1``, ``norm2``), so ``load_state_dict`` takes a torch
layer's weights as they are.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import tinytensor as tt
from tinytensor import Tensor, nn
from tinytensor.functional import gelu, relu

from .multihead_attention import MultiheadAttention


class TransformerEncoderLayer(nn.Module):
    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: "str | Callable[[Tensor], Tensor]" = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True) -> None:
        super().__init__()
        self.settings = dict(d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward,
                             dropout=dropout, activation=activation, layer_norm_eps=layer_norm_eps,
                             batch_first=batch_first, norm_first=norm_first, bias=bias)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first)
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.activation = get_activation(activation)

    def forward(self, src: Tensor, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = tt.residual_add(x, self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal))
            x = tt.residual_add(x, self._ff_block(self.norm2(x)))
        else:
            x = self.norm1(tt.residual_add(x, self._sa_block(x, src_mask, src_key_padding_mask, is_causal)))
            x = self.norm2(tt.residual_add(x, self._ff_block(x)))
        return x

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool) -> Tensor:
        """Sublayer 1: multi-head self-attention, then dropout."""
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        """Sublayer 2: the position-wise feed-forward network, then dropout."""
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


class TransformerEncoder(nn.Module):
    """``num_layers`` layers like ``encoder_layer``, then the optional final ``norm``.

    PyTorch deep-copies ``encoder_layer``, so its layers all start with the same
    weights (its docs warn about it); here each is a new layer with the same
    settings and weights of its own. ``nn.Transformer`` re-initializes every weight
    either way. ``enable_nested_tensor`` and ``mask_check`` are accepted for
    PyTorch's signature; tinytensor has no nested tensors.
    """

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: nn.Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        self.layers = nn.ModuleList(fresh_layers(encoder_layer, num_layers))
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src: Tensor, mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool | None = None) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=bool(is_causal))
        return x if self.norm is None else self.norm(x)


GELU_TANH = functools.partial(gelu, approximate="tanh")  # BERT's and GPT-2's GELU


def get_activation(activation: "str | Callable[[Tensor], Tensor]") -> Callable[[Tensor], Tensor]:
    """"relu" or "gelu" (PyTorch's exact GELU), or any function of one tensor."""
    if callable(activation):
        return activation
    if activation == "relu":
        return relu
    if activation == "gelu":
        return gelu
    raise ValueError(f"activation should be 'relu', 'gelu' or a function of one tensor, not {activation!r}")


def fresh_layers(layer: nn.Module, count: int) -> list[nn.Module]:
    """``count`` new layers built with ``layer``'s settings, each with weights of its own."""
    settings = getattr(layer, "settings", None)
    if settings is None:
        raise TypeError(f"{type(layer).__name__} has no .settings: the Transformer stacks build "
                        f"their layers from a TransformerEncoderLayer or TransformerDecoderLayer")
    if count < 1:
        raise ValueError(f"a stack needs at least one layer, got num_layers={count}")
    return [type(layer)(**settings) for _ in range(count)]
