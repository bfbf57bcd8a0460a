"""The random state of every device, as checkpoint data.

``get_rng_state()`` is torch.get_rng_state and torch.cuda.get_rng_state_all in
one: a dict with the seed, the CPU generator's state, and each GPU generator's
state as a CPU tensor of bytes, which ``tinytensor.save`` writes like any other
tensor. ``set_rng_state`` continues every generator from it, so a resumed run
draws the dropout masks the uninterrupted run would have drawn, on the GPU too.
"""
from __future__ import annotations

from typing import Any

from . import backend
from .tensor import Tensor


def get_rng_state() -> dict[str, Any]:
    """Every device's random state: {"seed": ..., "cpu": {...}, "cuda:0": int8 tensor, ...}."""
    return {name: Tensor._make(value, None) if isinstance(value, backend.ndarray) else value
            for name, value in backend.get_rng_state().items()}


def set_rng_state(state: dict[str, Any]) -> None:
    """Continue every generator from what ``get_rng_state`` returned (or tinytensor.load read back)."""
    backend.set_rng_state({name: value.numpy() if isinstance(value, Tensor) else value
                           for name, value in state.items()})
