"""Module: the base class of every layer and model, as torch.nn.Module.

A model is a tree of Modules. Assigning an attribute builds the tree:

    self.linear1 = Linear(512, 2048)     # a child Module, named "linear1"
    self.weight = Parameter(...)         # a learnable tensor, named "weight"
    self.register_buffer("pe", table)    # a tensor that is saved but not learned

so the Module can find, by walking the tree, everything a training loop needs:
``parameters()`` for the optimizer, ``state_dict()`` for a checkpoint (names are
dotted paths, ``layers.0.linear1.weight``), ``train()``/``eval()`` for Dropout,
``to(device)`` to move it all at once.

Calling a module, ``y = layer(x)``, runs ``forward(x)`` inside a *module scope*:
every op it records carries the path where the module is registered
(``fn.scope == "layers.0.linear1"``), which is how the pictures group a
Transformer's thousands of ops by layer. The path comes from the tree, not from
who called the module, so a layer run through its parent's helper or lambda is
still drawn in its own group, next to its own weights.
"""
from __future__ import annotations

import contextlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Callable, Iterator, NamedTuple

from .. import backend
from ..autograd import inplace
from ..autograd.function import module_scope
from ..hints import did_you_mean
from ..optim.optimizer import zero_grads
from ..tensor import Tensor, to_arguments
from .parameter import Parameter


_REGISTRIES = ("_parameters", "_buffers", "_modules")  # where a Module keeps its members, by kind


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _quoted(keys: list[str]) -> str:
    return ", ".join(f'"{k}"' for k in keys)


def _mismatch(key: str, value: Any, own: Tensor) -> str:
    """Why ``value`` cannot be copied into the model's ``own`` tensor under ``key``, or ""."""
    if not isinstance(value, Tensor):
        return (f'While copying the parameter named "{key}", expected a Tensor from checkpoint but '
                f"received {type(value).__name__}; wrap it with tinytensor.tensor(...)")
    if tuple(value.shape) != tuple(own.shape):
        return (f"size mismatch for {key}: copying a param with shape {tuple(value.shape)} from "
                f"checkpoint, the shape in current model is {tuple(own.shape)}.")
    return ""


def _check_member_name(module: "Module", kind: str, name: Any) -> None:  # kind: "module" or "parameter"
    """A name given at run time must make a path piece: a string, not empty, no '.', not taken."""
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
    if "_parameters" not in module.__dict__:
        raise AttributeError(f"cannot add the {kind} {name!r} before Module.__init__() is called")
    if not name:
        raise KeyError(f'{kind} name can\'t be empty string ""')
    if "." in name:
        raise KeyError(f'{kind} name can\'t contain ".", got: {name!r}')
    if hasattr(module, name) and name not in module.__dict__[f"_{kind}s"]:  # replacing one's own is fine
        raise KeyError(f"attribute {name!r} already exists in {type(module).__name__}: choose another "
                       f"{kind} name")


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(..., strict=False)`` could not match."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:  # PyTorch's words when nothing is left over
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return f"IncompatibleKeys(missing_keys={self.missing_keys!r}, unexpected_keys={self.unexpected_keys!r})"


