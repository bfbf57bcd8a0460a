"""PyTorch's ways of making and reading tensors that programs use, compared with PyTorch.

uint8/int8/int16, the old constructors (``torch.Tensor([1, 2])``, ``torch.Tensor(2, 3)``,
``torch.LongTensor``...) and ``x.type()``, ``as_tensor``, ``new_zeros`` and its kin,
``x.where``, a tensor as an index (``__index__``) and in an f-string (``__format__``),
``out=``, ``set_default_device``, ``zero_grad(set_to_none=)``, and ``save``/``load`` of
a training run's state dicts with PyTorch's keywords. Each snippet is written once
against a module called ``torch`` and run with both libraries (skipped, saying why,
without PyTorch); then what only tinytensor can check, and the errors.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinytensor as tt


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="PyTorch not installed: these checks compare with it")


def plain(value):
    """A result as NumPy arrays, dtype names and Python values, whichever library made it."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "detach"):
        array = np.asarray(value.detach().cpu().numpy())
        return ("tensor", str(array.dtype), array.shape, array.tolist())
    if hasattr(value, "itemsize") or type(value).__name__ == "dtype":  # a dtype of either library
        return str(value).replace("torch.", "")
    return value


def same(snippet, torch):
    ours, theirs = plain(snippet(tt)), plain(snippet(torch))
    assert ours == theirs, f"\ntinytensor: {ours}\ntorch:      {theirs}"


# ----------------------------------------------------------------------------
# dtypes and the old constructors
# ----------------------------------------------------------------------------
def test_small_integer_dtypes_promote_and_wrap_as_pytorch(torch):
    def snippet(torch):
        u, i8 = torch.ones(3, dtype=torch.uint8), torch.tensor([-1, 2, 3], dtype=torch.int8)
        return [u + i8, u - 2, u + 255, u * 1.5, u / 2, u == 1, u & torch.tensor([True, False, True]),
                torch.ones(2).byte(), torch.ones(2).char(), torch.ones(2).short(), torch.short,
                torch.tensor([1, 2], dtype=torch.int16) * torch.tensor([3, 4], dtype=torch.int8),
                torch.arange(4).to(torch.uint8).sum(), torch.ones(2, dtype=torch.uint8).float()]
    same(snippet, torch)


def test_the_old_constructors_and_type(torch):
    def snippet(torch):
        return [torch.Tensor([1, 2]), torch.Tensor([[1, 2], [3, 4]]), torch.Tensor([True, False]),
                torch.Tensor(2, 3).shape, torch.Tensor().shape, torch.Tensor(0).shape,
                torch.Tensor((2, 3)), torch.Tensor(np.array([1, 2])), torch.Tensor(torch.tensor([1, 2])),
                torch.FloatTensor([[0.1, 0.2]] * 2), torch.LongTensor([1.7, 2]), torch.LongTensor(2, 3).shape,
                torch.DoubleTensor([1]), torch.IntTensor([1]), torch.ShortTensor([1]), torch.CharTensor([1]),
                torch.ByteTensor([1, 255]), torch.BoolTensor([1, 0]), torch.HalfTensor([0.5]),
                torch.tensor(1).type(), torch.ones(2).type(), torch.ones(2).type(torch.uint8),
                torch.arange(3).type("torch.FloatTensor"), torch.ones(2).type(torch.LongTensor),
                torch.ones(2).type(torch.float64), torch.Tensor([1]).requires_grad,
                isinstance(torch.ones(2), torch.FloatTensor), isinstance(torch.ones(2), torch.LongTensor),
                isinstance(torch.arange(2), torch.LongTensor), isinstance([1.0], torch.FloatTensor)]
    same(snippet, torch)


def test_the_old_constructors_refuse_what_pytorch_refuses(torch):
    for lib in (tt, torch):
        with pytest.raises(TypeError):
            lib.Tensor(3.5)
        with pytest.raises(TypeError):
            lib.Tensor(2, 3.0)
        with pytest.raises(RuntimeError, match="negative dimension"):
            lib.Tensor(-1)
        with pytest.raises(RuntimeError, match="overflow"):
            lib.ByteTensor([1, 300])
    with pytest.raises(TypeError, match=r"give the values as one sequence.*tinytensor\.tensor"):
        tt.Tensor(3.5)
    with pytest.raises(TypeError, match=r"LongTensor\(tensor\): expected a int64 tensor, got float32"):
        tt.LongTensor(tt.ones(2))


