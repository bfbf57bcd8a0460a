"""DataLoader: iterate over a dataset in batches, as torch.utils.data.DataLoader.

    loader = DataLoader(TensorDataset(images, labels), batch_size=32, shuffle=True)
    for epoch in range(10):
        for x, y in loader:          # x: (32, ...), y: (32,)
            ...

Each epoch, a sampler (sampler.py) gives the order of the examples, a batch
sampler cuts it into batches, the loader reads each example, ``dataset[i]``,
and ``collate_fn`` (collate.py) turns a batch's list of examples into one
batch. The arguments are PyTorch's, with its rules:

* ``shuffle=True`` is ``sampler=RandomSampler(dataset, generator=generator)``,
  so ``shuffle`` and ``sampler`` cannot both be given; without either the
  order is ``SequentialSampler``'s, 0, 1, 2, ...
* ``batch_sampler`` makes whole batches itself, so it excludes ``batch_size``,
  ``shuffle``, ``sampler`` and ``drop_last``;
* ``batch_size=None`` turns batching off: each example comes alone, through
  ``default_convert`` (NumPy arrays made tensors) unless a ``collate_fn`` is given;
* an ``IterableDataset`` is read in its own order: no shuffle, no sampler.

Shuffles draw from tinytensor's seeded generator, so ``tinytensor.manual_seed``
makes every epoch's order repeat, or from ``generator=`` (a tinytensor.Generator,
as in PyTorch). ``seed=`` is tinytensor's shorthand for
``generator=tinytensor.Generator().manual_seed(seed)``.

One process does all the loading: the examples here are in memory, and a
worker process would have to copy each batch back. So ``num_workers > 0``
loads in this process too and says so once, as a warning (the loader then
behaves as PyTorch's with ``num_workers=0``: ``worker_init_fn`` is not called,
``get_worker_info()`` is None). ``pin_memory``, ``timeout``, ``prefetch_factor``,
``persistent_workers`` and the other worker settings are accepted and do
nothing: pinned memory speeds up copies to a GPU, and batches here are made
where their examples are.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Iterable, Iterator

from ..generator import Generator
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler, _own_generator, check_batching

_told_about_workers = False  # num_workers > 0 is said once per process, not once per loader


class DataLoader:
    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Iterable[Any] | None = None, batch_sampler: Iterable[list[Any]] | None = None,
                 num_workers: int = 0, collate_fn: Callable[[Any], Any] | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None, multiprocessing_context: Any = None,
                 generator: Generator | None = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "", in_order: bool = True,
                 seed: int | None = None) -> None:
        _check_workers(num_workers, timeout, prefetch_factor, persistent_workers)
        if seed is not None:
            generator = _seeded(seed, generator, own_sampler=sampler is None and batch_sampler is None)
        self.iterable = isinstance(dataset, IterableDataset)
        if self.iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
                if value is not None and value is not False:
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified {name} option, "
                                     f"but got {name}={value!r} (an IterableDataset is read in its own order)")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle (the sampler "
                             "gives the order; for a random one pass sampler=RandomSampler(dataset))")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last (the batch_sampler makes the batches "
                                 "itself: give those to it)")
            batch_size = None
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None and not self.iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None:
            check_batching(batch_size, drop_last)
            if not self.iterable:
                batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.sampler, self.batch_sampler, self.generator = sampler, batch_sampler, generator
        self.num_workers, self.pin_memory, self.timeout = num_workers, pin_memory, timeout
        self.worker_init_fn, self.prefetch_factor = worker_init_fn, prefetch_factor
        self.persistent_workers = persistent_workers
        batching = batch_size is not None or batch_sampler is not None
        self.collate_fn = collate_fn or (default_collate if batching else default_convert)

    def __iter__(self) -> Iterator[Any]:
        if self.iterable:
            return self._stream()
        if self.batch_sampler is None:
            return (self.collate_fn(self.dataset[i]) for i in self.sampler)
        return (self.collate_fn([self.dataset[i] for i in indices]) for indices in self.batch_sampler)

    def _stream(self) -> Iterator[Any]:
        """An IterableDataset's examples, in its order, batched if batch_size is set."""
        if self.batch_size is None:
            yield from map(self.collate_fn, self.dataset)
            return
        batch: list[Any] = []
        for example in self.dataset:
            batch.append(example)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __len__(self) -> int:
        """The number of batches per epoch (of examples, with batch_size=None)."""
        if self.iterable:  # a stream has a length only if it says so
            full, rest = divmod(len(self.dataset), self.batch_size or 1)
            return full + (1 if rest and not self.drop_last else 0)
        return len(self.sampler if self.batch_sampler is None else self.batch_sampler)


def _seeded(seed: int, generator: Generator | None, own_sampler: bool) -> Generator:
    """tinytensor's ``seed=``: the generator of the loader's own shuffle, made from the seed."""
    made = _own_generator(generator, seed, "DataLoader")  # refuses both
    if not own_sampler:
        raise ValueError("DataLoader: seed= seeds the shuffle of the loader's own sampler; give "
                         "your sampler a generator instead")
    return made


def _check_workers(num_workers: int, timeout: float, prefetch_factor: int | None,
                   persistent_workers: bool) -> None:
    """PyTorch's checks of the worker settings; then, once per process, that there are no workers."""
    global _told_about_workers
    if num_workers < 0:
        raise ValueError(f"DataLoader: num_workers option should be non-negative, got "
                         f"num_workers={num_workers}; use num_workers=0 to disable multiprocessing")
    if timeout < 0:
        raise ValueError(f"DataLoader: timeout option should be non-negative, got timeout={timeout}")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError(f"DataLoader: prefetch_factor option could only be specified in multiprocessing: "
                         f"let num_workers > 0, or set prefetch_factor to None (got "
                         f"prefetch_factor={prefetch_factor})")
    if prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError(f"DataLoader: prefetch_factor option should be non-negative, got "
                         f"prefetch_factor={prefetch_factor}")
    if persistent_workers and num_workers == 0:
        raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
    if num_workers > 0 and not _told_about_workers:
        _told_about_workers = True
        warnings.warn(f"DataLoader: num_workers={num_workers} asks for worker processes; tinytensor "
                      f"loads every batch in this process instead (as num_workers=0: worker_init_fn "
                      f"is not called). Said once.", UserWarning, stacklevel=3)


def get_worker_info() -> None:
    """Which worker process this is, as torch.utils.data.get_worker_info: None, the main process.

    tinytensor loads in the main process only, so an IterableDataset that
    shards its stream across workers reads all of it here, as PyTorch does
    with ``num_workers=0``.
    """
    return None
