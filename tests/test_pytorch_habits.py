"""PyTorch habits: everyday PyTorch snippets run unchanged with ``import tinytensor as torch``.

Each snippet below is written once, against a module called ``torch``; the test
runs it with PyTorch and with tinytensor in PyTorch's place and compares what it
returns, number for number (skipped, saying why, without PyTorch). Then the
rules of in-place operations, and the error messages that say what to use
instead of a name tinytensor does not have.
"""
from __future__ import annotations

import numpy as np
import pytest

import tinytensor as tt

SNIPPETS = {}


def snippet(function):
    SNIPPETS[function.__name__] = function
    return function


# ----------------------------------------------------------------------------
# The snippets: each returns tensors (or numbers) to compare
# ----------------------------------------------------------------------------
DATA = [[1.0, -2.0, 3.0], [4.0, 0.5, -6.0]]


@snippet
def reductions_with_dim(torch):
    x = torch.tensor(DATA)
    values, indices = x.max(dim=1)
    return [x.sum(dim=0), x.mean(dim=1, keepdim=True), values, indices, x.argmax(dim=1), x.max(),
            x.min(0).values, torch.max(x, 1).indices, x.amax(dim=(0, 1)), x.argmin(), x.sum((0, 1))]


@snippet
def softmax_family_with_dim(torch):
    import_f = torch.nn.functional
    x = torch.tensor(DATA)
    return [x.softmax(dim=-1), import_f.log_softmax(x, dim=1), torch.softmax(x, 0),
            torch.logsumexp(x, dim=1), import_f.softmax(x, dim=1).sum(dim=1)]


@snippet
def joining_with_dim(torch):
    x = torch.tensor(DATA)
    return [torch.cat([x, x], dim=0), torch.stack([x, x], dim=1), *torch.split(x, 2, dim=1),
            *x.chunk(3, dim=1), *x.unbind(dim=0), torch.cat((x, x), 1)]


@snippet
def everyday_methods(torch):
    x = torch.tensor(DATA)
    return [x.clone(), x.t(), x.pow(2), x.square(), x.norm(), x.norm(dim=1), x.std(), x.std(dim=0),
            x.var(dim=1, unbiased=False), x.abs().sqrt(), x.neg(), x.add(1.0, alpha=2), x.sub(x, alpha=0.5),
            x.mul(3), x.div(2), x.matmul(x.t()), x.contiguous(), x.transpose(0, 1).contiguous().view(-1),
            x.dim(), x.numel(), x.size(0), x.shape[1], len(x), x.ndim]


@snippet
def dtypes_and_casts(torch):
    x = torch.tensor(DATA)
    return [x.long(), x.int(), (x > 0).int(), x.bool(), x.to(torch.long), x.type(torch.float64),
            x.long().dtype == torch.long, x.float().dtype == torch.float32, x.double().dtype == torch.float64,
            (x > 0).dtype == torch.bool, torch.tensor([1, 2]).dtype == torch.int64, x.type_as(x.long())]


@snippet
def logic_all_any(torch):
    x = torch.tensor(DATA)
    positive = x > 0
    return [positive.all(), positive.any(), positive.all(dim=1), positive.any(dim=0), ~positive,
            positive & (x < 4), positive | (x < -5), torch.where(positive, x, torch.zeros_like(x)),
            x.masked_fill(~positive, 0.0), torch.allclose(x, x + 1e-9), torch.equal(x, x.clone())]


@snippet
def making_tensors(torch):
    return [torch.empty(2, 3).shape, torch.zeros(2, 3), torch.ones(3, dtype=torch.long), torch.eye(3),
            torch.eye(2, 3), torch.linspace(0, 1, 5), torch.arange(5), torch.arange(0, 1, 0.25),
            torch.full((2, 2), 7), torch.zeros_like(torch.ones(2)), torch.ones_like(torch.zeros(2, 1)),
            torch.randint(0, 10, (3, 4)).shape, torch.randint(5, (2,)).dtype == torch.int64,
            sorted(torch.randperm(6).tolist()), torch.rand(2, 3).shape, torch.randn(4).shape,
            torch.from_numpy(np.arange(3.0)), torch.tensor(3.5).item(), torch.is_tensor(torch.ones(1))]


