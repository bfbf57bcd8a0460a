"""Containers: Modules and Parameters in a list or a dict, registered so the model can find them.

    self.layers = ModuleList([EncoderLayer() for _ in range(6)])   # the paper's N = 6
    for layer in self.layers:
        x = layer(x)

A plain Python list would hide the layers from ``parameters()``; a ModuleList
registers item i as child "i", so its weights are named ``layers.0.linear1.weight``
and the ops of item 0 are drawn in the group "layers.0".

    ModuleList      layers by position: children "0", "1", ...
    Sequential      a ModuleList that is also a layer: runs its items in order
    ModuleDict      layers by name: ``transformer["wte"]`` or ``transformer.wte``, weights
                    named ``transformer.wte.weight`` (nanoGPT builds its model this way)
    ParameterList   Parameters by position, named "0", "1", ...
    ParameterDict   Parameters by name

A tensor put into a ParameterList or ParameterDict becomes a Parameter (sharing
its memory), as in PyTorch: putting it there says it is to be learned.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterable, Iterator, Mapping

from ..tensor import Tensor
from .module import Module
from .parameter import Parameter


class ModuleList(Module):
    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> "ModuleList":
        if not isinstance(module, Module):  # else a plain attribute: lost, and the next one takes its name
            raise TypeError(f"{type(self).__name__}: {type(module).__name__} is not a Module subclass")
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


class _ByName(Module):
    """What ModuleDict and ParameterDict share: members by name, in the order they were added,
    read as a dict is (iterating gives the names)."""

    _registry = ""  # where the members are: "_modules" or "_parameters"
    _member = ""    # what update's pairs hold, for its error: "module" or "tensor"

    def _members(self) -> dict[str, Any]:
        return self.__dict__[self._registry]

    def __getitem__(self, key: str) -> Any:
        return self._members()[key]

    def __delitem__(self, key: str) -> None:
        if key not in self._members():
            raise KeyError(key)
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._members())

    def __iter__(self) -> Iterator[str]:
        return iter(self._members())

    def __contains__(self, key: object) -> bool:
        return key in self._members()

    def keys(self) -> Iterable[str]:
        return self._members().keys()

    def items(self) -> Iterable[tuple[str, Any]]:
        return self._members().items()

    def values(self) -> Iterable[Any]:
        return self._members().values()

    def pop(self, key: str) -> Any:
        member = self[key]
        del self[key]
        return member

    def clear(self) -> None:
        for key in list(self._members()):
            del self[key]

    def update(self, members: "Mapping[str, Any] | Iterable[tuple[str, Any]]") -> None:
        """Add (or replace) members from a mapping, or from (name, member) pairs, in their order."""
        for i, pair in enumerate(self._pairs(members)):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"{type(self).__name__}.update: element #{i} should be a (name, "
                                 f"{self._member}) pair, got {pair!r}")
            self[pair[0]] = pair[1]

    def _pairs(self, members: Any) -> Iterable[Any]:
        return members.items() if isinstance(members, Mapping) else members


class ModuleDict(_ByName):
    """Modules by name, in the order they were added; iterating gives the names, as a dict does."""

    _registry, _member = "_modules", "module"

    def __init__(self, modules: "Mapping[str, Module] | Iterable[tuple[str, Module]] | None" = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)


class ParameterList(Module):
    """Parameters by position; a plain tensor appended becomes a Parameter sharing its memory."""

    def __init__(self, values: Iterable[Tensor] | None = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    def __getitem__(self, index: "int | slice") -> "Parameter | ParameterList":
        if isinstance(index, slice):
            return ParameterList([self[i] for i in range(len(self))[index]])
        return self._parameters[str(self._position(index))]

    def __setitem__(self, index: int, param: Tensor) -> None:
        self.register_parameter(str(self._position(index)), _as_parameter(param, type(self).__name__))

    def _position(self, index: int) -> int:
        if not -len(self) <= index < len(self):
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for {len(self)} "
                             f"parameters")
        return index % len(self)

    def __len__(self) -> int:
        return len(self._parameters)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._parameters.values())

    def __iadd__(self, parameters: Iterable[Tensor]) -> "ParameterList":
        return self.extend(parameters)

    def append(self, param: Tensor) -> "ParameterList":
        self.register_parameter(str(len(self)), _as_parameter(param, type(self).__name__))
        return self

    def extend(self, parameters: Iterable[Tensor]) -> "ParameterList":
        for param in parameters:
            self.append(param)
        return self

    def extra_repr(self) -> str:
        return _listed(self._parameters)


class ParameterDict(_ByName):
    """Parameters by name, in the order they were added; iterating gives the names, as a dict does."""

    _registry, _member = "_parameters", "tensor"

    def __init__(self,
                 parameters: "Mapping[str, Tensor] | Iterable[tuple[str, Tensor]] | None" = None) -> None:
        super().__init__()
        if parameters is not None:
            self.update(parameters)

    def __setitem__(self, key: str, param: Tensor) -> None:
        self.register_parameter(key, _as_parameter(param, type(self).__name__))

    def get(self, key: str, default: Any = None) -> Any:
        return self._parameters.get(key, default)

    def _pairs(self, parameters: Any) -> Iterable[Any]:
        """PyTorch's order: as given for pairs, an OrderedDict or a ParameterDict, but a plain
        dict's keys sorted (a rule from before dicts kept their order)."""
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            return parameters.items()
        return sorted(parameters.items()) if isinstance(parameters, Mapping) else parameters

    def extra_repr(self) -> str:
        return _listed(self._parameters)


def _as_parameter(value: Any, owner: str) -> Parameter:
    """A Parameter as it is; another tensor made one (sharing its memory), as PyTorch does."""
    if isinstance(value, Parameter):
        return value
    if isinstance(value, Tensor):
        return Parameter(value)
    raise TypeError(f"{owner} holds tensors (made Parameters), got {type(value).__name__}")


def _listed(parameters: dict[str, Parameter]) -> str:
    """A container's parameters in its repr, one line each, as PyTorch prints them."""
    def describe(p: Parameter) -> str:
        device = "" if p.device == "cpu" else f" ({p.device})"
        return f"Parameter containing: [{p.dtype} of size {'x'.join(map(str, p.shape)) or '()'}{device}]"
    lines = [f"  ({name}): {describe(p)}" for name, p in parameters.items()]
    return "\n" + "\n".join(lines) + "\n" if lines else ""
