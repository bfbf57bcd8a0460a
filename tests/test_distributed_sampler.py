"""DistributedSampler against PyTorch's: the same rule to the index, but for the random generator.

Without shuffling the two must give every rank the very same indices. With it,
each draws its own permutation p of range(n) (from seed + epoch, with different
generators), and the rule is: rank r gets p[j] for each j the unshuffled sampler
gives rank r. That identity is checked for both, with each one's permutation,
so the structure (disjoint shares covering the dataset, equal lengths, padding
by repeating the order's beginning, drop_last cutting its tail) is PyTorch's.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from tinytensor.data import DistributedSampler

torch = pytest.importorskip("torch", reason='PyTorch is the reference: pip install -e ".[torch]"')
from torch.utils.data.distributed import DistributedSampler as TorchSampler  # noqa: E402

CASES = list(itertools.product([0, 1, 3, 10, 11, 12, 13, 50], [1, 2, 3, 4, 7], [False, True]))


def shares(make, n: int, replicas: int, **kwargs) -> list[list[int]]:
    return [list(make(range(n), num_replicas=replicas, rank=rank, **kwargs)) for rank in range(replicas)]


@pytest.mark.parametrize("n, replicas, drop_last", CASES)
def test_unshuffled_shares_are_pytorchs(n, replicas, drop_last):
    ours = shares(DistributedSampler, n, replicas, shuffle=False, drop_last=drop_last)
    theirs = shares(TorchSampler, n, replicas, shuffle=False, drop_last=drop_last)
    assert ours == theirs
    for rank in range(replicas):
        sampler = DistributedSampler(range(n), replicas, rank, drop_last=drop_last)
        reference = TorchSampler(range(n), replicas, rank, drop_last=drop_last)
        assert (len(sampler), sampler.num_samples, sampler.total_size) == \
               (len(reference), reference.num_samples, reference.total_size)


@pytest.mark.parametrize("n, replicas, drop_last", CASES)
@pytest.mark.parametrize("seed, epoch", [(0, 0), (5, 3)])
def test_shuffled_shares_follow_pytorchs_rule(n, replicas, drop_last, seed, epoch):
    positions = shares(TorchSampler, n, replicas, shuffle=False, drop_last=drop_last)

    def shuffled(make):
        samplers = [make(range(n), replicas, rank, shuffle=True, seed=seed, drop_last=drop_last)
                    for rank in range(replicas)]
        for sampler in samplers:
            sampler.set_epoch(epoch)
        return [list(sampler) for sampler in samplers]

    ours = np.random.default_rng(seed + epoch).permutation(n).tolist()  # tinytensor's generator
    theirs = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch)).tolist()
    assert shuffled(DistributedSampler) == [[ours[j] for j in share] for share in positions]
    assert shuffled(TorchSampler) == [[theirs[j] for j in share] for share in positions]


@pytest.mark.parametrize("n, replicas, drop_last", CASES)
def test_shares_are_disjoint_equal_and_cover(n, replicas, drop_last):
    got = shares(DistributedSampler, n, replicas, seed=1, drop_last=drop_last)
    assert len({len(share) for share in got}) <= 1  # equal lengths: no rank waits for another
    everything = [index for share in got for index in share]
    if drop_last:
        assert len(everything) == len(set(everything)) == replicas * (n // replicas)
    elif n:
        assert set(everything) == set(range(n))
        assert len(everything) == replicas * -(-n // replicas)  # the padding repeats a few


def test_set_epoch_draws_a_new_order_the_same_on_every_rank():
    def epoch_order(epoch: int) -> list[list[int]]:
        samplers = [DistributedSampler(range(40), 2, rank, seed=7) for rank in range(2)]
        for sampler in samplers:
            sampler.set_epoch(epoch)
        return [list(sampler) for sampler in samplers]

    assert epoch_order(1) == epoch_order(1)  # every rank draws the same permutation
    assert epoch_order(1) != epoch_order(2)
    assert list(DistributedSampler(range(40), 2, 0, seed=7)) == epoch_order(0)[0]  # epoch 0 by default


@pytest.mark.parametrize("rank", [-1, 3])
def test_a_rank_outside_the_world_is_refused_as_pytorch_does(rank):
    with pytest.raises(ValueError) as ours:
        DistributedSampler(range(10), num_replicas=3, rank=rank)
    with pytest.raises(ValueError) as theirs:
        TorchSampler(range(10), num_replicas=3, rank=rank)
    assert str(ours.value) == str(theirs.value)
