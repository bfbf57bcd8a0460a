"""Multi-head attention: h attentions side by side, each in a subspace of its own (section 3.2.2).

    MultiHead(Q, K, V) = Concat(head_1, ..., head_h) W^O,   head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)

One attention averages everything it attends to into one vector; h heads of
width d_k = d_model / h can attend to different words for different reasons
("it" -> "animal" in one head, "it" -> "tired" in another), for about the cost
of one full-width head. The output has the input's shape, (B, T, d_model), so
layers stack.

The weights, as PyTorch stores them (so a state_dict moves both ways):

    in_proj_weight  (3 d_model, d_model)   rows 0..d-1: W_Q, rows d..2d-1: W_K, rows 2d..3d-1: W_V
    in_proj_bias    (3 d_model,)           b_Q, b_K, b_V in the same order
    out_proj        Linear(d_model, d_model): W^O and its bias

The seeds write Q = X W_Q with W_Q of shape (d_model, d_model); PyTorch's rows are
that matrix transposed (nn.Linear's convention, y = x W^T + b), so the seeds' W_Q
is ``in_proj_weight[:d_model].T``. The h heads are not separate matrices: head i
is columns i d_k .. (i+1) d_k - 1 of Q, K and V, split off by a reshape.

Masks follow PyTorch (see masks.py): ``key_padding_mask`` (B, S) and
``attn_mask`` (T, S) or (B h, T, S), boolean (True = may NOT attend) or float
(added to the scores). Inputs are (T, B, E) unless ``batch_first=True``, as in
PyTorch, so code written for torch cannot silently read its inputs the wrong way
round; tinytensor's own models all pass ``batch_first=True``.

``cache`` is the one hook for decoding (kv_cache.py): when a cache is attached,
it supplies K and V, keeping the keys and values of earlier steps instead of
recomputing them. Training never sets it.
"""
from __future__ import annotations

from typing import Any

from tinytensor import Tensor, creation, nn
from tinytensor.functional import linear
from tinytensor.nn import init

from . import masks
from .attention import scaled_dot_product_attention


class MultiheadAttention(nn.Module):
    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = False) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be a positive multiple "
                             f"of num_heads ({num_heads}), so each head has embed_dim / num_heads "
                             f"dimensions")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout, self.batch_first = dropout, batch_first
        self.in_proj_weight = nn.Parameter(creation.zeros(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(creation.zeros(3 * embed_dim)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.cache = None  # set only while decoding (kv_cache.py)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        # PyTorch's: Xavier for the stacked W_Q, W_K, W_V, zero biases.
        init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any = None,
                need_weights: bool = True, attn_mask: Any = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """(output, weights): output like query; weights (B, T, S) averaged over heads, or
        (B, h, T, S) with ``average_attn_weights=False``, or None with ``need_weights=False``."""
        if is_causal and attn_mask is None:
            raise ValueError("MultiheadAttention: is_causal=True is only a hint that attn_mask is "
                             "causal; pass the mask too, e.g. attn_mask=transformer.causal_mask(T)")
        self_attention = query is key  # what a decoding cache needs to know, before any reshape
        batched = self._check_inputs(query, key, value)
        query, key, value = (self._batch_first(x, batched) for x in (query, key, value))  # (B, L, E)
        if not batched and key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
        batch, queries = query.shape[:2]
        q = self.project(query, 0)                                            # (B, h, T, d_k)
        if self.cache is not None:
            k, v = self.cache.keys_values(self, key, value, self_attention)   # (B, h, S, d_k)
        else:
            k, v = self.project(key, 1), self.project(value, 2)
        mask = masks.merge(attn_mask, key_padding_mask, batch, self.num_heads, queries, k.shape[2], q)
        out, weights = scaled_dot_product_attention(q, k, v, mask, self.dropout, self.training)
        if self.cache is not None:
            self.cache.weights = weights  # kept for decoding's printout and the pictures
        out = self.out_proj(out.transpose(1, 2).reshape(batch, queries, self.embed_dim))  # heads concatenated
        if not batched:
            out = out.squeeze(0)
        elif not self.batch_first:
            out = out.transpose(0, 1)                                         # back to (T, B, E)
        if not need_weights:
            return out, None
        weights = weights.mean(1) if average_attn_weights else weights      # (B, T, S) or (B, h, T, S)
        return out, weights if batched else weights.squeeze(0)

    def _batch_first(self, x: Tensor, batched: bool) -> Tensor:
        """x as (B, L, E): a 2-D x is one sentence, a batch of one (batch_first does not apply)."""
        if not batched:
            return x.unsqueeze(0)
        return x if self.batch_first else x.transpose(0, 1)

    def project(self, x: Tensor, which: int) -> Tensor:
        """Q, K or V (``which`` = 0, 1, 2) of x (B, L, E), split into heads: (B, h, L, d_k)."""
        rows = slice(which * self.embed_dim, (which + 1) * self.embed_dim)
        bias = None if self.in_proj_bias is None else self.in_proj_bias[rows]
        y = linear(x, self.in_proj_weight[rows], bias)                      # (B, L, E)
        batch, length = x.shape[:2]
        return y.reshape(batch, length, self.num_heads, self.head_dim).transpose(1, 2)  # (B, h, L, d_k)

    def _check_inputs(self, query: Tensor, key: Tensor, value: Tensor) -> bool:
        """Whether the inputs are batched (3-D); clear errors for shapes that cannot work."""
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ValueError(f"MultiheadAttention: query, key and value must all be 3-D "
                             f"({'(B, L, E)' if self.batch_first else '(L, B, E)'}) or all 2-D "
                             f"(L, E), got shapes {query.shape}, {key.shape}, {value.shape}")
        for name, x in (("query", query), ("key", key), ("value", value)):
            if x.shape[-1] != self.embed_dim:
                raise ValueError(f"MultiheadAttention: {name} has {x.shape[-1]} features (shape "
                                 f"{x.shape}) but embed_dim is {self.embed_dim}")
        if key.shape != value.shape:
            raise ValueError(f"MultiheadAttention: key and value must have the same shape, got "
                             f"{key.shape} and {value.shape}")
        batch_axis = 0 if self.batch_first else 1
        if query.ndim == 3 and query.shape[batch_axis] != key.shape[batch_axis]:
            raise ValueError(f"MultiheadAttention: query and key have different batch sizes, "
                             f"shapes {query.shape} and {key.shape} (batch_first={self.batch_first})")
        return query.ndim == 3

    def extra_repr(self) -> str:
        return (f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
                f"batch_first={self.batch_first}")
