"""From sentence pairs to the tensors a training step takes.

A pair (我有一只猫。, I have a cat.) becomes three rows of token ids:

    src     我 有 一 只 猫 。                        the encoder's input
    tgt_in  <bos> I have a cat .                    the decoder's input: the target shifted right
    tgt_out I have a cat . <eos>                    what each decoder position must predict

so position t of ``tgt_in`` (the tokens up to t) is scored against token t of
``tgt_out`` (teacher forcing). A batch pads rows with <pad> (id 0); the model's
masks and the loss's ignore_index skip the padding. Batches are made of pairs of
similar length, about ``max_tokens`` padded target tokens each, in one of two ways:

* each batch its own shape (``BucketBatchSampler``): rows padded to the batch's
  longest pair, as many pairs as fit. The least padding, and a new shape almost
  every batch (64 to 69 an epoch of the toy corpus at 512 tokens);
* a few fixed shapes (``fixed_shape_batches``): a pair whose longer side has n
  tokens goes to the bucket of length ``bucket_length(n)`` (6, 8, ..., 16, 20,
  24, ...), and every batch of that bucket is ``max_tokens // length`` rows of
  that length; the last one of each bucket is filled up with filler rows (<eos>
  in the source, nothing to predict in the target), which the loss ignores.
  Seven shapes an epoch of the toy corpus, and the id tensors of each shape are
  allocated once and refilled (``Encoded.batch``). A training step captured as
  a CUDA graph replays on exactly that: one graph per shape, reading buffers
  whose addresses never change (docs/gpu.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

import tinytensor as tt
from tinytensor import Tensor
from tinytensor.data import BucketBatchSampler

from .tokens import Vocab, tokenize_en, tokenize_zh

Pair = tuple[str, str]


def build_vocabularies(pairs: Sequence[Pair]) -> tuple[Vocab, Vocab]:
    """The Chinese (by character) and English (by word) vocabularies of ``pairs``."""
    return (Vocab.build((tokenize_zh(zh) for zh, _ in pairs), unit="characters"),
            Vocab.build((tokenize_en(en) for _, en in pairs), unit="words"))


def bucket_length(n: int) -> int:
    """The fixed length a row of n tokens is padded to: n rounded up to a multiple of 2 up to 16, of 4
    up to 32, of 8 up to 64, ... A few shapes cover every length, and a row of 5 tokens or more is less
    than a fifth padding."""
    step = max(2, 1 << max(0, (n - 1).bit_length() - 3))
    return -(-n // step) * step


class Batch(list):
    """The pair indices of a batch of fixed shape, and that shape: ``rows`` pairs of ``length`` tokens
    (the rows beyond the pairs are filler)."""

    def __init__(self, indices: Iterable[int], rows: int, length: int) -> None:
        super().__init__(indices)
        self.rows, self.length = rows, length


def fixed_shape_batches(lengths: Sequence[int], max_tokens: int, seed: int | None,
                        shuffle: bool = True) -> list[Batch]:
    """One epoch's batches of ``lengths``'s indices in a few fixed shapes (the module says how):
    shuffled within each bucket and then in their order, unless ``shuffle`` is False."""
    generator = None if seed is None else tt.Generator().manual_seed(seed)
    order = tt.randperm(len(lengths), generator=generator).tolist() if shuffle else range(len(lengths))
    buckets: dict[int, list[int]] = {}
    for i in order:
        buckets.setdefault(bucket_length(lengths[i]), []).append(i)
    batches = []
    for length, indices in sorted(buckets.items()):
        rows = max(1, max_tokens // length)
        batches += [Batch(indices[i:i + rows], rows, length) for i in range(0, len(indices), rows)]
    if shuffle:
        batches = [batches[i] for i in tt.randperm(len(batches), generator=generator).tolist()]
    return batches


@dataclass
class Encoded:
    """Pairs as id lists: sources, and targets with <bos> in front and <eos> at the end."""

    pairs: list[Pair]
    sources: list[list[int]]
    targets: list[list[int]]  # <bos> ... <eos>: tgt_in is [:-1], tgt_out is [1:]
    buffers: dict = field(default_factory=dict, repr=False)  # (rows, length, device) -> (src, tgt)

    @classmethod
    def of(cls, pairs: Sequence[Pair], src_vocab: Vocab, tgt_vocab: Vocab) -> "Encoded":
        sources = [src_vocab.encode(tokenize_zh(zh)) for zh, _ in pairs]
        targets = [[tgt_vocab.bos_id] + tgt_vocab.encode(tokenize_en(en)) + [tgt_vocab.eos_id]
                   for _, en in pairs]
        return cls(list(pairs), sources, targets)

    def __len__(self) -> int:
        return len(self.pairs)

    def tokens(self, indices: Sequence[int]) -> int:
        """How many tokens the decoder predicts for the pairs ``indices``: tgt_out's, padding aside."""
        return sum(len(self.targets[i]) - 1 for i in indices)

    def batches(self, max_tokens: int, seed: int | None, shuffle: bool = True,
                fixed_shapes: bool = False) -> list[list[int]]:
        """One epoch's batches of pair indices, by length, about ``max_tokens`` target tokens each;
        ``fixed_shapes``: in a few fixed shapes (``Batch``es)."""
        lengths = [max(len(s), len(t) - 1) for s, t in zip(self.sources, self.targets)]
        if fixed_shapes:
            return fixed_shape_batches(lengths, max_tokens, seed, shuffle)
        return list(BucketBatchSampler(lengths, max_tokens=max_tokens, shuffle=shuffle, seed=seed))

    def batch(self, indices: Sequence[int], device: str) -> tuple[Tensor, Tensor, Tensor]:
        """(src (B, S), tgt_in (B, T), tgt_out (B, T)) for the pairs ``indices``, padded to the longest.

        A ``Batch`` is padded to its fixed shape instead, in the tensors kept for that shape:
        the next batch of the same shape refills them (clone what must outlive the step).
        """
        sources, targets = [self.sources[i] for i in indices], [self.targets[i] for i in indices]
        if not isinstance(indices, Batch):
            src, tgt = tt.tensor(padded(sources), device=device), tt.tensor(padded(targets), device=device)
            return src, tgt[:, :-1], tgt[:, 1:]
        filler = indices.rows - len(indices)  # rows of <eos> with nothing to predict: the loss ignores them
        sources, targets = sources + [[Vocab.eos_id]] * filler, targets + [[Vocab.bos_id]] * filler
        key = (indices.rows, indices.length, str(device))
        if key not in self.buffers:
            self.buffers[key] = tuple(tt.zeros(indices.rows, n, dtype=tt.int64, device=device)
                                      for n in (indices.length, indices.length + 1))
        src, tgt = self.buffers[key]
        src.copy_(padded(sources, indices.length))      # one host-to-device copy each, into the same memory
        tgt.copy_(padded(targets, indices.length + 1))
        return src, tgt[:, :-1], tgt[:, 1:]


def padded(rows: list[list[int]], length: int | None = None) -> list[list[int]]:
    """Id lists padded with <pad> to ``length`` (default: the longest of them)."""
    length = max(len(row) for row in rows) if length is None else length
    return [row + [Vocab.pad_id] * (length - len(row)) for row in rows]
