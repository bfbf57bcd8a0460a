"""Losses as modules: CrossEntropyLoss for classification and next-token prediction, MSELoss.

    CrossEntropyLoss   loss = mean over counted positions of -log softmax(logits)[target]
    MSELoss            loss = mean((input - target)^2)

Positions whose target is ``ignore_index`` (padding) count neither in the sum
nor in the mean's denominator. ``label_smoothing`` eps moves eps of the
target's probability evenly onto all classes (the paper uses eps = 0.1).
The arithmetic and backward are in tinytensor/functional/loss.py.
"""
from __future__ import annotations

from typing import Any

from .. import functional
from ..tensor import Tensor
from .module import Module


class CrossEntropyLoss(Module):
    def __init__(self, ignore_index: int = -100, label_smoothing: float = 0.0,
                 reduction: str = "mean") -> None:
        super().__init__()
        self.ignore_index, self.label_smoothing, self.reduction = ignore_index, label_smoothing, reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002 - PyTorch's name
        return functional.cross_entropy(input, target, self.ignore_index, self.label_smoothing,
                                        self.reduction)


class MSELoss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, input: Tensor, target: Tensor) -> Tensor:  # noqa: A002
        return functional.mse_loss(input, target, self.reduction)
