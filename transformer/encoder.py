"""The encoder: N identical layers, each self-attention then a feed-forward network (section 3.1).

    x = LayerNorm(x + Dropout(SelfAttention(x)))          sublayer 1: every word looks at every word
    x = LayerNorm(x + Dropout(FFN(x)))                    sublayer 2: each position on its own

Each sublayer is wrapped in Add & Norm, post-norm as in the paper or pre-norm with
``norm_first=True`` (layer.py, where both are written once, and the FFN). The input
(T, B, d_model), or (B, T, d_model) with ``batch_first=True``, comes out in the
same shape: the output C of the stack is the "memory" every decoder layer attends to.

Names, arguments and state_dict keys are PyTorch's (``self_attn``, ``linear1``,
``linear2``, ``norm1``, ``norm2``), so ``load_state_dict`` takes a torch
layer's weights as they are.
"""
from __future__ import annotations

from typing import Any

from tinytensor import Tensor, nn

from .layer import TransformerLayer, attend, fresh_layers


class TransformerEncoderLayer(TransformerLayer):
    attentions = ("self_attn",)

    def forward(self, src: Tensor, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:
        def self_attention(x: Tensor) -> Tensor:
            return attend(self.self_attn, x, x, src_mask, src_key_padding_mask, is_causal)

        x = self.add_and_norm(1, src, self_attention)
        return self.add_and_norm(2, x, self.feed_forward)


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
