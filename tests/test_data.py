"""Datasets, samplers, collate functions and the DataLoader, with tensors on every device."""
from __future__ import annotations

import functools

import numpy as np
import pytest

import tinytensor as tt
from tinytensor.data import (BatchSampler, BucketBatchSampler, DataLoader, Dataset, RandomSampler,
                             TensorDataset, default_collate, pad_collate, pad_sequence)


class Squares(Dataset):
    """Example i is (i, i*i, "name i"): numbers and strings, to exercise default_collate."""

    def __len__(self) -> int:
        return 10

    def __getitem__(self, index: int) -> tuple:
        return index, float(index * index), f"name {index}"


def make_dataset(n: int = 10, device: str = "cpu") -> TensorDataset:
    x = tt.arange(n * 3, dtype=tt.float32, device=device).reshape(n, 3)
    return TensorDataset(x, tt.arange(n, device=device))


def epoch_labels(loader: DataLoader) -> list[list[int]]:
    return [y.tolist() for _, y in loader]


def test_tensor_dataset(device):
    dataset = make_dataset(device=device)
    x, y = dataset[4]
    assert len(dataset) == 10 and x.tolist() == [12.0, 13.0, 14.0] and y.item() == 4
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(tt.zeros(3, 2, device=device), tt.zeros(4, device=device))


def test_dataloader_batches_in_order(device):
    loader = DataLoader(make_dataset(device=device), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [tuple(x.shape) for x, _ in batches] == [(4, 3), (4, 3), (2, 3)]
    assert epoch_labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert batches[0][0].dtype == tt.float32 and batches[0][1].dtype == tt.int64
    assert batches[0][0].device == device and batches[0][1].device == device
    dropped = DataLoader(make_dataset(device=device), batch_size=4, drop_last=True)
    assert epoch_labels(dropped) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader(make_dataset(device=device), batch_size=4, drop_last=True)) == 2


def test_shuffle_repeats_under_manual_seed_and_differs_between_epochs():
    loader = DataLoader(make_dataset(), batch_size=3, shuffle=True)
    tt.manual_seed(7)
    first_run = [epoch_labels(loader) for _ in range(3)]
    tt.manual_seed(7)
    second_run = [epoch_labels(loader) for _ in range(3)]
    assert first_run == second_run
    assert first_run[0] != first_run[1]
    for epoch in first_run:
        assert sorted(sum(epoch, [])) == list(range(10))


def test_shuffle_with_its_own_seed_ignores_other_randomness():
    def run() -> list:
        loader = DataLoader(make_dataset(), batch_size=5, shuffle=True, seed=3)
        labels = []
        for _ in range(2):
            tt.rand(100)  # other draws (dropout, init) between epochs change nothing
            labels.append(epoch_labels(loader))
        return labels
    assert run() == run()
    assert run()[0] != run()[1]


def test_default_collate_handles_records_numbers_and_strings(device):
    index, square, name = next(iter(DataLoader(Squares(), batch_size=3)))
    assert index.tolist() == [0, 1, 2] and index.dtype == tt.int64
    assert square.tolist() == [0.0, 1.0, 4.0] and square.dtype == tt.float64  # PyTorch's rule for floats
    assert name == ("name 0", "name 1", "name 2")  # as PyTorch: the strings as the batch holds them
    batch = default_collate([{"x": tt.ones(2, device=device), "y": 1},
                             {"x": tt.zeros(2, device=device), "y": 0}])
    assert batch["x"].tolist() == [[1.0, 1.0], [0.0, 0.0]] and batch["y"].tolist() == [1, 0]
    with pytest.raises(TypeError, match="cannot batch examples of type object"):
        default_collate([object()])


def test_pad_sequence(device):
    padded = pad_sequence([tt.tensor([5, 7, 2], device=device), tt.tensor([4, 2], device=device)],
                          batch_first=True, padding_value=0)
    assert padded.tolist() == [[5, 7, 2], [4, 2, 0]] and padded.dtype == tt.int64
    time_first = pad_sequence([[1, 2], [3]], padding_value=-1)  # PyTorch's default layout: (L, B)
    assert time_first.tolist() == [[1, 3], [2, -1]]
    vectors = pad_sequence([tt.ones(1, 4, device=device), tt.ones(3, 4, device=device)], batch_first=True)
    assert vectors.shape == (2, 3, 4) and vectors.sum().item() == 16.0
    with pytest.raises(ValueError, match="at least one sequence"):
        pad_sequence([])


