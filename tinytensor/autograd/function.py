"""Function: one op, and one node of the computation graph.

Every op (``Mul``, ``Exp``, ``Sum``, ``MatMul``, ``Softmax``...) subclasses
``Function`` and writes two methods side by side:

* ``forward(*arrays) -> array`` computes the result on raw NumPy/CuPy arrays;
* ``backward(grad) -> tuple of grads``, given dL/d(output), returns
  dL/d(input) for each input (the chain rule, one node at a time).

``backward`` is written once and runs on raw arrays in an ordinary backward
and on Tensors under ``create_graph=True`` (so second derivatives come for
free). value.py says how, and holds what a formula reads: ``self.operands``,
``self.output``, ``self.saved_or_recomputed``, ``constant``, ``mask_like``.

Calling a Function, ``Mul()(a, b)``, runs ``forward`` and, when grad mode is on
and some input requires grad, links the result into the graph:

* ``parents``: for each input, the node its gradient goes to (``node_of``: the
  input's own ``grad_fn``, or the input itself when it is a leaf, whose
  ``.grad`` collects the gradient), or ``None`` (no gradient needed). This is
  the graph's structure; it stays after backward.
* ``inputs`` (and the output, for ops whose backward needs it): what backward
  reads. An op whose backward reads only its inputs' shapes (add, dropout,
  reshape...) sets ``keeps_inputs = False`` and keeps a description of each
  instead, so the graph does not hold their memory. Backward frees what is
  kept (unless ``retain_graph=True``), so memory does not grow with every
  step of training.

Backward reads nothing else. Readers of the graph (the pictures, visualize/)
also read three labels, ``scope``, ``shape`` and ``dtype``: the module an op
ran in and what it made (the end of this file says more).

PyTorch's tutorials write a new op another way: ``@staticmethod forward(ctx, ...)``
and ``backward(ctx, ...)`` on Tensors, run with ``MyOp.apply(x)``. A subclass
written so works too; custom_function.py says how.
"""
from __future__ import annotations

import contextlib
import inspect
import re
import threading
from typing import Any, Iterator

from .. import backend
from ..backend import ndarray
from . import grad_mode, inplace, value
from .value import Value, constant, mask_like  # noqa: F401 - what an op's author imports with Function

Tensor: Any = None  # the Tensor class, handed over by use_tensor_class


def use_tensor_class(tensor_class: type) -> None:
    """Make ops return ``tensor_class``'s objects: tensor.py calls this once the class exists
    (the import circle between them is tied there)."""
    global Tensor
    Tensor = value.Tensor = custom_function.Tensor = tensor_class


