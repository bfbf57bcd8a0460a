"""DataLoader: iterate over a dataset in batches, as torch.utils.data.DataLoader.

    loader = DataLoader(TensorDataset(images, labels), batch_size=32, shuffle=True)
    for epoch in range(10):
        for x, y in loader:          # x: (32, ...), y: (32,)
            ...

Each epoch, a batch sampler (sampler.py) says which examples form each batch;
the loader reads them one by one, ``dataset[i]``, and ``collate_fn``
(collate.py) turns the list of examples into one batch. Shuffling draws from
tinytensor's seeded generator (or from the loader's own, with ``seed=``), so
``tinytensor.manual_seed`` makes every epoch's order repeat.

PyTorch takes ``generator=torch.Generator()`` where this takes ``seed=``, and
loads in one process (no ``num_workers``): the examples here are in memory.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator

from .collate import default_collate
from .dataset import Dataset
from .sampler import BatchSampler, RandomSampler


class DataLoader:
    def __init__(self, dataset: Dataset, batch_size: int = 1, shuffle: bool = False,
                 batch_sampler: Iterable[list[int]] | None = None,
                 collate_fn: Callable[[list[Any]], Any] | None = None, drop_last: bool = False,
                 seed: int | None = None) -> None:
        if batch_sampler is None:
            sampler = RandomSampler(dataset, seed) if shuffle else range(len(dataset))
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        elif batch_size != 1 or shuffle or drop_last or seed is not None:
            raise ValueError("DataLoader: a batch_sampler makes the batches itself; do not also "
                             "pass batch_size, shuffle, drop_last or seed (give them to the sampler)")
        self.dataset, self.batch_sampler = dataset, batch_sampler
        self.collate_fn = collate_fn or default_collate

    def __iter__(self) -> Iterator[Any]:
        for indices in self.batch_sampler:
            yield self.collate_fn([self.dataset[i] for i in indices])

    def __len__(self) -> int:
        """The number of batches per epoch."""
        return len(self.batch_sampler)
