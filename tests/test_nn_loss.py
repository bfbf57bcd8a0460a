"""The loss modules: CrossEntropyLoss (padding ignored, label smoothing) and MSELoss."""
from __future__ import annotations

import numpy as np
import pytest

import tinytensor as tt
from tinytensor import nn

TORCH_REASON = "PyTorch is the reference for parity tests: pip install 'tinytensor[torch]'"
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
