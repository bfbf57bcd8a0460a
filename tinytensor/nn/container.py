"""Containers: ModuleList holds a stack of layers, Sequential also runs them in order.

    self.layers = ModuleList([EncoderLayer() for _ in range(6)])   # the paper's N = 6
    for layer in self.layers:
        x = layer(x)

A plain Python list would hide the layers from ``parameters()``; a ModuleList
registers item i as child "i", so its weights are named ``layers.0.linear1.weight``
and the ops of item 0 are drawn in the group "layers.0".
"""
from __future__ import annotations

from typing import Any, Iterable, Iterator

from .module import Module


class ModuleList(Module):
    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> "ModuleList":
        setattr(self, str(len(self)), module)
        return self

    def __getitem__(self, index: int) -> Module:
        if not -len(self) <= index < len(self):
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for "
                             f"{len(self)} modules")
        return self._modules[str(index % len(self))]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class Sequential(ModuleList):
    def __init__(self, *modules: Module) -> None:
        super().__init__(modules)

    def forward(self, x: Any) -> Any:
        for module in self:
            x = module(x)
        return x
