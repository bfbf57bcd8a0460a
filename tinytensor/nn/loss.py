"""Losses as modules: each holds its settings and calls its function in tinytensor.functional.

    CrossEntropyLoss    loss = mean over counted positions of -log softmax(logits)[target]
    NLLLoss             loss = mean over counted positions of -input[target], input = log p
    MSELoss             loss = mean((input - target)^2)
    BCELoss             loss = mean(-(y log x + (1 - y) log(1 - x))), x a probability
    BCEWithLogitsLoss   the same from logits z, x = sigmoid(z): exact where BCELoss must clamp
    KLDivLoss           loss = sum(target * (log target - input)) / batch ("batchmean")

Positions whose target is ``ignore_index`` (padding) count neither in the sum
nor in the mean's denominator. ``label_smoothing`` eps moves eps of the
target's probability evenly onto all classes (the paper uses eps = 0.1).
The arithmetic and backward are in tinytensor/functional/loss.py. As in
PyTorch, the weights of the binary losses are buffers: they move with ``to()``.
"""
from __future__ import annotations

from typing import Any

from .. import functional
from ..functional.loss import legacy_reduction
from ..tensor import Tensor
from .module import Module


class CrossEntropyLoss(Module):
    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean",
                 label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.reduction = legacy_reduction("CrossEntropyLoss", size_average, reduce, reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing
        _weights(self, weight=weight)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        return functional.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                                        reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(Module):
    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = legacy_reduction("NLLLoss", size_average, reduce, reduction)
        self.ignore_index = ignore_index
        _weights(self, weight=weight)

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        return functional.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                                   reduction=self.reduction)


class MSELoss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return functional.mse_loss(input, target, self.reduction)


class BCELoss(Module):
    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = legacy_reduction("BCELoss", size_average, reduce, reduction)
        _weights(self, weight=weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return functional.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(Module):
    def __init__(self, weight: Tensor | None = None, size_average: bool | None = None,
                 reduce: bool | None = None, reduction: str = "mean",
                 pos_weight: Tensor | None = None) -> None:
        super().__init__()
        self.reduction = legacy_reduction("BCEWithLogitsLoss", size_average, reduce, reduction)
        _weights(self, weight=weight, pos_weight=pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return functional.binary_cross_entropy_with_logits(
            input, target, self.weight, reduction=self.reduction, pos_weight=self.pos_weight)


class KLDivLoss(Module):
    def __init__(self, size_average: bool | None = None, reduce: bool | None = None,
                 reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__()
        self.reduction = legacy_reduction("KLDivLoss", size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return functional.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


def _weights(module: Module, **weights: Tensor | None) -> None:
    """Each weight a buffer (saved, moved by to()), or None, as PyTorch registers them."""
    for name, weight in weights.items():
        if weight is None:
            setattr(module, name, None)
        else:
            module.register_buffer(name, weight)
