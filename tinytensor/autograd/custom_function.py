"""A new op written as PyTorch writes one: ``@staticmethod forward(ctx, ...)`` and ``backward(ctx, ...)``.

tinytensor's own ops (function.py) compute on raw arrays. PyTorch's tutorials
("Learning PyTorch with Examples", "Extending PyTorch") write a new op on
Tensors instead, with a ``ctx`` to remember things in, and
``tinytensor.autograd.Function`` takes that way too::

    class LegendrePolynomial3(tinytensor.autograd.Function):
        @staticmethod
        def forward(ctx, x):              # Tensors in, Tensors out; runs under no_grad
            ctx.save_for_backward(x)
            return 0.5 * (5 * x ** 3 - 3 * x)

        @staticmethod
        def backward(ctx, grad_output):   # dL/d(output) in, dL/d(each input) out
            (x,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * x ** 2 - 1)

    y = LegendrePolynomial3.apply(x)

``apply`` runs forward under ``no_grad`` (the op is one node, whatever forward
computes inside) and records one ``CustomFunctionNode`` in the graph, an op
like any other to the engine. Its ``backward(grad)`` hands the user's backward
the gradient as a Tensor (an ordinary backward walks arrays, value.py), and
checks what comes back as PyTorch does: one gradient per input, None for an
input that is not a Tensor, each of its input's shape. The user's backward
computes with Tensor ops, so under ``create_graph=True`` it records a graph of
its own: a second derivative through it comes for free, as through our own ops.

``ctx`` is a ``FunctionCtx``, an object of the user's: forward may write any
attribute on it (``ctx.scale = scale``, ``ctx.shape = x.shape``) without
touching the node's own fields. Beyond those, it offers PyTorch's
``save_for_backward``, ``saved_tensors``, ``needs_input_grad`` and
``mark_non_differentiable``.

Several outputs. The engine sends each node one gradient (the sum of what its
users send). A node with several outputs therefore makes one value of them:
their numbers end to end in one flat vector, the node's output, of which each
output is a slice, reshaped. The slices' gradients add up into the vector's
gradient, which backward cuts into one gradient per output again.
"""
from __future__ import annotations

import functools
import inspect
import math
from typing import Any, Callable

from .. import backend
from ..ops.broadcast import broadcasts_to, sum_to
from . import grad_mode
from .function import Function, snake_case
from .value import as_tensor

Tensor: Any = None  # the Tensor class, handed over by function.use_tensor_class


