"""The CuPy stand-in itself: it must fail where CuPy fails, or the device tests on it prove nothing.

One test per difference its docstring lists (tests/cupy_standin/__init__.py),
each written as one would check it on CuPy: these tests use the stand-in's
API the way CuPy's is used, and a GPU machine could run them against
``cupy`` to see that the two agree.
"""
from __future__ import annotations

import numpy as np
import pytest

import cupy_standin as cp


def test_its_arrays_are_not_numpy_arrays_and_refuse_to_become_one():
    a = cp.asarray([1.0, 2.0])
    assert not isinstance(a, np.ndarray)
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array is not allowed"):
        np.asarray(a)
    np.testing.assert_array_equal(a.get(), [1.0, 2.0])  # the explicit way


@pytest.mark.parametrize("mix", [lambda a: a + np.ones(2), lambda a: np.ones(2) * a,
                                 lambda a: cp.maximum(a, np.zeros(2)),
                                 lambda a: cp.where(a > 1, a, np.ones(2))])
def test_mixing_with_a_numpy_array_raises(mix):
    with pytest.raises(TypeError, match="Unsupported type <class 'numpy.ndarray'>"):
        mix(cp.asarray([1.0, 2.0]))


def test_numbers_are_weak_and_numpy_scalars_are_not():
    a = cp.asarray([1.0, 2.0], dtype="float32")
    assert (a * 0.5).dtype == np.float32 and (a * np.float32(0.5)).dtype == np.float32
    assert (a * np.float64(0.5)).dtype == np.float64  # NEP 50


def test_reductions_and_scalar_indexing_give_0d_arrays():
    a = cp.asarray([[1, 2], [3, 4]])
    for result in (a.sum(), a.max(), a[0, 1], cp.allclose(a, a)):
        assert isinstance(result, cp.ndarray) and result.shape == ()
    assert a[0, 1].base is a  # a view, as CuPy's
    with pytest.raises(TypeError):
        range(a.sum())  # no __index__


def test_the_random_api_is_cupy_14s():
    rng = cp.random.default_rng(0)
    assert rng.random(3, dtype=np.float32).dtype == np.float32
    assert rng.standard_normal((2, 2)).dtype == np.float64
    assert rng.integers(0, 5, size=4).get().max() < 5
    with pytest.raises(TypeError, match="Unsupported dtype float16 for standard_normal"):
        rng.standard_normal(3, dtype=np.float16)
    for missing in ("permutation", "shuffle", "choice"):
        assert not hasattr(rng, missing)
    assert not np.array_equal(cp.random.default_rng(0).random(4).get(), np.random.default_rng(0).random(4))


def test_the_generator_state_lives_in_one_device_array():
    rng = cp.random.default_rng(3)
    saved = rng.bit_generator._state.get()
    first = rng.random(5).get()
    rng.bit_generator._state[...] = cp.asarray(saved)
    np.testing.assert_array_equal(rng.random(5).get(), first)


@pytest.mark.parametrize("dtype", ["bool", "int8", "int16", "uint8", "complex64"])
def test_add_at_refuses_what_cupys_atomics_lack(dtype):
    with pytest.raises(TypeError, match="cupy.add.at only supports int32, int64, float16, float32"):
        cp.add.at(cp.zeros(3, dtype=dtype), cp.asarray([0, 0]), 1)


def test_add_at_accumulates_for_the_dtypes_it_has():
    target = cp.zeros(3, dtype="float16")
    cp.add.at(target, cp.asarray([0, 0, 2]), cp.asarray([1.0, 2.0, 5.0], dtype="float16"))
    np.testing.assert_array_equal(target.get(), [3.0, 0.0, 5.0])


def test_integer_indices_out_of_range_wrap_around():
    a = cp.asarray([10, 11, 12])
    np.testing.assert_array_equal(a[cp.asarray([0, 4, -4])].get(), [10, 11, 12])  # 4 % 3 = 1, -4 % 3 = 2
    np.testing.assert_array_equal(cp.take(a, cp.asarray([5])).get(), [12])
    a[cp.asarray([3])] = 0  # writes row 0
    np.testing.assert_array_equal(a.get(), [0, 11, 12])
    with pytest.raises(IndexError, match="Index 3 is out of bounds for axis 0 with size 3"):
        a[3]  # a plain number is checked, on the host, and worded unlike NumPy ("index 3 is...")


def test_host_reads_are_counted_with_where_they_came_from():
    a = cp.asarray([1.0, -2.0])
    with cp.count_transfers() as transfers:
        a.get(), a.sum().item(), a.tolist(), float(a[0]), bool(a[0] > 0), f"{a[1]:.1f}", a[a > 0]
        with pytest.raises(TypeError):
            np.asarray(a)
    assert [what for what, _ in transfers.events] == ["get", "item", "tolist", "float", "bool", "format",
                                                      "boolean mask index", "numpy.asarray"]
    assert "test_cupy_standin.py" in str(transfers)
    with cp.count_transfers() as none:
        (a * 2 + a.sum()).argmax()
    assert none.count == 0


def test_putmask_with_a_number_syncs():
    a = cp.zeros(3)
    with cp.count_transfers() as transfers:
        cp.putmask(a, a == 0, 1.0)
    assert transfers.count == 1 and a.get().tolist() == [1.0, 1.0, 1.0]


def test_broadcast_views_are_writable():
    a = cp.zeros(2)
    view = cp.broadcast_to(a, (3, 2))
    view[0] = 5.0
    np.testing.assert_array_equal(a.get(), [5.0, 5.0])


def test_two_devices_and_the_current_one():
    a = cp.asarray([1.0])
    with cp.cuda.Device(1):
        b = cp.asarray([2.0])
        assert b.device.id == 1 and cp.zeros_like(a).device.id == 1 and a.copy().device.id == 1
        assert a.reshape(1, 1).device.id == 0  # a view stays where its array is
        with pytest.raises(ValueError, match=r"resides \(0\) is different from the current device \(1\)"):
            a + 1
        moved = cp.asarray(a)
    assert moved.device.id == 1 and a.device.id == 0
    with pytest.raises(ValueError, match="Peer access is unavailable"):
        a + b
    with pytest.raises(cp.cuda.runtime.CUDARuntimeError, match="invalid device ordinal"):
        with cp.cuda.Device(2):
            pass


def test_a_generator_is_tied_to_its_device():
    rng = cp.random.default_rng(0)
    with cp.cuda.Device(1), pytest.raises(RuntimeError, match="allocated in a different device"):
        rng.random(2)


def test_what_it_leaves_out_fails_loudly():
    with pytest.raises(AttributeError, match="the CuPy stand-in has no 'nonzero'"):
        cp.nonzero
    with pytest.raises(AttributeError):
        cp.asarray([1]).argpartition


def test_the_current_device_is_each_threads_own_as_in_cuda():
    """CuPy's current device is per thread (CUDA's is per host thread), and a new thread starts on
    device 0: two threads on two GPUs must not move each other's arrays."""
    import threading

    seen = {}
    inside, done = threading.Event(), threading.Event()

    def other():
        seen["at start"] = cp.cuda.get_device_id()
        with cp.cuda.Device(1):
            inside.set()
            done.wait(10)

    with cp.cuda.Device(1):
        thread = threading.Thread(target=other)
        thread.start()
        inside.wait(10)
    seen["main, the other inside device 1"] = cp.cuda.get_device_id()
    done.set()
    thread.join(10)
    assert seen == {"at start": 0, "main, the other inside device 1": 0}
