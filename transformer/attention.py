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
graph node with an analytic backward: an optimisation, because a Transformer step
runs attention for every layer and head, and composed from small ops it is a dozen
nodes and arrays each time. With G the gradient of O:

    dV = P^T G        dP = G V^T        dS = P * (dP - rowsum(dP * P))   (softmax's backward)
    dQ = dS K / sqrt(d_k)               dK = dS^T Q / sqrt(d_k)

The tests hold the two equal, values and gradients. Asked for second derivatives,
the fused op's backward recomputes P from Q and K with the ordinary ops.
"""
from __future__ import annotations

import math
from typing import Any

from tinytensor import Tensor
from tinytensor.autograd.function import Function, Value
from tinytensor.functional import dropout, softmax
from tinytensor.functional.activation import softmax_array
from tinytensor.functional.dropout import KeepMask

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
    """What ``attention_reference`` computes, as one graph node with an analytic backward.

    The same arguments and results; the weights come out of a second node that hands
    out what the first computed (``AttentionWeights``).

    Not PyTorch's ``F.scaled_dot_product_attention``: this also returns the weights, and its
    mask is additive (see masks.py for why the boolean conventions differ).
    """
    _check_shapes(query, key, value)
    mask = None if mask is None else masks.additive(mask, "scaled_dot_product_attention: mask", query)
    drop = None
    if training and dropout_p > 0.0:
        drop = KeepMask(query.shape[:-1] + key.shape[-2:-1], dropout_p, query.dtype, query.device)
    attention = Attention(mask, drop)
    output = attention(query, key, value)
    return output, AttentionWeights(attention)(query, key)


class _AttentionNode(Function):
    """What the two nodes share: the constants, and the backward from the weights to Q and K.

    ``saved`` is (P, the weights O used): P = softmax(scores), and P times dropout's
    scaled mask when there is dropout (else P itself).
    """

    def __init__(self, mask: Any, drop: Any) -> None:
        self.mask, self.drop = mask, drop  # constants: the additive mask (a Tensor), dropout's KeepMask

    def softmax_weights(self) -> Value:
        """P: the kept array, or recomputed from Q and K as a Tensor under create_graph."""
        return self.saved_or_recomputed(self.saved[0], self._recompute_weights)

    def _recompute_weights(self) -> Tensor:
        q, k = self.inputs[:2]
        scores = q @ k.mT / math.sqrt(q.shape[-1])
        return softmax(scores if self.mask is None else scores + self.mask, -1)

    def dropped(self, t: Value) -> Value:
        """t times dropout's scaled mask (dropout and its backward are the same product)."""
        return t if self.drop is None else self.drop.apply(t)

    def scores_backward(self, grad_used: Value, weights: Value) -> tuple[Value, Value]:
        """dL/dQ and dL/dK from dL/d(the weights O used): back through dropout, softmax and Q K^T."""
        q, k = self.operands[:2]
        grad_weights = self.dropped(grad_used)
        grad_scores = weights * (grad_weights - (grad_weights * weights).sum(-1, keepdims=True))
        grad_scores = grad_scores * (1.0 / math.sqrt(q.shape[-1]))  # (..., T, S)
        return (grad_scores @ k if self.needs_grad(0) else None,
                grad_scores.swapaxes(-1, -2) @ q if self.needs_grad(1) else None)


class Attention(_AttentionNode):
    """O = dropout(softmax(Q K^T / sqrt(d_k) + mask)) V."""

    def forward(self, q: Any, k: Any, v: Any) -> Any:
        scores = q @ k.swapaxes(-1, -2)                     # (..., T, S)
        scores *= 1.0 / math.sqrt(q.shape[-1])
        if self.mask is not None:
            scores += self.mask.array
        weights = softmax_array(scores, -1)                 # an all -inf row gives zeros
        used = weights if self.drop is None else self.drop.apply(weights)
        self.saved = (weights, used)  # for backward and for the weights node; release() frees it
        return used @ v                                     # (..., T, d_v)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        v = self.operands[2]
        weights = self.softmax_weights()
        used = self.saved_or_recomputed(self.saved[1], lambda: self.dropped(weights))  # P times dropout
        grad_v = used.swapaxes(-1, -2) @ grad if self.needs_grad(2) else None
        return (*self.scores_backward(grad @ v.swapaxes(-1, -2), weights), grad_v)


class AttentionWeights(_AttentionNode):
    """The weights an ``Attention`` node computed, as a differentiable output of their own.

    Its forward hands out the array the attention already made (no second softmax);
    its backward is the shared ``scores_backward``.
    """

    def __init__(self, attention: Attention) -> None:
        super().__init__(attention.mask, attention.drop)
        self.saved = attention.saved  # its own reference: either node may be freed first

    name = "attention weights"  # as the pictures label it

    def forward(self, q: Any, k: Any) -> Any:
        return self.saved[1]

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return self.scores_backward(grad, self.softmax_weights())


def _check_shapes(query: Tensor, key: Tensor, value: Tensor) -> None:
    if query.ndim < 2 or key.ndim != query.ndim or value.ndim != query.ndim:
        raise ValueError(f"scaled_dot_product_attention: query, key and value need the same number "
                         f"(>= 2) of dimensions, got shapes {query.shape}, {key.shape}, {value.shape}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: query (..., T, d_k) and key (..., S, d_k) "
                         f"must share d_k, and key and value (..., S, d_v) must share S; got "
                         f"shapes {query.shape}, {key.shape}, {value.shape}")