class FunctionCtx:
    """The ``ctx`` a custom Function's forward and backward receive (PyTorch's names)."""

    def __init__(self, node: "CustomFunctionNode", needs_input_grad: tuple[bool, ...]) -> None:
        self._node = node
        self.needs_input_grad = needs_input_grad  # per input: a Tensor that requires grad?
        self.to_save: tuple = ()
        self.non_differentiable: tuple = ()

    def save_for_backward(self, *tensors: "Tensor | None") -> None:
        """Keep ``tensors`` for backward (``ctx.saved_tensors``); call it once, in forward."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save Tensors (or None), but argument {i} "
                                f"is a {type(t).__name__}; keep other values as attributes of ctx "
                                f"(ctx.value = value)")
        self.to_save = tensors

    def mark_non_differentiable(self, *outputs: "Tensor") -> None:
        """These outputs carry no gradient (indices, masks...); backward receives zeros for them."""
        self.non_differentiable = outputs

    @property
    def saved_tensors(self) -> "tuple[Tensor | None, ...]":
        return self._node.unpack_saved()


class CustomFunctionNode(Function):
    """The node ``apply`` records: the engine calls its ``backward(grad)``, which calls the user's."""

    keeps_inputs = False  # what the user's backward reads, it saved with save_for_backward

    def __init__(self, function: type, inputs: tuple) -> None:
        self.function = function
        self.label = f"{function.__name__}Backward"  # PyTorch's name for the node
        self.tensor_inputs = tuple(isinstance(x, Tensor) for x in inputs)  # which inputs are Tensors
        self.ctx = FunctionCtx(self, tuple(isinstance(x, Tensor) and x.requires_grad for x in inputs))
        self.outputs: list[tuple[str, Any, Any]] = []  # per output of forward: (kind, shape, dtype)
        self.saved_outputs: dict[int, int] = {}  # position among the saved tensors -> which output

    @property
    def name(self) -> str:
        return snake_case(self.function.__name__)

    def __repr__(self) -> str:
        return f"<{self.label}>"

    # -- the chain rule: the user's backward, checked -------------------------------------------
    def backward(self, grad: Any) -> tuple[Any, ...]:
        grads = self.output_grads(as_tensor(grad))
        returned = self.function.backward(self.ctx, *grads)
        returned = returned if isinstance(returned, tuple) else (returned,)
        n = len(self.tensor_inputs)
        if len(returned) > n and all(g is None for g in returned[n:]):
            returned = returned[:n]  # trailing Nones, for arguments left to their defaults: as PyTorch
        if len(returned) != n:
            raise RuntimeError(f"function {self.label} returned an incorrect number of gradients (expected "
                               f"{n}, got {len(returned)}): backward returns one per input of forward, "
                               f"None for those that need none")
        sent = []
        for i, (g, is_tensor) in enumerate(zip(returned, self.tensor_inputs)):
            if not is_tensor:
                if g is not None:
                    raise RuntimeError(f"function {self.label} returned a gradient "
                                       f"different than None at position {i + 1}, but the corresponding "
                                       f"forward input was not a Tensor")
                continue
            sent.append(None if g is None else self._checked(i, g, self.inputs[len(sent)]))
        return tuple(sent)

    def _checked(self, i: int, g: Any, x: Any) -> "Tensor":
        """Gradient ``g`` of input ``x``: of x's shape (summed down from a broadcast one), x's dtype."""
        if not isinstance(g, Tensor):
            raise TypeError(f"function {self.label} returned a {type(g).__name__} at "
                            f"position {i + 1}; a gradient is a Tensor (or None)")
        if g.shape != x.shape:
            if not broadcasts_to(x.shape, g.shape):
                raise RuntimeError(f"Function {self.label} returned an invalid gradient "
                                   f"at index {i} - got {list(g.shape)} but expected shape compatible "
                                   f"with {list(x.shape)}")
            g = sum_to(g, x.shape)
        if g.device != x.device:
            raise RuntimeError(f"Function {self.label} returned a gradient on "
                               f"{g.device} for an input on {x.device} (index {i})")
        return g if g.dtype == x.dtype else g.to(x.dtype)

    # -- outputs: one, or several packed into one flat vector -----------------------------------
    def output_grads(self, grad: "Tensor") -> "list[Tensor | None]":
        """One gradient per output of forward: zeros for a non-differentiable Tensor, None for a
        value that is not a Tensor (as PyTorch passes them)."""
        pieces = iter(self.unpacked(grad))
        return [next(pieces) if kind == "differentiable" else
                Tensor._make(backend.full(shape, 0, dtype, grad.device), None) if kind == "tensor" else None
                for kind, shape, dtype in self.outputs]

    def unpacked(self, whole: "Tensor") -> "list[Tensor]":
        """The differentiable outputs' parts of the node's one value (itself when there is one)."""
        shapes = [(shape, dtype) for kind, shape, dtype in self.outputs if kind == "differentiable"]
        if len(shapes) == 1:
            return [whole]
        parts, start = [], 0
        for shape, dtype in shapes:
            size = math.prod(shape)
            part = whole[start:start + size].reshape(shape)  # (*shape,)
            parts.append(part if part.dtype == dtype else part.to(dtype))
            start += size
        return parts

    def unpack_saved(self) -> "tuple[Tensor | None, ...]":
        if self.saved is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved tensors "
                "after they have already been freed). Saved intermediate values of the graph are freed "
                "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
                "backward through the graph a second time or if you need to access saved tensors after "
                "calling backward.")
        if not grad_mode.is_grad_enabled() or not self.saved_outputs:
            return self.saved
        # Under create_graph a saved output must depend on the inputs through this node, as the
        # output the user got does (a Tensor of its own, so the node holds no cycle back to it).
        outputs = self.unpacked(Tensor._make(self.out_data, self))
        return tuple(outputs[self.saved_outputs[k]] if k in self.saved_outputs else t
                     for k, t in enumerate(self.saved))


def apply(function: type, args: tuple, kwargs: dict) -> Any:
    """``function.apply(*args, **kwargs)``: run its forward, record one node, return its outputs."""
    setup_context = getattr(function, "setup_context", None)
    inputs = _inputs(function, args, kwargs, defaults=setup_context is not None)
    node = CustomFunctionNode(function, inputs)
    with grad_mode.no_grad():
        if setup_context is None:
            result = function.forward(node.ctx, *args, **kwargs)
        else:  # PyTorch 2's other way: forward(*args) without ctx, then setup_context(ctx, inputs, output)
            result = function.forward(*args, **kwargs)
            setup_context(node.ctx, inputs, result)
    tensors = [x for x in inputs if isinstance(x, Tensor)]
    if not (grad_mode.is_grad_enabled() and any(t.requires_grad for t in tensors)):
        return result
    outputs = result if isinstance(result, tuple) else (result,)
    linked = _link(node, tensors, outputs)
    return linked if isinstance(result, tuple) else linked[0]


