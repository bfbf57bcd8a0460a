"""DistributedSampler: each of N processes takes its own share of the examples (as PyTorch's).

With data parallelism every rank trains on different examples, and all ranks
together on each example once per epoch. Every rank draws the same order (one
generator seeded with seed + epoch: the same on every rank, a new order each
epoch once ``set_epoch`` is called), and rank r takes every N-th place starting
at r. So the shares are disjoint and cover the dataset:

    order (shuffled):   7 2 9 0 4 8 1 5 3 6 7 2    (n = 10, N = 4: padded to 12 with 7 2)
    rank 0 takes        7       4       3                places 0, 4, 8
    rank 1 takes          2       8       6              places 1, 5, 9
    rank 2 takes            9       1       7            places 2, 6, 10
    rank 3 takes              0       5       2          places 3, 7, 11

Each rank must take the same number of examples, or one would wait in a
collective for the others: ceil(n / N). When n does not divide, the order is
padded by repeating its own beginning (a few examples count twice that epoch);
with ``drop_last`` its tail is cut instead, to floor(n / N) each. The orders
differ from PyTorch's (another random generator), the rule does not.

    sampler = DistributedSampler(dataset)                 # N and r from the process group
    loader = DataLoader(dataset, batch_sampler=BatchSampler(sampler, 32))
    for epoch in range(epochs):
        sampler.set_epoch(epoch)                          # else every epoch repeats one order
        for batch in loader: ...
"""
from __future__ import annotations

import math
from typing import Iterator, Sized

from .. import distributed
from ..generator import Generator
from .sampler import _shuffled


class DistributedSampler:
    def __init__(self, dataset: Sized, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None:
            num_replicas = distributed.get_world_size()  # an error when no process group exists
        if rank is None:
            rank = distributed.get_rank()
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last = shuffle, seed, drop_last
        self.epoch = 0
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)  # floor(n / N)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            order = _shuffled(n, Generator().manual_seed(self.seed + self.epoch))
        else:
            order = list(range(n))
        if self.drop_last:
            order = order[:self.total_size]
        else:  # pad with the order's own beginning, repeated as often as it takes
            padding = self.total_size - n
            order += (order * math.ceil(padding / n))[:padding] if padding else []
        return iter(order[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use epoch's order next time: the same epoch gives the same order on every rank."""
        self.epoch = epoch
