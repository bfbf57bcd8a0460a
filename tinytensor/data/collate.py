"""Collate: turn a list of examples into one batch.

``default_collate`` stacks. Examples ``(x_i, y_i)``, with x_i of shape (64,)
and y_i an int, become ``(X, Y)`` with X of shape (B, 64) and Y of shape (B,):
records (tuples, lists, dicts) are collated field by field, tensors are
stacked along a new first dimension, numbers become a tensor (floats float32,
ints int64, as tinytensor.tensor makes them), strings stay a list.

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

from ..creation import full, tensor
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


def _collate(batch: Sequence[Any], combine: Callable[[list[Tensor]], Tensor]) -> Any:
    """Collate recursively: records field by field; ``combine`` makes one tensor of many."""
    first = batch[0]
    if isinstance(first, Tensor):
        return combine(list(batch))
    if isinstance(first, (bool, int, float)):
        return tensor(list(batch))
    if isinstance(first, str):
        return list(batch)
    if isinstance(first, dict):
        return {key: _collate([example[key] for example in batch], combine) for key in first}
    if isinstance(first, (tuple, list)):
        if any(len(example) != len(first) for example in batch):
            raise ValueError("collate: every example must have the same number of fields")
        fields = [_collate(column, combine) for column in zip(*batch)]
        return type(first)(fields) if isinstance(first, tuple) else fields
    raise TypeError(f"collate: cannot batch examples of type {type(first).__name__}; "
                    f"return tensors, numbers, strings, or tuples/lists/dicts of them, "
                    f"or pass your own collate_fn")