def _link(node: CustomFunctionNode, tensors: list, outputs: tuple) -> list:
    """Record ``node`` in the graph; the outputs as the user gets them (differentiable ones from it)."""
    node.outputs = [_kind(o, node.ctx.non_differentiable) for o in outputs]
    differentiable = [o for o, (kind, _, _) in zip(outputs, node.outputs) if kind == "differentiable"]
    if not differentiable:
        return [_detached(o) for o in outputs]
    saved = node.ctx.to_save
    node.saved_outputs = {k: i for k, t in enumerate(saved) for i, o in enumerate(differentiable) if t is o}
    node.needs_output = bool(node.saved_outputs)
    whole = node._record(tuple(tensors), _packed(node, differentiable))
    node.saved = saved
    parts = iter(node.unpacked(whole))
    return [next(parts) if kind == "differentiable" else _detached(o)
            for o, (kind, _, _) in zip(outputs, node.outputs)]


def _kind(output: Any, marked: tuple) -> tuple[str, Any, Any]:
    """(kind, shape, dtype) of one output: a float Tensor not marked non-differentiable is
    "differentiable"; another Tensor (integers, marked) is "tensor"; anything else "other"."""
    if not isinstance(output, Tensor):
        return ("other", None, None)
    differentiable = backend.is_floating(output.dtype) and not any(output is m for m in marked)
    return ("differentiable" if differentiable else "tensor", output.shape, output.dtype)


def _packed(node: CustomFunctionNode, outputs: list) -> Any:
    """The node's one value: the output's array, or several outputs' numbers end to end."""
    if len(outputs) == 1:
        return outputs[0].array
    if len({o.device for o in outputs}) > 1:
        raise RuntimeError(f"{node.function.__name__}.forward returned outputs on several devices "
                           f"({', '.join(str(o.device) for o in outputs)}); return them on one")
    dtype = max((o.dtype for o in outputs), key=lambda d: d.itemsize)  # floats all: the widest
    with backend.on_device(outputs[0].device):
        xp = backend.xp_of(outputs[0].array)
        return xp.concatenate([o.array.reshape(-1).astype(dtype, copy=False) for o in outputs])


def _detached(value: Any) -> Any:
    return Tensor._make(value.array, None) if isinstance(value, Tensor) else value


def _inputs(function: type, args: tuple, kwargs: dict, defaults: bool) -> tuple:
    """forward's inputs in its signature's order (keywords too, as PyTorch): what backward
    returns one gradient for. With setup_context, defaults count too."""
    signature = inspect.signature(function.forward)
    try:
        bound = signature.bind(*args, **kwargs) if defaults else signature.bind(None, *args, **kwargs)
    except TypeError as error:
        raise TypeError(f"{function.__name__}.apply: {error} (of forward{signature})") from None
    if defaults:
        bound.apply_defaults()
    values = list(bound.arguments.values())[0 if defaults else 1:]  # without ctx
    kinds = [signature.parameters[name].kind for name in bound.arguments][0 if defaults else 1:]
    flat: list = []
    for value, kind in zip(values, kinds):
        if kind is inspect.Parameter.VAR_POSITIONAL:
            flat += value
        elif kind is inspect.Parameter.VAR_KEYWORD:
            flat += value.values()
        else:
            flat.append(value)
    return tuple(flat)


def once_differentiable(backward: Callable) -> Callable:
    """Mark a custom Function's backward as one that cannot be differentiated (as PyTorch's
    decorator): it runs under no_grad, on plain values, and where a gradient it received
    carries a graph, differentiating its result again raises instead of silently missing a term."""
    @functools.wraps(backward)
    def run_once(ctx: FunctionCtx, *grads: Any) -> Any:
        with grad_mode.no_grad():
            result = backward(ctx, *grads)
        tracked = [g for g in grads if isinstance(g, Tensor) and g.requires_grad]
        if not (grad_mode.is_grad_enabled() and tracked):
            return result
        results = result if isinstance(result, tuple) else (result,)
        guarded = tuple(_Differentiated.apply(r, *tracked) if isinstance(r, Tensor) else r for r in results)
        return guarded if isinstance(result, tuple) else guarded[0]
    return run_once


class _Differentiated(Function):
    """A gradient from a @once_differentiable backward, linked to the gradients it came from."""

    @staticmethod
    def forward(ctx: FunctionCtx, value: "Tensor", *grads: "Tensor") -> "Tensor":
        return value.clone()

    @staticmethod
    def backward(ctx: FunctionCtx, grad: "Tensor") -> None:
        raise RuntimeError("trying to differentiate twice a function that was marked with "
                           "@once_differentiable")