@snippet
def shapes(torch):
    x = torch.arange(6.0).reshape(2, 3)
    index = torch.tensor([[0, 2], [1, 1]])
    return [x.view(-1), x.view(3, 2), x.view_as(torch.zeros(3, 2)), x.unsqueeze(0).shape, x.flatten(),
            x.permute(1, 0), x[:, None].shape, x.expand(4, 2, 3).shape, x[0].expand_as(x), x.repeat(2, 1),
            x.repeat(1, 2, 2).shape, x.index_select(1, torch.tensor([2, 0])), x.gather(1, index),
            x.squeeze(), torch.zeros(1, 3, 1).squeeze(dim=2).shape, x.T, x.mT]


@snippet
def in_place_under_no_grad(torch):
    w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    loss = (w * w).sum()
    loss.backward()
    with torch.no_grad():
        w.sub_(0.1 * w.grad)           # a hand-written SGD step
        w.add_(torch.ones(3), alpha=2)
        w.mul_(0.5)
        w.clamp_(min=0.0, max=2.5)
        w.grad.zero_()
    b = torch.zeros(2, 3)
    b.fill_(4.0)
    b.masked_fill_(torch.tensor([[True, False, False], [False, False, True]]), -1.0)
    c = torch.empty(2, 3)
    c.copy_(b)
    c.div_(2)
    return [w, w.grad, b, c, w.requires_grad, w.is_leaf]


@snippet
def a_training_loop_from_the_tutorial(torch):
    """PyTorch's "Learning PyTorch with Examples": fit a cubic to sin(x) by hand-written SGD."""
    x = torch.linspace(-3.14159, 3.14159, 200)
    y = torch.sin(x)
    a, b, c, d = (torch.tensor(v, requires_grad=True) for v in (0.1, -0.2, 0.3, 0.05))
    learning_rate = 1e-6
    for _ in range(50):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with torch.no_grad():
            for p in (a, b, c, d):
                p -= learning_rate * p.grad  # in place, as the tutorial writes it
                p.grad = None
    return [a, b, c, d, loss.item()]


@snippet
def a_module_and_an_optimizer(torch):
    """The quickstart's habits: nn.Sequential with Flatten, CrossEntropyLoss, SGD, argmax(1) == y."""
    nn = torch.nn
    model = nn.Sequential(nn.Flatten(), nn.Linear(8, 3), nn.ReLU(), nn.Linear(3, 2))
    with torch.no_grad():
        for i, p in enumerate(model.parameters()):
            p.copy_(torch.arange(float(p.numel())).reshape(p.shape) / (10 + i) - 0.3)
    x = torch.arange(16.0).reshape(2, 2, 4) / 16
    y = torch.tensor([1, 0])
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    for _ in range(3):
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        pred = model(x)
        correct = (pred.argmax(1) == y).type(torch.float).sum().item()
    return [loss.item(), pred, correct, nn.Softmax(dim=1)(pred), nn.Sigmoid()(pred)]


@snippet
def decorators_and_grad_modes(torch):
    @torch.no_grad
    def bare(v):
        return (v * 2).requires_grad

    @torch.no_grad()
    def called(v):
        return (v * 2).requires_grad

    x = torch.ones(2, requires_grad=True)
    with torch.inference_mode():
        inside = (x * 2).requires_grad
    with torch.set_grad_enabled(False):
        switched = (x * 2).requires_grad
    return [bare(x), called(x), inside, switched, torch.is_grad_enabled(), (x * 2).requires_grad]


@snippet
def the_cuda_namespace(torch):
    return [torch.cuda.is_available(), torch.cuda.device_count(), torch.ones(1).is_cuda,
            str(torch.ones(1).device)]


@snippet
def autograd_grad_and_clamp(torch):
    x = torch.tensor([0.5, -1.5, 2.0], requires_grad=True)
    y = torch.clamp(x, min=-1.0, max=1.0).exp().sum() + x.norm()
    (g,) = torch.autograd.grad(y, x)
    return [y, g, torch.clamp(x, -1, 1)]


@snippet
def item_assignment_and_iteration(torch):
    x = torch.zeros(3, 4)
    x[0, 1] = 1.0
    x[:, -2:] = torch.ones(2) * 5
    x[x > 4] = 2.0
    x[torch.tensor([2, 0])] = torch.tensor([7.0, 8.0, 9.0, 10.0])
    rows = [row.sum() for row in x]
    firsts = [float(v) for v in x[1]]
    return [x, rows, firsts, len(list(x))]


# ----------------------------------------------------------------------------
# Run every snippet with both
# ----------------------------------------------------------------------------
def plain(value):
    """A snippet's result as NumPy arrays and Python numbers, whichever library made it."""
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return [plain(v) for v in value]
    if hasattr(value, "_fields"):  # namedtuples: (values, indices)
        return [plain(v) for v in value]
    if hasattr(value, "detach"):
        return np.asarray(value.detach().cpu().numpy())
    if hasattr(value, "__iter__") and not isinstance(value, str):  # torch.Size
        return tuple(value)
    return value


