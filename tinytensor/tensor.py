"""Tensor: an array, plus what autograd needs to send gradients back through it.

A Tensor holds

* ``array``: the values, the NumPy array (CPU) or CuPy array (GPU) holding them
  (``t.data`` is PyTorch's: a Tensor sharing that array, cut from the graph);
* ``requires_grad``: whether gradients should flow back to it;
* ``grad_fn``: the ``Function`` node that computed it (``None`` for a *leaf*,
  a tensor the user made);
* ``grad``: after ``loss.backward()``, dL/d(this tensor), for leaves (and for
  intermediate tensors that asked with ``retain_grad()``).

Every operator (``a * b``, ``a @ b``, ``a < b``...) runs a ``Function`` from
``tinytensor.ops``, which computes the result and records the graph. The named
methods (``x.exp()``, ``x.sum(dim=1)``...) are attached in methods.py: this file
keeps what autograd needs.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable

from . import autograd, backend
from .autograd import engine, function, grad_mode, inplace
from .autograd.graph import node_of
from .backend import Device


class Tensor:
    __slots__ = ("array", "_grad", "requires_grad", "grad_fn", "name", "hooks", "post_accumulate_grad_hooks",
                 "__weakref__")
    __hash__ = object.__hash__  # == is elementwise, so hash by identity (graph nodes live in dicts)
    __array_ufunc__ = None      # make `numpy_array * tensor` call Tensor.__rmul__

    def __init__(self, *data: Any, device: "str | Device | None" = None) -> None:
        """PyTorch's old constructor: ``Tensor([1, 2])`` holds float32 values whatever the data,
        ``Tensor(2, 3)`` is a (2, 3) tensor (tensor_types.py). ``tinytensor.tensor(data)`` keeps
        the data's kind (integers stay int64) and is what to use."""
        self._adopt(tensor_types.legacy_array("Tensor", data, backend.DEFAULT_FLOAT, device))

    def _adopt(self, array: Any) -> None:
        """Set a new Tensor's fields around ``array``: a leaf, no gradient yet (ops use ``_make``)."""
        (self.array, self._grad, self.grad_fn, self.requires_grad, self.name, self.hooks,
         self.post_accumulate_grad_hooks) = array, None, None, False, None, (), ()

    @staticmethod
    def _make(array: Any, grad_fn: Any) -> "Tensor":
        """The fast constructor ops use: ``array`` is already a backend array."""
        t = object.__new__(Tensor)
        (t.array, t._grad, t.grad_fn, t.requires_grad, t.name, t.hooks,
         t.post_accumulate_grad_hooks) = array, None, grad_fn, grad_fn is not None, None, (), ()
        return t

    # ------------------------------------------------------------------
    # What a tensor is
    # ------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape

    @property
    def dtype(self) -> Any:
        return self.array.dtype

    @property
    def device(self) -> Device:
        return backend.device_of(self.array)

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def size(self, dim: int | None = None) -> "tuple[int, ...] | int":
        """The shape (``size()``) or the length of one dimension (``size(dim)``), as in PyTorch."""
        return self.shape if dim is None else self.shape[dim]

    def numel(self) -> int:
        return int(self.array.size)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def item(self) -> "float | int | bool":
        if self.numel() != 1:
            raise ValueError(f"item(): only a tensor with one element can be converted to a "
                             f"Python number, this one has shape {self.shape}")
        return backend.to_host(self.array).item()

    # item(), numpy() and the reads built on them (tolist, bool, float, int, repr, .cpu(), saving)
    # take values to the host through backend.to_host, which reports the GPU's waiting checks.
    def numpy(self) -> Any:
        """The values as a NumPy array on the CPU (a copy when the tensor is on the GPU)."""
        return backend.to_host(self.array)

    def tolist(self) -> Any:
        return self.numpy().tolist()

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError(f"bool(): the truth value of a tensor of shape {self.shape} is "
                               f"ambiguous; reduce it to one element first, e.g. (x > 0).sum() > 0")
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())  # item() refuses a tensor of several elements, saying why

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        """A tensor as an index: ``items[t]``, ``range(t)``, ``x[i:i + n]`` with i a tensor."""
        if self.dtype.kind not in "iub" or self.numel() != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an index; "
                            f"this one is {self.dtype} of shape {self.shape}")
        return int(self.item())

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"``: a 0-d tensor formats as the number it holds, as in PyTorch."""
        if self.ndim == 0:
            return format(self.item(), spec)
        return super().__format__(spec)  # str(x), or a TypeError for a spec: a number's spec fits no tensor

    def __repr__(self) -> str:
        body = repr(self.numpy()).replace("array(", "tensor(", 1)[:-1]
        extras = []
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return body + "".join(", " + e for e in extras) + ")"

    # ------------------------------------------------------------------
    # Autograd
    # ------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and not backend.is_floating(self.dtype):
            raise TypeError(f"requires_grad: only floating point tensors can require gradients, "
                            f"this one is {self.dtype}. Convert it first, e.g. x.float() or "
                            f"x.to(tinytensor.float64).")
        if not self.is_leaf:
            raise RuntimeError("requires_grad_: only leaf tensors can change requires_grad; "
                               "use .detach() to get a leaf")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> "Tensor":
        """The same values, cut from the graph (a new leaf that shares memory)."""
        return Tensor._make(self.array, None)

    @property
    def data(self) -> "Tensor":
        """PyTorch's ``t.data``: the same memory as a Tensor cut from the graph, as ``detach()``.

        Writes through it change ``t`` (``p.data -= lr * p.grad``, ``w.data.normal_()``) and,
        unlike ``t`` itself, are allowed even while the graph is recorded: that is what it is for.
        Unlike PyTorch, a backward that saved the old values notices such a write and refuses
        (ops/inplace.py registers every write by its memory), rather than compute with values
        the forward never saw. The raw NumPy/CuPy array is ``t.array``.
        """
        return self.detach()

    @data.setter
    def data(self, new: "Tensor") -> None:
        """``p.data = t``: p keeps its identity (and its place in a model and an optimizer) but
        takes t's memory, shape, dtype and device, as in PyTorch."""
        if not isinstance(new, Tensor):
            raise TypeError(f"data: expected a Tensor, got {type(new).__name__}; wrap it first, "
                            f"e.g. t.data = tinytensor.tensor(values), or write the values in place "
                            f"with t.data.copy_(values)")
        if self.requires_grad and not backend.is_floating(new.dtype):
            raise RuntimeError(f"data: this tensor requires grad, so its data must be floating "
                               f"point, got {new.dtype}; cast first (.float()) or detach")
        if new.array is not self.array:  # not `p.data -= x`, which hands back the same memory
            # A graph recorded before now reads values that never ran through it: its backward refuses.
            inplace.mark_written(new.array)
        self.array = new.array

    @property
    def grad(self) -> "Tensor | None":
        """dL/d(this tensor) after backward (None before): a tensor of its shape, dtype and device."""
        return self._grad

    @grad.setter
    def grad(self, grad: "Tensor | None") -> None:
        # Checked as PyTorch checks it: a gradient of another shape would be broadcast
        # into the weights by an optimizer step, a silently wrong update.
        if grad is not None:
            if not isinstance(grad, Tensor):
                raise TypeError(f"grad: expected a Tensor or None, got {type(grad).__name__}")
            for what, theirs, ours in (("shape", grad.shape, self.shape), ("dtype", grad.dtype, self.dtype)):
                if theirs != ours:
                    raise RuntimeError(f"grad: cannot assign a gradient of {what} {theirs} to a tensor "
                                       f"of {what} {ours}")
            if grad.device != self.device:
                raise RuntimeError(f"grad: cannot assign a gradient on {grad.device} to a tensor on "
                                   f"{self.device}; move it with .to('{self.device}')")
        self._grad = grad

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this intermediate tensor too (leaves always keep it)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        if self.grad_fn is not None:
            self.grad_fn.retained = weakref.ref(self)

    def register_hook(self, hook: Callable[["Tensor"], "Tensor | None"]) -> "RemovableHandle":
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a new one."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does not "
                               "require grad")
        node = node_of(self)
        node.hooks = node.hooks + (hook,)
        return RemovableHandle(node, hook)

    def register_post_accumulate_grad_hook(self, hook: Callable[["Tensor"], None]) -> "RemovableHandle":
        """Call ``hook(self)`` each time backward has added this leaf's gradient into ``.grad``.

        The moment a parameter's gradient is complete: DistributedDataParallel
        starts averaging it across processes from here.
        """
        if not self.requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook: cannot register a hook on a tensor "
                               "that does not require grad")
        if not self.is_leaf:
            raise RuntimeError("register_post_accumulate_grad_hook: post accumulate grad hooks cannot be "
                               "registered on non-leaf tensors (their gradient is not accumulated into "
                               ".grad); use register_hook")
        self.post_accumulate_grad_hooks = self.post_accumulate_grad_hooks + (hook,)
        return RemovableHandle(self, hook, "post_accumulate_grad_hooks")

    def backward(self, gradient: "Tensor | None" = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs: "Tensor | list[Tensor] | None" = None) -> None:
        """Compute the gradient of this tensor w.r.t. every leaf, into each leaf's ``.grad``.

        ``gradient`` is dL/d(self); it may be left out when self has one element.
        ``retain_graph`` keeps the saved values so backward can run again;
        ``create_graph`` records the backward pass itself, for higher derivatives;
        ``inputs`` fills only those tensors' ``.grad`` (autograd.backward).
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no grad_fn. "
                               "Set requires_grad=True on an input (and do not run the forward "
                               "under no_grad).")
        if inputs is not None:
            autograd.backward(self, gradient, retain_graph, create_graph, inputs)
            return
        engine.run_backward([self], [_seed_like(gradient, self, "backward")],
                            retain_graph=create_graph if retain_graph is None else retain_graph,
                            create_graph=create_graph)

    def _accumulate_grad(self, grad: "Tensor") -> None:
        """Add ``grad`` into ``self.grad``, as a fresh array the user may change in place."""
        if not grad_mode.is_grad_enabled():  # an ordinary backward: store plain, owned values
            grad = Tensor._make(backend.copy(grad.array) if self._grad is None else grad.array, None)
        self._grad = grad if self._grad is None else self._grad + grad

    # ------------------------------------------------------------------
    # Devices and dtypes
    # ------------------------------------------------------------------
    def to(self, *args: Any, dtype: Any = None, device: Any = None) -> "Tensor":
        """``t.to("cuda")``, ``t.to(tinytensor.float64)``, or both; differentiable."""
        dtype, device = to_arguments(args, dtype, device)
        out = self
        if device is not None and Device(device) != self.device:
            out = conversion.ToDevice(Device(device))(out)
        if dtype is not None and backend.resolve_dtype(dtype) != self.dtype:
            out = conversion.Cast(backend.resolve_dtype(dtype))(out)
        return out

    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def cuda(self, index: int | None = None) -> "Tensor":
        """On GPU ``index``, or on the current one (tinytensor.cuda.set_device), as PyTorch's."""
        return self.to("cuda" if index is None else f"cuda:{index}")

    # ------------------------------------------------------------------
    # Arithmetic (tinytensor/ops/arithmetic.py); numbers become tensors of our dtype
    # ------------------------------------------------------------------
    def __add__(self, other: Any) -> "Tensor":
        return arithmetic.Add()(self, as_operand(other, self))

    def __radd__(self, other: Any) -> "Tensor":
        return arithmetic.Add()(as_operand(other, self), self)

    def __sub__(self, other: Any) -> "Tensor":
        return arithmetic.Sub()(self, as_operand(other, self))

    def __rsub__(self, other: Any) -> "Tensor":
        return arithmetic.Sub()(as_operand(other, self), self)

    def __mul__(self, other: Any) -> "Tensor":
        return arithmetic.Mul()(self, as_operand(other, self))

    def __rmul__(self, other: Any) -> "Tensor":
        return arithmetic.Mul()(as_operand(other, self), self)

    def __truediv__(self, other: Any) -> "Tensor":
        return arithmetic.Div()(self, as_operand(other, self))

    def __rtruediv__(self, other: Any) -> "Tensor":
        return arithmetic.Div()(as_operand(other, self), self)

    def __pow__(self, other: Any) -> "Tensor":
        return arithmetic.Pow()(self, as_operand(other, self))

    def __rpow__(self, other: Any) -> "Tensor":
        return arithmetic.Pow()(as_operand(other, self), self)

    def __neg__(self) -> "Tensor":
        return arithmetic.Neg()(self)

    def __matmul__(self, other: Any) -> "Tensor":
        return matmul.matmul(self, as_operand(other, self))

    def __rmatmul__(self, other: Any) -> "Tensor":
        return matmul.matmul(as_operand(other, self), self)

    # Comparisons give bool tensors and carry no gradient (tinytensor/ops/comparison.py)
    def __eq__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return comparison.compare("eq", self, as_operand(other, self))

    def __ne__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return comparison.compare("ne", self, as_operand(other, self))

    def __lt__(self, other: Any) -> "Tensor":
        return comparison.compare("lt", self, as_operand(other, self))

    def __le__(self, other: Any) -> "Tensor":
        return comparison.compare("le", self, as_operand(other, self))

    def __gt__(self, other: Any) -> "Tensor":
        return comparison.compare("gt", self, as_operand(other, self))

    def __ge__(self, other: Any) -> "Tensor":
        return comparison.compare("ge", self, as_operand(other, self))

    # Logic on bool masks (bitwise on integers), no gradient either
    def __and__(self, other: Any) -> "Tensor":
        return comparison.logical("and", self, as_operand(other, self))

    __rand__ = __and__

    def __or__(self, other: Any) -> "Tensor":
        return comparison.logical("or", self, as_operand(other, self))

    __ror__ = __or__

    def __xor__(self, other: Any) -> "Tensor":
        return comparison.logical("xor", self, as_operand(other, self))

    __rxor__ = __xor__

    def __invert__(self) -> "Tensor":
        return comparison.logical_not(self)

    def __floordiv__(self, other: Any) -> "Tensor":
        return comparison.integer_arithmetic("floor_divide", self, other)

    def __rfloordiv__(self, other: Any) -> "Tensor":
        return comparison.integer_arithmetic("floor_divide", other, self)

    def __mod__(self, other: Any) -> "Tensor":
        return comparison.integer_arithmetic("remainder", self, other)

    def __rmod__(self, other: Any) -> "Tensor":
        return comparison.integer_arithmetic("remainder", other, self)

    def __getitem__(self, index: Any) -> "Tensor":
        return indexing.getitem(self, index)

    def __iter__(self) -> Any:
        """The rows along the first dimension, x[0], x[1], ... (as iterating a torch.Tensor)."""
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor: it holds one number; use .item()")
        return (self[i] for i in range(self.shape[0]))

    # ------------------------------------------------------------------
    # Transposes, which backward formulas are written with (dL/dA = G B^T)
    # ------------------------------------------------------------------
    @property
    def T(self) -> "Tensor":
        """All dimensions reversed (the matrix transpose for 2-D)."""
        return shape_ops.permute(self, *reversed(range(self.ndim)))

    @property
    def mT(self) -> "Tensor":
        """The last two dimensions swapped: a batch of transposed matrices."""
        return shape_ops.transpose(self, -2, -1)

    # Every other method (x.exp(), x.sum(dim=1), x.view(2, 3), x.add_(y)...) is a function
    # of tinytensor.ops, attached to the class by tinytensor/methods.py.


