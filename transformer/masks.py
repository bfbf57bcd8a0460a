"""Masks: which keys each query may attend to. Built here, in one place, and applied in one place.

Attention compares every query with every key (paper, section 3.2.1). Two things
must be hidden from a query:

* padding: sentences in a batch have different lengths, and the pad tokens at
  the end of the shorter ones are not words. ``padding_mask(ids, pad_id)``,
  shape (B, S), is True at every pad key.
* the future: while training, the decoder sees the whole target sentence at once
  (teacher forcing), but position i must predict token i+1 from tokens 0..i only,
  as it will when it generates one token at a time (section 3.2.3, "masking out
  ... all values in the input of the softmax which correspond to illegal
  connections"). ``causal_mask(T)``, shape (T, T), is True above the diagonal.
  For "<Begin> I have a cat" (tokens 0..4) row 2, "have", is
  (False, False, False, True, True): it sees "<Begin> I have", not "a cat".

The convention, PyTorch's for ``nn.MultiheadAttention`` and ``nn.Transformer``:
a boolean mask is True where attention is NOT allowed; a float mask is added to
the scores (-inf forbids, 0 allows, anything else biases). ``merge`` turns both
kinds, attention masks of shape (T, S) or (B * heads, T, S) and key padding masks
of shape (B, S), into one additive tensor of shape (B or 1, heads or 1, T, S);
``scaled_dot_product_attention`` (attention.py) adds it to QK^T / sqrt(d_k)
before the softmax, the only place a mask is applied.

(Careful: ``torch.nn.functional.scaled_dot_product_attention`` uses the opposite
boolean convention, True = may attend, and so does tinytensor's function of that
name, which mirrors it. The model uses the convention above everywhere.)
"""
from __future__ import annotations

from typing import Any

import tinytensor as tt
from tinytensor import Tensor


def causal_mask(size: int, offset: int = 0, device: Any = "cpu") -> Tensor:
    """(size, offset + size) bool, True where query i may not see key j: j > offset + i.

    ``offset`` is for decoding with a key-value cache: the ``size`` new queries sit at
    positions offset, offset + 1, ... and the keys are all offset + size positions so far.
    """
    if size < 1 or offset < 0:
        raise ValueError(f"causal_mask: needs size >= 1 and offset >= 0, got size={size}, "
                         f"offset={offset}")
    return tt.ones(size, offset + size, dtype=tt.bool_, device=device).triu(offset + 1)


def decoder_mask(length: int, offset: int = 0, device: Any = "cpu") -> "Tensor | None":
    """What a decoder's self-attention must hide for ``length`` new positions after ``offset`` kept
    ones: the causal mask, or None for one new position (cached decoding), which may see them all."""
    return None if length == 1 else causal_mask(length, offset, device)


def padding_mask(ids: Tensor, pad_id: int) -> Tensor:
    """(B, S) bool, True at the pad tokens of a batch of token ids (B, S)."""
    return ids == pad_id


def square_subsequent_mask(size: int, device: Any = None, dtype: Any = None) -> Tensor:
    """PyTorch's float causal mask: -inf above the diagonal, 0 elsewhere, shape (size, size)."""
    return tt.full((size, size), float("-inf"), dtype=dtype, device=device).triu(1)


def merge(attn_mask: Any, key_padding_mask: Any, batch: int, heads: int, queries: int,
          keys: int, like: Tensor) -> Tensor | None:
    """One additive mask for attention's scores (B or 1, heads or 1, T, S), or None for no mask.

    ``attn_mask``: (T, S), the same for every sentence and head, or (B * heads, T, S).
    ``key_padding_mask``: (B, S), keys to ignore in each sentence. Each is bool
    (True = may not attend) or float (added). The result is a tensor of ``like``'s
    dtype on its device: masks are constants, no gradient flows into them.
    """
    total = None
    if attn_mask is not None:
        mask = additive(attn_mask, "attn_mask", like)
        if mask.shape == (queries, keys):
            mask = mask.reshape(1, 1, queries, keys)
        elif mask.shape == (batch * heads, queries, keys):
            mask = mask.reshape(batch, heads, queries, keys)
        else:
            raise ValueError(f"attn_mask: expected shape {(queries, keys)} (queries, keys) or "
                             f"{(batch * heads, queries, keys)} (batch * heads, queries, keys), "
                             f"got {tuple(mask.shape)}")
        total = mask
    if key_padding_mask is not None:
        mask = additive(key_padding_mask, "key_padding_mask", like)
        if mask.shape != (batch, keys):
            raise ValueError(f"key_padding_mask: expected shape {(batch, keys)} (batch, keys), "
                             f"got {tuple(mask.shape)}")
        mask = mask.reshape(batch, 1, 1, keys)
        total = mask if total is None else total + mask
    return total


def additive(mask: Any, name: str, like: Tensor) -> Tensor:
    """A bool or float mask as a tensor of like's dtype to add to the scores: True -> -inf, False -> 0."""
    if not isinstance(mask, Tensor):
        mask = tt.as_tensor(mask)
    if mask.requires_grad:
        raise ValueError(f"{name}: a mask that requires grad is not supported (masks are "
                         f"constants added to the scores); pass {name}.detach()")
    if mask.device != like.device:
        raise RuntimeError(f"{name}: the mask is on {mask.device} but the attention runs on "
                           f"{like.device}; move it with .to('{like.device}')")
    if mask.dtype == tt.bool_:
        return tt.zeros(mask.shape, dtype=like.dtype, device=like.device).masked_fill(mask, float("-inf"))
    if mask.dtype.kind == "f":
        return mask.to(like.dtype)
    raise TypeError(f"{name}: must be bool (True = may not attend) or floating (added to the "
                    f"scores), got {mask.dtype}")