def assert_same(ours, theirs, where):
    if isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray), f"{where}: {type(ours)}"
        assert ours.shape == theirs.shape, f"{where}: shape {ours.shape} != {theirs.shape}"
        assert ours.dtype == theirs.dtype, f"{where}: dtype {ours.dtype} != {theirs.dtype}"
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6, err_msg=where)
    elif isinstance(theirs, str):  # devices: "cpu"
        assert ours == theirs, where
    else:
        assert ours == pytest.approx(theirs, rel=1e-5, abs=1e-6), f"{where}: {ours} != {theirs}"


@pytest.mark.parametrize("name", SNIPPETS)
def test_snippet_runs_the_same_with_tinytensor_as_with_torch(name):
    torch = pytest.importorskip("torch", reason="PyTorch not installed: the snippets compare with it")
    torch.manual_seed(0)
    tt.manual_seed(0)
    assert_same(plain(SNIPPETS[name](tt)), plain(SNIPPETS[name](torch)), name)


# ----------------------------------------------------------------------------
# In place: allowed where no graph needs the values, refused where one does
# ----------------------------------------------------------------------------
def test_in_place_on_a_leaf_that_requires_grad_needs_no_grad(device):
    w = tt.ones(3, requires_grad=True, device=device)
    with pytest.raises(RuntimeError, match=r"add_: this is a leaf tensor that requires grad .*"
                                           r"under `with tinytensor.no_grad\(\):`"):
        w.add_(1)
    with tt.no_grad():
        w.add_(1)
    assert w.tolist() == [2.0, 2.0, 2.0]


def test_in_place_inside_a_recorded_graph_is_refused(device):
    x = tt.ones(3, requires_grad=True, device=device)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"mul_: in-place operations are not recorded in the graph.*"
                                           r"x = x \+ y"):
        y.mul_(3)
    plain = tt.ones(3, device=device)
    with pytest.raises(RuntimeError, match="the operand requires grad|takes part in one"):
        plain.add_(x)
    plain.mul_(4)  # nothing needs it: fine
    assert plain.tolist() == [4.0, 4.0, 4.0]


@pytest.mark.parametrize("change", ["input", "output", "view of the input", "optimizer step"])
def test_backward_refuses_values_changed_in_place_after_the_forward(change, device):
    a = tt.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    b = tt.tensor([[4.0, 5.0, 6.0], [7.0, 8.0, 9.0]], device=device)
    y = (a * b).exp() if change != "optimizer step" else (a * a).sum()
    with tt.no_grad():
        if change == "input":
            b.mul_(2)
        elif change == "output":
            y.add_(1)
        elif change == "view of the input":
            b[1].fill_(0.0)            # writes into b's memory: b's version changes too
        else:
            a.grad = tt.ones(3, device=device)
            tt.optim.SGD([a], lr=0.1).step()
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation after the forward pass "
                                           r"\(a variable needed for gradient computation has been "
                                           r"modified by an inplace operation\)"):
        y.sum().backward()


def test_an_in_place_change_no_recorded_backward_reads_is_fine(device):
    a = tt.tensor([1.0, 2.0, 3.0], requires_grad=True, device=device)
    b = tt.tensor([4.0, 5.0, 6.0], device=device)
    unrelated = tt.zeros(3, device=device)
    y = (a * b).sum()
    with tt.no_grad():
        unrelated.add_(1)            # not part of y's graph
    y.backward()
    np.testing.assert_array_equal(a.grad.numpy(), [4.0, 5.0, 6.0])
    b.mul_(2)                         # after backward: nothing needs the old values any more
    loss = (a * b).sum()
    loss.backward()
    np.testing.assert_array_equal(a.grad.numpy(), [12.0, 15.0, 18.0])


def test_item_assignment_follows_the_in_place_rules(device):
    w = tt.zeros(3, requires_grad=True, device=device)
    with pytest.raises(RuntimeError, match=r"setitem: this is a leaf tensor that requires grad"):
        w[0] = 1.0
    with tt.no_grad():
        w[0] = 1.0
    assert w.tolist() == [1.0, 0.0, 0.0]
    b = tt.tensor([1.0, 2.0, 3.0], device=device)
    y = w * b
    b[1] = 0.0  # w's gradient is b: the backward that needs the old b refuses
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()
    with pytest.raises(IndexError, match=r"setitem: index 3 is out of range"):
        b[3] = 1.0


