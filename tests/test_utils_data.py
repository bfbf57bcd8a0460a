"""tinytensor.utils.data against torch.utils.data: the same arguments, the same errors, the same batches.

Random orders come from different generators, so they are compared by what
must hold (every example once, lengths, repeat under one seed); fixed orders
and every validation error are compared with torch directly.
"""
from __future__ import annotations

import warnings
from collections import namedtuple

import numpy as np
import pytest

import tinytensor as tt
from tinytensor.data import dataloader as our_dataloader
from tinytensor.utils import data

Point = namedtuple("Point", ["x", "y"])


def torch_or_skip():
    return pytest.importorskip("torch", reason="PyTorch is the reference; pip install -e '.[torch]'")


def as_plain(value: object) -> object:
    """Batches as nested Python values, so ours and torch's compare directly (dtype kind kept)."""
    if hasattr(value, "tolist") and hasattr(value, "dtype"):
        kind = "float" if "float" in str(value.dtype) else "bool" if "bool" in str(value.dtype) else "int"
        return (kind, value.tolist())
    if isinstance(value, dict):
        return {key: as_plain(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value).__name__ if not isinstance(value, list) else "list", [as_plain(v) for v in value]
    return value


def test_one_home_for_every_class():
    import tinytensor.utils.data.sampler as sampler_module  # noqa: PLC0415 - the import is the test
    assert tt.utils.data is data and data.DataLoader is tt.data.DataLoader
    assert sampler_module.SubsetRandomSampler is tt.data.SubsetRandomSampler
    assert set(data.__all__) >= {"DataLoader", "Dataset", "IterableDataset", "TensorDataset", "Subset",
                                 "random_split", "Sampler", "SequentialSampler", "RandomSampler",
                                 "BatchSampler", "default_collate", "default_convert", "get_worker_info"}
    assert data.get_worker_info() is None


# ----------------------------------------------------------------------------
# DataLoader's argument checks: torch's exception types, messages naming the argument and value
# ----------------------------------------------------------------------------
BAD_ARGUMENTS = [
    (dict(batch_size=2.5), "batch_size=2.5"),
    (dict(batch_size=0), "batch_size=0"),
    (dict(batch_size=-1), "batch_size=-1"),
    (dict(batch_size=True), "batch_size=True"),
    (dict(batch_size="2"), "batch_size='2'"),
    (dict(batch_size=None, drop_last=True), "batch_size=None .* drop_last"),
    (dict(drop_last=1), "drop_last=1"),
    (dict(shuffle=True, sampler="sequential"), "sampler option is mutually exclusive with shuffle"),
    (dict(batch_sampler="batches", batch_size=3), "batch_sampler option is mutually exclusive"),
    (dict(batch_sampler="batches", drop_last=True), "batch_sampler option is mutually exclusive"),
    (dict(batch_sampler="batches", shuffle=True), "batch_sampler option is mutually exclusive"),
    (dict(batch_sampler="batches", sampler="sequential"), "batch_sampler option is mutually exclusive"),
    (dict(num_workers=-1), "num_workers=-1"),
    (dict(timeout=-1), "timeout=-1"),
    (dict(prefetch_factor=2), "prefetch_factor=2"),
    (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
]


def build(module: object, kwargs: dict, n: int = 10) -> object:
    """A DataLoader over range(n) from ``module`` (ours or torch's), samplers named by string."""
    kwargs = dict(kwargs)
    if kwargs.get("sampler") == "sequential":
        kwargs["sampler"] = module.SequentialSampler(range(n))
    if kwargs.get("batch_sampler") == "batches":
        kwargs["batch_sampler"] = module.BatchSampler(range(n), 3, False)
    return module.DataLoader(list(range(n)), **kwargs)


@pytest.mark.parametrize("kwargs, message", BAD_ARGUMENTS)
def test_dataloader_refuses_what_torch_refuses(kwargs, message):
    torch = torch_or_skip()
    with pytest.raises(Exception) as theirs:
        build(torch.utils.data, kwargs)
    with pytest.raises(type(theirs.value), match=message):
        build(data, kwargs)


def test_issue_17_batch_size_is_validated():
    """batch_size=2.5 once gave one batch of everything; batch_size=None once raised a TypeError."""
    with pytest.raises(ValueError, match="batch_size should be a positive integer value, but got batch_size=2.5"):
        data.DataLoader(list(range(5)), batch_size=2.5)
    assert list(data.DataLoader(list(range(3)), batch_size=None)) == [0, 1, 2]


@pytest.mark.parametrize("kwargs", [
    dict(), dict(batch_size=4), dict(batch_size=4, drop_last=True), dict(batch_size=None),
    dict(sampler="sequential", batch_size=3), dict(batch_sampler="batches"),
    dict(batch_size=3, collate_fn=lambda batch: sum(batch)), dict(batch_size=None, collate_fn=str),
    dict(batch_size=4, pin_memory=True),
])
def test_fixed_orders_give_torchs_batches(kwargs):
    torch = torch_or_skip()
    ours = build(data, kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                        # torch: no accelerator to pin memory for
        theirs = build(torch.utils.data, kwargs)
        expected = [as_plain(b) for b in theirs]
    assert len(ours) == len(theirs)
    assert [as_plain(b) for b in ours] == expected


def test_records_are_collated_as_torch_collates_them():
    torch = torch_or_skip()
    records = [(i, i / 2, i % 2 == 0, f"s{i}", np.full(2, i, dtype=np.float32), np.int64(i),
                {"a": i, "b": [i, i + 1]}, Point(i, float(i))) for i in range(5)]
    for kwargs in (dict(batch_size=2), dict(batch_size=None)):
        ours = list(data.DataLoader(records, **kwargs))
        theirs = list(torch.utils.data.DataLoader(records, **kwargs))
        assert [as_plain(b) for b in ours] == [as_plain(b) for b in theirs]
    batch = data.default_collate(records[:2])
    assert batch[1].dtype == tt.float64 and batch[2].dtype == tt.bool_ and batch[4].dtype == tt.float32
    assert isinstance(batch, list) and isinstance(batch[7], Point) and batch[3] == ("s0", "s1")


def test_tensor_dataset_batches_match_torch():
    torch = torch_or_skip()
    x, y = np.arange(21.0).reshape(7, 3), np.arange(7)
    ours = data.DataLoader(data.TensorDataset(tt.tensor(x), tt.tensor(y)), batch_size=3)
    theirs = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.tensor(x), torch.tensor(y)),
                                         batch_size=3)
    assert [as_plain(b) for b in ours] == [as_plain(b) for b in theirs]


# ----------------------------------------------------------------------------
# Workers: accepted, loaded in this process, said once
# ----------------------------------------------------------------------------
def test_num_workers_loads_in_process_and_says_so_once(monkeypatch):
    monkeypatch.setattr(our_dataloader, "_told_about_workers", False)
    called = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaders = [data.DataLoader(list(range(6)), batch_size=2, num_workers=n, worker_init_fn=called.append,
                                   persistent_workers=True, prefetch_factor=2) for n in (2, 4)]
        batches = [[b.tolist() for b in loader] for loader in loaders]
    said = [w for w in caught if "num_workers" in str(w.message)]
    assert len(said) == 1 and said[0].category is UserWarning and "num_workers=2" in str(said[0].message)
    assert said[0].filename == __file__                       # it points at the user's line
    assert batches == [[[0, 1], [2, 3], [4, 5]]] * 2 and called == []


# ----------------------------------------------------------------------------
# Shuffling and generators
# ----------------------------------------------------------------------------
def epoch(loader: object) -> list[int]:
    return [i for batch in loader for i in batch.tolist()]


def test_shuffle_draws_from_the_generator_given():
    numbers = list(range(20))
    def with_seed(seed: int) -> list[list[int]]:
        loader = data.DataLoader(numbers, batch_size=4, shuffle=True, generator=tt.Generator().manual_seed(seed))
        tt.rand(50)                                           # other draws change nothing
        return [epoch(loader) for _ in range(2)]
    first = with_seed(0)
    assert first == with_seed(0) and first != with_seed(1)
    assert first[0] != first[1] and sorted(first[0]) == numbers
    by_seed = data.DataLoader(numbers, batch_size=4, shuffle=True, seed=0)  # tinytensor's shorthand
    assert [epoch(by_seed) for _ in range(2)] == first
    with pytest.raises(ValueError, match="generator= .* or seed="):
        data.DataLoader(numbers, shuffle=True, seed=0, generator=tt.Generator())
    with pytest.raises(ValueError, match="give your sampler a generator"):
        data.DataLoader(numbers, sampler=data.SequentialSampler(numbers), seed=0)


def test_random_sampler_arguments_as_torchs():
    torch = torch_or_skip()
    for kwargs in (dict(replacement=1), dict(num_samples=0), dict(num_samples=2.0), dict(num_samples=-3)):
        with pytest.raises(Exception) as theirs:
            torch.utils.data.RandomSampler(range(5), **kwargs)
        name, value = next(iter(kwargs.items()))
        with pytest.raises(type(theirs.value), match=f"{name}={value}"):
            data.RandomSampler(range(5), **kwargs)
    with pytest.raises(ValueError, match="num_samples=0"):    # an empty dataset cannot be shuffled
        data.DataLoader([], shuffle=True)
    for kwargs in (dict(), dict(num_samples=3), dict(num_samples=12), dict(replacement=True),
                   dict(replacement=True, num_samples=40)):
        ours, theirs = data.RandomSampler(range(5), **kwargs), torch.utils.data.RandomSampler(range(5), **kwargs)
        assert len(ours) == len(theirs) == len(list(ours))


def test_random_sampler_passes_and_replacement():
    g = tt.Generator().manual_seed(0)
    twelve = list(data.RandomSampler(range(5), num_samples=12, generator=g))
    assert sorted(twelve[:5]) == sorted(twelve[5:10]) == list(range(5))   # whole passes, each a permutation
    assert len(set(twelve[10:])) == 2                                     # then a piece of one more
    drawn = list(data.RandomSampler(range(5), replacement=True, num_samples=200, generator=g))
    assert set(drawn) == set(range(5)) and len(drawn) == 200              # independent draws: repeats
    assert list(data.SequentialSampler("abc")) == [0, 1, 2] and len(data.SequentialSampler("abc")) == 3
    subset = list(data.SubsetRandomSampler([10, 20, 30, 40], generator=g))
    assert sorted(subset) == [10, 20, 30, 40]


def test_sampling_with_replacement_is_a_stream_drawn_in_blocks():
    """minGPT samples with num_samples=int(1e10): the draws come 32 at a time, as PyTorch's."""
    endless = iter(data.RandomSampler(range(7), replacement=True, num_samples=10**10))
    first = [next(endless) for _ in range(100)]
    assert all(0 <= i < 7 for i in first) and len(set(first)) == 7
    assert len(list(data.RandomSampler(range(7), replacement=True, num_samples=70))) == 70


def test_samplers_and_batch_samplers_drive_the_loader():
    numbers = list(range(10))
    evens = data.DataLoader(numbers, sampler=[0, 2, 4, 6, 8], batch_size=2)
    assert [b.tolist() for b in evens] == [[0, 2], [4, 6], [8]] and len(evens) == 3
    pairs = data.DataLoader(numbers, batch_sampler=[[9, 0], [5]], collate_fn=lambda batch: batch)
    assert list(pairs) == [[9, 0], [5]]


# ----------------------------------------------------------------------------
# random_split and Subset
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("size, lengths", [
    (10, [0.3, 0.3, 0.4]), (10, [0.33, 0.33, 0.34]), (7, [0.3, 0.3, 0.4]), (7, [0.2] * 5),
    (10, [0.05, 0.95]), (10, [3, 7]), (10, [0.0, 1.0]), (1000, [0.8, 0.1, 0.1]),
])
def test_random_split_lengths_as_torchs(size, lengths):
    torch = torch_or_skip()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                        # a part of length 0 is warned about
        theirs = torch.utils.data.random_split(range(size), lengths)
        ours = data.random_split(range(size), lengths, generator=tt.Generator().manual_seed(0))
    assert [len(part) for part in ours] == [len(part) for part in theirs]
    assert sorted(i for part in ours for i in part) == list(range(size))


def test_random_split_repeats_under_its_generator_and_explains_mistakes():
    torch = torch_or_skip()
    def split(seed: int) -> list[list[int]]:
        return [list(p) for p in data.random_split(range(10), [4, 6], tt.Generator().manual_seed(seed))]
    assert split(1) == split(1) and split(1) != split(2)
    with pytest.warns(UserWarning, match="length of split at index 0 is 0"):
        data.random_split(range(10), [0.0, 1.0])
    for lengths in ([3, 6], [0.5, 0.6], [1.2, -0.2]):
        with pytest.raises(Exception) as theirs:
            torch.utils.data.random_split(range(10), lengths)
        with pytest.raises(type(theirs.value), match="add up to|not between 0 and 1"):
            data.random_split(range(10), lengths)
    with pytest.raises(ValueError, match="counts"):
        data.random_split(range(10), [4.0, 6.0])               # torch: a TypeError from deep inside randperm


def test_subset_reads_through_its_indices():
    subset = data.Subset(list("abcdefg"), [3, 1, 4])
    assert len(subset) == 3 and subset[0] == "d" and subset[-1] == "e"
    sliced = data.Subset(np.arange(10) * 10, [5, 2])
    assert sliced[[0, 1]].tolist() == [50, 20]                 # a list of positions asks the dataset once


# ----------------------------------------------------------------------------
# IterableDataset
# ----------------------------------------------------------------------------
class Stream(data.IterableDataset):
    def __iter__(self):
        return iter(range(7))


def test_iterable_datasets_batch_in_their_own_order():
    torch = torch_or_skip()
    class TheirStream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(7))
    for kwargs in (dict(), dict(batch_size=3), dict(batch_size=3, drop_last=True), dict(batch_size=None)):
        ours, theirs = data.DataLoader(Stream(), **kwargs), torch.utils.data.DataLoader(TheirStream(), **kwargs)
        assert [as_plain(b) for b in ours] == [as_plain(b) for b in theirs]
    for kwargs in (dict(shuffle=True), dict(sampler=[0, 1]), dict(batch_sampler=[[0]])):
        with pytest.raises(ValueError) as theirs:
            torch.utils.data.DataLoader(TheirStream(), **kwargs)
        with pytest.raises(ValueError, match="IterableDataset: expected unspecified"):
            data.DataLoader(Stream(), **kwargs)
    with pytest.raises(TypeError, match="has no len"):
        len(data.DataLoader(Stream()))
    with pytest.raises(TypeError, match="read in order"):
        Stream()[0]
