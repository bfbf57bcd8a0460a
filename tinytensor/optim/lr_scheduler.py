"""Learning-rate schedules: change ``group["lr"]`` as training goes on.

A scheduler sets the learning rate of every param group of its optimizer from
the number of steps taken so far. Call ``scheduler.step()`` once after each
``optimizer.step()``:

    for batch in loader:
        loss = ...; loss.backward()
        optimizer.step(); optimizer.zero_grad()
        scheduler.step()

As in PyTorch, building the scheduler already sets the rate of the first
optimizer step (``last_epoch`` = 0); ``scheduler.step()`` moves to the next.

LambdaLR            lr = base_lr * lr_lambda(last_epoch)
TransformerWarmup   the schedule of "Attention Is All You Need": warm up, then 1/sqrt(step)
CosineWithWarmup    warm up linearly, then follow half a cosine down to min_lr
"""
from __future__ import annotations

import math
from typing import Any, Callable

from .optimizer import Optimizer


class LRScheduler:
    """Base class: subclasses write ``get_lr``, the rate of each group at ``self.last_epoch``."""

    def __init__(self, optimizer: Optimizer) -> None:
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            # The rate the optimizer was built with: the schedule scales it, never its own output.
            group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = -1
        self.step()

    def get_lr(self) -> list[float]:
        raise NotImplementedError

    def step(self) -> None:
        """Move to the next step and write its learning rate into every param group."""
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The learning rates the scheduler set last, one per param group."""
        return list(self._last_lr)

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


class LambdaLR(LRScheduler):
    """``lr = base_lr * lr_lambda(last_epoch)``: any schedule written as a function of the step."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float]) -> None:
        self.lr_lambda = lr_lambda
        super().__init__(optimizer)

    def get_lr(self) -> list[float]:
        return [base_lr * self.lr_lambda(self.last_epoch) for base_lr in self.base_lrs]


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
