"""The input of both stacks: word embedding + positional encoding (sections 3.4 and 3.5).

Attention has no notion of order: permute the words of a sentence and each word
gets the same output, permuted. So the position of each token is added to its
vector, as sinusoids of different frequencies:

    PE(pos, 2i)     = sin(pos / 10000^(2i / d_model))
    PE(pos, 2i + 1) = cos(pos / 10000^(2i / d_model))

Each pair of dimensions is a clock turning at its own speed, from one turn in
2 pi positions (i = 0) to one in 10000 * 2 pi. Two properties make it useful:

* PE(pos + k) is a fixed linear function of PE(pos), for each offset k: each
  (sin, cos) pair is rotated by the angle k / 10000^(2i/d), whatever pos is, so
  relative positions are easy to read off (the paper's reason for choosing it);
* it is defined for every position, so a sentence longer than any seen in
  training still gets an encoding. Nothing here has a maximum length.

The token embedding is a lookup table whose vectors are multiplied by
sqrt(d_model) (section 3.4), so that they are not drowned by the positional
encoding, whose entries lie in [-1, 1]; its weights start as N(0, 1/d_model), so
the scaled vectors have entries of variance 1.
"""
from __future__ import annotations

import math
from typing import Any

import tinytensor as tt
from tinytensor import Tensor, nn
from tinytensor.nn import init


def positional_encoding(length: int, d_model: int, offset: int = 0, dtype: Any = None,
                        device: Any = "cpu") -> Tensor:
    """PE for positions offset .. offset + length - 1: shape (length, d_model)."""
    positions = tt.arange(offset, offset + length, dtype=tt.float64, device=device).unsqueeze(1)  # (L, 1)
    frequencies = (tt.arange(0, d_model, 2, dtype=tt.float64, device=device)
                   * (-math.log(10000.0) / d_model)).exp()                     # 1 / 10000^(2i/d)
    angles = positions * frequencies                                          # (L, ceil(d/2))
    pe = tt.stack([angles.sin(), angles.cos()], axis=2).reshape(length, 2 * angles.shape[1])  # interleaved
    return pe[:, :d_model].to(dtype or tt.float32)                            # odd d_model: one sin more


class PositionalEncoding(nn.Module):
    """x + PE, then dropout (the paper's P_drop = 0.1); positions run along x's axis -2.

    The table is computed once for the positions seen so far and grown (to twice
    the length asked for) when a longer input comes: decoding asks for one row
    at a time, and recomputing sines for every token would cost more than adding them.
    It is not a buffer: it is no state of the model, only a saved computation.
    """

    def __init__(self, d_model: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.d_model = d_model
        self.dropout = nn.Dropout(dropout)
        self.table: Tensor | None = None  # PE of positions 0 .. len(table) - 1

    def forward(self, x: Tensor, offset: int = 0) -> Tensor:
        """x of shape (B, T, d_model) or (T, d_model); ``offset``: the position of its first
        token (decoding with a key-value cache feeds one token at a time)."""
        if x.ndim < 2 or x.shape[-1] != self.d_model:
            raise ValueError(f"PositionalEncoding: expected (..., T, {self.d_model}), got shape {x.shape}")
        end = offset + x.shape[-2]
        table = self.table
        if table is None or len(table) < end or table.dtype != x.dtype or table.device != x.device:
            self.table = table = positional_encoding(2 * end, self.d_model, 0, x.dtype, x.device)
        return self.dropout(x + table[offset:end])

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}"


class TokenEmbedding(nn.Module):
    """Token ids (B, T) -> vectors (B, T, d_model), scaled by sqrt(d_model)."""

    def __init__(self, vocab_size: int, d_model: int, padding_idx: int | None = None) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=padding_idx)
        init.normal_(self.embedding.weight, 0.0, d_model ** -0.5)
        if padding_idx is not None:
            with tt.no_grad():
                self.embedding.weight[padding_idx].zero_()  # padding stays the zero vector
        self.scale = math.sqrt(d_model)

    def forward(self, ids: Any) -> Tensor:
        return self.embedding(ids) * self.scale
