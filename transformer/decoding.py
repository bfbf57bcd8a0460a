"""Decoding: turning a trained model into a translator, one token at a time (sections 3 and 6.1).

The model gives, for a source sentence and the target written so far, scores
over the vocabulary for the next token. Writing a sentence means asking again
and again, starting from "<bos>":

    "<bos>"                  -> "I"
    "<bos> I"                -> "have"
    "<bos> I have"           -> "a"      ... until "<eos>" (or max_len tokens)

Greedy decoding takes the most likely token at every step. Beam search keeps
the ``beam_size`` most likely sentences so far instead (the paper uses 4),
extends each by every token, and keeps the best ``beam_size`` of those. A sum
of log-probabilities favours short sentences, so hypotheses are ranked by it
divided by GNMT's length penalty (Wu et al., 2016), as the paper does with
alpha = 0.6:

    score(Y) = log P(Y | X) / lp(Y),      lp(Y) = ((5 + |Y|) / 6) ** alpha

A hypothesis that has produced "<eos>" is finished: it keeps its score and its
place in the beam, continued by padding at no cost, and competes with the
others until every hypothesis of its sentence is finished. With beam_size = 1
this is exactly greedy decoding.

Both work on a whole batch at once (beam search on B * beam_size rows), under
``no_grad``, with the model in eval mode (no dropout), and with the key-value
cache of kv_cache.py unless ``use_cache=False``. Both return int64 ids (B, L) of
what was generated after "<bos>": "<eos>" included where it was produced, the
model's ``pad_id`` after it. They need a model with ``encode(src)``,
``decode(tgt_in, memory, memory_key_padding_mask, offset)`` and ``pad_id``, as
seq2seq.py's.
"""
from __future__ import annotations

import contextlib
from typing import Iterator, NamedTuple

import tinytensor as tt
from tinytensor import Tensor, nn
from tinytensor.functional import log_softmax, softmax

from . import masks
from .kv_cache import AttentionHook, Hooks, KVCache, attach


class Step(NamedTuple):
    """One step of greedy decoding, for the printout of how a sentence is written."""

    tokens: Tensor       # (B,) the token chosen at this step
    probs: Tensor        # (B, V) the model's probabilities for it, over the vocabulary
    attention: dict      # attention path -> weights of this step (B, h, 1, keys)


@tt.no_grad()
def greedy_decode(model: nn.Module, src: Tensor, *, max_len: int, bos_id: int, eos_id: int,
                  use_cache: bool = True, return_steps: bool = False) -> "Tensor | tuple[Tensor, list[Step]]":
    """The most likely token at every step: ids (B, L), L <= max_len; with ``return_steps``,
    also each step's probabilities and attention weights."""
    _check_decoding("greedy_decode", src, max_len)
    with evaluating(model):
        memory, source_padding = model.encode(src), masks.padding_mask(src, model.pad_id)
        ys = tt.full((src.shape[0], 1), bos_id, dtype=tt.int64, device=src.device)  # (B, 1)
        finished = tt.zeros(src.shape[0], dtype=tt.bool_, device=src.device)
        steps: list[Step] = []
        with _hooks(model, use_cache, return_steps) as hooks:
            for t in range(max_len):
                logits = _next_logits(model, ys, memory, source_padding, t, use_cache)  # (B, V)
                token = logits.argmax(-1).masked_fill(finished, model.pad_id)         # (B,)
                if return_steps:
                    steps.append(Step(token, softmax(logits, -1), _step_weights(hooks)))
                ys = tt.cat([ys, token.unsqueeze(1)], 1)
                finished = finished | (token == eos_id)
                if finished.all():
                    break
    return (ys[:, 1:], steps) if return_steps else ys[:, 1:]


