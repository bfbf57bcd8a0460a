"""Making tensors: tensor, zeros, ones, full, arange, rand, randn, the *_like family, devices.

Every maker takes ``dtype=`` and ``device=`` as in PyTorch, and random makers
repeat bit for bit after ``manual_seed``: a training run can be replayed.
``Device`` parses "cpu", "cuda" and "cuda:N", and "cuda" means "cuda:0".
Each maker runs on every device (the "cuda" run is skipped where there is no GPU).
"""
import numpy as np
import pytest

import tinytensor as tt


# ----------------------------------------------------------------------------
# tensor()
# ----------------------------------------------------------------------------
def test_tensor_from_numbers_and_lists(device):
    t = tt.tensor([[1.0, 2.0], [3.0, 4.0]], device=device)
    assert t.shape == (2, 2) and t.dtype == tt.float32 and t.device == device
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert tt.tensor(3.5, device=device).shape == ()
    assert tt.tensor([1, 2], dtype=tt.float64, device=device).dtype == tt.float64
    assert t.is_leaf and not t.requires_grad and t.grad is None


def test_tensor_requires_grad(device):
    t = tt.tensor([1.0, 2.0], device=device, requires_grad=True)
    assert t.requires_grad and t.is_leaf


def test_tensor_from_a_tensor_makes_a_new_leaf():
    x = tt.tensor([1.0, 2.0], requires_grad=True)
    y = tt.tensor(x * 2)
    assert y.is_leaf and not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), [2.0, 4.0])


def test_tensor_copies_its_data():
    """As torch.tensor: changing the source afterwards does not change the tensor."""
    source = np.array([1.0, 2.0])
    t = tt.tensor(source)
    source[0] = 100.0
    assert t.tolist() == [1.0, 2.0]
    x = tt.tensor([1.0, 2.0])
    y = tt.tensor(x)
    y.array[0] = 100.0
    assert x.tolist() == [1.0, 2.0]


# ----------------------------------------------------------------------------
# zeros, ones, full, arange
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("maker, value", [(tt.zeros, 0.0), (tt.ones, 1.0)])
def test_zeros_and_ones(maker, value, device):
    for t in (maker(2, 3, device=device), maker((2, 3), device=device), maker([2, 3], device=device)):
        assert t.shape == (2, 3) and t.dtype == tt.float32 and t.device == device
        np.testing.assert_array_equal(t.numpy(), np.full((2, 3), value))
    assert maker(4, dtype=tt.int64, device=device).dtype == tt.int64
    assert maker(device=device).shape == ()
    assert maker(2, device=device, requires_grad=True).requires_grad


def test_full(device):
    t = tt.full((2, 3), 2.5, device=device)
    assert t.shape == (2, 3) and t.dtype == tt.float32 and t.device == device
    np.testing.assert_array_equal(t.numpy(), np.full((2, 3), 2.5))
    assert tt.full((2,), fill_value=7, dtype=tt.int64, device=device).tolist() == [7, 7]


def test_arange(device):
    assert tt.arange(5, device=device).tolist() == [0, 1, 2, 3, 4]
    assert tt.arange(5, device=device).dtype == tt.int64
    assert tt.arange(1, 7, 2, device=device).tolist() == [1, 3, 5]
    floats = tt.arange(0.0, 1.0, 0.25, device=device)
    assert floats.dtype == tt.float32 and floats.tolist() == [0.0, 0.25, 0.5, 0.75]
    assert tt.arange(3, dtype=tt.float64, device=device).dtype == tt.float64
    assert tt.arange(3, device=device).device == device


def test_makers_refuse_requires_grad_on_integers():
    with pytest.raises(TypeError, match="only floating point"):
        tt.zeros(2, dtype=tt.int64, requires_grad=True)


# ----------------------------------------------------------------------------
# rand, randn and the seed
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("maker", [tt.rand, tt.randn])
def test_manual_seed_repeats_bit_for_bit(maker, device):
    tt.manual_seed(42)
    first = [maker(3, 4, device=device).numpy(), maker(5, device=device, dtype=tt.float64).numpy()]
    tt.manual_seed(42)
    second = [maker(3, 4, device=device).numpy(), maker(5, device=device, dtype=tt.float64).numpy()]
    for a, b in zip(first, second):
        assert a.tobytes() == b.tobytes()
    tt.manual_seed(43)
    assert maker(3, 4, device=device).numpy().tobytes() != first[0].tobytes()
    tt.manual_seed(42)
    again = maker(3, 4, device=device).numpy()
    assert maker(3, 4, device=device).numpy().tobytes() != again.tobytes()  # the stream moves on