def test_pad_sequence_is_differentiable(device):
    a, b = tt.ones(2, requires_grad=True, device=device), tt.ones(3, requires_grad=True, device=device)
    weights = tt.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], device=device)
    (pad_sequence([a, b], batch_first=True) * weights).sum().backward()
    assert a.grad.tolist() == [1.0, 2.0] and b.grad.tolist() == [4.0, 5.0, 6.0]


def test_pad_collate_pads_every_sequence_field(device):
    pairs = [(tt.tensor([1, 2, 3], device=device), tt.tensor([9], device=device)),
             (tt.tensor([4], device=device), tt.tensor([8, 7], device=device))]
    source, target = functools.partial(pad_collate, padding_value=-1)(pairs)
    assert source.tolist() == [[1, 2, 3], [4, -1, -1]] and target.tolist() == [[9, -1], [8, 7]]


def test_batch_sampler_and_random_sampler():
    assert list(BatchSampler(range(5), 2)) == [[0, 1], [2, 3], [4]]
    assert len(BatchSampler(range(5), 2, drop_last=True)) == 2
    assert sorted(RandomSampler(range(6))) == list(range(6))
    with pytest.raises(ValueError, match="positive integer"):
        BatchSampler(range(5), 0)


def test_bucket_batch_sampler_groups_similar_lengths():
    tt.manual_seed(0)
    lengths = [(i * 37) % 50 + 1 for i in range(200)]
    sampler = BucketBatchSampler(lengths, batch_size=8, pool_size=5)
    batches = list(sampler)
    assert len(batches) == len(sampler) == 25
    assert sorted(sum(batches, [])) == list(range(200))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    # A pool of 40 over lengths 1..50, sorted, puts about 10 lengths in a batch of 8;
    # random batches of 8 would each spread over about 40.
    assert spread < 15
    assert batches != list(sampler)  # a new arrangement every epoch
    tt.manual_seed(0)
    assert list(sampler) == batches  # and the same under the same seed


def test_bucket_batch_sampler_drop_last_and_no_shuffle():
    lengths = [5, 1, 4, 2, 3]
    assert list(BucketBatchSampler(lengths, batch_size=2, shuffle=False)) == [[1, 3], [4, 2], [0]]
    sampler = BucketBatchSampler(lengths, batch_size=2, drop_last=True, seed=1)
    assert all(len(b) == 2 for b in sampler) and len(sampler) == 2


def test_bucket_batches_through_a_dataloader(device):
    sentences = [tt.tensor(list(range(1, n + 1)), device=device) for n in (3, 9, 2, 8, 3, 9)]
    sampler = BucketBatchSampler([len(s) for s in sentences], batch_size=2, seed=0)
    loader = DataLoader(sentences, batch_sampler=sampler, collate_fn=pad_collate)
    widths = sorted(batch.shape[1] for batch in loader)
    assert widths == [3, 8, 9]  # (2, 3), (3, 8), (9, 9) paired up: no long padding anywhere
    with pytest.raises(ValueError, match="batch_sampler makes the batches itself"):
        DataLoader(sentences, batch_size=2, batch_sampler=sampler)


def test_bucket_batches_by_tokens():
    """max_tokens: as many examples as fit in that many padded tokens (count x longest)."""
    lengths = [int(n) for n in np.random.default_rng(0).integers(2, 21, 500)]
    sampler = BucketBatchSampler(lengths, max_tokens=64, seed=3)
    count = len(sampler)
    batches = list(sampler)
    assert len(batches) == count                                # len() arranged this very epoch
    assert sorted(sum(batches, [])) == list(range(500))
    assert all(len(b) * max(lengths[i] for i in b) <= 64 for b in batches)
    short = [b for b in batches if max(lengths[i] for i in b) <= 5]
    long = [b for b in batches if min(lengths[i] for i in b) >= 15]
    assert min(map(len, short)) > max(map(len, long))          # more short sentences per batch
    assert list(BucketBatchSampler([100, 3], max_tokens=10, shuffle=False)) == [[1], [0]]  # too long: alone
    with pytest.raises(ValueError, match="give either batch_size .* or max_tokens"):
        BucketBatchSampler(lengths, batch_size=4, max_tokens=64)


def test_drop_last_has_no_meaning_with_max_tokens():
    with pytest.raises(ValueError, match="with max_tokens batches have no fixed size"):
        BucketBatchSampler([3, 4, 5], max_tokens=8, drop_last=True)
