"""Function: one op, and one node of the computation graph.

Every op (``Mul``, ``Exp``, ``Sum``, ``MatMul``, ``Softmax``...) subclasses
``Function`` and writes two methods side by side:

* ``forward(*arrays) -> array`` computes the result on raw NumPy/CuPy arrays;
* ``backward(grad) -> tuple of grads``, given dL/d(output), returns
  dL/d(input) for each input (the chain rule, one node at a time).

``backward`` is written once and runs on two kinds of value. In an ordinary
backward its values (``grad``, ``self.operands``, ``self.output``) are raw
arrays, and the formula is plain NumPy/CuPy arithmetic. With
``create_graph=True`` they are Tensors and grad mode is on, so the same formula
records a graph of its own, which can be differentiated again: second
derivatives come for free. A formula therefore uses what both kinds share:
operators, ``.shape``, ``.reshape``, ``.swapaxes``, ``.sum``/``.mean(axis,
keepdims=)``, and the ops' own classes (``Exp()(x)``, ``sum_to(x, shape)``): an
op called on arrays simply runs its ``forward``. Why not Tensors always? Each
Tensor op costs about a microsecond of Python bookkeeping; on arrays a gradient
op costs what its NumPy call costs, which made the backward of small ops about
1.5 times as fast (docs/benchmarks.md).

Calling a Function, ``Mul()(a, b)``, runs ``forward`` and, when grad mode is on
and some input requires grad, links the result into the graph:

* ``parents``: for each input, the node its gradient goes to, i.e. the input's
  own ``grad_fn`` (an intermediate result) or the input Tensor itself (a leaf,
  whose ``.grad`` collects the gradient), or ``None`` (no gradient needed).
  This is the graph's structure; it stays after backward, for the pictures.
* ``inputs`` (and the output, for ops whose backward needs it): what backward
  reads. An op whose backward reads only its inputs' shapes (add, dropout,
  reshape...) sets ``keeps_inputs = False`` and keeps a description of each
  instead, so the graph does not hold their memory. Backward frees what is
  kept (unless ``retain_graph=True``), so memory does not grow with every
  step of training.
"""
from __future__ import annotations

import contextlib
import re
from typing import Any, Callable, Iterator

from .. import backend
from ..backend import ndarray
from . import grad_mode, inplace

Value = Any  # what a backward formula computes with: an array, or a Tensor under create_graph
_scope_path = ""  # the path of the nn.Module being run, e.g. "layers.0.ffn" (see module_scope)
Tensor: Any = None  # the Tensor class; tensor.py sets it (it imports this module first)


class Function:
    """Base class of every differentiable op (see the module docstring)."""

    needs_output = False  # set True where backward reads the forward's result
    keeps_inputs = True    # False where backward reads only the inputs' shapes, dtypes, devices
    hooks: tuple = ()      # gradient hooks of the output (Tensor.register_hook)
    retained = None        # the output Tensor, when it asked for retain_grad()
    inputs = out_data = saved = None  # what backward reads; release() drops them

    # -- the two methods every op writes ------------------------------------
    def forward(self, *arrays: Any) -> Any:
        raise NotImplementedError

    def backward(self, grad: Value) -> tuple[Value | None, ...]:
        raise NotImplementedError

    # -- running the op and recording the node ------------------------------
    def __call__(self, *inputs: "Tensor") -> "Tensor":
        if not isinstance(inputs[0], Tensor):  # arrays, in an ordinary backward: the forward alone
            if not backend.is_array(inputs[0]):
                raise TypeError(f"{self.name}: expected a Tensor, got {type(inputs[0]).__name__}; "
                                f"make one with tinytensor.tensor(...)")
            return backend.ensure_array(self.forward(*inputs))
        arrays = [t.data for t in inputs]
        for array in arrays:
            if type(array) is not ndarray:  # some input is on a GPU: all must be on it, and it runs there
                _check_same_device(self, inputs)
                with backend.on_device(backend.device_of(array)):
                    return self._run(inputs, arrays)
        return self._run(inputs, arrays)

    def _run(self, inputs: "tuple[Tensor, ...]", arrays: list[Any]) -> "Tensor":
        """Forward, then the result as a Tensor, linked into the graph when it needs a gradient."""
        try:
            out = self.forward(*arrays)
        except (ValueError, IndexError, TypeError) as error:
            raise _explain(self.name, inputs, error) from None
        if type(out) is not ndarray:  # NumPy gives scalars for some 0-d results
            out = backend.ensure_array(out)
        if grad_mode._enabled and out.dtype.kind == "f":  # integers and booleans carry no gradient
            for t in inputs:
                if t.requires_grad:
                    return self._record(inputs, out)
        return Tensor._make(out, None)

    def _record(self, inputs: "tuple[Tensor, ...]", out: Any) -> "Tensor":
        """Link the result into the graph: this node becomes its ``grad_fn``."""
        self.inputs = inputs if self.keeps_inputs else tuple([_described(t) for t in inputs])
        self.parents = tuple([t.grad_fn or (t if t.requires_grad else None) for t in inputs])
        self.shape, self.dtype = out.shape, out.dtype  # kept for the pictures, like ``parents``
        self.scope = _scope_path
        self.recorded_at = inplace.writes  # in-place writes so far: backward checks none came after
        if self.needs_output:
            self.out_data = out
        return Tensor._make(out, self)

    # -- what backward uses -------------------------------------------------
    @property
    def name(self) -> str:
        """The op's name in errors and pictures: ``Mul`` -> ``mul``, ``SumTo`` -> ``sum_to``."""
        return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", type(self).__name__).lower()

    @property
    def operands(self) -> tuple[Any, ...]:
        """The inputs as backward computes with them: arrays, or the Tensors under ``create_graph``."""
        return self.inputs if grad_mode._enabled else tuple([t.data for t in self.inputs])

    @property
    def output(self) -> Any:
        """The forward's result: the saved array, or under ``create_graph`` a Tensor in the graph.

        The Tensor is a fresh one around the saved array with this node as its
        ``grad_fn``: the gradient depends on it correctly, and the node holds no
        reference back to the Tensor the user got (no cycle).
        """
        return Tensor._make(self.out_data, self) if grad_mode._enabled else self.out_data

    def saved_or_recomputed(self, array: Any, recompute: "Callable[[], Tensor]") -> Any:
        """A value the forward computed and kept (``array``), for backward to use.

        In an ordinary backward it is the kept array: no work redone. Under
        ``create_graph`` the backward is itself differentiated, and a constant
        would hide how the value depends on the inputs, so it is recomputed from
        them with Tensor ops (``recompute()``) and second derivatives stay right.
        """
        return recompute() if grad_mode._enabled else array

    def needs_grad(self, i: int) -> bool:
        """Whether input ``i`` wants a gradient (backward may skip the work if not)."""
        return self.parents[i] is not None

    def release(self) -> None:
        """Drop what backward needed; the structure (``parents``) stays."""
        self.inputs = self.out_data = self.saved = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class InputInfo:
    """What a node keeps of an input whose values its backward never reads (see ``_described``)."""

    __slots__ = ("shape", "dtype", "device")
    data = None  # the values are not kept

    def __init__(self, t: "Tensor") -> None:
        self.shape, self.dtype, self.device = t.shape, t.dtype, t.device


