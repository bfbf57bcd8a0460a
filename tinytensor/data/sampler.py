"""Samplers: in which order, and in which groups, a DataLoader visits the examples.

A sampler yields example indices; a batch sampler yields lists of indices, one
list per batch (as torch.utils.data):

    SequentialSampler     0, 1, 2, ..., n-1
    RandomSampler         a fresh random order of all examples every epoch; or, with
                          ``replacement=True``, ``num_samples`` independent draws
    SubsetRandomSampler   the given indices, in a fresh random order every epoch
    BatchSampler          cuts any order into batches of batch_size
    BucketBatchSampler    batches of examples of similar length, in random order

Random orders come from tinytensor's CPU generator, so ``tinytensor.manual_seed``
makes the order of every epoch repeat from run to run. Given ``generator=`` (a
tinytensor.Generator, as in PyTorch) or tinytensor's own shorthand ``seed=``, a
sampler draws from that stream instead, so its orders do not depend on what
else draws random numbers (initialization, dropout).
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator, Sequence, Sized

from ..creation import randint, randperm
from ..generator import Generator


def _own_generator(generator: Generator | None, seed: int | None, owner: str) -> Generator | None:
    """The stream a sampler draws from: ``generator``, one made from ``seed``, or None (tinytensor's)."""
    if generator is not None and seed is not None:
        raise ValueError(f"{owner}: give generator= (PyTorch's way) or seed= (a shorthand for "
                         f"generator=tinytensor.Generator().manual_seed(seed)), not both")
    return Generator().manual_seed(seed) if seed is not None else generator


def _shuffled(n: int, generator: Generator | None) -> list[int]:
    """A random order of range(n) from ``generator``, or else from tinytensor's CPU generator.

    tinytensor's generator is looked up at each call, not kept: manual_seed replaces it.
    """
    return randperm(n, generator=generator).tolist()


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def check_batching(batch_size: Any, drop_last: Any) -> None:
    """PyTorch's rule: batch_size a positive int (2.5, 0, True are refused), drop_last a bool."""
    if not _is_positive_int(batch_size):
        raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size!r}")
    if not isinstance(drop_last, bool):
        raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last!r}")


class Sampler:
    """Base class: subclasses write ``__iter__`` (indices, or lists of them) and usually ``__len__``."""

    def __init__(self, data_source: Sized | None = None) -> None:
        pass  # PyTorch's signature; a sampler keeps what it needs itself

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} has no __iter__: define it to yield indices")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1: the order a DataLoader without shuffle uses."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A new random order each time it is iterated (each epoch), as torch's RandomSampler.

    Without replacement every index comes once per pass; ``num_samples`` larger
    than the dataset makes several passes, each its own order, the last one cut
    short. With ``replacement=True`` it makes ``num_samples`` independent draws
    (default: the dataset's size), so an index may come twice and another not at all.
    """

    def __init__(self, data_source: Sized, replacement: bool = False, num_samples: int | None = None,
                 generator: Generator | None = None, *, seed: int | None = None) -> None:
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={replacement!r}")
        self.data_source, self.replacement, self._num_samples = data_source, replacement, num_samples
        if not _is_positive_int(self.num_samples):  # an empty dataset too, as PyTorch
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples!r}")
        self.generator = _own_generator(generator, seed, "RandomSampler")

    @property
    def num_samples(self) -> int:
        """How many indices one pass yields; read each epoch, as the dataset may have grown."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n, wanted = len(self.data_source), self.num_samples
        if self.replacement:  # in blocks of 32, as PyTorch: num_samples=10**10 is an endless stream
            for _ in range(wanted // 32):
                yield from randint(0, n, (32,), generator=self.generator).tolist()
            yield from randint(0, n, (wanted % 32,), generator=self.generator).tolist()
            return
        for _ in range(wanted // n):
            yield from _shuffled(n, self.generator)
        if wanted % n:  # no draw for an empty piece: an epoch ends without touching the generator
            yield from _shuffled(n, self.generator)[:wanted % n]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a new random order every epoch (e.g. a validation split of one dataset)."""

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices, self.generator = indices, generator

    def __iter__(self) -> Iterator[int]:
        return (self.indices[i] for i in _shuffled(len(self.indices), self.generator))

    def __len__(self) -> int:
        return len(self.indices)


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler``; the last may be shorter unless ``drop_last``."""

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool = False) -> None:
        check_batching(batch_size, drop_last)
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
        self.generator = _own_generator(None, seed, "BucketBatchSampler")
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
