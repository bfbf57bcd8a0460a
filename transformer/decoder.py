"""The decoder: N layers of masked self-attention, cross-attention and a feed-forward network (3.1).

    x = LayerNorm(x + Dropout(SelfAttention(x, causal mask)))      what has been written so far
    x = LayerNorm(x + Dropout(CrossAttention(x, memory)))          what the encoder read
    x = LayerNorm(x + Dropout(FFN(x)))

The self-attention is masked (``tgt_mask``, a causal mask) so that position i
sees the target tokens 0..i only: in training the whole target sentence goes in
at once (teacher forcing), yet each position predicts its next token as if the
rest were not written yet. In the cross-attention ("encoder-decoder attention")
the queries come from the decoder and the keys and values from the encoder's
output C, the memory: each target word looks at the source sentence, which is
where alignment, the attention heat map of a translation, comes from.

``norm_first=True`` is the pre-norm variant, as in encoder.py. Names and
state_dict keys are PyTorch's (``self_attn``, ``multihead_attn``, ``linear1``,
``linear2``, ``norm1``..``norm3``).
"""
from __future__ import annotations

from typing import Any, Callable

import tinytensor as tt
from tinytensor import Tensor, nn

from .encoder import fresh_layers, get_activation
from .multihead_attention import MultiheadAttention


class TransformerDecoderLayer(nn.Module):
    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: "str | Callable[[Tensor], Tensor]" = "relu", layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True) -> None:
        super().__init__()
        self.settings = dict(d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward,
                             dropout=dropout, activation=activation, layer_norm_eps=layer_norm_eps,
                             batch_first=batch_first, norm_first=norm_first, bias=bias)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first)
        self.linear1 = nn.Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = norm_first
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)
        self.activation = get_activation(activation)

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Tensor:
        x = tgt
        if self.norm_first:
            x = tt.residual_add(x, self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = tt.residual_add(x, self._mha_block(self.norm2(x), memory, memory_mask,
                                                   memory_key_padding_mask, memory_is_causal))
            x = tt.residual_add(x, self._ff_block(self.norm3(x)))
        else:
            x = self.norm1(tt.residual_add(x, self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal)))
            x = self.norm2(tt.residual_add(x, self._mha_block(x, memory, memory_mask,
                                                              memory_key_padding_mask, memory_is_causal)))
            x = self.norm3(tt.residual_add(x, self._ff_block(x)))
        return x

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any, is_causal: bool) -> Tensor:
        """Sublayer 1: masked multi-head self-attention, then dropout."""
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _mha_block(self, x: Tensor, memory: Tensor, attn_mask: Any, key_padding_mask: Any,
                   is_causal: bool) -> Tensor:
        """Sublayer 2: cross-attention, queries from the decoder, keys and values from the memory."""
        x = self.multihead_attn(x, memory, memory, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                                need_weights=False, is_causal=is_causal)[0]
        return self.dropout2(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        """Sublayer 3: the position-wise feed-forward network, then dropout."""
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)


class TransformerDecoder(nn.Module):
    """``num_layers`` layers like ``decoder_layer`` (each with its own weights), then ``norm``."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: nn.Module | None = None) -> None:
        super().__init__()
        self.layers = nn.ModuleList(fresh_layers(decoder_layer, num_layers))
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=bool(tgt_is_causal), memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)
