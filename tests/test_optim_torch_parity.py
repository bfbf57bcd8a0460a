"""Schedules and param groups against torch.optim: one training run written once, run in both.

Each case is a function of the module (``tinytensor.optim`` or ``torch.optim``)
and the optimizer, so the very same line builds both sides, as
``import tinytensor as torch`` would. Both train the same float64 weights on
the same loss for many steps; every step compares the learning rates (and the
momenta OneCycleLR moves), and the weights at the end.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import pytest

import tinytensor as tt

torch = pytest.importorskip("torch", reason="PyTorch is the reference; pip install -e '.[torch]'")

STEPS = 40


class Run:
    """Weights, their optimizer and (maybe) a scheduler, in tinytensor or in torch."""

    def __init__(self, lib: Any, optimizer: str, kwargs: dict, schedule: Callable | None) -> None:
        rng = np.random.default_rng(0)
        self.lib = lib
        self.weights = [lib.tensor(rng.standard_normal(shape), dtype=lib.float64, requires_grad=True)
                        for shape in ((3, 4), (4,))]
        self.targets = [lib.tensor(rng.standard_normal(shape), dtype=lib.float64) for shape in ((5, 3), (5, 4))]
        self.optimizer = getattr(lib.optim, optimizer)(
            [{"params": self.weights[:1]}, {"params": self.weights[1:], "lr": kwargs.get("lr", 0.01) / 2}],
            **kwargs)
        self.scheduler = schedule(lib.optim.lr_scheduler, self.optimizer) if schedule else None

    def loss(self) -> Any:
        (w, u), (a, b) = self.weights[:2], self.targets
        return ((a @ w - b) ** 2).mean() + ((a @ w @ u) ** 2).mean() + (w ** 4).sum() / 10

    def step(self, metric: float | None = None) -> float:
        self.optimizer.zero_grad()
        loss = self.loss()
        loss.backward()
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step() if metric is None else self.scheduler.step(metric)
        return loss.item()

    def settings(self) -> list[tuple]:
        """What a schedule moves, per group: lr, and momentum or beta1 where the optimizer has them."""
        return [(g["lr"], *([g["momentum"]] if "momentum" in g else []), *g.get("betas", ())[:1])
                for g in self.optimizer.param_groups]


def assert_same(ours: Run, theirs: Run) -> None:
    for our, their in zip(ours.settings(), theirs.settings()):
        assert our == pytest.approx(their, rel=1e-12, abs=1e-15)
    if ours.scheduler is not None:
        assert ours.scheduler.get_last_lr() == pytest.approx(theirs.scheduler.get_last_lr(), rel=1e-12)
    for p, q in zip(ours.weights, theirs.weights):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-9, atol=1e-12)


def run_both(optimizer: str, kwargs: dict, schedule: Callable | None, steps: int = STEPS,
             between: Callable[[Run, int], None] | None = None) -> tuple[Run, Run]:
    ours, theirs = Run(tt, optimizer, kwargs, schedule), Run(torch, optimizer, kwargs, schedule)
    assert_same(ours, theirs)
    for i in range(steps):
        if between is not None:
            between(ours, i), between(theirs, i)
        assert ours.step() == pytest.approx(theirs.step(), rel=1e-9)
        assert_same(ours, theirs)
    return ours, theirs


SCHEDULES = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[5, 12, 12, 30], gamma=0.3),
    "ConstantLR": lambda m, o: m.ConstantLR(o, factor=0.25, total_iters=6),
    "LinearLR": lambda m, o: m.LinearLR(o, start_factor=0.1, end_factor=0.9, total_iters=15),
    "LinearLR default": lambda m, o: m.LinearLR(o),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.93),
    "CosineAnnealingLR past T_max": lambda m, o: m.CosineAnnealingLR(o, T_max=12, eta_min=1e-3),
    "LambdaLR one per group": lambda m, o: m.LambdaLR(o, [lambda e: 0.9 ** e, lambda e: 1 / (1 + e)]),
    "OneCycleLR": lambda m, o: m.OneCycleLR(o, max_lr=[0.1, 0.05], total_steps=STEPS),
    "OneCycleLR linear three-phase": lambda m, o: m.OneCycleLR(
        o, max_lr=0.1, epochs=4, steps_per_epoch=STEPS // 4, pct_start=0.25, anneal_strategy="linear",
        three_phase=True, div_factor=10.0, final_div_factor=100.0, base_momentum=[0.8, 0.7], max_momentum=0.9),
    "OneCycleLR without momentum": lambda m, o: m.OneCycleLR(o, max_lr=0.05, total_steps=STEPS + 5,
                                                             cycle_momentum=False),
    "SequentialLR warmup then cosine": lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.01, total_iters=5), m.CosineAnnealingLR(o, T_max=30)], milestones=[5]),
    "SequentialLR of three": lambda m, o: m.SequentialLR(
        o, [m.ConstantLR(o, factor=0.5, total_iters=3), m.ExponentialLR(o, gamma=0.9), m.StepLR(o, 4, 0.5)],
        milestones=[6, 20]),
}
OPTIMIZERS = [("SGD", dict(lr=0.02, momentum=0.9)), ("Adam", dict(lr=0.02)), ("RMSprop", dict(lr=0.005))]


@pytest.mark.parametrize("optimizer, kwargs", OPTIMIZERS, ids=[name for name, _ in OPTIMIZERS])
@pytest.mark.parametrize("name", SCHEDULES)
def test_schedule_matches_torch(name, optimizer, kwargs):
    run_both(optimizer, kwargs, SCHEDULES[name])


def test_one_cycle_refuses_a_step_past_its_end():
    ours, theirs = run_both("SGD", dict(lr=0.1, momentum=0.9), SCHEDULES["OneCycleLR"])
    with pytest.raises(ValueError, match=f"tried to step {STEPS + 1} times, but total_steps is {STEPS}"):
        ours.step()
    with pytest.raises(ValueError):
        theirs.step()


def test_one_cycle_needs_momentum_to_cycle_it():
    for lib in (tt, torch):
        opt = lib.optim.Adagrad([lib.zeros(2, requires_grad=True)])
        with pytest.raises(ValueError, match="momentum"):
            lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10)
        with pytest.raises(ValueError, match="total_steps"):
            lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, cycle_momentum=False)
        with pytest.raises(ValueError, match="pct_start"):
            lib.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, pct_start=1, cycle_momentum=False)


# ----------------------------------------------------------------------------
# ReduceLROnPlateau: the same metrics, the same cuts
# ----------------------------------------------------------------------------
METRICS = [5.0, 4.0, 4.0, 3.9999, 4.1, 4.2, 3.0, 3.0, 3.0, 3.0, 3.0, 2.9, 2.95, 3.5, 3.5, 3.5, 3.5,
           3.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.999, 0.9995, 1.0, 1.0, 1.0, 1.0]
PLATEAUS = {
    "defaults but patience": dict(patience=2),
    "max mode": dict(mode="max", patience=1, factor=0.5),
    "abs threshold and cooldown": dict(threshold=0.05, threshold_mode="abs", patience=1, cooldown=2),
    "min_lr per group": dict(patience=0, factor=0.5, min_lr=[0.004, 0.001]),
    "eps stops tiny cuts": dict(patience=0, factor=0.9, eps=1e-3),
}


@pytest.mark.parametrize("name", PLATEAUS)
def test_reduce_lr_on_plateau_matches_torch(name):
    schedule = lambda m, o: m.ReduceLROnPlateau(o, **PLATEAUS[name])  # noqa: E731
    ours, theirs = Run(tt, "SGD", dict(lr=0.02), schedule), Run(torch, "SGD", dict(lr=0.02), schedule)
    for metric in METRICS:
        value = metric if name != "max mode" else -metric
        ours.step(tt.tensor(value)), theirs.step(torch.tensor(value))   # a 0-d tensor works as a metric
        assert_same(ours, theirs)
        assert ours.scheduler.num_bad_epochs == theirs.scheduler.num_bad_epochs
    assert ours.optimizer.param_groups[0]["lr"] < 0.02                   # the case did cut the rate


def test_reduce_lr_on_plateau_refuses_what_torch_refuses():
    for lib in (tt, torch):
        opt = lib.optim.SGD([lib.zeros(2, requires_grad=True)], lr=0.1)
        for bad, message in ((dict(factor=1.0), "[Ff]actor should be < 1.0"), (dict(mode="low"), "mode"),
                             (dict(threshold_mode="relative"), "threshold"), (dict(min_lr=[0.1, 0.2]), "min_lr")):
            with pytest.raises(ValueError, match=message):
                lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **bad)


# ----------------------------------------------------------------------------
# param_groups edited by hand, groups added, frozen parameters, closures
# ----------------------------------------------------------------------------
def set_lr_at_step_10(run: Run, i: int) -> None:
    if i == 10:
        for group in run.optimizer.param_groups:
            group["lr"] = 0.01


@pytest.mark.parametrize("name", [None, "StepLR", "ExponentialLR", "CosineAnnealingLR past T_max",
                                  "MultiStepLR", "LambdaLR one per group"])
def test_a_rate_set_by_hand_takes_effect_as_in_torch(name):
    """Chainable schedules go on from the hand-set rate; LambdaLR overwrites it: both as PyTorch."""
    ours, _ = run_both("SGD", dict(lr=0.02, momentum=0.5), SCHEDULES.get(name), between=set_lr_at_step_10)
    if name is None:
        assert [g["lr"] for g in ours.optimizer.param_groups] == [0.01, 0.01]


def test_hyperparameters_edited_by_hand_take_effect():
    def edit(run: Run, i: int) -> None:
        if i == 5:
            run.optimizer.param_groups[0]["betas"] = (0.5, 0.9)
            run.optimizer.param_groups[1]["weight_decay"] = 0.1
            run.optimizer.param_groups[1]["eps"] = 1e-3
    run_both("Adam", dict(lr=0.02), None, steps=15, between=edit)


def test_add_param_group_mid_training_matches_torch():
    extra = {}
    def add_group(run: Run, i: int) -> None:
        if i == 8:
            w = run.lib.tensor(np.linspace(-1, 1, 6).reshape(2, 3), dtype=run.lib.float64, requires_grad=True)
            extra[run.lib.__name__] = w
            run.weights.append(w)
            run.optimizer.add_param_group({"params": [w], "lr": 0.05, "momentum": 0.0})
    original_loss = Run.loss

    def loss_with_extra(self: Run) -> Any:
        base = original_loss(self)
        return base + (self.weights[2] ** 4).sum() if len(self.weights) > 2 else base
    Run.loss = loss_with_extra
    try:
        ours, theirs = run_both("SGD", dict(lr=0.02, momentum=0.9), None, steps=16, between=add_group)
    finally:
        Run.loss = original_loss
    assert len(ours.optimizer.param_groups) == 3 and ours.optimizer.param_groups[2]["momentum"] == 0.0
    assert ours.optimizer.param_groups[2]["nesterov"] is False                 # the rest from the defaults
    np.testing.assert_allclose(extra["tinytensor"].numpy(), extra["torch"].detach().numpy(), rtol=1e-9)


def test_a_frozen_parameter_is_kept_and_trains_once_unfrozen():
    """Freezing then unfreezing a layer (as fine-tuning does) needs the optimizer to hold it all along."""
    def thaw(run: Run, i: int) -> None:
        if i == 0:
            run.weights[1].requires_grad_(False)
        if i == 6:
            run.weights[1].requires_grad_(True)
    ours, _ = run_both("Adagrad", dict(lr=0.1), None, steps=12, between=thaw)
    assert all(p in ours.optimizer.state for p in ours.weights)               # Adagrad: state for all, as torch


def test_step_with_a_closure_returns_its_loss():
    results = []
    for lib in (tt, torch):
        w = lib.tensor([1.0, -2.0], dtype=lib.float64, requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.1)

        def closure() -> Any:
            opt.zero_grad()
            loss = (w * w).sum()
            loss.backward()
            return loss
        results.append((opt.step(closure).item(), w.tolist(), opt.step() is None))
    assert results[0][0] == results[1][0] == 5.0 and results[0][2] and results[1][2]
    assert results[0][1] == pytest.approx(results[1][1], rel=1e-15)


def test_optimizer_states_have_torchs_names():
    for name, kwargs in (("RMSprop", dict(momentum=0.9, centered=True)), ("Adagrad", {}), ("Adam", {})):
        ours, theirs = Run(tt, name, kwargs, None), Run(torch, name, kwargs, None)
        ours.step(), theirs.step()
        our_state, their_state = ours.optimizer.state_dict(), theirs.optimizer.state_dict()
        assert set(our_state["state"]) == set(their_state["state"])
        for i in our_state["state"]:
            assert set(our_state["state"][i]) == set(their_state["state"][i])
        assert set(our_state["param_groups"][0]) <= set(their_state["param_groups"][0])


# ----------------------------------------------------------------------------
# Checkpoints: a resumed schedule continues as the uninterrupted one, through tinytensor.save
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["StepLR", "OneCycleLR", "SequentialLR warmup then cosine",
                                  "LambdaLR one per group", "MultiStepLR", "plateau"])
def test_scheduler_state_dict_resumes_exactly(name, tmp_path):
    schedule = SCHEDULES.get(name, lambda m, o: m.ReduceLROnPlateau(o, patience=1))
    metric = (lambda i: METRICS[i % len(METRICS)]) if name == "plateau" else (lambda i: None)
    whole = Run(tt, "Adam", dict(lr=0.02), schedule)
    for i in range(13):
        whole.step(metric(i))
    tt.save({"optimizer": whole.optimizer.state_dict(), "scheduler": whole.scheduler.state_dict(),
             "weights": [w.detach() for w in whole.weights]}, tmp_path / "ckpt.tt")
    saved = tt.load(tmp_path / "ckpt.tt")
    resumed = Run(tt, "Adam", dict(lr=0.02), schedule)
    for w, value in zip(resumed.weights, saved["weights"]):
        w.array[...] = value.array
    resumed.scheduler.load_state_dict(saved["scheduler"])
    resumed.optimizer.load_state_dict(saved["optimizer"])
    for i in range(13, 25):
        assert resumed.step(metric(i)) == whole.step(metric(i))
        assert resumed.settings() == whole.settings()
        assert resumed.scheduler.get_last_lr() == whole.scheduler.get_last_lr()


def test_resuming_with_last_epoch_needs_initial_lr():
    for lib in (tt, torch):
        opt = lib.optim.SGD([lib.zeros(2, requires_grad=True)], lr=0.1)
        with pytest.raises(KeyError, match="initial_lr"):
            lib.optim.lr_scheduler.StepLR(opt, step_size=2, last_epoch=3)


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")  # torch's, here on purpose
def test_step_with_an_epoch_uses_the_closed_form():
    rates = []
    for lib in (tt, torch):
        opt = lib.optim.SGD([lib.zeros(2, requires_grad=True)], lr=0.1)
        scheduler = lib.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
        with pytest.warns(UserWarning, match="epoch"):
            scheduler.step(7)
        rates.append(scheduler.get_last_lr())
    assert rates[0] == pytest.approx(rates[1]) and rates[0] == pytest.approx([0.1 * 0.5 ** 2])


def test_schedulers_check_their_arguments_as_torch():
    for lib in (tt, torch):
        m = lib.optim.lr_scheduler
        opt = lib.optim.SGD([lib.zeros(2, requires_grad=True)], lr=0.1)
        with pytest.raises(TypeError, match="is not an Optimizer"):
            m.StepLR("sgd", step_size=2)
        with pytest.raises(ValueError, match="start_factor|[Ss]tarting multiplicative factor"):
            m.LinearLR(opt, start_factor=0.0)
        with pytest.raises(ValueError, match="between 0 and 1"):
            m.ConstantLR(opt, factor=2.0)
        with pytest.raises(ValueError, match="lr_lambdas"):
            m.LambdaLR(opt, [lambda e: 1.0, lambda e: 1.0])
        with pytest.raises(ValueError, match="milestone"):
            m.SequentialLR(opt, [m.StepLR(opt, 2), m.StepLR(opt, 3)], milestones=[])
        assert math.isclose(opt.param_groups[0]["lr"], 0.1)


def test_a_scheduler_written_for_torch_runs_on_tinytensor():
    """A user's own schedule, subclassing the base class as PyTorch tutorials do (under either name)."""
    for lib in (tt, torch):
        for base in (lib.optim.lr_scheduler.LRScheduler, lib.optim.lr_scheduler._LRScheduler):
            class Halving(base):
                def get_lr(self) -> list[float]:
                    return [lr / 2 ** (self.last_epoch // 2) for lr in self.base_lrs]
            opt = lib.optim.SGD([lib.zeros(1, requires_grad=True)], lr=0.8)
            scheduler = Halving(opt)
            rates = []
            for _ in range(5):
                rates.append(scheduler.get_last_lr()[0])
                opt.step(), scheduler.step()
            assert rates == [0.8, 0.8, 0.4, 0.4, 0.2]
