"""Embedding: a learnable lookup table, token id -> vector.

Row i of the weight (num_embeddings x embedding_dim) is token i's vector, so
ids of shape (batch, seq) become vectors of shape (batch, seq, embedding_dim):
the "word embedding" the paper adds its positional encoding to. Looking up is
indexing, whose gradient adds into the rows that were picked (see
tinytensor/functional/embedding.py).

The ``padding_idx`` row starts at zero and gets no gradient, so padding tokens
stay the zero vector through training. Other rows start as N(0, 1), as PyTorch.
"""
from __future__ import annotations

from typing import Any

from .. import creation, functional
from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter


class Embedding(Module):
    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None) -> None:
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx {padding_idx} is outside the table of "
                                 f"{num_embeddings} rows")
            padding_idx %= num_embeddings  # -1 means the last row, as in Python indexing
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.padding_idx = padding_idx
        self.weight = Parameter(creation.zeros(num_embeddings, embedding_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    def forward(self, ids: Any) -> Tensor:
        return functional.embedding(ids, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"