def test_tensor_of_a_tensor_shares_its_memory_and_a_type_is_made_on_a_device(device):
    x = tt.tensor([1.0, 2.0], device=device)
    alias = tt.Tensor(x)
    alias.add_(1)
    assert x.tolist() == [2.0, 3.0] and alias.device == x.device
    assert tt.LongTensor([1, 2], device=device).device == tt.device(device)
    assert tt.Tensor(2, device=device).device == tt.device(device)
    assert x.type() == ("torch.cuda.FloatTensor" if device == "cuda" else "torch.FloatTensor")
    moved = x.type(tt.DoubleTensor)  # a CPU type, as PyTorch's
    assert moved.device == "cpu" and moved.dtype == tt.float64
    assert isinstance(x, tt.FloatTensor) == (device == "cpu")  # FloatTensor is PyTorch's CPU type


def test_parameter_keeps_its_data_and_refuses_what_is_not_a_tensor():
    w = tt.tensor([1.0, 2.0], dtype=tt.float64)
    p = tt.nn.Parameter(w)
    assert p.dtype == tt.float64 and p.array is w.array and p.requires_grad
    assert tt.nn.Parameter().shape == (0,)
    with pytest.raises(TypeError, match="Parameter: expected a Tensor, got list"):
        tt.nn.Parameter([1.0])


# ----------------------------------------------------------------------------
# as_tensor, new_*, where, __index__, __format__
# ----------------------------------------------------------------------------
def test_as_tensor_shares_memory_where_it_can(torch):
    def snippet(torch):
        array = np.array([1.0, 2.0])
        shared, copied = torch.as_tensor(array), torch.as_tensor(array, dtype=torch.float32)
        array[0] = 5.0
        t = torch.ones(2)
        return [shared, copied, torch.as_tensor([1, 2]), torch.as_tensor([1.5]), torch.as_tensor(t) is t,
                torch.as_tensor(t, dtype=torch.float64), torch.as_tensor(np.arange(3)).dtype]
    same(snippet, torch)


def test_as_tensor_of_a_tensor_that_requires_grad_stays_in_the_graph():
    x = tt.ones(2, requires_grad=True)
    y = tt.as_tensor(x, dtype=tt.float64)
    y.sum().backward()
    assert x.grad.tolist() == [1.0, 1.0] and x.grad.dtype == tt.float32


def test_new_tensors_take_the_dtype_and_device_of_their_tensor(torch):
    def snippet(torch):
        x, ids = torch.ones(2, 3), torch.ones(2, dtype=torch.int64)
        return [x.new_zeros(2), x.new_zeros((2, 2)), x.new_ones(3, dtype=torch.int64), x.new_full((2,), 3),
                x.new_empty(2).shape, ids.new_tensor([1.5, 2.5]), x.new_tensor([1, 2]),
                x.new_tensor([1.0], requires_grad=True).requires_grad, ids.new_zeros(1, 2)]
    same(snippet, torch)


def test_new_tensors_on_a_device(device):
    x = tt.ones(2, dtype=tt.float64, device=device)
    for made in (x.new_zeros(3), x.new_ones(1), x.new_full((2,), 7.0), x.new_empty(2), x.new_tensor([1, 2])):
        assert made.device == tt.device(device) and made.dtype == tt.float64


def test_tensor_where_keeps_itself_where_the_condition_holds(torch):
    def snippet(torch):
        x = torch.tensor([1.0, -2.0, 3.0])
        return [x.where(x > 0, torch.tensor(0.0)), x.where(x > 0, 0), x.where(x < 0, x * 10)]
    same(snippet, torch)
    x = tt.tensor([1.0, -2.0], dtype=tt.float64, requires_grad=True)
    assert tt.autograd.gradcheck(lambda x: x.where(x > 0, x * 3), [x])


def test_a_one_element_integer_tensor_is_an_index(torch):
    def snippet(torch):
        items = [10, 20, 30, 40]
        i = torch.tensor(1)
        return [items[i], items[torch.tensor([2])], items[torch.tensor(True)], list(range(torch.tensor(3))),
                items[i:i + 2], torch.arange(5)[i:torch.tensor(4)], hex(torch.tensor(255)),
                torch.arange(6).reshape(2, 3)[torch.tensor(1)], items[torch.tensor(1, dtype=torch.uint8)]]
    same(snippet, torch)
    for bad in (tt.tensor(1.0), tt.tensor([1, 2])):
        with pytest.raises(TypeError, match="only integer tensors of a single element can be converted"):
            [1, 2, 3][bad]
    with pytest.raises(TypeError, match="only integer tensors"):
        tt.arange(5)[tt.tensor(1.0):3]


