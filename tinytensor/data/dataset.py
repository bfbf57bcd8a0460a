"""Dataset: a sized collection of examples, read one at a time by index.

A dataset needs only two methods, as torch.utils.data.Dataset:

    len(dataset)      how many examples
    dataset[i]        example i, e.g. a (features, label) pair

The DataLoader (dataloader.py) asks for examples by index and groups them
into batches; the dataset never needs to know about batches or shuffling.
``TensorDataset`` is the common case: whole arrays already in memory, whose
first dimension indexes the examples.
"""
from __future__ import annotations

from typing import Any

from ..tensor import Tensor


class Dataset:
    """Base class: subclasses write ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no __getitem__: define it to return example i")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} has no __len__: define it to return the size")


class TensorDataset(Dataset):
    """Example i is ``(t[i] for t in tensors)``: ``TensorDataset(images, labels)[i] == (image_i, label_i)``."""

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        sizes = {len(t) for t in tensors}
        if len(sizes) > 1:
            raise ValueError(f"TensorDataset: the tensors must have the same first dimension (one "
                             f"row per example), got {[tuple(t.shape) for t in tensors]}")
        self.tensors = tensors

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0])