@tt.no_grad()
def beam_search(model: nn.Module, src: Tensor, *, beam_size: int = 4, max_len: int, bos_id: int,
                eos_id: int, alpha: float = 0.6, use_cache: bool = True,
                return_all: bool = False) -> "Tensor | tuple[Tensor, Tensor]":
    """The best hypothesis of each sentence, ids (B, L); with ``return_all``, all ``beam_size``
    of them, best first, (B, beam_size, L), and their length-normalized scores (B, beam_size)."""
    _check_decoding("beam_search", src, max_len)
    if beam_size < 1:
        raise ValueError(f"beam_search: beam_size must be at least 1, got {beam_size}")
    batch, k, device = src.shape[0], beam_size, src.device
    with evaluating(model):
        rows = tt.arange(batch * k, device=device) // k             # hypothesis r belongs to sentence r // k
        memory = model.encode(src)[rows]                            # (B k, S, d_model)
        source_padding = masks.padding_mask(src, model.pad_id)[rows]
        ys = tt.full((batch * k, 1), bos_id, dtype=tt.int64, device=device)
        # Only one hypothesis per sentence at the start: the others' -inf keeps them out of the top k.
        first = tt.tensor([0.0] + [float("-inf")] * (k - 1), dtype=memory.dtype, device=device)
        scores = first.unsqueeze(0).expand(batch, k)                # (B, k): log P(Y | X) so far
        lengths = tt.zeros(batch, k, dtype=tt.int64, device=device)
        finished = tt.zeros(batch, k, dtype=tt.bool_, device=device)
        with _hooks(model, use_cache, False) as hooks:
            for t in range(max_len):
                log_p = log_softmax(_next_logits(model, ys, memory, source_padding, t, use_cache), -1)
                vocab = log_p.shape[-1]
                log_p = _continue_finished(log_p.reshape(batch, k, vocab), finished, model.pad_id)
                total = scores.unsqueeze(2) + log_p                     # (B, k, V): every continuation
                length = tt.where(finished, lengths, t + 1)             # a finished one does not grow
                ranked = total / _length_penalty(length, alpha).unsqueeze(2)
                best = ranked.reshape(batch, k * vocab).topk(k)         # the k best per sentence
                parent, token = best.indices // vocab, best.indices % vocab  # (B, k) each
                chosen = (tt.arange(batch, device=device).unsqueeze(1) * k + parent).reshape(-1)
                scores = total.reshape(batch, k * vocab).gather(1, best.indices)
                lengths, finished = length.gather(1, parent), finished.gather(1, parent) | (token == eos_id)
                ys = tt.cat([ys[chosen], token.reshape(-1, 1)], 1)
                hooks.reorder(chosen)
                if finished.all():
                    break
    final = scores / _length_penalty(lengths, alpha)                    # (B, k)
    order = final.topk(k).indices                                       # best first
    hypotheses = ys[:, 1:].reshape(batch, k, -1)
    ranked_ids = hypotheses[tt.arange(batch, device=device).unsqueeze(1), order]  # (B, k, L)
    if return_all:
        return ranked_ids, final.gather(1, order)
    best_ids = ranked_ids[:, 0]
    return best_ids[:, :_longest(best_ids, model.pad_id)]


def _check_decoding(op: str, src: Tensor, max_len: int) -> None:
    if not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"{op}: max_len must be a positive number of tokens to generate, got {max_len!r}")
    if not isinstance(src, Tensor) or src.ndim != 2:
        raise ValueError(f"{op}: src must be a (batch, length) tensor of token ids, got "
                         f"{getattr(src, 'shape', type(src).__name__)}")


def _next_logits(model: nn.Module, ys: Tensor, memory: Tensor, source_padding: Tensor, t: int,
                 use_cache: bool) -> Tensor:
    """Scores (rows, V) for the token after ``ys``; with a cache, only the newest token goes in."""
    if use_cache:
        return model.decode(ys[:, -1:], memory, source_padding, offset=t)[:, -1]
    return model.decode(ys, memory, source_padding)[:, -1]


def _continue_finished(log_p: Tensor, finished: Tensor, pad_id: int) -> Tensor:
    """A finished hypothesis may only continue with padding, at log-probability 0 (its score stays)."""
    only_padding = tt.full((log_p.shape[-1],), float("-inf"), dtype=log_p.dtype, device=log_p.device)
    only_padding = tt.where(tt.arange(log_p.shape[-1], device=log_p.device) == pad_id, 0.0, only_padding)
    return tt.where(finished.unsqueeze(2), only_padding, log_p)


def _length_penalty(length: Tensor, alpha: float) -> Tensor:
    """GNMT's lp(Y) = ((5 + |Y|) / 6) ** alpha."""
    return ((length + 5) / 6.0) ** alpha


def _longest(ids: Tensor, pad_id: int) -> int:
    """The columns up to the last one that holds something other than padding in some row."""
    used = (ids != pad_id).any(0).tolist()
    return len(used) - used[::-1].index(True) if True in used else 1  # at least one column, as greedy


def _step_weights(hooks: Hooks) -> dict:
    return {path: hook.weights for path, hook in hooks.items() if hook.weights is not None}


@contextlib.contextmanager
def _hooks(model: nn.Module, use_cache: bool, record: bool) -> Iterator[Hooks]:
    """Caches (or, uncached but recording, plain hooks) on every attention, or none at all."""
    if not use_cache and not record:
        yield Hooks()
        return
    with attach(model, KVCache if use_cache else AttentionHook) as hooks:
        yield hooks


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """Run the model in eval mode (no dropout), then put its mode back."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)
