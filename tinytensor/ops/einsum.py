"""einsum: a sum of products of tensors, every dimension named by a letter, as torch.einsum.

    einsum("ij,jk->ik", A, B)      C_ik = sum_j A_ij B_jk       a matrix product
    einsum("bij,bjk->bik", A, B)   the same for each b           bmm
    einsum("i,j->ij", a, b)        a_i b_j                       outer
    einsum("ii->", A)              sum_i A_ii                    the trace
    einsum("...ij->...ji", A)      swap the last two, whatever comes before

A letter in the output (after ``->``) stays; every other letter is summed over.
Without ``->`` the output is ``...`` then the letters that occur once, in
alphabetical order (capitals first), as in PyTorch.

Backward. Write the output as O[out] = sum over the letters not in out of
X_1[s_1] X_2[s_2] ... It is linear in each operand X_k, so

    dL/dX_k[s_k] = sum over the letters not in s_k of G[out] prod_(j != k) X_j[s_j]

which is an einsum again: of the gradient G (letters ``out``) and the other
operands, with output s_k. For C = einsum("ij,jk->ik", A, B) that is
dL/dA = einsum("ik,jk->ij", G, B) = G B^T, the rule of matmul.py.

Two kinds of letter cannot be an output of that einsum, and are put in after it:

* a letter of s_k found nowhere else, summed over X_k alone (j in "ij->i"):
  every X_k[i, j] receives G[i], the gradient broadcast along j. An einsum with
  a vector of ones, letter j, does that: "i,j->ij".
* a letter repeated in s_k ("ii->i", the diagonal): only the X_k[i, i] take
  part, so the gradient is 0 off the diagonal. The second i gets a letter of
  its own, I, and a factor identity[i, I]: "i,iI->iI".

Worked example, the trace "ii->" of a 3x3 A: the gradient einsum has nothing
left to sum (i is lonely and repeated), so dL/dA = einsum(",i,iI->iI", g,
ones(3), eye(3)) = g I, the identity matrix times the incoming gradient.

Dimensions of size 1 broadcast against a letter's size elsewhere (as in
PyTorch): they are expanded first (broadcast_to), whose backward sums back.
"""
from __future__ import annotations

import string
from typing import Any, Sequence

from .. import backend
from ..autograd.function import Function, Value, constant
from ..tensor import Tensor
from .broadcast import broadcast_to
from .conversion import Cast

LETTERS = string.ascii_uppercase + string.ascii_lowercase  # PyTorch's order: capitals first


class Einsum(Function):
    """The einsum of operands whose subscripts are letters only (``...`` written out as letters),
    no letter twice in the output, every letter of one size (see ``einsum``, which gets them so)."""

    def __init__(self, inputs: Sequence[str], output: str) -> None:
        self.subscripts, self.result = list(inputs), output

    @property
    def equation(self) -> str:
        return f"{','.join(self.subscripts)}->{self.result}"

    def forward(self, *arrays: Any) -> Any:
        return backend.xp_of(arrays[0]).einsum(self.equation, *arrays, optimize=True)

    def backward(self, grad: Value) -> tuple[Value, ...]:
        operands = self.operands
        return tuple(self._gradient(k, grad, operands) if self.needs_grad(k) else None
                     for k in range(len(operands)))

    def _gradient(self, k: int, grad: Value, operands: Sequence[Value]) -> Value:
        """dL/dX_k: the einsum of G and the other operands (module docstring), then its lonely and
        repeated letters put in."""
        target = self.subscripts[k]
        others = [self.result] + [s for j, s in enumerate(self.subscripts) if j != k]
        reachable = set("".join(others))
        kept = "".join(dict.fromkeys(c for c in target if c in reachable))  # each letter once
        g = Einsum(others, kept)(grad, *(x for j, x in enumerate(operands) if j != k))
        unused = iter(c for c in LETTERS if c not in self.equation)
        array = g.array if isinstance(g, Tensor) else g
        device, dtype = backend.device_of(array), array.dtype
        subscripts, factors, renamed = [kept], [g], ""
        for c, n in zip(target, operands[k].shape):
            if c in renamed:  # repeated: a letter of its own, tied to the first by the identity
                fresh = next(unused)
                subscripts.append(c + fresh)
                factors.append(constant(backend.eye(n, n, dtype, device), g))
                c = fresh
            elif c not in kept:  # lonely: broadcast along it with a vector of ones
                subscripts.append(c)
                factors.append(constant(backend.full((n,), 1, dtype, device), g))
            renamed += c
        return g if len(factors) == 1 else Einsum(subscripts, renamed)(*factors)


def einsum(*args: Any) -> Tensor:
    """As torch.einsum: ``einsum("ij,jk->ik", a, b)``, ``einsum("ij,jk", [a, b])``, or the sublist
    form ``einsum(a, [0, 1], b, [1, 2], [0, 2])``; spaces in the equation are allowed.

    Differentiable in every operand, to any order. Operands of different dtypes are
    computed in one, as ``matmul`` does (PyTorch refuses them).
    """
    if args and not isinstance(args[0], str):
        args = _from_sublists(args)
    if not args:
        raise TypeError("einsum: give an equation and the operands, e.g. einsum('ij,jk->ik', a, b)")
    equation, operands = args[0], list(args[1:])
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = list(operands[0])
    for t in operands:
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum: operands must be Tensors, got {type(t).__name__}; make one with "
                            f"tinytensor.tensor(...)")
    inputs, output = _parse(equation, [t.ndim for t in operands])
    sizes = _sizes(inputs, operands)
    shapes = [tuple(sizes[c] for c in term) for term in inputs]  # size-1 dimensions stretched
    operands = [t if t.shape == shape else broadcast_to(t, shape) for t, shape in zip(operands, shapes)]
    return Einsum(inputs, output)(*_one_dtype(operands))


