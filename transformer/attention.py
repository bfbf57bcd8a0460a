"""Scaled dot-product attention: softmax(Q K^T / sqrt(d_k) + mask) V (paper, section 3.2.1).

Attention is retrieval from a pool of (key, value) pairs. Each query q is
compared with every key k by a dot product; the scores, divided by sqrt(d_k) so
that their spread does not grow with the width d_k (which would push the softmax
into regions of tiny gradients), become weights through a softmax, one row per
query summing to 1; the output is the weighted sum of the values:

    scores  S = Q K^T / sqrt(d_k) + mask       (..., T, S)   T queries, S keys
    weights P = softmax(S)  over the keys       each row sums to 1
    output  O = P V                             (..., T, d_v)

The mask (masks.py) is added before the softmax: -inf makes a weight exactly 0.
A query whose every key is masked has no distribution at all; the rule here is
that its weights and its output are zero, and so is every gradient through it,
on every path (the composed formula, the fused op, forward and backward), never
NaN. (PyTorch gives NaN on two of its three paths, pytorch issue 41508.)

``attention_reference`` is the formula as written above, from tinytensor's
ordinary ops (matmul, add, softmax), one graph node per step: read it first.

``scaled_dot_product_attention``, which the model uses, computes the same as one
graph node with an analytic backward, the engine's (tinytensor/functional/attention.py,
where the backward's formulas are): an optimisation, because a Transformer step runs
attention for every layer and head, and composed from small ops it is a dozen nodes
and arrays each time. The tests hold the two equal, values and gradients.

The model's mask convention is PyTorch's for ``nn.MultiheadAttention`` (masks.py:
a boolean mask is True where a query may NOT attend). PyTorch's functional
``scaled_dot_product_attention``, with the opposite boolean convention and the
output alone, is ``tinytensor.nn.functional.scaled_dot_product_attention``.
"""
from __future__ import annotations

import math
from typing import Any

from tinytensor import Tensor
from tinytensor.functional import dropout, softmax
from tinytensor.functional.attention import attention

from . import masks


def attention_reference(query: Tensor, key: Tensor, value: Tensor, mask: Any = None,
                        dropout_p: float = 0.0, training: bool = True) -> tuple[Tensor, Tensor]:
    """(output, weights) of softmax(Q K^T / sqrt(d_k) + mask) V, from ordinary ops, one node per step.

    query (..., T, d_k), key (..., S, d_k), value (..., S, d_v); ``mask`` broadcasts to
    (..., T, S): boolean (True = may not attend) or float (added to the scores, as
    ``masks.merge`` makes one), or None. In training, dropout with probability
    ``dropout_p`` zeroes weights after the softmax, as in PyTorch's MultiheadAttention;
    the weights returned are the ones the output was made of.
    """
    scores = query @ key.mT / math.sqrt(query.shape[-1])   # (..., T, S)
    if mask is not None:
        scores = scores + masks.additive(mask, "attention_reference: mask", query)
    weights = dropout(softmax(scores, -1), dropout_p, training)
    return weights @ value, weights                         # (..., T, d_v)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, mask: Any = None,
                                 dropout_p: float = 0.0, training: bool = True
                                 ) -> tuple[Tensor, Tensor]:
    """What ``attention_reference`` computes, as the engine's one graph node with an analytic backward.

    The same arguments and results: the weights come out of a second node that hands
    out what the first computed (tinytensor.functional.attention's ``AttentionWeights``).
    """
    mask = None if mask is None else masks.additive(mask, "scaled_dot_product_attention: mask", query)
    return attention(query, key, value, mask, dropout_p if training else 0.0)
