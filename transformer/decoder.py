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

``norm_first=True`` is the pre-norm variant (layer.py). Names and state_dict keys
are PyTorch's (``self_attn``, ``multihead_attn``, ``linear1``, ``linear2``,
``norm1``..``norm3``).
"""
from __future__ import annotations

from typing import Any

from tinytensor import Tensor, nn

from .layer import TransformerLayer, attend, fresh_layers


class TransformerDecoderLayer(TransformerLayer):
    attentions = ("self_attn", "multihead_attn")

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Any = None, memory_mask: Any = None,
                tgt_key_padding_mask: Any = None, memory_key_padding_mask: Any = None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Tensor:
        def self_attention(x: Tensor) -> Tensor:
            return attend(self.self_attn, x, x, tgt_mask, tgt_key_padding_mask, tgt_is_causal)

        def cross_attention(x: Tensor) -> Tensor:
            return attend(self.multihead_attn, x, memory, memory_mask, memory_key_padding_mask, memory_is_causal)

        x = self.add_and_norm(1, tgt, self_attention)
        x = self.add_and_norm(2, x, cross_attention)
        return self.add_and_norm(3, x, self.feed_forward)


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