def test_format_of_a_0d_tensor_is_the_format_of_its_number(torch):
    def snippet(torch):
        loss, count = torch.tensor(0.123456), torch.tensor(3)
        return [f"{loss:.4f}", f"{loss:8.2e}", f"{count:4d}", f"{loss}", f"{torch.tensor(True)}",
                "{:>6}".format(count), f"{torch.tensor(2.5, requires_grad=True):.1f}", "%.2f" % loss]
    same(snippet, torch)
    for lib in (tt, torch):
        with pytest.raises(TypeError, match="unsupported format string passed to Tensor.__format__"):
            f"{lib.ones(2):.3f}"
    assert f"{tt.ones(2)}" == str(tt.ones(2))


# ----------------------------------------------------------------------------
# out=
# ----------------------------------------------------------------------------
def test_out_receives_the_result(torch):
    def snippet(torch):
        a, b = torch.ones(2, 3), torch.full((3, 2), 2.0)
        out = torch.empty(2, 2)
        returned = torch.matmul(a, b, out=out)
        product = torch.zeros(3)
        product_view = product
        torch.mul(torch.ones(3), 4, out=product)
        widened = torch.zeros(2, dtype=torch.float64)
        torch.mul(torch.ones(2, dtype=torch.int64), 2, out=widened)
        total = torch.zeros(2)
        torch.add(torch.ones(2), torch.ones(2), alpha=3, out=total)
        with torch.no_grad():
            free = torch.sub(torch.ones(2, requires_grad=True), 1, out=torch.zeros(2))
        return [returned is out, out, product_view, widened, total, free,
                torch.div(a, 2, out=torch.zeros(2, 3)),
                torch.bmm(torch.ones(1, 2, 2), torch.ones(1, 2, 2), out=torch.zeros(1, 2, 2)),
                torch.mm(a, b, out=torch.zeros(2, 2))]
    same(snippet, torch)


