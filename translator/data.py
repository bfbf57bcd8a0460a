"""From sentence pairs to the tensors a training step takes.

A pair (我有一只猫。, I have a cat.) becomes three rows of token ids:

    src     我 有 一 只 猫 。                        the encoder's input
    tgt_in  <bos> I have a cat .                    the decoder's input: the target shifted right
    tgt_out I have a cat . <eos>                    what each decoder position must predict

so position t of ``tgt_in`` (the tokens up to t) is scored against token t of
``tgt_out`` (teacher forcing). A batch pads each row with <pad> (id 0) to its
longest; the model's masks and the loss's ignore_index skip the padding.
Batches are made of pairs of similar length (``BucketBatchSampler`` with
``max_tokens``), so there is little padding to skip.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import tinytensor as tt
from tinytensor import Tensor
from tinytensor.data import BucketBatchSampler

from .tokens import Vocab, tokenize_en, tokenize_zh

Pair = tuple[str, str]


def build_vocabularies(pairs: Sequence[Pair]) -> tuple[Vocab, Vocab]:
    """The Chinese (by character) and English (by word) vocabularies of ``pairs``."""
    return (Vocab.build((tokenize_zh(zh) for zh, _ in pairs), unit="characters"),
            Vocab.build((tokenize_en(en) for _, en in pairs), unit="words"))


@dataclass
class Encoded:
    """Pairs as id lists: sources, and targets with <bos> in front and <eos> at the end."""

    pairs: list[Pair]
    sources: list[list[int]]
    targets: list[list[int]]  # <bos> ... <eos>: tgt_in is [:-1], tgt_out is [1:]

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

    def batches(self, max_tokens: int, seed: int | None, shuffle: bool = True) -> list[list[int]]:
        """One epoch's batches of pair indices, by length, about ``max_tokens`` target tokens each."""
        lengths = [max(len(s), len(t) - 1) for s, t in zip(self.sources, self.targets)]
        return list(BucketBatchSampler(lengths, max_tokens=max_tokens, shuffle=shuffle, seed=seed))

    def batch(self, indices: Sequence[int], device: str) -> tuple[Tensor, Tensor, Tensor]:
        """(src (B, S), tgt_in (B, T), tgt_out (B, T)) for the pairs ``indices``, padded."""
        src = padded([self.sources[i] for i in indices])
        tgt = padded([self.targets[i] for i in indices])
        src, tgt = tt.tensor(src, device=device), tt.tensor(tgt, device=device)
        return src, tgt[:, :-1], tgt[:, 1:]


def padded(rows: list[list[int]]) -> list[list[int]]:
    """Id lists padded with <pad> to the longest of them (a batch's rows)."""
    longest = max(len(row) for row in rows)
    return [row + [Vocab.pad_id] * (longest - len(row)) for row in rows]
