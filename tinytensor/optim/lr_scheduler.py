"""Learning-rate schedules: change ``group["lr"]`` as training goes on (as torch.optim.lr_scheduler).

A scheduler sets the learning rate of every param group of its optimizer from
the number of steps taken so far. Call ``scheduler.step()`` once after each
``optimizer.step()`` (or once per epoch, for schedules counted in epochs):

    for batch in loader:
        loss = ...; loss.backward()
        optimizer.step(); optimizer.zero_grad()
        scheduler.step()

As in PyTorch, building the scheduler already sets the rate of the first
optimizer step (``last_epoch`` = 0); ``scheduler.step()`` moves to the next.
The schedules, with t = ``last_epoch`` and base_lr the rate the optimizer was built with:

    LambdaLR           lr = base_lr * lr_lambda(t)
    StepLR             lr = base_lr * gamma^floor(t / step_size)
    MultiStepLR        lr = base_lr * gamma^(number of milestones <= t)
    ConstantLR         lr = base_lr * factor while t < total_iters, then base_lr
    LinearLR           lr = base_lr * factor, the factor going in a straight line from start_factor
                       to end_factor over total_iters steps, then staying
    ExponentialLR      lr = base_lr * gamma^t
    CosineAnnealingLR  lr = eta_min + (base_lr - eta_min) * (1 + cos(pi t / T_max)) / 2
    OneCycleLR         up from max_lr / div_factor to max_lr, then down to far below (Smith, 2018)
    SequentialLR       one schedule after another, switching at the milestones
    ReduceLROnPlateau  lr *= factor when a watched metric stops improving
    TransformerWarmup  the schedule of "Attention Is All You Need": warm up, then 1/sqrt(step)
    CosineWithWarmup   warm up linearly, then follow half a cosine down to min_lr

Why most are written as one step from the last rate ("chainable"), not the formula
---------------------------------------------------------------------------------
PyTorch computes StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR and
CosineAnnealingLR from the *current* ``group["lr"]``: StepLR multiplies it by
gamma every step_size steps and otherwise leaves it alone. That way two
schedulers on one optimizer compose (each scales what the other set), and a
rate the user sets by hand (``group["lr"] = 0.01``) is where the schedule goes
on from. The formulas above are what the steps add up to when nothing else
touches the rate; each class keeps its formula as ``_closed_form_lr``, which
``step(epoch)`` (deprecated in PyTorch) and SequentialLR's switch-over use.
"""
from __future__ import annotations

import math
import types
import warnings
from bisect import bisect_right
from collections import Counter
from typing import Any, Callable, Iterable, Sequence

from .. import missing
from .optimizer import Optimizer

EPOCH_DEPRECATED = ("scheduler.step(epoch) is deprecated in PyTorch: call scheduler.step() once per step; "
                    "given an epoch, the schedule's closed form is used where it has one")


class LRScheduler:
    """Base class: subclasses write ``get_lr``, each group's rate at ``self.last_epoch``.

    ``last_epoch=-1`` starts the schedule; another value resumes one, and then
    every param group must already hold its ``"initial_lr"`` (from the saved
    optimizer), as in PyTorch.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: {type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                # The rate the optimizer was built with: schedules scale it, never their own output.
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(f"{type(self).__name__}: param 'initial_lr' is not specified in "
                               f"param_groups[{i}] when resuming a scheduler with last_epoch={last_epoch}; "
                               f"load the optimizer's state_dict first, or start with last_epoch=-1")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """Set the rates of the first step: a step from last_epoch -1 to 0 (``_is_initial`` while it runs)."""
        self._step_count = 0
        self._is_initial = True
        self.step()
        self._is_initial = False

    def get_lr(self) -> list[float]:
        raise NotImplementedError(f"{type(self).__name__} has no get_lr(): define it to return the rate "
                                  f"of each param group at self.last_epoch")

    def step(self, epoch: int | None = None) -> None:
        """Move to the next step and write its learning rate into every param group."""
        self._step_count += 1
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATED, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            lrs = self.get_lr()
        else:  # jump to ``epoch``: only a closed form knows the rate there without the steps before
            self.last_epoch = epoch
            lrs = self._closed_form_lr() if hasattr(self, "_closed_form_lr") else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates the scheduler set last, one per param group."""
        return list(self._last_lr)

    def _current_lrs(self) -> list[float]:
        """The rates in the param groups now: a chainable schedule's starting point."""
        return [group["lr"] for group in self.optimizer.param_groups]

    def _scaled(self, factor: float) -> list[float]:
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer (saved on its own) and functions (code is not data)."""
        return {key: value for key, value in vars(self).items()
                if key != "optimizer" and not callable(value)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume the schedule, and put its last rates back into the optimizer's param groups.

        (PyTorch leaves the rates to the optimizer's own state_dict; writing them
        here too means the order in which the two are loaded does not matter.)
        """
        vars(self).update(state_dict)
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr


