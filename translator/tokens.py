"""Tokens: Chinese by character, English by word, and the vocabularies that number them.

    tokenize_zh("我有一只猫。")        ['我', '有', '一', '只', '猫', '。']
    tokenize_en("I have a cat.")       ['I', 'have', 'a', 'cat', '.']
    detokenize_en([...])               'I have a cat.'
    vocab = Vocab.build(lists)         <pad> <bos> <eos> <unk>, then every token, sorted
    vocab.encode(tokens) / decode(ids)

Chinese is split into characters, not words. The toy grammar's whole Chinese side is a few
dozen characters, so the vocabulary is small and no sentence of the grammar has a character
outside it. And the model is not told where words end: it must learn from context that 面包
(bread) is not 包 (bag) and 自行车 (bicycle) is not 车 (car), which is part of what translating
Chinese takes. Spaces carry nothing in Chinese and are dropped.

English is split into words at the spaces, and a punctuation mark ending a word (the final
"." or "?", the comma of "a cat, a dog and a bird") becomes a token of its own, so that "cat" is
one token wherever it stands. Tokens keep their letters as written, capitals included ("The",
"I", "Xiaoming"): the model writes the capital itself, and detokenize_en gives back the
grammar's sentence exactly, with nothing to restore.
"""
from __future__ import annotations

import warnings
from typing import Iterable, Sequence

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
PUNCTUATION = (",", ".", "?")


def tokenize_zh(text: str) -> list[str]:
    return [char for char in text if not char.isspace()]


def tokenize_en(text: str) -> list[str]:
    tokens = []
    for word in text.split():
        tokens += [word[:-1], word[-1]] if len(word) > 1 and word[-1] in PUNCTUATION else [word]
    return tokens


def detokenize_en(tokens: Sequence[str]) -> str:
    """Words joined by spaces, each punctuation mark attached to the word before it."""
    text = ""
    for token in tokens:
        text += token if token in PUNCTUATION or not text else " " + token
    return text


class Vocab:
    """Tokens <-> ids: <pad> <bos> <eos> <unk> are ids 0 1 2 3, the other tokens follow.

    ``unit`` names the tokens in the warning about unknown ones ("characters", "words").
    """
    pad_id, bos_id, eos_id, unk_id = range(4)

    def __init__(self, tokens: Sequence[str], unit: str = "tokens") -> None:
        if tuple(tokens[:4]) != SPECIALS:
            raise ValueError(f"a vocabulary starts with {', '.join(SPECIALS)}, got {list(tokens[:4])}")
        self._tokens = list(tokens)
        self._ids = {token: i for i, token in enumerate(self._tokens)}
        if len(self._ids) < len(self._tokens):
            raise ValueError("a vocabulary lists each token once")
        self.unit = unit

    @classmethod
    def build(cls, token_lists: Iterable[Iterable[str]], unit: str = "tokens") -> Vocab:
        """The specials, then every token of ``token_lists`` once, sorted (the same every run)."""
        tokens = {token for tokens in token_lists for token in tokens}
        return cls(SPECIALS + tuple(sorted(tokens - set(SPECIALS))), unit)

    @classmethod
    def from_list(cls, tokens: Sequence[str], unit: str = "tokens") -> Vocab:
        """The vocabulary that to_list() wrote (into a checkpoint, say)."""
        return cls(tokens, unit)

    def to_list(self) -> list[str]:
        """Every token, in id order: plain data to save."""
        return list(self._tokens)

    def __len__(self) -> int:
        return len(self._tokens)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        """The ids of ``tokens``; a token not in the vocabulary becomes <unk>, with a warning."""
        unknown = dict.fromkeys(token for token in tokens if token not in self._ids)
        if unknown:
            warnings.warn(f"unknown {self.unit} replaced by <unk>: {', '.join(map(repr, unknown))}",
                          stacklevel=2)
        return [self._ids.get(token, self.unk_id) for token in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The tokens of ``ids`` up to the first <eos>, without <pad> and <bos>."""
        tokens = []
        for i in map(int, ids):
            if i == self.eos_id:
                break
            if not 0 <= i < len(self._tokens):
                raise ValueError(f"id {i} is outside the vocabulary of {len(self._tokens)} tokens")
            if i not in (self.pad_id, self.bos_id):
                tokens.append(self._tokens[i])
        return tokens
