"""The key-value cache: decoding one token at a time without recomputing the past.

A decoder generates token t from tokens 0..t-1, then token t+1 from 0..t, and
so on. Without a cache every step runs the whole prefix through every layer
again: step t costs t positions, a sentence of n tokens n^2 / 2 in all. But the
causal mask means position i never looks at anything after i, so its keys and
values, in every layer, are the same at every later step. The cache keeps them:

* self-attention: each step projects K and V for the new position only and
  appends them to the ones kept, (B, h, t, d_k) -> (B, h, t+1, d_k); the query
  is the new position alone;
* cross-attention: K and V are projections of the encoder's output, which does
  not change while decoding, so they are projected once, at the first step.

Beam search keeps B * k hypotheses and, each step, continues some of them and
drops others; ``reorder(index)`` makes row r of every cache the one of
hypothesis ``index[r]``.

Caches are attached to every MultiheadAttention below a module for the length
of a ``with`` block; ``MultiheadAttention.cache`` is the only place the layers
know about them. The same slot takes an ``AttentionHook`` that caches nothing
but keeps each attention's latest weights, for the pictures of attention
(``record_attention``); a KVCache keeps them too, one decoding step at a time.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

from tinytensor import Tensor, cat, nn

from .multihead_attention import MultiheadAttention


class AttentionHook:
    """What an attached MultiheadAttention asks for K and V, and where it leaves its weights."""

    def __init__(self) -> None:
        self.weights: Tensor | None = None  # (B, h, T, S): set by the attention at every call

    def keys_values(self, attention: MultiheadAttention, key: Tensor, value: Tensor,
                    self_attention: bool) -> tuple[Tensor, Tensor]:
        return attention.project(key, 1), attention.project(value, 2)

    def reorder(self, index: Tensor) -> None:
        """Nothing kept, nothing to reorder."""


class KVCache(AttentionHook):
    """The keys and values one MultiheadAttention has seen so far while decoding."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: Tensor | None = None    # (B, h, S, d_k)
        self.values: Tensor | None = None
        self.static = False                # cross-attention: the encoder's keys, fixed

    def keys_values(self, attention: MultiheadAttention, key: Tensor, value: Tensor,
                    self_attention: bool) -> tuple[Tensor, Tensor]:
        """K and V for this step: the kept ones, extended by the new positions (self-attention)."""
        if self_attention:
            new_keys, new_values = attention.project(key, 1), attention.project(value, 2)
            if self.keys is not None:
                new_keys, new_values = cat([self.keys, new_keys], 2), cat([self.values, new_values], 2)
            self.keys, self.values = new_keys, new_values
        elif self.keys is None:  # cross-attention: the encoder's output, projected once
            self.keys, self.values = attention.project(key, 1), attention.project(value, 2)
            self.static = True
        return self.keys, self.values

    def reorder(self, index: Tensor) -> None:
        """Row r becomes the old row ``index[r]`` (beam search continuing some hypotheses).

        Cross-attention's rows need no reordering: beam search continues a hypothesis only
        with another of the same sentence, whose rows of the encoder's keys are the same.
        """
        if self.keys is not None and not self.static:
            self.keys, self.values = self.keys[index], self.values[index]


class Hooks(dict):
    """The hook of every attention below a module, by the attention's path in it."""

    def reorder(self, index: Any) -> None:
        for hook in self.values():
            hook.reorder(index)


@contextlib.contextmanager
def attach(module: nn.Module, hook: type = KVCache) -> Iterator[Hooks]:
    """A fresh ``hook()`` in every MultiheadAttention below ``module``, for the ``with`` block."""
    attentions = {path: m for path, m in module.named_modules() if isinstance(m, MultiheadAttention)}
    if any(attention.cache is not None for attention in attentions.values()):
        raise RuntimeError("this model already has attention hooks attached (a decoding or a "
                           "recording in progress); they cannot nest, finish the outer one first")
    hooks = Hooks((path, hook()) for path in attentions)
    for path, attention in attentions.items():
        attention.cache = hooks[path]
    try:
        yield hooks
    finally:
        for attention in attentions.values():
            attention.cache = None


def kv_cache(module: nn.Module) -> "contextlib.AbstractContextManager[Hooks]":
    """Key-value caches for every attention below ``module``: ``with kv_cache(model) as caches:``."""
    return attach(module, KVCache)


def record_attention(module: nn.Module) -> "contextlib.AbstractContextManager[Hooks]":
    """Keep the weights of every attention below ``module``: after a forward pass in the
    ``with`` block, ``hooks[path].weights`` is (B, h, T, S) for each attention."""
    return attach(module, AttentionHook)
