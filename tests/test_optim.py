"""Optimizers: hand-computed updates, PyTorch's torch.optim as a reference, state_dict, clipping,
on every device."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinytensor as tt
from tinytensor import optim


def scalar_param(value: float, device: str = "cpu") -> tt.Tensor:
    return tt.tensor(value, dtype=tt.float64, device=device, requires_grad=True)


def run_steps(opt: optim.Optimizer, p: tt.Tensor, grads: list[float]) -> list[float]:
    """Feed the given gradients one step at a time (loss = g * p has dL/dp = g); return p after each."""
    values = []
    for g in grads:
        opt.zero_grad()
        (p * g).backward()
        opt.step()
        values.append(p.item())
    return values


# ----------------------------------------------------------------------------
# Hand-computed updates, two or three steps each
# ----------------------------------------------------------------------------
def test_sgd_plain(device):
    p = scalar_param(1.0, device=device)
    assert run_steps(optim.SGD([p], lr=0.1), p, [2.0, -1.0]) == pytest.approx([0.8, 0.9])


def test_sgd_momentum_dampening(device):
    p = scalar_param(1.0, device=device)
    values = run_steps(optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.5), p, [1.0, 1.0, 2.0])
    # buffers: 1 (first step: the gradient itself), 0.9 + 0.5 = 1.4, 1.26 + 1 = 2.26
    assert values == pytest.approx([0.9, 0.76, 0.534])


def test_sgd_nesterov_and_weight_decay(device):
    p = scalar_param(1.0, device=device)
    values = run_steps(optim.SGD([p], lr=0.1, momentum=0.5, weight_decay=0.1, nesterov=True), p, [1.0, 1.0])
    # step 1: g = 1 + 0.1 = 1.1, b = 1.1, step along g + 0.5 b = 1.65        -> 0.835
    # step 2: g = 1 + 0.0835 = 1.0835, b = 0.55 + 1.0835 = 1.6335,
    #         step along 1.0835 + 0.81675 = 1.90025                          -> 0.644975
    assert values == pytest.approx([0.835, 0.644975])


def test_adam_two_steps(device):
    p = scalar_param(1.0, device=device)
    values = run_steps(optim.Adam([p], lr=0.1, betas=(0.5, 0.75), eps=0.0), p, [2.0, 4.0])
    # step 1: m_hat = 2, v_hat = 4: the first step is lr * sign(g) = 0.1
    # step 2: m = 0.5 * 1 + 0.5 * 4 = 2.5, v = 0.75 * 1 + 0.25 * 16 = 4.75;
    #         m_hat = 2.5 / (1 - 0.5^2), v_hat = 4.75 / (1 - 0.75^2)
    m_hat, v_hat = 2.5 / 0.75, 4.75 / 0.4375
    assert values == pytest.approx([0.9, 0.9 - 0.1 * m_hat / math.sqrt(v_hat)])


def test_adam_weight_decay_is_added_to_the_gradient(device):
    p = scalar_param(2.0, device=device)
    # g = 1 + 0.5 * 2 = 2; the first Adam step has size lr whatever g is
    assert run_steps(optim.Adam([p], lr=0.1, weight_decay=0.5, eps=0.0), p, [1.0]) == pytest.approx([1.9])


def test_adamw_decays_the_weights_directly(device):
    p = scalar_param(2.0, device=device)
    values = run_steps(optim.AdamW([p], lr=0.1, weight_decay=0.5, eps=0.0), p, [1.0, 1.0])
    # step 1: 2 * (1 - 0.05) = 1.9, then the Adam step -0.1           -> 1.8
    # step 2: 1.8 * 0.95 = 1.71; the gradient is always 1, so m_hat / sqrt(v_hat) = 1 -> 1.61
    assert values == pytest.approx([1.8, 1.61])
    assert optim.AdamW([p]).defaults["weight_decay"] == 1e-2


# ----------------------------------------------------------------------------
# Against torch.optim: 20 steps on a random quadratic loss, float64
# ----------------------------------------------------------------------------
CASES = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    ("Adam", dict(lr=0.05)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    ("AdamW", dict(lr=0.05)),
    ("AdamW", dict(lr=0.02, betas=(0.8, 0.95), weight_decay=0.3)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.005, momentum=0.5)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1, momentum=0.8, centered=True)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6)),
]


def quadratic_problem(seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Starting weights, and (A, b) of the loss sum over weights of |A w - b|^2 + sum(w^3)/10."""
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((3, 4)), rng.standard_normal(4)]
    targets = [rng.standard_normal((5, 3)), rng.standard_normal((5, 4)), rng.standard_normal((4, 4)),
               rng.standard_normal(4)]
    return weights, targets


def quadratic_loss(weights: list, targets: list) -> object:
    (w, u), (a, b, c, d) = weights, targets
    return ((a @ w - b) ** 2).sum() + ((c @ u - d) ** 2).sum() + (w ** 3).sum() / 10