_LRScheduler = LRScheduler  # the name older PyTorch code subclasses


def _per_group(name: str, optimizer: Optimizer, value: Any) -> list[Any]:
    """One value per param group: a list as given (of the right length), or one value repeated."""
    count = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != count:
            raise ValueError(f"{name} must have the same length as optimizer.param_groups: {name} has "
                             f"{len(value)} values, param_groups has {count}")
        return list(value)
    return [value] * count


# ----------------------------------------------------------------------------
# Schedules of the step count
# ----------------------------------------------------------------------------
class LambdaLR(LRScheduler):
    """``lr = base_lr * lr_lambda(last_epoch)``: any schedule written as a function of the step.

    ``lr_lambda`` is one function, or a list of them, one per param group.
    """

    def __init__(self, optimizer: Optimizer, lr_lambda: "Callable[[int], float] | Sequence[Callable]",
                 last_epoch: int = -1) -> None:
        if isinstance(lr_lambda, (list, tuple)) and len(lr_lambda) != len(optimizer.param_groups):
            raise ValueError(f"LambdaLR: expected {len(optimizer.param_groups)} lr_lambdas (one per param "
                             f"group), but got {len(lr_lambda)}")
        self.lr_lambdas = _per_group("lr_lambda", optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base_lr * lmbda(self.last_epoch) for lmbda, base_lr in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self) -> dict[str, Any]:
        """As PyTorch: a function is not saved (None); a callable object saves its attributes."""
        state = {key: value for key, value in super().state_dict().items() if key != "lr_lambdas"}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else dict(vars(fn))
                               for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        for fn, saved in zip(self.lr_lambdas, state.pop("lr_lambdas", [])):
            if saved is not None:
                vars(fn).update(saved)
        super().load_state_dict(state)


class StepLR(LRScheduler):
    """Multiply the rate by ``gamma`` every ``step_size`` steps: ``base_lr * gamma^floor(t / step_size)``."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        if step_size == 0:  # PyTorch takes it, then divides by it at the first step
            raise ValueError("StepLR: step_size must be a positive number of steps, got 0")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return self._scaled(self.gamma)

    def _closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the rate by ``gamma`` at each milestone (twice if a milestone is listed twice)."""

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.milestones, self.gamma = Counter(milestones), gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        return self._scaled(self.gamma ** self.milestones[self.last_epoch])

    def _closed_form_lr(self) -> list[float]:
        passed = sum(count for milestone, count in self.milestones.items() if milestone <= self.last_epoch)
        return [base_lr * self.gamma ** passed for base_lr in self.base_lrs]


