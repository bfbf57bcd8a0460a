"""``t.data`` as PyTorch has it: a Tensor on t's memory, cut from the graph; ``t.array`` is the raw array.

Each check that PyTorch can answer runs the same code with torch and with
tinytensor (skipped, saying why, without torch); then what tinytensor adds: a
write through ``.data`` after a forward that saved the old values makes that
backward refuse (PyTorch's backward would compute with the new values).
"""
from __future__ import annotations

import numpy as np
import pytest

import tinytensor as tt


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="PyTorch not installed: these checks compare with it")


def both(torch):
    return [(tt, "tinytensor"), (torch, "torch")]


def test_data_is_a_detached_tensor_on_the_same_memory(torch):
    for lib, name in both(torch):
        p = lib.nn.Parameter(lib.ones(2, 3))
        y = (p * 2).sum()
        for t in (p, y):
            d = t.data
            assert type(d) is lib.Tensor, name                  # not a Parameter, not an array
            assert not d.requires_grad and d.grad_fn is None and d.is_leaf, name
            assert d.shape == t.shape and d.dtype == t.dtype, name
        d = p.data
        d.add_(1)                                                # in place: p sees it
        assert p.tolist() == [[2.0] * 3] * 2 and p.requires_grad and p.is_leaf, name
        copy = p.data.clone()
        copy.zero_()                                             # a clone is memory of its own
        assert p.tolist() == [[2.0] * 3] * 2, name
        p.data.zero_()
        assert p.tolist() == [[0.0] * 3] * 2, name
        p.data.fill_(0.5)
        assert p.tolist() == [[0.5] * 3] * 2, name


def test_the_raw_array_is_t_array(device):
    x = tt.ones(2, 3, device=device)
    assert tt.backend.is_array(x.array) and x.array.shape == (2, 3)
    assert x.data.array is x.array and x.detach().array is x.array


def test_init_through_data_follows_the_seeded_generator(device):
    w = tt.nn.Parameter(tt.empty(200, 50, device=device))
    w.data.normal_(mean=0.0, std=0.02)
    assert abs(w.mean().item()) < 0.002 and w.std().item() == pytest.approx(0.02, rel=0.05)
    w.data.uniform_(-0.1, 0.1)
    assert -0.1 <= w.min().item() and w.max().item() < 0.1 and w.requires_grad


def test_an_update_through_data_needs_no_no_grad(torch):
    """``p.data -= lr * p.grad`` in grad mode: the in-place rules do not refuse it (what .data is for)."""
    results = []
    for lib, _ in both(torch):
        w = lib.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=lib.float64, requires_grad=True)
        x = lib.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=lib.float64)
        for _ in range(3):
            loss = ((x @ w).tanh() ** 2).sum()
            loss.backward()
            w.data -= 0.1 * w.grad                  # Python: w.data = w.data.__isub__(...)
            w.data.add_(w.grad.data, alpha=-0.05)
            w.grad = None
        assert w.requires_grad and w.is_leaf
        results.append(w.detach().numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


def test_mask_data_and_sums_are_tensors(torch):
    results = []
    for lib, name in both(torch):
        t = lib.tensor([[1, 2, 0], [3, 0, 0]])
        count = (t != 0).data.sum()
        assert isinstance(count, lib.Tensor) and count.dtype == lib.int64, name
        results.append((count.item(), t.data.unsqueeze(1).shape, t.data[0].tolist()))
    assert results[0][0] == results[1][0] and tuple(results[0][1]) == tuple(results[1][1])
    assert results[0][2] == results[1][2]


def test_assigning_data_takes_the_new_memory_shape_and_dtype(torch):
    for lib, name in both(torch):
        p = lib.nn.Parameter(lib.ones(2, 3))
        optimizer_holds = p
        new = lib.zeros(4, dtype=lib.float64)
        p.data = new
        assert p is optimizer_holds and isinstance(p, lib.nn.Parameter), name
        assert tuple(p.shape) == (4,) and p.dtype == lib.float64 and p.requires_grad, name
        new.add_(2)                                           # the memory is shared, as torch's
        assert p.tolist() == [2.0] * 4, name
        p.data = lib.ones(2, 2, requires_grad=True)           # its requires_grad does not matter
        assert p.requires_grad and p.is_leaf and tuple(p.shape) == (2, 2), name
        ids = lib.zeros(3, dtype=lib.int64)
        ids.data = lib.tensor([1.0, 2.0])                     # no grad: any dtype will do
        assert ids.dtype == lib.float32 and ids.tolist() == [1.0, 2.0], name


def test_assigning_data_refuses_what_is_not_a_tensor_and_integers_that_require_grad(torch):
    for lib, name in both(torch):
        p = lib.nn.Parameter(lib.ones(2))
        for wrong in ([1.0, 2.0], 3.0, None, np.zeros(2)):
            with pytest.raises(TypeError):
                p.data = wrong
        with pytest.raises(RuntimeError, match="floating point"):
            p.data = lib.zeros(2, dtype=lib.int64)
        assert p.tolist() == [1.0, 1.0], name                   # a refused assignment changes nothing
    with pytest.raises(TypeError, match=r"data: expected a Tensor, got list.*tinytensor.tensor"):
        tt.ones(2).data = [1.0, 2.0]


def test_assigning_data_may_move_the_tensor_to_another_device(cuda):
    p = tt.nn.Parameter(tt.ones(2))
    p.data = tt.zeros(2, device=cuda)
    assert p.device == tt.device(cuda) and p.requires_grad
    (p * 3).sum().backward()
    assert p.grad.device == tt.device(cuda) and p.grad.tolist() == [3.0, 3.0]


@pytest.mark.parametrize("write", ["in place", "assignment", "sub through python"])
def test_a_write_through_data_after_the_forward_makes_its_backward_refuse(write, device):
    """PyTorch does not see these writes (its .data has a version counter of its own) and its
    backward computes with the new values; here backward refuses, as for any in-place write."""
    x = tt.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    y = (x * x).sum()                                # mul keeps x for its backward
    if write == "in place":
        x.data.mul_(2)
    elif write == "assignment":
        x.data = tt.tensor([5.0, 5.0, 5.0], device=device)
    else:
        x.data -= 1.0
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation.*t\.data"):
        y.backward()


def test_a_write_through_data_before_the_forward_is_fine(device):
    x = tt.tensor([1.0, 2.0], requires_grad=True, device=device)
    x.data.mul_(3)
    x.data = x.data + 1                              # new memory, no graph recorded yet
    (x * x).sum().backward()
    assert x.grad.tolist() == [8.0, 14.0]