class Function:
    """Base class of every differentiable op (see the module docstring)."""

    needs_output = False  # set True where backward reads the forward's result
    keeps_inputs = True    # False where backward reads only the inputs' shapes, dtypes, devices
    hooks: tuple = ()      # gradient hooks of the output (Tensor.register_hook)
    retained = None        # the output Tensor, when it asked for retain_grad()
    written_as_pytorch = False  # forward and backward @staticmethods taking ctx (set per subclass)
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
        arrays = [t.array for t in inputs]
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
        if grad_mode._mode.enabled and out.dtype.kind == "f":  # integers and booleans carry no gradient
            for t in inputs:
                if t.requires_grad:
                    return self._record(inputs, out)
        return Tensor._make(out, None)

    def _record(self, inputs: "tuple[Tensor, ...]", out: Any) -> "Tensor":
        """Link the result into the graph: this node becomes its ``grad_fn``."""
        self.parents = tuple([node_of(t) if t.requires_grad else None for t in inputs])
        self.inputs = inputs if self.keeps_inputs else tuple([_described(t) for t in inputs])
        self.recorded_at = inplace.writes  # in-place writes so far: backward checks none came after
        if self.needs_output:
            self.out_data = out
        self.scope, self.shape, self.dtype = _scope.path, out.shape, out.dtype  # the pictures' labels (below)
        return Tensor._make(out, self)

    # -- what backward uses -------------------------------------------------
    @property
    def name(self) -> str:
        """The op's name in errors and pictures: ``Mul`` -> ``mul``, ``SumTo`` -> ``sum_to``."""
        return snake_case(type(self).__name__)

    operands = property(value.operands)
    output = property(value.output)
    saved_or_recomputed = value.saved_or_recomputed

    def needs_grad(self, i: int) -> bool:
        """Whether input ``i`` wants a gradient (backward may skip the work if not)."""
        return self.parents[i] is not None

    def release(self) -> None:
        """Drop what backward needed; the structure (``parents``) stays."""
        self.inputs = self.out_data = self.saved = None

    # -- PyTorch's way of writing an op -------------------------------------
    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run an op written as PyTorch writes one, with ``@staticmethod forward(ctx, ...)`` and
        ``@staticmethod backward(ctx, ...)`` on Tensors: custom_function.py says how."""
        if not cls.written_as_pytorch:
            raise TypeError(f"{cls.__name__}.apply: {cls.__name__} is written tinytensor's way, "
                            f"forward(self, *arrays) on arrays; call it as {cls.__name__}()(...). apply "
                            f"runs a Function whose forward and backward are @staticmethods taking ctx, "
                            f"as in PyTorch")
        return custom_function.apply(cls, args, kwargs)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.written_as_pytorch = _written_as_pytorch(cls)
        if cls.written_as_pytorch:  # its instances are never nodes: apply records a CustomFunctionNode
            cls.__call__ = _call_apply_instead

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"


class InputInfo:
    """What a node keeps of an input whose values its backward never reads (see ``_described``)."""

    __slots__ = ("shape", "dtype", "device")
    array = None  # the values are not kept

    def __init__(self, t: "Tensor") -> None:
        self.shape, self.dtype, self.device = t.shape, t.dtype, t.device


FEW_NUMBERS = 16  # an input this small is kept whole: describing it would cost more than it saves


def _described(t: "Tensor") -> "Tensor | InputInfo":
    """What a node keeps of an input its backward reads only the shape of.

    Keeping a result of the graph alive until backward costs its memory: in a Transformer
    step, every dropout's input and both operands of every residual add. So such an input
    is described. A few numbers are kept as they are: their memory is nothing, and an
    ``InputInfo`` would cost more time than it saves (the pictures print their values too).
    A constant (no gradient) is kept as it is for readers of the graph: the pictures draw
    the caller's data, a target or a mask, as a box of its own.
    """
    return t if t.array.size <= FEW_NUMBERS or not t.requires_grad else InputInfo(t)


def _check_same_device(op: "Function | str", inputs: "tuple[Tensor, ...]") -> None:
    first = inputs[0].array
    for other in inputs[1:]:
        if not backend.same_device(first, other.array):
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


# ----------------------------------------------------------------------------
# For readers of the graph: the pictures' labels
# ----------------------------------------------------------------------------
# Backward needs a node's ``parents``, ``inputs`` and saved values, nothing more. The
# pictures (visualize/) draw the graph from those too, and read three labels more, which
# one line of ``_record`` writes on every node (a line, not a call: it runs for every op):
# ``scope``, the path of the nn.Module the op ran in ("layers.0.linear1", "" outside
# any module; the pictures group ops by it, and nn.Module sets it with ``module_scope``),
# and the ``shape`` and ``dtype`` of the result (the node does not keep the result itself).
# During backward the pictures watch with ``autograd.observe`` (engine.py).
class _Scope(threading.local):
    """The path of the nn.Module being run, in this thread (module_scope sets it): two threads
    running two models at once label each its own ops."""

    path = ""


_scope = _Scope()


@contextlib.contextmanager
def module_scope(path: str) -> Iterator[None]:
    """Ops run inside are labelled with ``path`` as their ``scope`` (nn.Module wraps its forward in it).

    ``path`` is where the module is registered in its model ("layers.0.linear1"),
    not the chain of calls that reached it: a layer called through a parent's
    helper or lambda still records its own path, next to its own weights.
    """
    outer, _scope.path = _scope.path, path
    try:
        yield
    finally:
        _scope.path = outer


def snake_case(name: str) -> str:
    """A class's name as an op's: ``SumTo`` -> ``sum_to``, ``Legendre3`` -> ``legendre3``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _written_as_pytorch(cls: type) -> bool:
    """Whether ``cls`` writes forward as PyTorch does, a staticmethod (ctx first) on Tensors."""
    return isinstance(inspect.getattr_static(cls, "forward"), staticmethod)


def _call_apply_instead(self: Function, *args: Any, **kwargs: Any) -> Any:
    name = type(self).__name__
    raise TypeError(f"{name}()(...): {name}'s forward is a @staticmethod taking ctx, as in PyTorch; "
                    f"run it with {name}.apply(...), on the class")


from . import custom_function  # noqa: E402 - it builds on Function
from .custom_function import FunctionCtx, once_differentiable  # noqa: E402,F401 - PyTorch's names here too
from .graph import node_of  # noqa: E402 - graph.py walks Function nodes, so it comes after the class
