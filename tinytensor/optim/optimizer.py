"""Optimizer: the base class that turns gradients into parameter updates.

Training repeats ``loss.backward(); optimizer.step(); optimizer.zero_grad()``.
``step`` visits every parameter that has a gradient and applies the update rule
of the subclass (SGD, Adam, AdamW, RMSprop, Adagrad), which is one method,
``_update``, written as the formula it implements.

Parameters come in *param groups*: each group is a dict with its list of
``"params"`` and its own hyperparameters (``"lr"``, ``"weight_decay"``...), so
one model can train its embeddings and its other weights differently. ``step``
reads the groups afresh every time, so a learning-rate schedule, or a user
writing ``group["lr"] = 0.01`` by hand, changes the very next update.

Whatever a rule remembers between steps (a momentum buffer, Adam's moment
estimates, the step count) lives in ``optimizer.state[param]``. ``state_dict``
writes it down with parameters named by their position, not by identity, so a
checkpoint can be loaded into a fresh model's fresh optimizer.

Two rules keep updates safe:

* they run under ``no_grad`` (an update is not part of any graph) and write the
  new values into the parameter's own array, so ``model.weight`` is still the
  same Parameter object, holding the same memory, after ``step()``;
* they never change ``p.grad``; state tensors (Adam's moments) are updated in
  place, as in PyTorch, because the optimizer touches every weight every step,
  so ``state_dict`` and ``load_state_dict`` copy them: a dict the user holds is
  never changed behind their back.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from .. import backend
from ..autograd import inplace
from ..autograd.grad_mode import enable_grad, no_grad
from ..tensor import Tensor


class Optimizer:
    """Base class: keeps the param groups and the state; subclasses write ``_update``."""

    def __init__(self, params: "Iterable[Tensor] | Iterable[dict[str, Any]]",
                 defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):  # Adam(model.weight) where Adam([model.weight]) was meant
            raise TypeError(f"{type(self).__name__}: params argument given to the optimizer should be an "
                            f"iterable of Tensors or dicts, but got a Tensor of shape {params.shape}; "
                            f"wrap it in a list: [tensor]")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list: pass model.parameters()")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters; hyperparameters it leaves out take the defaults.

        As in PyTorch, parameters that do not require grad are welcome (a frozen
        layer, to be unfrozen later): without a gradient, step passes them over.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the "
                            "ordering of tensors in sets will change between runs; use a list instead")
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor (the result of an op): optimize the "
                                 "leaves it was computed from, e.g. model.parameters()")
            if id(p) in seen:
                raise ValueError("a parameter appears more than once (twice in one param group, or in "
                                 "two): each would be updated twice per step")
            seen.add(id(p))
        self.param_groups.append({**self.defaults, **param_group, "params": params})

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients, so the next backward starts from zero (it adds into .grad).

        ``None`` (the default) frees the memory; ``set_to_none=False`` writes zeros
        into each gradient instead, as PyTorch does.
        """
        zero_grads([p for group in self.param_groups for p in group["params"]], set_to_none)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, by the subclass's rule, on its device.

        ``closure``, as in PyTorch, is a function that clears the gradients,
        computes the loss and calls backward; it runs first, and its loss is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._step()
        return loss

    @no_grad()
    def _step(self) -> None:
        for group in self.param_groups:
            settings = _python_numbers(group)
            for p in group["params"]:
                if p.grad is not None:
                    with backend.on_device(p.device):
                        self._update(p, p.grad, self.state.setdefault(p, {}), settings)
                    inplace.mark_written(p.array)  # a graph recorded before the step is stale now

    def _update(self, p: Tensor, grad: Tensor, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Apply one update to ``p.array`` in place, reading and renewing ``state``."""
        raise NotImplementedError

    # ------------------------------------------------------------------
    # Checkpoints
    # ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [index, ...]}]}``.

        Parameters are numbered in group order, as PyTorch does, so the dict
        holds only tensors, numbers and strings, and tinytensor.save can write it.
        """
        index = {id(p): i for i, p in enumerate(self._params())}
        groups = [{**group, "params": [index[id(p)] for p in group["params"]]}
                  for group in self.param_groups]
        state = {index[id(p)]: {key: _snapshot(value) for key, value in values.items()}
                 for p, values in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Take over a saved state: hyperparameters per group, and each parameter's state.

        The optimizer must have been built over the same parameters in the same
        order (the same model); state tensors move to their parameter's device.
        """
        saved = state_dict["param_groups"]
        if [len(g["params"]) for g in saved] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError("load_state_dict: the saved optimizer has param groups of sizes "
                             f"{[len(g['params']) for g in saved]}, this one "
                             f"{[len(g['params']) for g in self.param_groups]}; build it over "
                             "the same model's parameters")
        params = self._params()
        for i, values in state_dict["state"].items():  # another model's state would be broadcast, or fail in step
            for key, value in values.items():
                if isinstance(value, Tensor) and value.ndim and value.shape != params[int(i)].shape:
                    raise ValueError(f"load_state_dict: the saved {key} of parameter {i} has shape "
                                     f"{value.shape}, but parameter {i} here has shape {params[int(i)].shape}; "
                                     f"build the optimizer over the same model's parameters")
        self.state = {params[int(i)]: {key: _to_device(value, params[int(i)]) for key, value in values.items()}
                      for i, values in state_dict["state"].items()}
        self.param_groups = [{**saved_group, "params": group["params"]}
                             for saved_group, group in zip(saved, self.param_groups)]

    def _params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {value}" for key, value in sorted(group.items()) if key != "params"]
        return "\n".join(lines + [")"])


def check_non_negative(owner: str, **values: float) -> None:
    """Hyperparameters that must be >= 0; NaN is refused too (``not 0 <= nan``), as in PyTorch."""
    for name, value in values.items():
        if isinstance(value, (str, bytes)) or not hasattr(value, "__float__"):  # "1e-3" from a config file
            raise TypeError(f"{owner}: {name} must be a number, got {type(value).__name__} {value!r}")
    bad = [f"{name}={value}" for name, value in values.items() if not 0.0 <= value]
    if bad:
        raise ValueError(f"{owner}: invalid {', '.join(bad)}: must be >= 0")


def l2_penalty(p: Tensor, grad: Tensor, group: dict[str, Any]) -> Tensor:
    """The gradient with the group's L2 penalty added: g + weight_decay * theta."""
    return grad + group["weight_decay"] * p if group["weight_decay"] != 0 else grad


def zero_grads(params: Iterable[Tensor], set_to_none: bool) -> None:
    """Each ``p.grad`` to None, or its values to zeros in place (Module.zero_grad uses it too)."""
    for p in params:
        if p.grad is not None:
            if set_to_none:
                p.grad = None
            else:
                p.grad = p.grad.detach()  # out of the graph a create_graph backward made it in
                p.grad.zero_()


def _python_numbers(group: dict[str, Any]) -> dict[str, Any]:
    """The group with NumPy scalars (an lr from np.logspace, say) made Python numbers.

    The rules compute on raw arrays, where a numpy.float64 would make every
    float32 update float64 (NEP 50); a Python float takes the array's dtype.
    """
    return {key: tuple(map(backend.python_number, value)) if isinstance(value, tuple)
            else backend.python_number(value) for key, value in group.items()}


def _snapshot(value: Any) -> Any:
    """A copy of a state tensor: updates change the state in place, a saved dict must not change."""
    return Tensor._make(backend.copy(value.array), None) if isinstance(value, Tensor) else value


def _assign(p: Tensor, value: Tensor) -> None:
    """Write ``value`` into ``p``'s own array: the Parameter and its memory stay the same."""
    p.array[...] = value.array


def _to_device(value: Any, param: Tensor) -> Any:
    """A copy of a saved state tensor on param's device: later updates must not change the dict."""
    return _snapshot(value).to(param.device) if isinstance(value, Tensor) else value