@pytest.mark.parametrize("name, kwargs", CASES)
def test_matches_torch_optim(name: str, kwargs: dict, device):
    torch = pytest.importorskip("torch", reason="PyTorch is the reference; pip install 'tinytensor[torch]'")
    weights, targets = quadratic_problem(seed=len(name) + len(kwargs))
    ours = [tt.tensor(w, dtype=tt.float64, requires_grad=True, device=device) for w in weights]
    theirs = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w in weights]
    # Two param groups, the second with half the learning rate, to check groups too.
    our_opt = getattr(optim, name)([{"params": ours[:1]}, {"params": ours[1:], "lr": kwargs["lr"] / 2}], **kwargs)
    their_opt = getattr(torch.optim, name)([{"params": theirs[:1]}, {"params": theirs[1:], "lr": kwargs["lr"] / 2}],
                                           **kwargs)
    our_targets = [tt.tensor(t, dtype=tt.float64, device=device) for t in targets]
    their_targets = [torch.tensor(t, dtype=torch.float64) for t in targets]
    for _ in range(20):
        for opt, params, data in ((our_opt, ours, our_targets), (their_opt, theirs, their_targets)):
            opt.zero_grad()
            quadratic_loss(params, data).backward()
            opt.step()
        for p, q in zip(ours, theirs):
            np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------------
# What step must not do
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda ps: optim.Adam(ps), lambda ps: optim.AdamW(ps),
                                  lambda ps: optim.RMSprop(ps, momentum=0.9, centered=True),
                                  lambda ps: optim.Adagrad(ps)])
def test_step_updates_in_place_and_leaves_grad_alone(make, device):
    p = tt.randn(3, 2, device=device, requires_grad=True)
    memory = p.array
    opt = make([p])
    for _ in range(2):
        opt.zero_grad()
        (p * p).sum().backward()
        grad, grad_values = p.grad, p.grad.numpy().copy()
        before = p.numpy().copy()
        opt.step()
        assert p.array is memory and p.is_leaf and p.requires_grad
        assert p.grad is grad and np.array_equal(grad.numpy(), grad_values)
        assert not np.array_equal(p.numpy(), before)
        assert p.dtype == tt.float32
    assert all(not t.requires_grad for s in opt.state.values() for t in s.values() if isinstance(t, tt.Tensor))


def test_step_skips_parameters_without_grad(device):
    used, unused = scalar_param(1.0, device=device), scalar_param(5.0, device=device)
    opt = optim.Adam([used, unused], lr=0.1)
    (used * 3.0).backward()
    opt.step()
    assert unused.item() == 5.0 and unused not in opt.state
    assert used.item() == pytest.approx(0.9)


def test_zero_grad(device):
    p = scalar_param(1.0, device=device)
    opt = optim.SGD([p], lr=0.1)
    (p * 2.0).backward()
    opt.zero_grad(set_to_none=False)
    assert p.grad.item() == 0.0
    opt.zero_grad()
    assert p.grad is None


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="can't optimize a non-leaf Tensor"):
        optim.SGD([tt.ones(2, requires_grad=True) * 2], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts, but got a Tensor of shape"):
        optim.Adam(scalar_param(1.0))                       # issue 17: once "not a leaf"
    with pytest.raises(TypeError, match="can only optimize Tensors, but one of the params is list"):
        optim.SGD([[scalar_param(1.0)]], lr=0.1)
    with pytest.raises(TypeError, match="use a list instead"):
        optim.SGD([{"params": {scalar_param(1.0)}}], lr=0.1)
    for bad in (dict(lr=float("nan")), dict(lr=-1.0), dict(eps=-1e-8), dict(weight_decay=float("nan"))):
        with pytest.raises(ValueError, match=f"invalid {next(iter(bad))}="):  # issue 17: Adam(lr=nan)
            optim.Adam([scalar_param(1.0)], **bad)
    with pytest.raises(ValueError, match="more than once"):
        p = scalar_param(1.0)
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([scalar_param(1.0)], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([scalar_param(1.0)], betas=(0.9, 1.0))


# ----------------------------------------------------------------------------
# state_dict
# ----------------------------------------------------------------------------
def assert_same_tree(a: object, b: object) -> None:
    """Equal nested containers, with tensors equal in dtype, device and every bit."""
    assert type(a) is type(b), (a, b)
    if isinstance(a, tt.Tensor):
        assert a.dtype == b.dtype and a.device == b.device
        assert a.numpy().tobytes() == b.numpy().tobytes()
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_same_tree(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same_tree(x, y)
    else:
        assert a == b


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
                                  lambda ps: optim.Adam(ps, lr=0.01), lambda ps: optim.AdamW(ps, lr=0.01),
                                  lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
                                  lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.1)])