def test_iterating_a_0d_tensor_is_refused():
    with pytest.raises(TypeError, match=r"iteration over a 0-d tensor"):
        list(tt.tensor(1.0))


def test_in_place_results_keep_shape_and_dtype(device):
    with pytest.raises(TypeError, match=r"add_: cannot write into a tensor of shape \(3,\) and dtype int64"):
        tt.tensor([1, 2, 3], device=device).add_(0.5)
    with pytest.raises(ValueError, match=r"add_: cannot write into a tensor of shape \(3,\)"):
        tt.ones(3, device=device).add_(tt.ones(2, 3, device=device))
    with pytest.raises(ValueError, match="read-only"):
        tt.ones(3, device=device).expand(2, 3).zero_()


# ----------------------------------------------------------------------------
# Names tinytensor spells differently get a pointer, not a bare error
# ----------------------------------------------------------------------------
def test_both_spellings_at_once_are_refused():
    x = tt.ones(2, 3)
    with pytest.raises(TypeError, match=r"sum: got dim=0 \(PyTorch's name\) and axis=1 \(NumPy's name\)"):
        x.sum(dim=0, axis=1)
    with pytest.raises(TypeError, match="mean: got keepdim= .* and keepdims="):
        x.mean(1, keepdim=True, keepdims=True)
    with pytest.raises(TypeError, match=r"max: dim=\(0, 1\) must be one dimension .* use amax"):
        x.max(dim=(0, 1))
    assert x.max(axis=(0, 1)).item() == 1.0  # NumPy's spelling: the values alone


def test_a_missing_attribute_says_what_to_use():
    x = tt.ones(2)
    with pytest.raises(AttributeError, match=r"no attribute 'astype'; use x.to\(dtype\)"):
        x.astype("float64")
    with pytest.raises(AttributeError, match=r"no attribute 'szie'; did you mean x.size"):
        x.szie()
    with pytest.raises(AttributeError, match=r"no attribute 'ravel'; use x.flatten\(\)"):
        x.ravel()
    assert not hasattr(x, "__array_interface__")  # Python's own probes still get a plain "no"


def test_a_module_attribute_typo_names_the_member_meant():
    with pytest.raises(AttributeError, match=r"'Linear' object has no attribute 'weights'; did you mean weight\?"):
        tt.nn.Linear(2, 3).weights


def test_changing_an_index_in_place_after_the_forward_changes_no_gradient():
    x = tt.ones(4, 2, requires_grad=True)
    index = tt.tensor([0, 1])
    y = x[index]
    index.add_(2)                                 # the op kept its own copy of the index
    y.sum().backward()
    assert x.grad.tolist() == [[1.0, 1.0], [1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]
    embedding, ids = tt.nn.Embedding(5, 2), tt.tensor([[1, 2]])
    out = embedding(ids)
    ids.fill_(3)
    out.sum().backward()
    assert embedding.weight.grad.tolist()[1:4] == [[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]]


def test_loading_weights_after_the_forward_makes_its_backward_refuse():
    layer = tt.nn.Linear(3, 2)
    loss = layer(tt.ones(1, 3)).sum()
    layer.load_state_dict(tt.nn.Linear(3, 2).state_dict())
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_a_star_import_hides_none_of_pythons_builtins():
    namespace: dict = {}
    exec("from tinytensor import *", namespace)
    assert not {"sum", "max", "min", "abs", "all", "any", "pow", "int", "float", "bool"} & set(namespace)
    assert {"tensor", "no_grad", "cat", "softmax"} <= set(namespace)


def test_a_python_number_written_into_a_float64_tensor_keeps_its_float64_value(device):
    """x[i] = 0.9 and copy_([...]) cast the number straight to x's dtype, as PyTorch does
    (they went through float32 first, and 0.9 became 0.8999999761581421)."""
    x = tt.zeros(3, dtype=tt.float64, device=device)
    x[0] = 0.9
    x[1:] = [0.1, 1 / 3]
    assert x.tolist() == [0.9, 0.1, 1 / 3]
    y = tt.zeros(2, dtype=tt.float64, device=device)
    y.copy_([0.9, 0.7])
    assert y.tolist() == [0.9, 0.7]
    n = tt.zeros(2, dtype=tt.int64, device=device)
    n[0] = 2**40 + 1  # an int64 past float32's 24-bit mantissa stays exact
    assert n.tolist() == [2**40 + 1, 0]
