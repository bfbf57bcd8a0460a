"""Learning-rate schedules: hand-computed rates, torch's LambdaLR as a reference, state_dict."""
from __future__ import annotations

import math

import pytest

import tinytensor as tt
from tinytensor import optim
from tinytensor.optim.lr_scheduler import CosineWithWarmup, LambdaLR, TransformerWarmup


def make_optimizer(lr: float = 0.1) -> optim.Optimizer:
    return optim.SGD([tt.zeros(2, requires_grad=True)], lr=lr)


def rates(scheduler: object, steps: int) -> list[float]:
    """The rate used by each of ``steps`` optimizer steps (the first is set on construction)."""
    found = []
    for _ in range(steps):
        found.append(scheduler.optimizer.param_groups[0]["lr"])
        scheduler.optimizer.step()
        scheduler.step()
    return found


def test_lambda_lr_scales_the_base_rate():
    scheduler = LambdaLR(make_optimizer(0.5), lambda epoch: 1 / (epoch + 1))
    assert rates(scheduler, 4) == pytest.approx([0.5, 0.25, 0.5 / 3, 0.125])
    assert scheduler.get_last_lr() == pytest.approx([0.1])


def test_lambda_lr_matches_torch_with_param_groups():
    torch = pytest.importorskip("torch", reason="PyTorch is the reference; pip install -e '.[torch]'")
    def schedule(epoch: int) -> float:
        return 0.95 ** epoch if epoch > 2 else (epoch + 1) / 3
    ours = optim.Adam([{"params": [tt.zeros(1, requires_grad=True)]},
                       {"params": [tt.zeros(1, requires_grad=True)], "lr": 0.3}], lr=0.1)
    theirs = torch.optim.Adam([{"params": [torch.zeros(1, requires_grad=True)]},
                               {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.3}], lr=0.1)
    our_scheduler, their_scheduler = LambdaLR(ours, schedule), torch.optim.lr_scheduler.LambdaLR(theirs, schedule)
    for _ in range(20):
        assert our_scheduler.get_last_lr() == pytest.approx(their_scheduler.get_last_lr(), rel=1e-12)
        assert [g["lr"] for g in ours.param_groups] == pytest.approx([g["lr"] for g in theirs.param_groups])
        ours.step(), theirs.step()
        our_scheduler.step(), their_scheduler.step()


def test_transformer_warmup_follows_the_paper():
    d_model, warmup = 512, 4
    scheduler = TransformerWarmup(make_optimizer(), d_model, warmup, factor=2.0)
    found = rates(scheduler, 8)
    expected = [2.0 * d_model ** -0.5 * min(s ** -0.5, s * warmup ** -1.5) for s in range(1, 9)]
    assert found == pytest.approx(expected)
    assert found[0] == pytest.approx(2.0 / math.sqrt(512) / 8)  # step 1: finite and small
    assert max(found) == found[warmup - 1] == pytest.approx(2.0 / math.sqrt(512) / 2)  # peak at warmup
    assert found[:warmup] == sorted(found[:warmup]) and found[warmup:] == sorted(found[warmup:], reverse=True)


def test_cosine_with_warmup():
    scheduler = CosineWithWarmup(make_optimizer(1.0), warmup_steps=2, total_steps=6, min_lr=0.1)
    found = rates(scheduler, 8)
    # warmup 0.5, 1; then progress 1/4, 2/4, 3/4, 1 along the cosine; then min_lr stays
    cosine = [0.1 + 0.9 * (1 + math.cos(math.pi * k / 4)) / 2 for k in (1, 2, 3, 4)]
    assert found == pytest.approx([0.5, 1.0, *cosine, 0.1, 0.1])
    assert found[5] == pytest.approx(0.1)


def test_cosine_without_warmup_starts_at_the_base_rate():
    found = rates(CosineWithWarmup(make_optimizer(1.0), warmup_steps=0, total_steps=2), 3)
    assert found == pytest.approx([0.5, 0.0, 0.0])


def test_state_dict_resumes_the_schedule():
    first = TransformerWarmup(make_optimizer(), d_model=64, warmup_steps=10)
    rates(first, 5)
    resumed = TransformerWarmup(make_optimizer(), d_model=64, warmup_steps=10)
    resumed.load_state_dict(first.state_dict())
    assert resumed.last_epoch == 5 and resumed.get_last_lr() == first.get_last_lr()
    assert rates(resumed, 5) == rates(first, 5)


def test_state_dict_holds_only_data(tmp_path):
    state = LambdaLR(make_optimizer(), lambda epoch: 1.0).state_dict()
    assert {"base_lrs", "last_epoch", "_last_lr"} <= set(state) and state["lr_lambdas"] == [None]
    assert not any(callable(value) for value in state.values())   # a function is code, not data
    tt.save(state, tmp_path / "scheduler.tt")
    assert tt.load(tmp_path / "scheduler.tt") == state


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="warmup_steps must be >= 1"):
        TransformerWarmup(make_optimizer(), 512, 0)
    with pytest.raises(ValueError, match="warmup_steps <= total_steps"):
        CosineWithWarmup(make_optimizer(), 10, 5)


def test_a_period_of_zero_steps_is_refused_when_the_scheduler_is_made():
    """PyTorch takes step_size=0 and T_max=0, then raises ZeroDivisionError at the first step."""
    optimizer = optim.SGD([tt.ones(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="StepLR: step_size must be a positive number of steps, got 0"):
        optim.lr_scheduler.StepLR(optimizer, step_size=0)
    with pytest.raises(ValueError, match="CosineAnnealingLR: T_max must be a positive number of steps, got 0"):
        optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=0)
