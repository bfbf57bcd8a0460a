"""PyTorch's older way of making tensors: ``Tensor([1, 2])``, ``FloatTensor``, ``LongTensor``, ``x.type()``.

Before ``torch.tensor(data)`` (which keeps the data's kind: integers stay
integers), PyTorch made tensors with a constructor per dtype, and old
tutorials still do:

    torch.Tensor([1, 2])          # float32, whatever the data: tensor([1., 2.])
    torch.Tensor(2, 3)            # numbers alone are a shape: a (2, 3) float32 tensor
    torch.LongTensor([[1, 2]])    # int64
    x.type()                      # 'torch.FloatTensor', the name of x's dtype in that old scheme
    x.type(torch.LongTensor)      # a cast, as x.long()

``Tensor(2, 3)`` leaves PyTorch's memory as it was (values that mean nothing);
here it holds zeros, as ``tinytensor.empty`` does. ``FloatTensor`` and friends
are classes whose ``isinstance`` asks the dtype, as PyTorch's: a float32 tensor
on the CPU is a ``FloatTensor``.
"""
from __future__ import annotations

from typing import Any

from . import backend
from .backend import Device
from .tensor import Tensor

# dtype -> the word PyTorch's old type names use for it: float32 is torch.FloatTensor
TYPE_WORDS = {backend.float32: "Float", backend.float64: "Double", backend.float16: "Half",
              backend.int64: "Long", backend.int32: "Int", backend.int16: "Short",
              backend.int8: "Char", backend.uint8: "Byte", backend.bool_: "Bool"}


def legacy_array(name: str, data: tuple, dtype: Any, device: Any) -> Any:
    """The array of ``name(*data)``: ints alone are a shape (of zeros), else the values, as ``dtype``.

    A Tensor given alone is taken as it is (its memory shared), as PyTorch's ``Tensor(t)``.
    """
    from .creation import get_default_device, tensor  # noqa: PLC0415 - creation.py builds on tensor.py too

    if len(data) == 1 and isinstance(data[0], Tensor):
        given = data[0]
        if name != "Tensor" and given.dtype != dtype:
            raise TypeError(f"{name}(tensor): expected a {dtype} tensor, got {given.dtype}; cast it with "
                            f"tensor.to(tinytensor.{dtype}), or copy its values with {name}(tensor.tolist())")
        return given.array if device is None else backend.to_device(given.array, Device(device))
    where = Device(device) if device is not None else get_default_device()
    if all(isinstance(n, int) and not isinstance(n, bool) for n in data):  # Tensor(2, 3), Tensor()
        if any(n < 0 for n in data):
            raise RuntimeError(f"{name}{data}: trying to create a tensor with a negative dimension")
        return backend.full(tuple(data) or (0,), 0, dtype, where)
    if len(data) != 1 or not hasattr(data[0], "__len__") or isinstance(data[0], str):
        raise TypeError(f"{name}(...): give the values as one sequence ({name}([1, 2])) or the shape "
                        f"as ints ({name}(2, 3)); got ({', '.join(type(d).__name__ for d in data)}). "
                        f"For a single number: tinytensor.tensor(3.5)")
    try:
        return tensor(data[0], dtype=dtype, device=where).array
    except OverflowError as error:
        raise RuntimeError(f"{name}(...): {error}: a value cannot be converted to {dtype} without "
                           f"overflow") from None


class TensorType(type):
    """The class of ``FloatTensor`` and its kin: calling one makes a tensor, isinstance asks the dtype."""

    dtype: Any

    def __call__(cls, *data: Any, device: "str | Device | None" = None) -> Tensor:
        return Tensor._make(legacy_array(cls.__name__, data, cls.dtype, device), None)

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype and obj.device.type == "cpu"

    def __repr__(cls) -> str:
        return f"<class 'tinytensor.{cls.__name__}'>"


def _tensor_type(dtype: Any) -> TensorType:
    return TensorType(f"{TYPE_WORDS[dtype]}Tensor", (), {"dtype": dtype, "__module__": __name__})


FloatTensor, DoubleTensor, HalfTensor = (_tensor_type(d) for d in (backend.float32, backend.float64,
                                                                    backend.float16))
LongTensor, IntTensor, ShortTensor, CharTensor, ByteTensor, BoolTensor = (_tensor_type(d) for d in (
    backend.int64, backend.int32, backend.int16, backend.int8, backend.uint8, backend.bool_))
TENSOR_TYPES = {t.__name__: t for t in (FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor,
                                        ShortTensor, CharTensor, ByteTensor, BoolTensor)}


def type_(x: Tensor, dtype: Any = None, non_blocking: bool = False) -> "str | Tensor":
    """``x.type()``: PyTorch's name of x's type ('torch.FloatTensor'); ``x.type(t)``: x cast to t,
    a dtype, or a type by name ('torch.LongTensor', 'torch.cuda.LongTensor') or itself
    (tinytensor.LongTensor, a CPU type, as in PyTorch)."""
    if dtype is None:
        return f"torch.{'cuda.' if x.device.type == 'cuda' else ''}{TYPE_WORDS[x.dtype]}Tensor"
    if isinstance(dtype, str) and dtype.rpartition(".")[2] in TENSOR_TYPES:
        on_gpu = dtype.startswith("torch.cuda.")
        where = (x.device if x.device.type == "cuda" else "cuda") if on_gpu else "cpu"
        return x.to(where, TENSOR_TYPES[dtype.rpartition(".")[2]].dtype)
    if isinstance(dtype, TensorType):
        return x.to("cpu", dtype.dtype)
    return x.to(dtype)