def test_state_dict_round_trips_and_training_continues_identically(make, device):
    weights, targets = quadratic_problem(seed=1)
    data = [tt.tensor(t, dtype=tt.float64, device=device) for t in targets]
    first = [tt.tensor(w, dtype=tt.float64, requires_grad=True, device=device) for w in weights]
    opt = make([{"params": first[:1]}, {"params": first[1:], "weight_decay": 0.5}])
    for _ in range(3):
        opt.zero_grad()
        quadratic_loss(first, data).backward()
        opt.step()
    second = [tt.tensor(p.numpy().copy(), dtype=tt.float64, requires_grad=True, device=device)
              for p in first]
    resumed = make([{"params": second[:1]}, {"params": second[1:]}])
    resumed.load_state_dict(opt.state_dict())
    assert_same_tree(resumed.state_dict(), opt.state_dict())
    assert resumed.param_groups[1]["weight_decay"] == 0.5
    for _ in range(3):
        for o, params in ((opt, first), (resumed, second)):
            o.zero_grad()
            quadratic_loss(params, data).backward()
            o.step()
    for p, q in zip(first, second):
        assert p.numpy().tobytes() == q.numpy().tobytes()


def test_load_state_dict_refuses_a_different_model():
    opt = optim.Adam([scalar_param(1.0), scalar_param(2.0)])
    with pytest.raises(ValueError, match="param groups of sizes"):
        optim.Adam([scalar_param(1.0)]).load_state_dict(opt.state_dict())


def test_state_dict_is_not_changed_by_later_steps(device):
    p = scalar_param(1.0, device=device)
    opt = optim.Adam([p], lr=0.1)
    run_steps(opt, p, [1.0])
    saved = opt.state_dict()
    exp_avg = saved["state"][0]["exp_avg"].item()
    run_steps(opt, p, [3.0])
    assert saved["state"][0]["exp_avg"].item() == exp_avg and saved["state"][0]["step"] == 1


# ----------------------------------------------------------------------------
# clip_grad_norm_
# ----------------------------------------------------------------------------
def test_clip_grad_norm_scales_all_gradients_together(device):
    a, b = tt.zeros(2, requires_grad=True, device=device), tt.zeros(1, requires_grad=True, device=device)
    a.grad, b.grad = tt.tensor([3.0, 0.0], device=device), tt.tensor([4.0], device=device)
    old_grad = a.grad
    norm = optim.clip_grad_norm_([a, b], max_norm=1.0)
    assert norm.item() == pytest.approx(5.0)
    assert a.grad.tolist() == pytest.approx([0.6, 0.0]) and b.grad.tolist() == pytest.approx([0.8])
    assert old_grad.tolist() == [3.0, 0.0]  # replaced, not changed in place
    small = optim.clip_grad_norm_([a, b], max_norm=10.0)
    assert small.item() == pytest.approx(1.0, abs=1e-5) and b.grad.tolist() == pytest.approx([0.8])
    assert optim.clip_grad_norm_([tt.zeros(2, requires_grad=True, device=device)], 1.0).item() == 0.0


def test_clip_grad_norm_matches_torch(device):
    torch = pytest.importorskip("torch", reason="PyTorch is the reference; pip install 'tinytensor[torch]'")
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal((4, 3)), rng.standard_normal(7)]
    ours = [tt.zeros(g.shape, dtype=tt.float64, requires_grad=True, device=device) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = tt.tensor(g, device=device), torch.tensor(g)
    ours_norm = optim.clip_grad_norm_(ours, 0.5)
    theirs_norm = torch.nn.utils.clip_grad_norm_(theirs, 0.5)
    assert ours_norm.item() == pytest.approx(theirs_norm.item(), rel=1e-12)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)


def test_loading_a_state_dict_does_not_tie_it_to_the_optimizer(device):
    """Adam updates its state in place; the dict it was loaded from must not change with it."""
    p = tt.nn.Parameter(tt.ones(2, device=device))
    opt = tt.optim.Adam([p], lr=0.1)
    p.grad = tt.ones(2, device=device)
    opt.step()
    saved = opt.state_dict()
    before = saved["state"][0]["exp_avg"].tolist()
    other = tt.optim.Adam([p], lr=0.1)
    other.load_state_dict(saved)
    other.step()
    assert saved["state"][0]["exp_avg"].tolist() == before


def test_clip_grad_norm_keeps_each_gradients_dtype(device):
    half = tt.ones(3, dtype=tt.float16, device=device, requires_grad=True)
    half.grad = tt.full((3,), 10.0, dtype=tt.float16, device=device)
    tt.optim.clip_grad_norm_([half], max_norm=1.0)
    assert half.grad.dtype == tt.float16
    np.testing.assert_allclose(half.grad.numpy().astype(float), [1 / 3 ** 0.5] * 3, rtol=2e-3)
