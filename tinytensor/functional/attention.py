"""Scaled dot-product attention as one graph node: softmax(Q K^T * scale + mask) V (paper, section 3.2.1).

With scale = 1 / sqrt(d_k) unless given, T queries and S keys:

    scores  S = Q K^T * scale + mask       (..., T, S)
    weights P = softmax(S) over the keys    each row sums to 1
    output  O = dropout(P) V                (..., T, d_v)

The formula as written, one graph node per step, is transformer/attention.py's
``attention_reference``: read it first. Here it is one node with an analytic
backward, an optimisation: a Transformer step runs attention in every layer, and
composed from small ops it is a dozen nodes and arrays each time. With G the
gradient of O and D dropout's scaled mask (D = 1 without dropout):

    dV = (P D)^T G      dP = D (G V^T)      dS = P * (dP - rowsum(dP * P))   (softmax's backward)
    dQ = dS K * scale   dK = dS^T Q * scale

Leading (batch, head) dimensions broadcast, so each gradient is summed back to
its input's shape. Asked for second derivatives, the backward recomputes P from
Q and K with the ordinary ops. The tests hold the node equal to the reference,
values and gradients, and check both against finite differences.

The mask is added to the scores: -inf forbids a key, 0 allows it, anything else
biases. A query whose every key is masked has no distribution at all; the rule
is that its weights, its output and every gradient through it are zero, never
NaN (PyTorch's CPU kernel gives zeros too; some of its other paths give NaN,
pytorch issue 41508).

Two doors to the one node:

* ``scaled_dot_product_attention``: PyTorch's function, with its conventions: a
  boolean ``attn_mask`` is True where a query MAY attend, ``is_causal`` builds
  that mask, ``enable_gqa`` shares each key/value head among several query
  heads, and ``dropout_p`` applies whenever it is above 0 (the function has no
  training flag: models pass ``dropout_p if self.training else 0``). It returns
  the output alone.
* ``attention``: what the model (transformer/) calls, with the mask already
  additive, returning the output and, when asked, the weights (a second node,
  ``AttentionWeights``, hands out the array the first computed).
"""
from __future__ import annotations

import math
from typing import Any

