"""The loss modules: CrossEntropyLoss (padding ignored, label smoothing, class weights, torch's argument
order) and MSELoss."""
from __future__ import annotations

import numpy as np
import pytest

import tinytensor as tt
from tinytensor import nn

TORCH_REASON = "PyTorch is the reference for parity tests: pip install -e '.[torch]'"
PAD = 0


def logits_and_targets() -> tuple[np.ndarray, list[int]]:
    logits = np.random.default_rng(0).standard_normal((5, 4))
    return logits, [1, PAD, 3, 2, PAD]


def test_cross_entropy_averages_over_the_positions_that_are_not_padding(device) -> None:
    logits, targets = logits_and_targets()
    loss = nn.CrossEntropyLoss(ignore_index=PAD)(tt.tensor(logits, device=device),
                                                 tt.tensor(targets, device=device))
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    counted = [i for i, t in enumerate(targets) if t != PAD]
    expected = -np.mean([log_p[i, targets[i]] for i in counted])  # 3 positions, not 5
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_cross_entropy_reductions(device) -> None:
    logits, targets = logits_and_targets()
    x, y = tt.tensor(logits, device=device), tt.tensor(targets, device=device)
    each = nn.CrossEntropyLoss(ignore_index=PAD, reduction="none")(x, y)
    assert each.shape == (5,) and each.numpy()[1] == 0
    total = nn.CrossEntropyLoss(ignore_index=PAD, reduction="sum")(x, y)
    assert total.item() == pytest.approx(each.numpy().sum())


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cross_entropy_gradcheck(device: str, label_smoothing: float) -> None:
    logits, targets = logits_and_targets()
    loss = nn.CrossEntropyLoss(ignore_index=PAD, label_smoothing=label_smoothing)
    x = tt.tensor(logits, dtype=tt.float64, device=device, requires_grad=True)
    assert tt.gradcheck(lambda x: loss(x, tt.tensor(targets, device=device)), [x])


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
def test_cross_entropy_parity_with_torch(label_smoothing: float, device) -> None:
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    logits = np.random.default_rng(1).standard_normal((2, 5, 3))  # (N, C, d): a batch of sequences
    targets = [[1, 4, PAD], [PAD, 2, 3]]
    x, ref = tt.tensor(logits, requires_grad=True, device=device), torch.tensor(logits, requires_grad=True)
    loss = nn.CrossEntropyLoss(ignore_index=PAD, label_smoothing=label_smoothing)(
        x, tt.tensor(targets, device=device))
    expected = torch.nn.CrossEntropyLoss(ignore_index=PAD, label_smoothing=label_smoothing)(
        ref, torch.tensor(targets))
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    loss.backward()
    expected.backward()
    np.testing.assert_allclose(x.grad.numpy(), ref.grad.numpy(), atol=1e-6)


def test_mse_loss(device: str) -> None:
    prediction = tt.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=tt.float64, device=device, requires_grad=True)
    target = tt.tensor([[1.0, 0.0], [0.0, 4.0]], dtype=tt.float64, device=device)
    assert nn.MSELoss()(prediction, target).item() == pytest.approx((4 + 9) / 4)
    assert nn.MSELoss(reduction="sum")(prediction, target).item() == pytest.approx(13)
    assert nn.MSELoss(reduction="none")(prediction, target).shape == (2, 2)
    assert tt.gradcheck(lambda p: nn.MSELoss()(p, target), [prediction])


def test_mse_loss_parity_with_torch(device) -> None:
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    a, b = np.random.default_rng(2).standard_normal((2, 3, 4))
    x, ref = tt.tensor(a, requires_grad=True, device=device), torch.tensor(a, requires_grad=True)
    loss, expected = nn.MSELoss()(x, tt.tensor(b, device=device)), torch.nn.MSELoss()(ref, torch.tensor(b))
    assert loss.item() == pytest.approx(expected.item())
    loss.backward()
    expected.backward()
    np.testing.assert_allclose(x.grad.numpy(), ref.grad.numpy())


# ----------------------------------------------------------------------------
# torch's positional order (weight first) and class weights
# ----------------------------------------------------------------------------
def test_cross_entropy_loss_takes_torchs_arguments_in_torchs_order() -> None:
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    import inspect  # noqa: PLC0415

    def names(f):
        return [p for p in inspect.signature(f).parameters if p != "self"]

    assert names(nn.CrossEntropyLoss.__init__) == names(torch.nn.CrossEntropyLoss.__init__)
    assert names(nn.functional.cross_entropy) == names(torch.nn.functional.cross_entropy)
    loss = nn.CrossEntropyLoss(None, None, PAD)  # positionally: weight, size_average, ignore_index
    assert loss.ignore_index == PAD and loss.weight is None


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_class_weights_match_torch_values_and_gradients(device, reduction, label_smoothing) -> None:
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    logits, targets = logits_and_targets()
    weight = np.array([0.5, 2.0, 1.0, 3.0])
    x = tt.tensor(logits, device=device, requires_grad=True)
    mine = nn.CrossEntropyLoss(tt.tensor(weight, device=device), None, PAD, None, reduction,
                               label_smoothing).to(device)(x, tt.tensor(targets, device=device))
    xt = torch.tensor(logits, requires_grad=True)
    theirs = torch.nn.CrossEntropyLoss(torch.tensor(weight), None, PAD, None, reduction,
                                       label_smoothing)(xt, torch.tensor(targets))
    np.testing.assert_allclose(mine.numpy(), theirs.detach().numpy(), rtol=1e-12)
    upstream = np.arange(1.0, 6.0) if reduction == "none" else 1.0
    (mine * tt.tensor(upstream, device=device)).sum().backward()
    (theirs * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_class_weights_gradcheck_and_bad_weights(device) -> None:
    logits, targets = logits_and_targets()
    weight = tt.tensor([0.5, 2.0, 1.0, 3.0], device=device)
    target = tt.tensor(targets, device=device)
    x = tt.tensor(logits, device=device, requires_grad=True)
    assert tt.gradcheck(lambda a: nn.functional.cross_entropy(a, target, weight, label_smoothing=0.1), [x])
    assert tt.gradgradcheck(lambda a: nn.functional.cross_entropy(a, target, weight), [x])
    with pytest.raises(ValueError, match=r"weight must be a float Tensor of shape \(4,\), one weight per class"):
        nn.functional.cross_entropy(x, target, tt.ones(3, device=device))
    assert nn.CrossEntropyLoss(weight).state_dict()["weight"].tolist() == weight.tolist()  # a buffer, as torch's
