"""Dataset: a sized collection of examples, read one at a time by index.

A dataset needs only two methods, as torch.utils.data.Dataset:

    len(dataset)      how many examples
    dataset[i]        example i, e.g. a (features, label) pair

The DataLoader (dataloader.py) asks for examples by index and groups them
into batches; the dataset never needs to know about batches or shuffling.
``TensorDataset`` is the common case: whole arrays already in memory, whose
first dimension indexes the examples. ``Subset`` is a dataset seen through a
list of its indices, and ``random_split`` cuts one into random parts (train,
validation, test): each part a Subset, together every example exactly once.

An ``IterableDataset`` is a stream instead (lines of a file too big to hold):
it has ``__iter__`` and no index, so the DataLoader reads it in order and
cannot shuffle it.
"""
from __future__ import annotations

import itertools
import math
import warnings
from typing import Any, Iterator, Sequence

from ..creation import randperm
from ..generator import Generator
from ..tensor import Tensor


class Dataset:
    """Base class: subclasses write ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no __getitem__: define it to return example i")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} has no __len__: define it to return the size")


class IterableDataset(Dataset):
    """Base class of a stream of examples: subclasses write ``__iter__`` (and ``__len__`` if they know it)."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} has no __iter__: define it to yield examples")

    def __getitem__(self, index: int) -> Any:
        raise TypeError(f"{type(self).__name__} is an IterableDataset: it is read in order with iter(), "
                        f"not by index")

    def __len__(self) -> int:
        # TypeError, as for any object without a length: list(loader) then just iterates
        raise TypeError(f"{type(self).__name__} has no len(): define __len__ if the stream knows its length")


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


class Subset(Dataset):
    """``dataset`` seen through ``indices``: ``Subset(d, [3, 1])[0]`` is ``d[3]``."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset, self.indices = dataset, indices

    def __getitem__(self, index: "int | list[int]") -> Any:
        if isinstance(index, list):  # a batch of positions: the dataset is asked once, as PyTorch does
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def random_split(dataset: Any, lengths: Sequence[float], generator: Generator | None = None) -> list[Subset]:
    """Cut ``dataset`` into random, non-overlapping Subsets of the given ``lengths``, as torch's.

    ``lengths`` are counts that add up to ``len(dataset)``, or fractions that
    add up to 1: then each part gets ``floor(len(dataset) * fraction)`` and the
    examples left over go one each to the parts in turn, first part first (10
    examples in [0.33, 0.33, 0.34] make parts of 4, 3 and 3). The order comes
    from ``generator`` (a tinytensor.Generator), or else from tinytensor's own.
    """
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        lengths = _counts_from_fractions(len(dataset), lengths)
    if sum(lengths) != len(dataset):
        raise ValueError(f"random_split: the lengths {list(lengths)} add up to {sum(lengths)}, but the "
                         f"dataset has {len(dataset)} examples; give counts that add up to "
                         f"{len(dataset)} or fractions that add up to 1")
    if any(not isinstance(n, int) or n < 0 for n in lengths):
        raise ValueError(f"random_split: lengths must be counts (integers >= 0) or fractions adding up "
                         f"to 1, got {list(lengths)}")
    order = randperm(len(dataset), generator=generator).tolist()
    return [Subset(dataset, order[end - n:end]) for end, n in zip(itertools.accumulate(lengths), lengths)]


def _counts_from_fractions(size: int, fractions: Sequence[float]) -> list[int]:
    """PyTorch's rounding: floor each part, then hand the remainder out round-robin from the first."""
    counts = []
    for i, fraction in enumerate(fractions):
        if not 0 <= fraction <= 1:
            raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1, got {fraction}")
        counts.append(math.floor(size * fraction))
    for i in range(size - sum(counts)):
        counts[i % len(counts)] += 1
    for i, count in enumerate(counts):
        if count == 0:
            warnings.warn(f"random_split: length of split at index {i} is 0; this might result in an "
                          f"empty dataset", stacklevel=3)
    return counts