from .. import creation
from ..autograd.function import Function, Value
from ..ops.broadcast import broadcast_to, broadcasts_to, sum_to
from ..tensor import Tensor
from .activation import softmax, softmax_array
from .dropout import KeepMask


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Any = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(Q K^T * scale + mask) V with PyTorch's arguments and meanings (torch.nn.functional).

    query (..., T, E), key (..., S, E), value (..., S, E_v) -> (..., T, E_v). ``attn_mask``
    broadcasts to (..., T, S): boolean, True where the query may attend, or float, added to
    the scores. ``is_causal=True`` lets query i attend to keys 0..i (no attn_mask then).
    ``scale`` defaults to 1 / sqrt(E). ``enable_gqa=True`` lets key and value have fewer
    heads (dimension -3) than query, each shared by query.shape[-3] / key.shape[-3] heads.
    """
    _check_shapes(query, key, value)
    if enable_gqa:
        key, value = _shared_heads(key, query, "key"), _shared_heads(value, query, "value")
    mask = _additive_mask(attn_mask, is_causal, query, key)
    return attention(query, key, value, mask, dropout_p, scale, need_weights=False)[0]


def attention(query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None = None, dropout_p: float = 0.0,
              scale: float | None = None, need_weights: bool = True) -> tuple[Tensor, Tensor | None]:
    """(output, weights or None) of dropout(softmax(Q K^T * scale + mask)) V, as one node.

    ``mask``: a float Tensor added to the scores (broadcasting to (..., T, S)), or None.
    Dropout with probability ``dropout_p`` zeroes weights after the softmax (pass 0 when
    not training); the weights returned are the ones the output was made of.
    """
    _check_shapes(query, key, value)
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be a probability in [0, 1], "
                         f"got {dropout_p}")
    scores_shape = _scores_shape(query, key, value)
    if mask is not None:
        _check_mask(mask, scores_shape)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    drop = KeepMask(scores_shape, dropout_p, query.dtype, query.device) if dropout_p > 0.0 else None
    node = Attention(mask, drop, scale)
    output = node(query, key, value)
    return output, AttentionWeights(node)(query, key) if need_weights else None


class _AttentionNode(Function):
    """What the two nodes share: the constants, and the backward from the weights to Q and K.

    ``saved`` is (P, the weights O used): P = softmax(scores), and P times dropout's
    scaled mask when there is dropout (else P itself).
    """

    def __init__(self, mask: Tensor | None, drop: KeepMask | None, scale: float) -> None:
        self.mask, self.drop, self.scale = mask, drop, scale  # constants: no gradient flows into them

    def softmax_weights(self) -> Value:
        """P: the kept array, or recomputed from Q and K as a Tensor under create_graph."""
        return self.saved_or_recomputed(self.saved[0], self._recompute_weights)

    def _recompute_weights(self) -> Tensor:
        q, k = self.inputs[:2]
        scores = q @ k.mT * self.scale
        return softmax(scores if self.mask is None else scores + self.mask, -1)

    def dropped(self, t: Value) -> Value:
        """t times dropout's scaled mask (dropout and its backward are the same product)."""
        return t if self.drop is None else self.drop.apply(t)

    def scores_backward(self, grad_used: Value, weights: Value) -> tuple[Value, Value]:
        """dL/dQ and dL/dK from dL/d(the weights O used): back through dropout, softmax and Q K^T."""
        q, k = self.operands[:2]
        grad_weights = self.dropped(grad_used)
        grad_scores = weights * (grad_weights - (grad_weights * weights).sum(-1, keepdims=True))
        grad_scores = grad_scores * self.scale  # (..., T, S)
        return (sum_to(grad_scores @ k, q.shape) if self.needs_grad(0) else None,
                sum_to(grad_scores.swapaxes(-1, -2) @ q, k.shape) if self.needs_grad(1) else None)


class Attention(_AttentionNode):
    """O = dropout(softmax(Q K^T * scale + mask)) V."""

    def forward(self, q: Any, k: Any, v: Any) -> Any:
        scores = q @ k.swapaxes(-1, -2)                     # (..., T, S)
        scores *= self.scale
        if self.mask is not None:
            scores += self.mask.array
        weights = softmax_array(scores, -1)                 # an all -inf row gives zeros
        used = self.dropped(weights)
        self.saved = (weights, used)  # for backward and for the weights node; release() frees it
        return used @ v                                     # (..., T, d_v)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        v = self.operands[2]
        weights = self.softmax_weights()
        used = self.saved_or_recomputed(self.saved[1], lambda: self.dropped(weights))  # P times dropout
        grad_v = sum_to(used.swapaxes(-1, -2) @ grad, v.shape) if self.needs_grad(2) else None
        return (*self.scores_backward(grad @ v.swapaxes(-1, -2), weights), grad_v)


class AttentionWeights(_AttentionNode):
    """The weights an ``Attention`` node computed, as a differentiable output of their own.

    Its forward hands out the array the attention already made (no second softmax);
    its backward is the shared ``scores_backward``.
    """

    name = "attention weights"  # as the pictures label it

    def __init__(self, attention: Attention) -> None:
        super().__init__(attention.mask, attention.drop, attention.scale)
        self.saved = attention.saved  # its own reference: either node may be freed first

    def forward(self, q: Any, k: Any) -> Any:
        return self.saved[1]

    def backward(self, grad: Value) -> tuple[Value, ...]:
        return self.scores_backward(grad, self.softmax_weights())


