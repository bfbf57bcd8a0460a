"""The losses: CrossEntropyLoss (padding ignored, label smoothing, class weights, torch's argument
order), nll_loss and MSELoss."""
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
# Nothing to count: every target ignored, or no rows at all (issue 17)
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("rows", [3, 0], ids=["all-ignored", "empty"])
def test_cross_entropy_with_nothing_to_count_matches_torch(rows, label_smoothing, reduction, device) -> None:
    """A batch of padding only once gave NaN gradients, and one Adam step made every weight NaN.

    PyTorch's mean over no counted target is 0/0 = NaN, its gradient zero; so here.
    """
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    logits = np.random.default_rng(3).standard_normal((rows, 4)).astype(np.float32)
    targets = [PAD] * rows
    x = tt.tensor(logits, requires_grad=True, device=device)
    ref = torch.tensor(logits, requires_grad=True)
    options = dict(ignore_index=PAD, label_smoothing=label_smoothing, reduction=reduction)
    with np.errstate(all="raise"):  # no 0/0 computed on the way
        loss = nn.CrossEntropyLoss(**options)(x, tt.tensor(targets, dtype=tt.int64, device=device))
        loss.sum().backward()
    expected = torch.nn.CrossEntropyLoss(**options)(ref, torch.tensor(targets, dtype=torch.int64))
    expected.sum().backward()
    assert loss.shape == tuple(expected.shape) and loss.dtype == tt.float32
    np.testing.assert_array_equal(loss.numpy(), expected.detach().numpy())  # NaN where torch's is
    np.testing.assert_array_equal(x.grad.numpy(), ref.grad.numpy())  # zeros


def test_an_adam_step_on_a_batch_of_padding_changes_no_weight(device) -> None:
    model = nn.Linear(3, 4).to(device)
    before = [p.numpy().copy() for p in model.parameters()]
    optimizer = tt.optim.Adam(model.parameters(), lr=0.1)
    loss = nn.CrossEntropyLoss(ignore_index=PAD)(model(tt.ones(2, 3, device=device)),
                                                 tt.tensor([PAD, PAD], device=device))
    loss.backward()
    optimizer.step()
    for p, old in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), old)


@pytest.mark.parametrize("weight", [None, [0.5, 2.0, 0.0, 3.0]], ids=["unweighted", "class-weights"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("targets", [[1, PAD, 3], [PAD, PAD, PAD], [[2, PAD], [PAD, 0], [1, 1]], [2, 2, PAD]],
                         ids=["some-ignored", "all-ignored", "(N, d)", "weights-sum-to-0"])
def test_nll_loss_matches_torch(targets, reduction, weight, device) -> None:
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    import tinytensor.functional as F
    shape = (3, 4) if np.ndim(targets) == 1 else (3, 4, 2)
    log_p = np.log(np.random.default_rng(4).dirichlet(np.ones(4), size=shape[:1] + shape[2:]))
    log_p = np.moveaxis(log_p, -1, 1)  # classes second: (N, C) or (N, C, d)
    x, ref = tt.tensor(log_p, requires_grad=True, device=device), torch.tensor(log_p, requires_grad=True)
    w = None if weight is None else tt.tensor(weight, dtype=tt.float64, device=device)
    loss = F.nll_loss(x, tt.tensor(targets, device=device), w, ignore_index=PAD, reduction=reduction)
    expected = torch.nn.functional.nll_loss(ref, torch.tensor(targets), None if weight is None else
                                            torch.tensor(weight, dtype=torch.float64), ignore_index=PAD,
                                            reduction=reduction)
    np.testing.assert_allclose(loss.numpy(), expected.detach().numpy(), rtol=1e-12)
    loss.sum().backward()
    expected.sum().backward()
    # The mean over counted weights that sum to 0 is NaN in both; PyTorch's gradient is then
    # 0/0 = NaN where a weight of 0 was counted, ours 0 (nothing counted, nothing to move), as
    # for an all-ignored batch, where PyTorch's gradient is 0 too.
    np.testing.assert_array_equal(x.grad.numpy(), np.nan_to_num(ref.grad.numpy(), nan=0.0))
    assert tt.gradcheck(lambda t: F.nll_loss(t, tt.tensor(targets, device=device), w, ignore_index=PAD,
                                             reduction=reduction), [x])


def test_cross_entropy_takes_pytorchs_arguments_in_pytorchs_order() -> None:
    """Class weights given by position, as PyTorch's third argument, once became ignore_index:
    compared elementwise with the targets, a silently wrong mask when their lengths agreed."""
    import tinytensor.functional as F
    logits, targets = tt.zeros(3, 3), tt.tensor([0, 1, 2])
    assert F.cross_entropy(logits, targets, tt.tensor([1.0, 2.0, 3.0])).item() == pytest.approx(np.log(3))
    assert F.cross_entropy(logits, targets, None, None, 1).item() == pytest.approx(np.log(3))
    with pytest.warns(UserWarning, match="use reduction='sum' instead"):
        assert F.cross_entropy(logits, targets, size_average=False).item() == pytest.approx(3 * np.log(3))
    assert nn.CrossEntropyLoss(ignore_index=1, label_smoothing=0.1, reduction="sum").ignore_index == 1


def test_cross_entropy_says_probability_targets_are_not_supported() -> None:
    import tinytensor.functional as F
    with pytest.raises(TypeError, match=r"cross_entropy: targets of class probabilities \(float, shape \(2, 3\)\) "
                                        r"are not supported here; give the class indices \(int64, shape \(2,\)\)"):
        F.cross_entropy(tt.zeros(2, 3), tt.tensor([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]]))


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
