"""Binary cross-entropy (on probabilities and on logits), KL divergence and logsigmoid: float64
gradchecks (first and second order), torch side by side, and the errors for bad input."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinytensor as tt
import tinytensor.nn.functional as F
from tinytensor import nn

TORCH_REASON = "PyTorch is the reference for parity tests: pip install -e '.[torch]'"


def problem(seed: int = 0, shape: tuple[int, ...] = (4, 3)) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal(shape) * 3
    return dict(logits=logits, probs=1 / (1 + np.exp(-logits)), target=rng.random(shape),
                weight=rng.random(shape[-1:]) + 0.5, pos_weight=rng.random(shape[-1:]) * 3,
                log_p=logits - np.log(np.exp(logits).sum(-1, keepdims=True)))


def ours(array: np.ndarray, device: str = "cpu", grad: bool = True) -> tt.Tensor:
    return tt.tensor(array, dtype=tt.float64, device=device, requires_grad=grad)


# ----------------------------------------------------------------------------
# Against torch: values and gradients (of input and of target), every reduction
# ----------------------------------------------------------------------------
CASES = {
    "bce": ("binary_cross_entropy", "probs", {}),
    "bce weighted": ("binary_cross_entropy", "probs", {"weight": "weight"}),
    "bce with logits": ("binary_cross_entropy_with_logits", "logits", {}),
    "bce with logits, weight and pos_weight": ("binary_cross_entropy_with_logits", "logits",
                                               {"weight": "weight", "pos_weight": "pos_weight"}),
    "kl_div": ("kl_div", "log_p", {}),
    "kl_div log_target": ("kl_div", "log_p", {"log_target": True}),
}


@pytest.mark.parametrize("case, reduction", [(case, reduction) for case in CASES
                                              for reduction in ("mean", "sum", "none", "batchmean")
                                              if reduction != "batchmean" or case.startswith("kl_div")])
def test_matches_torch(case, reduction, device):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    name, input_name, extra = CASES[case]
    data = problem(seed=len(case))
    target = data["target"]
    if name == "kl_div":
        target = np.exp(data["log_p"][::-1].copy())        # a distribution per row, one entry exactly 0
        target[0, 1] = 0.0
        target = np.log(target + 1e-3) if extra.get("log_target") else target
    kwargs = {key: (value if isinstance(value, bool) else data[value]) for key, value in extra.items()}
    x, y = ours(data[input_name], device), ours(target, device)
    their_x = torch.tensor(data[input_name], requires_grad=True)
    their_y = torch.tensor(target, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                     # kl_div's "mean" warning, in both
        loss = getattr(F, name)(x, y, reduction=reduction,
                                **{k: tt.tensor(v, device=device) if isinstance(v, np.ndarray) else v
                                   for k, v in kwargs.items()})
        expected = getattr(torch.nn.functional, name)(
            their_x, their_y, reduction=reduction,
            **{k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()})
    np.testing.assert_allclose(loss.numpy(), expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    seed = np.random.default_rng(1).standard_normal(expected.shape)
    (loss * tt.tensor(seed, device=device)).sum().backward()
    (expected * torch.tensor(seed)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), their_x.grad.numpy(), rtol=1e-10, atol=1e-13)
    finite = np.isfinite(their_y.grad.numpy())               # d/dtarget of kl_div at target 0 is -inf in torch
    np.testing.assert_allclose(y.grad.numpy()[finite], their_y.grad.numpy()[finite], rtol=1e-10, atol=1e-13)


def test_modules_match_torch(device):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    data = problem(3)
    pairs = [
        (nn.BCELoss(weight=tt.tensor(data["weight"]).to(device)),
         torch.nn.BCELoss(weight=torch.tensor(data["weight"])), "probs"),
        (nn.BCEWithLogitsLoss(pos_weight=tt.tensor(data["pos_weight"]).to(device), reduction="sum"),
         torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(data["pos_weight"]), reduction="sum"), "logits"),
        (nn.KLDivLoss(reduction="batchmean"), torch.nn.KLDivLoss(reduction="batchmean"), "log_p"),
    ]
    for our_loss, their_loss, input_name in pairs:
        target = np.exp(data["log_p"][::-1].copy()) if input_name == "log_p" else data["target"]
        value = our_loss(tt.tensor(data[input_name], device=device), tt.tensor(target, device=device))
        assert value.item() == pytest.approx(their_loss(torch.tensor(data[input_name]),
                                                        torch.tensor(target)).item(), rel=1e-12)
        assert set(our_loss.state_dict()) == set(their_loss.state_dict())   # weights are buffers, as torch's
    moved = nn.BCEWithLogitsLoss(weight=tt.ones(3)).to(device)
    assert moved.weight.device == device and moved.pos_weight is None


def test_legacy_size_average_and_reduce_mean_what_torch_says():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    data = problem(4)
    for legacy in (dict(size_average=False), dict(reduce=False), dict(size_average=True, reduce=True)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = nn.BCEWithLogitsLoss(**legacy)(tt.tensor(data["logits"]), tt.tensor(data["target"]))
            expected = torch.nn.BCEWithLogitsLoss(**legacy)(torch.tensor(data["logits"]),
                                                            torch.tensor(data["target"]))
        np.testing.assert_allclose(value.numpy(), expected.numpy(), rtol=1e-12)
    with pytest.warns(UserWarning, match="use reduction='sum'"):
        F.binary_cross_entropy(tt.tensor([0.5]), tt.tensor([1.0]), size_average=False)


# ----------------------------------------------------------------------------
# Gradients by central differences, first and second order
# ----------------------------------------------------------------------------
def test_bce_gradcheck(device):
    data = problem(5)
    probs = np.clip(data["probs"], 0.05, 0.95)
    x, y, w = ours(probs, device), ours(data["target"], device), ours(data["weight"], device)
    assert tt.gradcheck(lambda x, y, w: F.binary_cross_entropy(x, y, w), [x, y, w])
    assert tt.gradgradcheck(lambda x, y: F.binary_cross_entropy(x, y, reduction="sum"), [x, y])


def test_bce_with_logits_gradcheck(device):
    data = problem(6)
    z, y = ours(data["logits"], device), ours(data["target"], device)
    w, pw = ours(data["weight"], device), ours(data["pos_weight"], device)
    fn = lambda z, y, w, pw: F.binary_cross_entropy_with_logits(z, y, w, pos_weight=pw)  # noqa: E731
    assert tt.gradcheck(fn, [z, y, w, pw])
    assert tt.gradgradcheck(fn, [z, y, w, pw])


@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_gradcheck(log_target, device):
    data = problem(7)
    target = np.exp(data["log_p"][::-1].copy())
    x, y = ours(data["log_p"], device), ours(np.log(target) if log_target else target, device)
    fn = lambda x, y: F.kl_div(x, y, reduction="batchmean", log_target=log_target)  # noqa: E731
    assert tt.gradcheck(fn, [x, y]) and tt.gradgradcheck(fn, [x, y])


def test_logsigmoid_gradcheck_and_torch(device):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    values = np.array([-800.0, -40.0, -3.0, -1e-3, 0.0, 2.5, 40.0, 800.0])
    x = ours(values, device)
    y = F.logsigmoid(x)
    their_x = torch.tensor(values, requires_grad=True)
    expected = torch.nn.functional.logsigmoid(their_x)
    np.testing.assert_allclose(y.numpy(), expected.detach().numpy(), rtol=1e-13)
    y.sum().backward(), expected.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), their_x.grad.numpy(), rtol=1e-13)
    middle = ours(values[2:6], device)
    assert tt.gradcheck(F.logsigmoid, [middle]) and tt.gradgradcheck(F.logsigmoid, [middle])


# ----------------------------------------------------------------------------
# Where the naive formulas fail
# ----------------------------------------------------------------------------
def test_logits_far_out_give_finite_loss_and_exact_gradient():
    z = ours(np.array([-200.0, -30.0, 0.0, 30.0, 200.0]))
    y = tt.tensor([1.0, 1.0, 1.0, 0.0, 0.0], dtype=tt.float64)
    loss = F.binary_cross_entropy_with_logits(z, y, reduction="sum")
    loss.backward()
    assert loss.item() == pytest.approx(200 + 30 + np.log(2) + 30 + 200, rel=1e-12)
    sigmoid = 1 / (1 + np.exp(-z.numpy()))
    np.testing.assert_allclose(z.grad.numpy(), sigmoid - y.numpy(), atol=1e-15)  # exact at 0 too: 0.5 - 1


def test_bce_clamps_as_torch_at_zero_and_one():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    probs, target = [0.0, 1.0, 0.0, 1.0, 1e-50], [1.0, 0.0, 0.0, 1.0, 1.0]
    x = ours(np.array(probs))
    loss = F.binary_cross_entropy(x, tt.tensor(target, dtype=tt.float64), reduction="none")
    their_x = torch.tensor(probs, dtype=torch.float64, requires_grad=True)
    expected = torch.nn.functional.binary_cross_entropy(their_x, torch.tensor(target, dtype=torch.float64),
                                                        reduction="none")
    assert loss.tolist() == expected.tolist() == [100.0, 100.0, 0.0, 0.0, 100.0]
    loss.sum().backward(), expected.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), their_x.grad.numpy(), rtol=1e-12)
    assert np.isfinite(x.grad.numpy()).all()


def test_bad_inputs_are_explained():
    p, y = tt.tensor([0.2, 0.7]), tt.tensor([1.0, 0.0])
    with pytest.raises(RuntimeError, match="between 0 and 1 .* binary_cross_entropy_with_logits"):
        F.binary_cross_entropy(tt.tensor([0.2, 1.5]), y)
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(tt.tensor([0.2, float("nan")]), y)
    for fn in (F.binary_cross_entropy, F.binary_cross_entropy_with_logits):
        with pytest.raises(ValueError, match=r"target size \(2, 1\) must be the same as input size \(2,\)"):
            fn(p, y.reshape(2, 1))
        with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
            fn(p, y, reduction="avg")
        with pytest.raises(TypeError, match="must be Tensors, got Tensor and list"):
            fn(p, [1.0, 0.0])
        with pytest.raises(ValueError, match=r"weight of shape \(3,\) does not broadcast to the input's shape"):
            fn(p, y, tt.ones(3))
    with pytest.raises(TypeError, match="input is float32 but target is float64; .*target.to"):
        F.binary_cross_entropy(p, y.double())
    with pytest.raises(ValueError, match="'mean', 'sum', 'none' or 'batchmean', got 'batch'"):
        F.kl_div(p.log(), y, reduction="batch")
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(p.log(), y)
