"""Samplers: in which order, and in which groups, a DataLoader visits the examples.

A sampler yields example indices; a batch sampler yields lists of indices, one
list per batch:

    RandomSampler         a fresh random order of all examples, every epoch
    BatchSampler          cuts any order into batches of batch_size
    BucketBatchSampler    batches of examples of similar length, in random order

Random orders come from tinytensor's CPU generator, so ``tinytensor.manual_seed``
makes the order of every epoch repeat from run to run. Given ``seed=``, a
sampler draws from a generator of its own instead, so its orders do not depend
on what else draws random numbers (initialization, dropout).
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, Sequence, Sized

from .. import backend


def _own_generator(seed: int | None) -> Any:
    return None if seed is None else backend.new_generator(seed)


def _shuffled(n: int, generator: Any) -> list[int]:
    """A random order of range(n) from ``generator``, or else from tinytensor's.

    tinytensor's generator is looked up at each call, not kept: manual_seed replaces it.
    """
    source = backend.generator(backend.CPU) if generator is None else generator
    return source.permutation(n).tolist()


class RandomSampler:
    """Every index once, in a new random order each time it is iterated (each epoch)."""

    def __init__(self, data_source: Sized, seed: int | None = None) -> None:
        self.data_source = data_source
        self.generator = _own_generator(seed)

    def __iter__(self) -> Iterator[int]:
        return iter(_shuffled(len(self.data_source), self.generator))

    def __len__(self) -> int:
        return len(self.data_source)


class BatchSampler:
    """Lists of ``batch_size`` indices from ``sampler``; the last may be shorter unless ``drop_last``."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool = False) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self) -> Iterator[list[int]]:
        batch: list[int] = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        full, rest = divmod(len(self.sampler), self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)


class BucketBatchSampler(BatchSampler):
    """Batches of examples of similar length, so little of a padded batch is padding.

    Sorting the whole dataset by length would make every epoch the same batches,
    shortest first. Instead, each epoch:

    1. shuffle all indices;
    2. cut them into pools of ``pool_size`` batches;
    3. sort each pool by length and cut it into batches (neighbours in length);
    4. shuffle the order of the batches.

    A larger pool means batches of more even length but less randomness in
    which examples meet. ``lengths[i]`` is the length of example i (for a
    translation pair, e.g. the longer side). With ``shuffle=False`` the steps
    1 and 4 are skipped.

    Batches hold ``batch_size`` examples, or, given ``max_tokens`` instead, as
    many as fit in ``max_tokens`` padded tokens (count x longest length): the way
    translation models are trained, so that a batch of short sentences has more
    of them and every step does about the same work. A single example longer
    than ``max_tokens`` is a batch of its own. Then the number of batches depends
    on the draw: ``len()`` arranges the coming epoch (which its iteration then uses).
    """

    def __init__(self, lengths: Sequence[int], batch_size: int | None = None, drop_last: bool = False,
                 shuffle: bool = True, pool_size: int = 100, seed: int | None = None,
                 max_tokens: int | None = None) -> None:
        if (batch_size is None) == (max_tokens is None):
            raise ValueError("BucketBatchSampler: give either batch_size (examples per batch) or "
                             "max_tokens (padded tokens per batch)")
        if max_tokens is not None and max_tokens < 1:
            raise ValueError(f"BucketBatchSampler: max_tokens must be a positive integer, got {max_tokens}")
        if max_tokens is not None and drop_last:
            raise ValueError("BucketBatchSampler: drop_last drops a short last batch of batch_size; "
                             "with max_tokens batches have no fixed size, so it cannot be used")
        self.lengths, self.shuffle, self.pool_size = list(lengths), shuffle, pool_size
        self.max_tokens = max_tokens
        longest = max(self.lengths, default=1)
        super().__init__(range(len(lengths)), batch_size or max(1, max_tokens // max(longest, 1)), drop_last)
        self.generator = _own_generator(seed)
        self._coming: list[list[int]] | None = None  # an epoch arranged by len() and not yet used

    def __iter__(self) -> Iterator[list[int]]:
        batches, self._coming = self._coming or self._arrange(), None
        return iter(batches)

    def __len__(self) -> int:
        if self.max_tokens is None:
            return super().__len__()
        if self._coming is None:
            self._coming = self._arrange()
        return len(self._coming)

    def _arrange(self) -> list[list[int]]:
        """One epoch's batches: shuffled, pooled, sorted within pools, cut, shuffled again."""
        n = len(self.lengths)
        order = _shuffled(n, self.generator) if self.shuffle else list(range(n))
        pool = self.pool_size * self.batch_size  # about pool_size batches
        batches = []
        for start in range(0, n, pool):
            batches += self._cut(sorted(order[start:start + pool], key=self.lengths.__getitem__))
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        if self.shuffle:
            batches = [batches[i] for i in _shuffled(len(batches), self.generator)]
        return batches

    def _cut(self, by_length: list[int]) -> list[list[int]]:
        """Consecutive batches of a length-sorted run of examples."""
        if self.max_tokens is None:
            return [by_length[i:i + self.batch_size] for i in range(0, len(by_length), self.batch_size)]
        batches: list[list[int]] = [[]]
        for index in by_length:  # sorted, so the newest example is the batch's longest
            if batches[-1] and (len(batches[-1]) + 1) * self.lengths[index] > self.max_tokens:
                batches.append([])
            batches[-1].append(index)
        return batches if batches[0] else []