def _seed_like(gradient: Any, out: Tensor, op: str) -> Tensor:
    """The gradient a backward starts from: dL/dout, of out's shape and dtype (as PyTorch).

    Left out (None), it is 1: allowed only when out has one element, a loss.
    """
    if gradient is None:
        if out.numel() != 1:
            raise RuntimeError(
                f"{op}: the gradient can be left out only for a tensor with one element, but this "
                f"one has shape {out.shape}. Reduce it first (out.sum()) or pass "
                f"gradient=tinytensor.ones_like(out).")
        return Tensor._make(backend.full(out.shape, 1, out.dtype, out.device), None)
    gradient = gradient if isinstance(gradient, Tensor) else Tensor(gradient, device=out.device)
    if gradient.shape != out.shape:
        raise RuntimeError(f"{op}: gradient has shape {gradient.shape} but the tensor has shape "
                           f"{out.shape}; they must match")
    if gradient.device != out.device:  # as PyTorch: the backward would mix the two devices
        raise RuntimeError(f"{op}: gradient is on {gradient.device} but the tensor is on {out.device}; "
                           f"move it with .to('{out.device}')")
    return gradient.to(out.dtype)


def to_arguments(args: tuple, dtype: Any, device: Any) -> tuple[Any, Any]:
    """Sort ``.to(...)``'s positional arguments: a string or Device is where, anything else a dtype."""
    for arg in args:
        if isinstance(arg, (str, Device)):
            device = arg
        else:
            dtype = arg
    return dtype, device


class RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` takes the hook off again."""

    def __init__(self, node: Any, hook: Callable, where: str = "hooks") -> None:
        self.node, self.hook, self.where = node, hook, where  # where: the attribute holding the hooks

    def remove(self) -> None:
        hooks = getattr(self.node, self.where, ())
        setattr(self.node, self.where, tuple(h for h in hooks if h is not self.hook))


def as_operand(value: Any, like: Tensor) -> Tensor:
    """``value`` as a Tensor for a binary op with ``like``: numbers take like's dtype.

    ``x * 0.5`` must stay float32 when x is float32 (NumPy 2 would make a NumPy
    float64 scalar win); an integer tensor times a float gives the default float.
    """
    if type(value) is Tensor:
        return value
    if isinstance(value, (int, float, bool)):
        dtype = like.dtype
        if isinstance(value, float) and not backend.is_floating(dtype):
            dtype = backend.DEFAULT_FLOAT
        elif not isinstance(value, bool) and dtype == backend.bool_:
            dtype = backend.int64
        return Tensor._make(backend.scalar(value, dtype, like.array), None)
    if isinstance(value, Tensor):
        return value
    return Tensor._make(backend.as_array(value, None, like.device), None)


# The one import circle that is inherent: a Tensor's operators are ops, and an op's result is
# a Tensor. So Function is handed the class here, and the ops are imported after it.
function.use_tensor_class(Tensor)
from .ops import arithmetic, comparison, conversion, indexing, matmul  # noqa: E402
from .ops import shape as shape_ops  # noqa: E402
from . import tensor_types  # noqa: E402 - the old constructor, Tensor(2, 3), builds on the class