# ----------------------------------------------------------------------------
# PyTorch's conventions, turned into the node's: the additive mask, the shared heads
# ----------------------------------------------------------------------------
def _additive_mask(attn_mask: Any, is_causal: bool, query: Tensor, key: Tensor) -> Tensor | None:
    """attn_mask (True = may attend, or float) or the causal mask, as a float Tensor to add, or None."""
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: pass attn_mask or is_causal=True, not both "
                             "(is_causal=True is the mask letting query i attend to keys 0..i)")
        attn_mask = creation.ones(query.shape[-2], key.shape[-2], dtype="bool", device=query.device).tril()
    if attn_mask is None:
        return None
    if not isinstance(attn_mask, Tensor):
        raise TypeError(f"scaled_dot_product_attention: attn_mask must be a Tensor (bool: True = may "
                        f"attend; or float: added to the scores), got {type(attn_mask).__name__}")
    if attn_mask.device != query.device:
        raise RuntimeError(f"scaled_dot_product_attention: attn_mask is on {attn_mask.device} but the "
                           f"query on {query.device}; move it with .to('{query.device}')")
    if attn_mask.dtype == "bool":
        zeros = creation.zeros(attn_mask.shape, dtype=query.dtype, device=query.device)
        return zeros.masked_fill(~attn_mask, float("-inf"))
    if attn_mask.dtype.kind != "f":
        raise TypeError(f"scaled_dot_product_attention: attn_mask must be bool (True = may attend) or "
                        f"floating (added to the scores), got {attn_mask.dtype}")
    return attn_mask.to(query.dtype)


def _shared_heads(x: Tensor, query: Tensor, name: str) -> Tensor:
    """Grouped-query attention: key or value (..., H_kv, S, E) -> (..., H_q, S, E), each head repeated."""
    if query.ndim < 3 or x.shape[-3] == 0 or query.shape[-3] % x.shape[-3]:
        raise ValueError(f"scaled_dot_product_attention: with enable_gqa=True, the {name}'s heads "
                         f"(dimension -3) must divide the query's; got query {query.shape} and "
                         f"{name} {x.shape}")
    group = query.shape[-3] // x.shape[-3]
    if group == 1:
        return x
    *lead, heads, length, width = x.shape
    repeated = broadcast_to(x.unsqueeze(-3), (*lead, heads, group, length, width))  # (..., H_kv, g, S, E)
    return repeated.reshape(*lead, heads * group, length, width)                    # (..., H_q, S, E)


# ----------------------------------------------------------------------------
# Shapes: clear errors before any array is made
# ----------------------------------------------------------------------------
def _check_shapes(query: Tensor, key: Tensor, value: Tensor) -> None:
    if query.ndim < 2 or key.ndim != query.ndim or value.ndim != query.ndim:
        raise ValueError(f"scaled_dot_product_attention: query, key and value need the same number "
                         f"(>= 2) of dimensions, got shapes {query.shape}, {key.shape}, {value.shape}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: query (..., T, d_k) and key (..., S, d_k) "
                         f"must share d_k, and key and value (..., S, d_v) must share S; got "
                         f"shapes {query.shape}, {key.shape}, {value.shape}")


def _scores_shape(query: Tensor, key: Tensor, value: Tensor) -> tuple[int, ...]:
    """(..., T, S): the leading dimensions of Q, K and V broadcast together."""
    lead = []
    for sizes in zip(query.shape[:-2], key.shape[:-2], value.shape[:-2]):
        if len(set(sizes) - {1}) > 1:
            raise ValueError(f"scaled_dot_product_attention: the leading (batch, head) dimensions of "
                             f"query, key and value must be equal or 1; got shapes {query.shape}, "
                             f"{key.shape}, {value.shape}")
        lead.append(max(sizes))
    return (*lead, query.shape[-2], key.shape[-2])


def _check_mask(mask: Tensor, scores: tuple[int, ...]) -> None:
    if not broadcasts_to(mask.shape, scores):
        raise ValueError(f"scaled_dot_product_attention: the mask's shape {mask.shape} does not "
                         f"broadcast to the scores' shape {scores} (..., queries, keys)")
    if mask.requires_grad:
        raise ValueError("scaled_dot_product_attention: a mask that requires grad is not supported "
                         "(the fused op adds it as a constant); to learn a bias, add it to the scores "
                         "yourself, softmax(q @ k.mT * scale + bias, -1) @ v, else pass mask.detach()")