class ConstantLR(LRScheduler):
    """``base_lr * factor`` for the first ``total_iters`` steps, then ``base_lr`` (a gentle start)."""

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        if not 0 <= factor <= 1:
            raise ValueError(f"ConstantLR: the factor must be between 0 and 1, got factor={factor}")
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return self._scaled(self.factor)
        if self.last_epoch != self.total_iters:
            return self._current_lrs()
        return self._scaled(1.0 / self.factor)

    def _closed_form_lr(self) -> list[float]:
        factor = 1.0 if self.last_epoch >= self.total_iters else self.factor
        return [base_lr * factor for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """The factor on base_lr goes in a straight line from ``start_factor`` to ``end_factor``
    over ``total_iters`` steps, then stays (a linear warmup with the defaults' 1/3 -> 1)."""

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1) -> None:
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be greater than 0 and at most 1, got "
                             f"start_factor={start_factor}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be between 0 and 1, got end_factor={end_factor}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return self._scaled(self.start_factor)
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        # factor(t) / factor(t - 1), with factor(t) = start + (end - start) * t / total_iters
        change = self.end_factor - self.start_factor
        return self._scaled(1.0 + change / (self.total_iters * self.start_factor
                                            + (self.last_epoch - 1) * change))

    def _closed_form_lr(self) -> list[float]:
        progress = min(self.total_iters, self.last_epoch) / self.total_iters
        factor = self.start_factor + (self.end_factor - self.start_factor) * progress
        return [base_lr * factor for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the rate by ``gamma`` every step: ``base_lr * gamma^t``."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        # The first step (or a resumed scheduler's) keeps the rate it finds.
        return self._current_lrs() if self._is_initial else self._scaled(self.gamma)

    def _closed_form_lr(self) -> list[float]:
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """Half a cosine from base_lr down to ``eta_min`` over ``T_max`` steps (SGDR, Loshchilov and Hutter):

        lr(t) = eta_min + (base_lr - eta_min) * (1 + cos(pi t / T_max)) / 2

    Past T_max the cosine goes on, back up to base_lr at 2 T_max, as PyTorch's
    (there is no restart; for one, use CosineWithWarmup, or stop at T_max).
    Chainable, step by step: lr(t) - eta_min is lr(t - 1) - eta_min times the
    ratio of the two cosine terms; at the bottom, where that ratio would be 0/0,
    the step adds the cosine's first rise instead.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,  # noqa: N803 - PyTorch's name
                 last_epoch: int = -1) -> None:
        if T_max == 0:  # PyTorch takes it, then divides by it at the first step
            raise ValueError("CosineAnnealingLR: T_max must be a positive number of steps, got 0")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, T = self.last_epoch, self.T_max  # noqa: N806 - the paper's names
        if self._is_initial:
            return self._current_lrs()
        if (t - 1 - T) % (2 * T) == 0:  # just past the bottom: 1 + cos(pi (t - 1) / T) is 0
            rise = (1 - math.cos(math.pi / T)) / 2
            return [group["lr"] + (base_lr - self.eta_min) * rise
                    for base_lr, group in zip(self.base_lrs, self.optimizer.param_groups)]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [self.eta_min + (group["lr"] - self.eta_min) * ratio for group in self.optimizer.param_groups]

    def _closed_form_lr(self) -> list[float]:
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base_lr - self.eta_min) * cosine for base_lr in self.base_lrs]


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith and Topin, "Super-Convergence", 2018), as PyTorch's, stepped every batch.

    The rate climbs from ``max_lr / div_factor`` to ``max_lr`` over the first
    ``pct_start`` of ``total_steps`` (or ``epochs * steps_per_epoch``), then
    comes down to ``max_lr / div_factor / final_div_factor``, along half a
    cosine (``anneal_strategy="cos"``) or a straight line (``"linear"``). With
    ``three_phase=True`` it first comes back down to the start, symmetrically,
    and only then to the far lower end (the paper's form; the default is fastai's two phases).

    Momentum moves the other way (``cycle_momentum``): from ``max_momentum``
    down to ``base_momentum`` while the rate climbs, and back up as it falls.
    It is the optimizer's ``momentum`` (SGD, RMSprop) or Adam's beta1 (``betas[0]``).

    Phase k runs from step start_k to end_k, and in it, with pct = (t - start_k) / (end_k - start_k):

        cos:     value = end + (start - end) * (1 + cos(pi pct)) / 2
        linear:  value = start + (end - start) * pct

    Not chainable: each rate comes from the phase's two ends, kept in the param
    groups (``"initial_lr"``, ``"max_lr"``, ``"min_lr"``, and the momenta).
    """

    def __init__(self, optimizer: Optimizer, max_lr: "float | list[float]", total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None, pct_start: float = 0.3,
                 anneal_strategy: str = "cos", cycle_momentum: bool = True,
                 base_momentum: "float | list[float]" = 0.85, max_momentum: "float | list[float]" = 0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False,
                 last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"OneCycleLR: {type(optimizer).__name__} is not an Optimizer")
        self.total_steps = _total_steps(total_steps, epochs, steps_per_epoch)
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: expected a float between 0 and 1 for pct_start, got {pct_start!r}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be one of 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        self.anneal_strategy = anneal_strategy
        up = float(pct_start * self.total_steps) - 1  # the step at which the climb ends
        if three_phase:
            self._phases = [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (2 * up, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                            (self.total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self._phases = [(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                            (self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]
        if last_epoch == -1:
            for group, top in zip(optimizer.param_groups, _per_group("max_lr", optimizer, max_lr)):
                group.update(initial_lr=top / div_factor, max_lr=top,
                             min_lr=top / div_factor / final_div_factor)
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"OneCycleLR: {type(optimizer).__name__} has neither momentum nor betas, "
                                 f"so cycle_momentum cannot be used; pass cycle_momentum=False")
            self.use_beta1 = "betas" in optimizer.defaults
            tops = _per_group("max_momentum", optimizer, max_momentum)
            bottoms = _per_group("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for group, top, bottom in zip(optimizer.param_groups, tops, bottoms):
                    self._set_momentum(group, top)
                    group.update(max_momentum=top, base_momentum=bottom)
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _set_momentum(self, group: dict[str, Any], momentum: float) -> None:
        if self.use_beta1:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum

    def get_lr(self) -> list[float]:
        t = self.last_epoch
        if t > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {t} times, but total_steps is {self.total_steps}; "
                             f"make total_steps (or epochs * steps_per_epoch) cover the whole training")
        lrs = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for k, (end, lr_from, lr_to, momentum_from, momentum_to) in enumerate(self._phases):
                if t <= end or k == len(self._phases) - 1:
                    pct = (t - start) / (end - start)
                    lrs.append(self._anneal(group[lr_from], group[lr_to], pct))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(group[momentum_from], group[momentum_to], pct))
                    break
                start = end
        return lrs


def _total_steps(total_steps: int | None, epochs: int | None, steps_per_epoch: int | None) -> int:
    """OneCycleLR's length: total_steps, or else epochs * steps_per_epoch; each a positive int."""
    def positive(name: str, value: Any) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise ValueError(f"OneCycleLR: expected a positive integer {name}, but got {name}={value!r}")
        return value
    if total_steps is not None:
        return positive("total_steps", total_steps)
    if epochs is not None and steps_per_epoch is not None:
        return positive("epochs", epochs) * positive("steps_per_epoch", steps_per_epoch)
    raise ValueError("OneCycleLR: you must define either total_steps OR (epochs AND steps_per_epoch)")


# ----------------------------------------------------------------------------
# Schedules of schedules, and of a metric
# ----------------------------------------------------------------------------
class SequentialLR(LRScheduler):
    """``schedulers[0]`` until ``milestones[0]``, then ``schedulers[1]`` (from its own step 0), and so on.

    The usual warmup-then-decay: ``SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=5),
    CosineAnnealingLR(opt, T_max=95)], milestones=[5])``. Building the inner
    schedulers stepped them once each; SequentialLR undoes that, so each starts
    when its turn comes, at the rate of its formula's step 0.
    """

    def __init__(self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int],
                 last_epoch: int = -1) -> None:
        if len(schedulers) < 1:
            raise ValueError("SequentialLR expects at least one scheduler, but got none")
        for i, scheduler in enumerate(schedulers):
            if not hasattr(scheduler, "optimizer"):
                raise TypeError(f"SequentialLR: the scheduler at index {i} should have `optimizer` as its "
                                f"attribute, got {type(scheduler).__name__}")
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(f"SequentialLR does not support ReduceLROnPlateau (at index {i}): its "
                                 f"step needs the metric")
            if scheduler.optimizer is not optimizer:
                raise ValueError(f"SequentialLR expects all schedulers to belong to the same optimizer, but "
                                 f"the {type(scheduler).__name__} at index {i} has another one")
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR expects one milestone fewer than schedulers, but got "
                             f"{len(schedulers)} schedulers and {len(milestones)} milestones")
        self._schedulers, self._milestones = list(schedulers), list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for scheduler in self._schedulers:
            _undo_step(scheduler)
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def step(self) -> None:  # type: ignore[override]
        self.last_epoch += 1
        i = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[i]
        if i > 0 and self._milestones[i - 1] == self.last_epoch:
            scheduler._update_lr(0)  # its turn begins: its own step 0, from its formula
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        state = {key: value for key, value in super().state_dict().items() if key != "_schedulers"}
        state["_schedulers"] = [scheduler.state_dict() for scheduler in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        for scheduler, saved in zip(self._schedulers, state.pop("_schedulers")):
            scheduler.load_state_dict(saved)
        super().load_state_dict(state)


def _undo_step(scheduler: Any) -> None:
    """Take back the step a scheduler made when it was built (recursively, for nested SequentialLRs)."""
    for inner in getattr(scheduler, "_schedulers", []):
        _undo_step(inner)
    if not hasattr(scheduler, "_schedulers"):
        scheduler.last_epoch -= 1


class ReduceLROnPlateau(LRScheduler):
    """Multiply the rate by ``factor`` when a metric has not improved for ``patience`` epochs.

        scheduler.step(val_loss)     # once per epoch, with the metric watched

    "Improved" means better than the best so far by more than ``threshold``:
    in ``mode="min"`` (a loss) below best * (1 - threshold) (``threshold_mode="rel"``)
    or below best - threshold (``"abs"``); in ``mode="max"`` (an accuracy) above
    best * (1 + threshold) or best + threshold. After ``patience`` bad epochs in
    a row the next bad one cuts every group's rate, never below its ``min_lr``
    (and not at all when the cut would be smaller than ``eps``); then for
    ``cooldown`` epochs bad epochs are not counted.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: "float | list[float]" = 0, eps: float = 1e-8) -> None:
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor should be < 1.0 (it multiplies the rate), got "
                             f"factor={factor}")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"ReduceLROnPlateau: {type(optimizer).__name__} is not an Optimizer")
        self.optimizer, self.factor = optimizer, factor
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(f"ReduceLROnPlateau: expected {len(optimizer.param_groups)} min_lrs (one "
                                 f"per param group), got {len(min_lr)}")
            self.default_min_lr, self.min_lrs = None, list(min_lr)
        else:
            self.default_min_lr, self.min_lrs = min_lr, [min_lr] * len(optimizer.param_groups)
        self.patience, self.cooldown, self.eps = patience, cooldown, eps
        self.last_epoch = 0
        self._last_lr = self._current_lrs()
        self._check_modes(mode, threshold_mode)
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode
        self.best = math.inf if mode == "min" else -math.inf  # the worst value: anything improves on it
        self.cooldown_counter = self.num_bad_epochs = 0

    @staticmethod
    def _check_modes(mode: str, threshold_mode: str) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")

    def step(self, metrics: Any, epoch: int | None = None) -> None:  # type: ignore[override]
        current = float(metrics)  # a 0-d tensor too
        if epoch is not None:
            warnings.warn(EPOCH_DEPRECATED, UserWarning, stacklevel=2)
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = self._current_lrs()

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, value: float) -> bool:
        if self.mode == "min":
            return value < (self.best * (1 - self.threshold) if self.threshold_mode == "rel"
                            else self.best - self.threshold)
        return value > (self.best * (1 + self.threshold) if self.threshold_mode == "rel"
                        else self.best + self.threshold)

    def _reduce_lr(self) -> None:
        if len(self.min_lrs) != len(self.optimizer.param_groups):  # a param group was added since
            if self.default_min_lr is None:
                raise RuntimeError(f"ReduceLROnPlateau: the optimizer has {len(self.optimizer.param_groups)} "
                                   f"param groups, but min_lr gave {len(self.min_lrs)}; set "
                                   f"scheduler.min_lrs to one value per group")
            self.min_lrs = [self.default_min_lr] * len(self.optimizer.param_groups)
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
            new_lr = max(group["lr"] * self.factor, min_lr)
            if group["lr"] - new_lr > self.eps:
                group["lr"] = new_lr

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        super().load_state_dict(state_dict)
        self._check_modes(self.mode, self.threshold_mode)


# ----------------------------------------------------------------------------
# tinytensor's own: the paper's warmup, and warmup then cosine
# ----------------------------------------------------------------------------
class TransformerWarmup(LRScheduler):
    """The learning rate of "Attention Is All You Need" (section 5.3), times ``factor``:

        lrate = factor * d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5)

    For the first ``warmup_steps`` steps the second term is the smaller one and
    the rate grows linearly; after that it decays as 1/sqrt(step). The two meet
    at step = warmup_steps, the peak, d_model^-0.5 * warmup_steps^-0.5. Wider
    models (larger d_model) get smaller rates.

    ``step`` counts optimizer steps from 1 (``last_epoch + 1``), so the first
    rate is small but finite; at step 0, step^-0.5 would be infinite. The rate
    replaces the optimizer's own ``lr``, as in the paper (which used lr as this
    formula, with Adam betas (0.9, 0.98), eps 1e-9, d_model 512, warmup 4000).
    """

    def __init__(self, optimizer: Optimizer, d_model: int, warmup_steps: int, factor: float = 1.0) -> None:
        if warmup_steps < 1:
            raise ValueError(f"TransformerWarmup: warmup_steps must be >= 1, got {warmup_steps}")
        self.d_model, self.warmup_steps, self.factor = d_model, warmup_steps, factor
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        step = self.last_epoch + 1
        lr = self.factor * self.d_model ** -0.5 * min(step ** -0.5, step * self.warmup_steps ** -1.5)
        return [lr] * len(self.base_lrs)


class CosineWithWarmup(LRScheduler):
    """Warm up linearly to the optimizer's lr, then decay along half a cosine to ``min_lr``:

        step <= warmup_steps:   lr = base_lr * step / warmup_steps
        after that:             progress = (step - warmup_steps) / (total_steps - warmup_steps)
                                lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * progress)) / 2

    ``step`` counts optimizer steps from 1, so no step is wasted at rate 0;
    after ``total_steps`` the rate stays at ``min_lr``. Warmup keeps Adam's
    first, noisy second-moment estimates from making huge steps; the cosine
    spends most of the run at a high rate and lands gently.
    """

    def __init__(self, optimizer: Optimizer, warmup_steps: int, total_steps: int, min_lr: float = 0.0) -> None:
        if not 0 <= warmup_steps <= total_steps:
            raise ValueError(f"CosineWithWarmup: need 0 <= warmup_steps <= total_steps, got "
                             f"warmup_steps={warmup_steps}, total_steps={total_steps}")
        self.warmup_steps, self.total_steps, self.min_lr = warmup_steps, total_steps, min_lr
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        step = self.last_epoch + 1
        if step <= self.warmup_steps:
            return [base_lr * step / self.warmup_steps for base_lr in self.base_lrs]
        progress = min(1.0, (step - self.warmup_steps) / max(1, self.total_steps - self.warmup_steps))
        cosine = (1 + math.cos(math.pi * progress)) / 2
        return [self.min_lr + (base_lr - self.min_lr) * cosine for base_lr in self.base_lrs]


__getattr__ = missing.names(__name__)  # a PyTorch name not here says what to use (missing.py)
