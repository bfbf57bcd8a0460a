"""What a backward formula computes with: arrays in an ordinary backward, Tensors under create_graph.

An op's ``backward`` is written once and runs on two kinds of value (``Value``):

* in an ordinary ``loss.backward()`` its values (``grad``, ``self.operands``,
  ``self.output``) are raw NumPy/CuPy arrays, and the formula is plain array
  arithmetic;
* with ``create_graph=True`` they are Tensors and grad mode is on, so the same
  formula records a graph of its own, which can be differentiated again:
  second derivatives come for free.

Grad mode tells which: the engine walks the graph with grad mode set to
``create_graph``. A formula therefore uses what both kinds share: operators,
``.shape``, ``.reshape``, ``.swapaxes``, ``.sum``/``.mean(axis, keepdims=)``,
and the ops' own classes (``Exp()(x)``, ``sum_to(x, shape)``): an op called on
arrays simply runs its ``forward``. Why not Tensors always? Each Tensor op
costs a Python object and its bookkeeping; on arrays a gradient op costs what
its NumPy call costs, and on small tensors the bookkeeping is the larger part
(docs/benchmarks.md has the figures).

This file is the duality's one home: what a formula reads (``operands``,
``output``, ``saved_or_recomputed``, which Function offers as its own
attributes), the constants it makes (``constant``, ``mask_like``), and the two
conversions at the engine's edge (``as_tensor`` where a gradient leaves the
walk, ``as_value`` where a Tensor enters it).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from .. import backend
from . import grad_mode

if TYPE_CHECKING:
    from .function import Function

Value = Any  # an array, or a Tensor under create_graph
Tensor: Any = None  # the Tensor class, handed over by function.use_tensor_class


# -- what a backward formula reads (Function's operands, output, saved_or_recomputed) ----------
def operands(node: "Function") -> tuple[Value, ...]:
    """The inputs as backward computes with them: arrays, or the Tensors under ``create_graph``."""
    return node.inputs if grad_mode._enabled else tuple([t.array for t in node.inputs])


def output(node: "Function") -> Value:
    """The forward's result: the saved array, or under ``create_graph`` a Tensor in the graph.

    The Tensor is a fresh one around the saved array with ``node`` as its
    ``grad_fn``: the gradient depends on it correctly, and the node holds no
    reference back to the Tensor the user got (no cycle).
    """
    return Tensor._make(node.out_data, node) if grad_mode._enabled else node.out_data


def saved_or_recomputed(node: "Function", array: Any, recompute: "Callable[[], Any]") -> Value:
    """A value the forward computed and kept (``array``), for backward to use.

    In an ordinary backward it is the kept array: no work redone. Under
    ``create_graph`` the backward is itself differentiated, and a constant
    would hide how the value depends on the inputs, so it is recomputed from
    them with Tensor ops (``recompute()``) and second derivatives stay right.
    """
    return recompute() if grad_mode._enabled else array


# -- constants in a formula ---------------------------------------------------------------------
def constant(array: Any, like: Value) -> Value:
    """``array`` as a value of like's kind in a backward formula: itself, or a constant Tensor."""
    return Tensor._make(array, None) if isinstance(like, Tensor) else array


def mask_like(condition: Any, like: Value) -> Value:
    """A constant 0/1 value of like's dtype and kind (for derivatives that are piecewise constant)."""
    if isinstance(condition, Tensor):
        condition = condition.array
    return constant(backend.ensure_array(condition.astype(like.dtype)), like)


# -- the engine's edge ----------------------------------------------------------------------------
def as_tensor(value: Value) -> "Tensor":
    """A gradient leaving the walk (to a hook, a ``.grad``, autograd.grad, an observer), as a Tensor."""
    if isinstance(value, Tensor):
        return value
    return Tensor._make(backend.ensure_array(value), None)  # NumPy makes some 0-d results scalars


def as_value(value: "Tensor | Value") -> Value:
    """A Tensor entering the walk (a seed, what a hook returned, a backward that computed with
    ``self.inputs``) as the kind the walk computes with now; a value already of it, as it is."""
    if isinstance(value, Tensor) and not grad_mode._enabled:
        return value.array
    return value