class Module:
    """Subclass it, call ``super().__init__()`` first, assign layers, write ``forward``."""

    def __init__(self) -> None:
        # Written through object.__setattr__: our own __setattr__ reads these dicts.
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_path", "")  # where it is registered; a root's is "" (see _set_path)
        self.training = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward(): define "
                                  f"forward(self, ...) in your Module subclass")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # A root pushes no scope, so a module made and called inside another's forward
        # counts as part of that one.
        scope = module_scope(self._path) if self._path else contextlib.nullcontext()
        with scope:
            return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------
    # Registration: attribute assignment builds the tree
    # ------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, (Parameter, Module)):
            self._register(name, value)
        elif name in self.__dict__.get("_buffers", {}):
            if not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} "
                                f"(a Tensor expected)")
            self._buffers[name] = value
        elif self._owns(name):
            if value is not None:
                kind = "Parameter" if name in self._parameters else "Module"
                raise TypeError(f"cannot assign {type(value).__name__} as {kind.lower()} {name!r} "
                                f"(a {kind} or None expected; to change a parameter's values, "
                                f"use nn.init or write into .data)")
            self.__delattr__(name)  # None takes the parameter or module out of the tree
            object.__setattr__(self, name, None)
        else:
            object.__setattr__(self, name, value)

    def _register(self, name: str, value: "Parameter | Module") -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called: "
                                 f"start {type(self).__name__}.__init__ with super().__init__()")
        registry = self._parameters if isinstance(value, Parameter) else self._modules
        if self._owns(name) and name not in registry:  # a member of another kind gives way
            self.__delattr__(name)
        elif name in self._modules:  # a module replaced leaves the tree; the new one takes its place in order
            self._modules[name]._set_path("")
        self.__dict__.pop(name, None)  # a plain attribute (bias = None) would hide the member
        if isinstance(value, Parameter):
            self._parameters[name] = value
        else:
            self._modules[name] = value
            value._set_path(_join(self._path, name))

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails, i.e. for registered members.
        for registry in _REGISTRIES:
            members = self.__dict__.get(registry, {})
            if name in members:
                return members[name]
        message = f"{type(self).__name__!r} object has no attribute {name!r}"
        if not name.startswith("__"):  # a typo of a member or method: say which one was meant
            members = (n for registry in _REGISTRIES for n in self.__dict__.get(registry, {}))
            message += did_you_mean(name, [*dir(type(self)), *self.__dict__, *members])
        raise AttributeError(message)

    def __delattr__(self, name: str) -> None:
        if name in self._modules:
            self._modules.pop(name)._set_path("")  # out of the tree: a root again
        elif self._owns(name):
            self._parameters.pop(name, None)
            self._buffers.pop(name, None)
            self._non_persistent.discard(name)
        else:
            object.__delattr__(self, name)

    def _owns(self, name: str) -> bool:
        """Whether ``name`` is a registered parameter, buffer or child module."""
        return any(name in self.__dict__.get(registry, {}) for registry in _REGISTRIES)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Register ``module`` as the child ``name``, as ``self.<name> = module`` does (torch's name).

        For names chosen at run time (ModuleDict's keys): the name must be a
        string, not empty, without '.', and not an attribute the module already has.
        """
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module subclass")
        _check_member_name(self, "module", name)
        setattr(self, name, module)  # __setattr__ registers it, or takes the old one out for None

    register_module = add_module

    def register_parameter(self, name: str, param: "Parameter | None") -> None:
        """Register ``param`` as the parameter ``name``, as ``self.<name> = param`` does (torch's name)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} object to parameter {name!r} "
                            f"(nn.Parameter or None required; wrap a tensor as nn.Parameter(t))")
        _check_member_name(self, "parameter", name)
        setattr(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor, persistent: bool = True) -> None:
        """A tensor that belongs to the module but is not learned (e.g. a positional-encoding table).

        It moves with ``to()`` and, when ``persistent``, is saved in ``state_dict()``.
        """
        if not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor, got {type(tensor).__name__}")
        if "." in name:
            raise KeyError(f"register_buffer: the name {name!r} may not contain '.'")
        if name in self.__dict__ or (self._owns(name) and name not in self._buffers):
            raise KeyError(f"register_buffer: {type(self).__name__} already has an attribute {name!r}")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    # ------------------------------------------------------------------
    # Paths: where each module sits in the tree, the scope it pushes when called
    # ------------------------------------------------------------------
    def _set_path(self, path: str) -> None:
        """Set this module's path, and its children's below it.

        Models are built bottom-up (layers first, then the model that holds them),
        so each registration renames the whole subtree it brings in. A module
        shared by two parents keeps the path its last parent gave it.
        """
        object.__setattr__(self, "_path", path)
        for name, child in self._modules.items():
            child._set_path(_join(path, name))

    # ------------------------------------------------------------------
    # Walking the tree
    # ------------------------------------------------------------------
    def _walk(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        """Every (path, module) from here down, parents first; a shared module once per path."""
        yield prefix, self
        for name, child in self._modules.items():
            yield from child._walk(_join(prefix, name))

    def _unique_members(self, registry: str, recurse: bool) -> Iterator[tuple[str, Tensor]]:
        # Each tensor once (by identity), so a weight tied in two layers is updated once.
        seen: set[int] = set()
        for path, module in self._walk() if recurse else [("", self)]:
            for name, tensor in module.__dict__[registry].items():
                if id(tensor) not in seen:
                    seen.add(id(tensor))
                    yield _join(path, name), tensor

    def named_parameters(self, recurse: bool = True) -> Iterator[tuple[str, Parameter]]:
        return self._unique_members("_parameters", recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        return (p for _, p in self.named_parameters(recurse))

    def named_buffers(self, recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        return self._unique_members("_buffers", recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        return (b for _, b in self.named_buffers(recurse))

    def named_modules(self) -> Iterator[tuple[str, "Module"]]:
        seen: set[int] = set()
        for path, module in self._walk():
            if id(module) not in seen:
                seen.add(id(module))
                yield path, module

    def modules(self) -> Iterator["Module"]:
        return (m for _, m in self.named_modules())

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """The direct children, each once (a module registered under two names comes under the first)."""
        seen: set[int] = set()
        for name, child in self._modules.items():
            if id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self) -> Iterator["Module"]:
        return (child for _, child in self.named_children())

    def apply(self, fn: "Callable[[Module], Any]") -> "Module":
        """Call ``fn`` on every submodule, children first, then on this module; return this module.

        The usual weight initialization, as in PyTorch:

            def init_weights(m):
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, std=0.02)
            model.apply(init_weights)
        """
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------
    # Training state
    # ------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        """Training mode (Dropout drops) or, with ``mode=False``, evaluation mode; recursive."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``.grad = None`` (backward then starts each one afresh), or
        zeros written into them with ``set_to_none=False``, as PyTorch's."""
        zero_grads(self.parameters(), set_to_none)

    def to(self, *args: Any, dtype: Any = None, device: Any = None) -> "Module":
        """Move (``to("cuda")``) and/or cast (``to(tinytensor.float64)``) every parameter and buffer.

        In place: each Parameter keeps its identity and gets new ``.data``, so an
        optimizer built on ``model.parameters()`` still holds the right tensors.
        Only floating-point tensors are cast; integer buffers keep their dtype.
        """
        dtype, device = to_arguments(args, dtype, device)
        for tensor in [*self.parameters(), *self.buffers()]:
            cast = dtype if backend.is_floating(tensor.dtype) else None
            tensor.array = tensor.detach().to(device=device, dtype=cast).array
            if tensor.grad is not None:
                tensor.grad = tensor.grad.detach().to(device=device, dtype=cast)
        return self

    def double(self) -> "Module":
        """Every floating parameter and buffer to float64 (gradient checks, parity tests)."""
        return self.to(backend.float64)

    def float(self) -> "Module":  # noqa: A003 - PyTorch's name
        return self.to(backend.float32)

    def half(self) -> "Module":
        return self.to(backend.float16)

    # ------------------------------------------------------------------
    # Checkpoints
    # ------------------------------------------------------------------
    def state_dict(self) -> "OrderedDict[str, Tensor]":
        """Every parameter and persistent buffer by dotted path, detached (sharing memory)."""
        state: OrderedDict[str, Tensor] = OrderedDict()
        for path, module in self._walk():
            for name, p in module._parameters.items():
                state[_join(path, name)] = p.detach()
            for name, b in module._buffers.items():
                if name not in module._non_persistent:
                    state[_join(path, name)] = b.detach()
        return state

    def load_state_dict(self, state_dict: "dict[str, Tensor]", strict: bool = True) -> IncompatibleKeys:
        """Copy values into the parameters and buffers, in place.

        Nothing is copied unless everything fits: with ``strict`` every key must
        match; a value that is not a Tensor, or of another shape, is always an error.
        Returns the keys that did not match.
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict: expected state_dict to be dict-like, got "
                            f"{type(state_dict).__name__}")
        own = self.state_dict()
        keys = IncompatibleKeys([k for k in own if k not in state_dict],
                                [k for k in state_dict if k not in own])
        errors = [_mismatch(k, v, own[k]) for k, v in state_dict.items() if k in own]
        errors = [error for error in errors if error]
        if strict:
            errors += [f"{label} key(s) in state_dict: {_quoted(found)}."
                       for label, found in (("Missing", keys.missing_keys),
                                            ("Unexpected", keys.unexpected_keys)) if found]
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        for k, target in own.items():
            if k in state_dict:  # own[k] shares memory with the parameter: writing it writes that
                with backend.on_device(target.device):
                    target.array[...] = state_dict[k].detach().to(target.device).array
                inplace.mark_written(target.array)  # a graph recorded with the old values is stale
        return keys

    # ------------------------------------------------------------------
    # Printing
    # ------------------------------------------------------------------
    def extra_repr(self) -> str:
        """The layer's settings, shown inside its parentheses (``in_features=4, ...``)."""
        return ""

    def __repr__(self) -> str:
        count = sum(p.numel() for p in self.parameters())
        note = f"  # {count:,} params" if count else ""
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return head + ")" + note
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ")
                 for name, child in self._modules.items()]
        return "\n".join([head, *lines, ")" + note])
