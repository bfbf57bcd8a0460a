"""Embedding lookup and one-hot encoding.

``embedding(ids, W)`` picks rows of the table W: row ``W[i]`` is token i's
vector (a Transformer's input is word embedding + positional encoding). It is
indexing, so the backward scatter-adds: a token that appears three times in
the batch collects three gradients in its row. The ``padding_idx`` row gets
no gradient at all, so padding never learns.
"""
from __future__ import annotations

from typing import Any

from .. import backend
from ..autograd.function import Function, Value, mask_like
from ..ops.indexing import IndexAdd, check_range, integer_ids
from ..tensor import Tensor


class Embedding(Function):
    keeps_inputs = False

    def __init__(self, ids: Any, padding_idx: int | None) -> None:
        self.ids, self.padding_idx = ids, padding_idx

    def forward(self, weight: Any) -> Any:
        return weight[self.ids]

    def backward(self, grad: Value) -> tuple[Value, ...]:
        if self.padding_idx is not None:
            grad = grad * mask_like((self.ids != self.padding_idx)[..., None], grad)
        return (IndexAdd(self.inputs[0].shape, self.ids)(grad),)


def embedding(ids: Any, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """Rows of ``weight`` (num_embeddings x dim) for each id; shape ids.shape + (dim,)."""
    ids = integer_ids("embedding", ids, weight.device)
    check_range("embedding", ids, weight.shape[0],
                f"index {{}} is out of range for a table of {weight.shape[0]} rows")
    return Embedding(ids, padding_idx)(weight)


def one_hot(ids: Any, num_classes: int = -1) -> Tensor:
    """int64 tensor of shape ids.shape + (num_classes,) with a 1 at each id (no gradient)."""
    ids = integer_ids("one_hot", ids, ids.device if isinstance(ids, Tensor) else "cpu")
    if num_classes < 0:
        num_classes = int(backend.to_host(ids.max())) + 1  # a read from the device, as in PyTorch
    check_range("one_hot", ids, num_classes, f"class {{}} is out of range for {num_classes} classes")
    device = backend.device_of(ids)
    classes = backend.arange(0, num_classes, 1, backend.int64, device)
    with backend.on_device(device):
        return Tensor._make((ids[..., None] == classes).astype(backend.int64), None)