FEW_NUMBERS = 16  # an input this small is kept whole: it costs nothing, and the pictures print values


def _described(t: "Tensor") -> "Tensor | InputInfo":
    """What a node keeps of an input its backward reads only the shape of.

    Keeping a result of the graph alive until backward costs its memory: in a Transformer
    step, every dropout's input and both operands of every residual add. So such an input
    is described. A constant (no gradient: the caller's data, drawn by the pictures as a
    box of its own) and a few numbers (the pictures print small tensors' values, the
    neuron's for one) are kept as they are.
    """
    return t if t.data.size <= FEW_NUMBERS or not t.requires_grad else InputInfo(t)


def constant(array: Any, like: Any) -> Any:
    """``array`` as a value of like's kind in a backward formula: itself, or a constant Tensor."""
    return Tensor._make(array, None) if isinstance(like, Tensor) else array


def mask_like(condition: Any, like: Any) -> Any:
    """A constant 0/1 value of like's dtype and kind (for derivatives that are piecewise constant)."""
    if isinstance(condition, Tensor):
        condition = condition.data
    return constant(backend.ensure_array(condition.astype(like.dtype)), like)


@contextlib.contextmanager
def module_scope(path: str) -> Iterator[None]:
    """Ops run inside record ``path`` in their ``scope`` (nn.Module wraps its forward in it).

    ``path`` is where the module is registered in its model ("layers.0.linear1"),
    not the chain of calls that reached it: a layer called through a parent's
    helper or lambda still records its own path, next to its own weights.
    """
    global _scope_path
    outer, _scope_path = _scope_path, path
    try:
        yield
    finally:
        _scope_path = outer


def _check_same_device(op: "Function | str", inputs: "tuple[Tensor, ...]") -> None:
    first = inputs[0].data
    for other in inputs[1:]:
        if not backend.same_device(first, other.data):
            op = op if isinstance(op, str) else op.name
            raise RuntimeError(
                f"{op}: expected all tensors on the same device, got {inputs[0].device} and "
                f"{other.device}. Move one with .to('{inputs[0].device}') or .to('{other.device}').")


def _explain(op: str, inputs: "tuple[Tensor, ...]", error: Exception) -> Exception:
    """Turn NumPy's error from inside an op into one that names the op and shapes."""
    shapes = " and ".join(str(tuple(t.shape)) for t in inputs)
    kind = type(error) if isinstance(error, (IndexError, TypeError)) else ValueError
    return kind(f"{op}: cannot apply to shape{'s' if len(inputs) > 1 else ''} {shapes} "
                f"(dtypes {', '.join(str(t.dtype) for t in inputs)}): {error}")