def test_out_is_resized_with_a_warning_unless_empty(torch):
    for lib in (tt, torch):
        out = lib.zeros(3)
        with pytest.warns(UserWarning, match="resized"):
            lib.mul(lib.ones(2), 2, out=out)
        assert out.tolist() == [2.0, 2.0]
        empty = lib.zeros(0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            lib.mul(lib.ones(2), 3, out=empty)
        assert empty.tolist() == [3.0, 3.0]


def test_out_refuses_what_pytorch_refuses(torch, device):
    for lib, where in ((tt, device), (torch, "cpu")):
        with pytest.raises(RuntimeError, match="result type .* can't be cast to the desired output type"):
            lib.mul(lib.ones(2, device=where), 2.5, out=lib.zeros(2, dtype=lib.int64, device=where))
        with pytest.raises(RuntimeError, match="out=... arguments don't support automatic differentiation"):
            lib.mul(lib.ones(2, requires_grad=True, device=where), 2, out=lib.zeros(2, device=where))
        with pytest.raises(TypeError, match="argument 'out' must be Tensor, not list"):
            lib.add(lib.ones(2, device=where), 1, out=[0.0])
    if device == "cuda":
        with pytest.raises(RuntimeError, match="expected the out tensor on cuda:0"):
            tt.add(tt.ones(2, device=device), 1, out=tt.zeros(2))


# ----------------------------------------------------------------------------
# The default device
# ----------------------------------------------------------------------------
@pytest.fixture
def default_device():
    yield tt.set_default_device
    tt.set_default_device(None)


def test_creation_functions_follow_the_default_device(cuda, default_device):
    assert tt.get_default_device() == "cpu"
    default_device(cuda)
    assert tt.get_default_device() == tt.device("cuda:0")
    made = [tt.tensor([1, 2]), tt.zeros(2), tt.ones(2), tt.full((2,), 3.0), tt.arange(3), tt.rand(2),
            tt.randn(2), tt.randint(0, 5, (2,)), tt.randperm(3), tt.empty(2), tt.eye(2), tt.linspace(0, 1, 3),
            tt.Tensor([1.0]), tt.LongTensor([1]), tt.as_tensor(np.ones(2)), tt.as_tensor([1.0]),
            tt.nn.Linear(2, 3).weight]
    assert all(t.device == tt.device("cuda:0") for t in made), [t.device for t in made]
    on_cpu = tt.zeros(2, device="cpu")
    assert tt.zeros_like(on_cpu).device == "cpu" and tt.tensor(on_cpu).device == "cpu"  # follow their tensor
    assert tt.from_numpy(np.ones(2)).device == "cpu"
    default_device(None)
    assert tt.zeros(2).device == "cpu"


def test_default_device_answers_as_pytorch(torch, default_device):
    for lib in (tt, torch):
        assert str(lib.get_default_device()) == "cpu"
        lib.set_default_device("cpu")
        assert lib.zeros(1).device.type == "cpu"
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        tt.set_default_device("tpu")


# ----------------------------------------------------------------------------
# zero_grad, save and load
# ----------------------------------------------------------------------------
def test_zero_grad_sets_to_none_or_writes_zeros(torch):
    for lib in (tt, torch):
        model = lib.nn.Linear(2, 1)
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        model(lib.ones(1, 2)).sum().backward()
        grad = model.weight.grad
        model.zero_grad(set_to_none=False)
        assert grad.tolist() == [[0.0, 0.0]] and model.weight.grad.tolist() == [[0.0, 0.0]]
        model(lib.ones(1, 2)).sum().backward()
        opt.zero_grad(set_to_none=False)
        assert model.weight.grad.tolist() == [[0.0, 0.0]] and not model.weight.grad.requires_grad
        model.zero_grad()  # set_to_none=True by default, as PyTorch 2
        assert model.weight.grad is None and model.bias.grad is None


def test_zero_grad_of_a_gradient_with_a_graph_leaves_the_graph():
    w = tt.ones(2, requires_grad=True)
    (w ** 3).sum().backward(create_graph=True)
    assert w.grad.requires_grad
    tt.optim.SGD([w], lr=0.1).zero_grad(set_to_none=False)
    assert w.grad.tolist() == [0.0, 0.0] and not w.grad.requires_grad


def train(model, opt, scheduler, steps, device):
    losses = []
    for step in range(steps):
        x = tt.tensor(np.linspace(-1, 1, 8).reshape(4, 2) * (step + 1), dtype=tt.float32, device=device)
        loss = ((model(x) - 1) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        scheduler.step()
        losses.append(loss.item())
    return losses


def test_a_saved_training_run_resumes_exactly(tmp_path, device):
    """model, optimizer and scheduler state dicts (ints, lists, nested dicts) in one file, loaded
    with PyTorch's keywords into fresh objects: the resumed run is the run that never stopped."""
    def fresh(seed):
        tt.manual_seed(seed)
        model = tt.nn.Sequential(tt.nn.Linear(2, 4), tt.nn.Tanh(), tt.nn.Linear(4, 1)).to(device)
        opt = tt.optim.AdamW(model.parameters(), lr=0.05, weight_decay=0.1)
        return model, opt, tt.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)

    model, opt, scheduler = fresh(0)
    train(model, opt, scheduler, 3, device)
    path = tmp_path / "ckpt.pt"
    tt.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": scheduler.state_dict(),
             "epoch": 3, "history": [1.5, 0.5], "config": {"layers": [2, 4, 1], "name": "mlp"}}, path)
    uninterrupted = train(model, opt, scheduler, 3, device)

    checkpoint = tt.load(path, weights_only=True, map_location=device)
    model, opt, scheduler = fresh(1)
    model.load_state_dict(checkpoint["model"])
    opt.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    assert checkpoint["epoch"] == 3 and checkpoint["config"] == {"layers": [2, 4, 1], "name": "mlp"}
    assert checkpoint["optimizer"]["state"][0]["step"] == 3
    assert train(model, opt, scheduler, 3, device) == uninterrupted


def test_load_takes_pytorchs_keywords(tmp_path, device):
    path = tmp_path / "w.pt"
    tt.save({"w": tt.ones(2, device=device)}, path)
    assert tt.load(path, weights_only=False)["w"].device == tt.device(device)  # no pickle either way
    assert tt.load(path, map_location=tt.device("cpu"))["w"].device == "cpu"
    assert tt.load(path, map_location={device: "cpu"})["w"].device == "cpu"
    assert tt.load(path, map_location={"cuda:7": "cpu"})["w"].device == tt.device(device)  # not mapped
    with pytest.raises(TypeError, match="map_location must be a device"):
        tt.load(path, map_location=lambda storage, location: storage)