def _parse(equation: str, ndims: list[int]) -> tuple[list[str], str]:
    """The subscripts of each operand and of the output, letters only: ``...`` becomes letters no
    one uses, the same ones for every operand, aligned at the right (as broadcasting aligns)."""
    equation = equation.replace(" ", "")
    left, arrow, right = equation.partition("->")
    if "->" in right:
        raise ValueError(f"einsum: {equation!r} has more than one '->'")
    terms = left.split(",")
    if len(terms) != len(ndims):
        raise ValueError(f"einsum: the equation {equation!r} names {len(terms)} operand"
                         f"{'s' * (len(terms) != 1)} but {len(ndims)} were given")
    for term in terms + ([right] if arrow else []):
        _check_term(equation, term)
    named = [len(term.replace("...", "")) for term in terms]
    for i, (term, count, ndim) in enumerate(zip(terms, named, ndims)):
        if count > ndim or ("..." not in term and count != ndim):
            raise ValueError(f"einsum: operand {i} has {ndim} dimension{'s' * (ndim != 1)} but "
                             f"{term!r} names {count}" + ("" if "..." in term else " and has no '...'"))
    spare = [c for c in LETTERS if c not in equation]
    dots = max([ndim - count for term, count, ndim in zip(terms, named, ndims) if "..." in term],
               default=0)  # how many dimensions '...' stands for
    if dots > len(spare):
        raise ValueError(f"einsum: '...' stands for {dots} dimensions, more than the "
                         f"{len(spare)} letters the equation leaves unused")
    ellipsis = "".join(spare[:dots])
    inputs = [term.replace("...", ellipsis[dots - (ndim - count):]) for term, count, ndim in
              zip(terms, named, ndims)]
    letters = "".join(terms).replace("...", "")
    if not arrow:
        return inputs, ellipsis + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    output = right.replace("...", ellipsis)
    for c in output:
        if output.count(c) > 1:
            raise ValueError(f"einsum: the output {right!r} names {c!r} more than once")
        if c not in "".join(inputs):
            raise ValueError(f"einsum: the output {right!r} names {c!r}, which no operand has")
    return inputs, output


def _check_term(equation: str, term: str) -> None:
    if term.count("...") > 1 or "." in term.replace("...", "", 1):
        raise ValueError(f"einsum: {term!r} in {equation!r}: a '.' may only be part of one '...'")
    for c in term.replace("...", ""):
        if c not in LETTERS:
            raise ValueError(f"einsum: {c!r} in {equation!r} is not a subscript; subscripts are "
                             f"letters a-z and A-Z")


def _sizes(inputs: list[str], operands: list[Tensor]) -> dict[str, int]:
    """Each letter's size: the same wherever it occurs, or 1 where it broadcasts."""
    sizes: dict[str, int] = {}
    for i, (term, t) in enumerate(zip(inputs, operands)):
        mine: dict[str, int] = {}
        for c, n in zip(term, t.shape):
            if mine.setdefault(c, n) != n:
                raise ValueError(f"einsum: operand {i} of shape {t.shape} names one dimension twice "
                                 f"({c!r}) but the two have sizes {mine[c]} and {n}")
            known = sizes.get(c, 1)
            if n != known and 1 not in (n, known):
                raise ValueError(f"einsum: {c!r} has size {n} in operand {i} (shape {t.shape}) but "
                                 f"{known} before; sizes must agree, or be 1")
            sizes[c] = known if n == 1 else n
    return sizes


def _one_dtype(operands: list[Tensor]) -> list[Tensor]:
    """With a float among them, all in the widest float (as cat); integers alone are left to
    einsum, whose rule (NumPy's: int32 with int64 gives int64) is PyTorch's."""
    floats = [t.dtype for t in operands if backend.is_floating(t.dtype)]
    if not floats:
        return operands
    target = max(floats, key=lambda dtype: dtype.itemsize)
    return [t if t.dtype == target else Cast(target)(t) for t in operands]


def _from_sublists(args: Sequence[Any]) -> list[Any]:
    """einsum(a, [0, 1], b, [1, 2], [0, 2]) as einsum("AB,BC->AC", a, b): numbers 0-51 are
    letters (0-25 the capitals, so alphabetical order is the numbers' order), Ellipsis is '...'."""
    def letters(sublist: Any) -> str:
        out = ""
        for n in sublist:
            if n is Ellipsis:
                out += "..."
            elif isinstance(n, int) and 0 <= n < len(LETTERS):
                out += LETTERS[n]
            else:
                raise ValueError(f"einsum: sublist entries are numbers 0-51 or Ellipsis, got {n!r}")
        return out

    pairs = len(args) // 2
    terms = [letters(sublist) for sublist in args[1:2 * pairs:2]]
    output = "->" + letters(args[-1]) if len(args) % 2 else ""
    return [",".join(terms) + output, *args[0:2 * pairs:2]]