def test_rand_is_uniform_and_randn_is_normal(device):
    u = tt.rand(10_000, device=device).numpy()
    assert u.min() >= 0.0 and u.max() < 1.0
    assert u.mean() == pytest.approx(0.5, abs=0.02)
    n = tt.randn(10_000, device=device, dtype=tt.float64).numpy()
    assert n.mean() == pytest.approx(0.0, abs=0.03) and n.std() == pytest.approx(1.0, abs=0.03)
    assert tt.rand(2, 3, device=device).shape == (2, 3) and tt.randn((2, 3), device=device).shape == (2, 3)


# ----------------------------------------------------------------------------
# The *_like family
# ----------------------------------------------------------------------------
LIKE = {
    "zeros_like": lambda x, **kw: tt.zeros_like(x, **kw),
    "ones_like": lambda x, **kw: tt.ones_like(x, **kw),
    "full_like": lambda x, **kw: tt.full_like(x, 3.0, **kw),
    "rand_like": lambda x, **kw: tt.rand_like(x, **kw),
    "randn_like": lambda x, **kw: tt.randn_like(x, **kw),
}


@pytest.mark.parametrize("name", LIKE)
def test_like_takes_shape_dtype_and_device(name, device):
    x = tt.ones(2, 3, dtype=tt.float64, device=device)
    same = LIKE[name](x)
    assert same.shape == (2, 3) and same.dtype == tt.float64 and same.device == device
    assert not same.requires_grad
    other = LIKE[name](x, dtype=tt.float32, device=device, requires_grad=True)
    assert other.dtype == tt.float32 and other.requires_grad and other.device == device


def test_like_values():
    x = tt.ones(2, 2)
    assert tt.zeros_like(x).tolist() == [[0.0, 0.0], [0.0, 0.0]]
    assert tt.full_like(x, 4.0).tolist() == [[4.0, 4.0], [4.0, 4.0]]
    assert tt.ones_like(tt.arange(3)).tolist() == [1, 1, 1]


# ----------------------------------------------------------------------------
# Devices
# ----------------------------------------------------------------------------
def test_device_parsing_and_equality():
    assert tt.Device("cpu") == "cpu" and tt.Device("cpu").index is None
    assert tt.Device("cuda") == "cuda:0"
    assert tt.Device("cuda:0") == tt.Device("cuda")
    assert tt.Device("cuda:1") != "cuda"
    assert tt.Device("cuda:1").index == 1 and tt.Device("cuda:1").type == "cuda"
    assert tt.Device("cpu") != "cuda"
    assert tt.Device("cpu") != "not a device"  # no exception, just unequal
    assert hash(tt.Device("cuda")) == hash(tt.Device("cuda:0"))
    assert str(tt.Device("cuda")) == "cuda:0" and repr(tt.Device("cpu")) == "device('cpu')"
    assert tt.Device(tt.Device("cuda:2")) == "cuda:2"
    assert tt.device("cpu") == "cpu"  # torch's spelling


def test_cpu_tensors_report_the_cpu_device():
    t = tt.ones(2)
    assert t.device == "cpu" and t.device == tt.Device("cpu")
    assert t.to("cpu") is t and t.cpu() is t


def test_tensors_on_the_device_fixture(device):
    t = tt.randn(3, device=device)
    assert t.device == device
    back = t.to("cpu")
    assert back.device == "cpu"
    np.testing.assert_array_equal(back.numpy(), t.numpy())


def test_randint_in_each_of_pytorchs_forms():
    assert tt.randint(10, (3,)).shape == (3,) and tt.randint(10, size=(2, 2)).shape == (2, 2)
    values = tt.randint(5, 8, (500,))
    assert values.dtype == tt.int64 and set(values.tolist()) == {5, 6, 7}
    assert tt.randint(3, (4,), dtype=tt.int32).dtype == tt.int32
