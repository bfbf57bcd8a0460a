"""Collate: turn a list of examples into one batch.

``default_collate`` stacks. Examples ``(x_i, y_i)``, with x_i of shape (64,)
and y_i an int, become ``[X, Y]`` with X of shape (B, 64) and Y of shape (B,):
records are collated field by field (a dict gives a dict, a namedtuple a
namedtuple, a tuple or list a list, as in PyTorch), tensors and NumPy arrays
are stacked along a new first dimension, Python numbers become a tensor (ints
int64, floats float64: PyTorch's rule, which keeps every digit of a Python
float), strings stay as they come.

``default_convert`` is what a DataLoader with ``batch_size=None`` applies to
each example instead: no batching, NumPy arrays made tensors, the rest as it is.

Sentences have different lengths, so their token ids cannot be stacked;
``pad_sequence`` first pads each to the longest with ``padding_value``:

    [5, 7, 2], [4, 2]   ->   [[5, 7, 2],
                              [4, 2, 0]]

and ``pad_collate`` is ``default_collate`` that pads instead of stacking.
The model must then ignore the padding (a mask in attention, ``ignore_index``
in the loss).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from ..backend import float64
from ..creation import from_numpy, full, tensor
from ..ops.shape import concat, stack
from ..tensor import Tensor


def default_collate(batch: Sequence[Any]) -> Any:
    """A batch from a list of examples: tensors stacked, records collated field by field."""
    return _collate(batch, stack)


def pad_collate(batch: Sequence[Any], padding_value: float = 0) -> Any:
    """As ``default_collate``, but tensors are padded to the longest before stacking.

    For another padding value: ``collate_fn=functools.partial(pad_collate, padding_value=PAD)``.
    """
    return _collate(batch, lambda sequences: pad_sequence(sequences, batch_first=True,
                                                          padding_value=padding_value))


def pad_sequence(sequences: Sequence[Any], batch_first: bool = False, padding_value: float = 0) -> Tensor:
    """Pad sequences of shape (L_i, *) to the longest, L, and stack them: (L, B, *).

    With ``batch_first=True`` the result is (B, L, *), the layout tinytensor's
    models use (``pad_collate`` asks for it). The default is PyTorch's.
    Sequences may be tensors or lists; the padding is differentiable.
    """
    if not sequences:
        raise ValueError("pad_sequence: needs at least one sequence")
    sequences = [s if isinstance(s, Tensor) else tensor(s) for s in sequences]
    longest = max(len(s) for s in sequences)
    padded = stack([_pad_to(s, longest, padding_value) for s in sequences])
    return padded if batch_first else padded.transpose(0, 1)


def _pad_to(sequence: Tensor, length: int, value: float) -> Tensor:
    missing = length - len(sequence)
    if missing == 0:
        return sequence
    padding = full((missing, *sequence.shape[1:]), value, dtype=sequence.dtype, device=sequence.device)
    return concat([sequence, padding])


def default_convert(example: Any) -> Any:
    """One example as a DataLoader with ``batch_size=None`` yields it: NumPy arrays made tensors.

    Records are converted field by field (a tuple becomes a list, as in PyTorch);
    tensors, Python numbers and strings stay as they are.
    """
    if _is_numpy(example):
        return _from_numpy(example) if _numeric(example) else example
    if isinstance(example, dict):
        return {key: default_convert(value) for key, value in example.items()}
    if _is_namedtuple(example):
        return type(example)(*(default_convert(field) for field in example))
    if isinstance(example, (tuple, list)):
        return [default_convert(field) for field in example]
    return example


def _collate(batch: Sequence[Any], combine: Callable[[list[Tensor]], Tensor]) -> Any:
    """Collate recursively: records field by field; ``combine`` makes one tensor of many."""
    first = batch[0]
    if isinstance(first, Tensor):
        return combine(list(batch))
    if _is_numpy(first) and _numeric(first):
        return combine([_from_numpy(example) for example in batch])
    if isinstance(first, float):
        return tensor(list(batch), dtype=float64)
    if isinstance(first, int):  # bool too: a bool tensor
        return tensor(list(batch))
    if isinstance(first, str):
        return batch  # as PyTorch: a field of records stays the tuple zip made of it
    if isinstance(first, dict):
        return {key: _collate([example[key] for example in batch], combine) for key in first}
    if isinstance(first, (tuple, list)):
        if any(len(example) != len(first) for example in batch):
            raise ValueError(f"collate: every example must have the same number of fields, got "
                             f"{sorted({len(example) for example in batch})}")
        fields = [_collate(column, combine) for column in zip(*batch)]
        return type(first)(*fields) if _is_namedtuple(first) else fields
    raise TypeError(f"collate: cannot batch examples of type {type(first).__name__}; "
                    f"return tensors, numbers, strings, or tuples/lists/dicts of them, "
                    f"or pass your own collate_fn")


def _is_numpy(value: Any) -> bool:
    """A NumPy array or scalar (asked by module name: only backend.py imports NumPy)."""
    return type(value).__module__ == "numpy" and hasattr(value, "dtype")


def _numeric(value: Any) -> bool:
    """Numbers (and booleans), which make a tensor; NumPy strings and objects stay as they are."""
    return value.dtype.kind in "biuf"


def _from_numpy(value: Any) -> Tensor:
    """An array shares its memory, as torch.as_tensor; a NumPy scalar becomes a 0-d tensor."""
    return from_numpy(value) if hasattr(value, "__array_interface__") and value.ndim else tensor(value)


def _is_namedtuple(value: Any) -> bool:
    return isinstance(value, tuple) and hasattr(value, "_fields")
