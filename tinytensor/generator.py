"""Generator: a random stream of one's own, as torch.Generator.

    g = tinytensor.Generator().manual_seed(42)
    order = tinytensor.randperm(10, generator=g)           # the same order on every run
    loader = DataLoader(data, shuffle=True, generator=g)   # and the same shuffles

Every random function draws by default from its device's generator, which
``tinytensor.manual_seed`` reseeds (backend.py). A Generator is a stream apart
from that one: what it gives does not depend on how many numbers anything else
drew (weight initialization, dropout), so a data order or a train/validation
split stays the same when the model changes.

Underneath is a NumPy generator, ``backend.new_generator(seed)``, exposed as
``backend_generator`` for code that draws from it directly. The numbers differ
from PyTorch's (which uses another algorithm), the meaning of every method is
PyTorch's. A Generator lives on the CPU: tensors on a GPU draw from the GPU's
own generator.
"""
from __future__ import annotations

import copy
import secrets
from typing import Any

from . import backend
from .backend import Device

DEFAULT_SEED = 67280421310721  # what torch.Generator().initial_seed() says before any manual_seed


class Generator:
    """A seeded random stream on the CPU: ``Generator(device="cpu")``.

    ``backend_generator`` is the NumPy ``numpy.random.Generator`` that draws.
    ``manual_seed`` and ``set_state`` replace it, so read the attribute at each
    draw rather than keep it.
    """

    def __init__(self, device: "str | Device" = "cpu") -> None:
        self.device = Device(device)
        if self.device.type != "cpu":
            raise ValueError(f"Generator: only device='cpu' is supported, got {str(self.device)!r}; "
                             f"random tensors on a GPU draw from its own generator "
                             f"(seed it with tinytensor.manual_seed)")
        self.manual_seed(DEFAULT_SEED)

    def manual_seed(self, seed: int) -> "Generator":
        """Start the stream again from ``seed``; returns the generator, so it can be built in one line."""
        self._initial_seed = int(seed) % 2 ** 64  # torch keeps a negative seed as its 64-bit pattern
        self.backend_generator = backend.new_generator(self._initial_seed)
        return self

    def seed(self) -> int:
        """Seed from the operating system's entropy (a different stream every run); returns the seed."""
        self.manual_seed(secrets.randbits(64))
        return self._initial_seed

    def initial_seed(self) -> int:
        """The seed the stream started from."""
        return self._initial_seed

    def get_state(self) -> dict[str, Any]:
        """Where the stream is now, as a dict of plain numbers (PyTorch returns a uint8 tensor)."""
        return copy.deepcopy(self.backend_generator.bit_generator.state)

    def set_state(self, new_state: dict[str, Any]) -> "Generator":
        """Continue the stream from a state ``get_state`` returned."""
        if not isinstance(new_state, dict) or "bit_generator" not in new_state:
            raise TypeError(f"Generator.set_state: expected a state from Generator.get_state(), got "
                            f"{type(new_state).__name__}")
        generator = backend.new_generator(0)
        generator.bit_generator.state = copy.deepcopy(new_state)
        self.backend_generator = generator
        return self

    def draws_on(self, device: Device, op: str) -> Any:
        """The NumPy generator, for ``op`` making a tensor on ``device``; refuses another device."""
        if device.type != self.device.type:
            raise RuntimeError(f"{op}: expected a '{device.type}' device type for generator but found "
                               f"'{self.device.type}'; give a GPU tensor no generator (it draws from "
                               f"the GPU's own), or make it on the CPU and move it")
        return self.backend_generator

    def __repr__(self) -> str:
        return f"Generator(device={str(self.device)!r}, initial_seed={self._initial_seed})"
