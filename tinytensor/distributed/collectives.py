"""The collectives: all_reduce, broadcast, all_gather, reduce_scatter, barrier (as torch.distributed).

Every rank calls the same collective, in the same order, with tensors of the
same dtype and shape; each gets its share of the result, written in place into
its tensors' memory. ``async_op=True`` returns a Work at once (work.py), else
the call returns None when its result is there. What each one computes is
drawn in this package's docstring (__init__.py); the engines (mpi.py, nccl.py)
carry the bytes.

They work on the values, outside autograd, as PyTorch's: nothing is recorded
in the graph. A tensor the graph computed (one with a grad_fn) is refused,
since backward would go through the collective as if it were not there (PyTorch
warns at backward; a silently wrong gradient is worse than an error here): call
it on ``x.detach()``, which shares the memory. A leaf that requires grad (a
parameter) is fine, as in PyTorch. An array rewritten in place is registered as
such, so a backward that needs its old values refuses (autograd/inplace.py).

``all_gather_object`` and ``broadcast_object_list`` carry Python objects (a
random generator's state, an error message), pickled into int64 tensors, as
PyTorch's do: pickle can make any object when it is read back, so use them only
between the processes of your own job, as here.
"""
from __future__ import annotations

import array
import pickle
from typing import Any, Callable

from ..backend import int64
from ..creation import tensor, zeros
from ..tensor import Tensor
from .process_group import DistBackendError, ProcessGroup, default_group
from .reduce_op import ReduceOp, checked
from .work import Pending, Work, nothing

DTYPES = ("float16", "float32", "float64", "int32", "int64", "bool")


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group: None = None,
               async_op: bool = False) -> Work | None:
    """Every rank's ``tensor`` becomes op(the tensors of all ranks), element by element."""
    group_ = _group("all_reduce", group)
    array = _memory("all_reduce", tensor, group_, written=True)
    op = checked("all_reduce", op, tensor.dtype)
    return _run(group_, f"all_reduce({_describe(tensor)}, op={op.name})",
                lambda: group_.engine.all_reduce(array, op), [array], async_op)


def broadcast(tensor: Tensor, src: int, group: None = None, async_op: bool = False) -> Work | None:
    """Every rank's ``tensor`` becomes rank ``src``'s."""
    group_ = _group("broadcast", group)
    if not isinstance(src, int) or not 0 <= src < group_.size:
        raise ValueError(f"broadcast: src must be a rank, 0 to {group_.size - 1}, got {src!r}")
    array = _memory("broadcast", tensor, group_, written=group_.rank != src)
    return _run(group_, f"broadcast({_describe(tensor)}, src={src})",
                lambda: group_.engine.broadcast(array, src), [] if group_.rank == src else [array],
                async_op)


def all_gather(tensor_list: list[Tensor], tensor: Tensor, group: None = None,
               async_op: bool = False) -> Work | None:
    """``tensor_list[r]`` becomes rank r's ``tensor``, on every rank."""
    group_ = _group("all_gather", group)
    array = _memory("all_gather", tensor, group_, written=False)
    outputs = _like("all_gather", "tensor_list", tensor_list, tensor, group_)
    return _run(group_, f"all_gather({_describe(tensor)})",
                lambda: group_.engine.all_gather(outputs, array), outputs, async_op)


def reduce_scatter(output: Tensor, input_list: list[Tensor], op: ReduceOp = ReduceOp.SUM,
                   group: None = None, async_op: bool = False) -> Work | None:
    """Rank r's ``output`` becomes op(every rank's ``input_list[r]``)."""
    group_ = _group("reduce_scatter", group)
    array = _memory("reduce_scatter", output, group_, written=True)
    inputs = _like("reduce_scatter", "input_list", input_list, output, group_)
    op = checked("reduce_scatter", op, output.dtype)
    return _run(group_, f"reduce_scatter({_describe(output)}, op={op.name})",
                lambda: group_.engine.reduce_scatter(array, inputs, op), [array], async_op)


def all_gather_object(object_list: list[Any], obj: Any, group: None = None) -> None:
    """``object_list[r]`` becomes rank r's ``obj``, on every rank (any object pickle can carry)."""
    group_ = _group("all_gather_object", group)
    if not isinstance(object_list, list) or len(object_list) != group_.size:
        raise ValueError(f"all_gather_object: object_list must be a list of one item per rank "
                         f"({group_.size}), got {object_list!r}")
    device = group_.engine.device
    mine = _pickled(obj, device)
    lengths = [zeros((), dtype=int64, device=device) for _ in range(group_.size)]
    all_gather(lengths, tensor(mine.numel(), dtype=int64, device=device))
    longest = max(int(length.item()) for length in lengths)
    padded = zeros(longest, dtype=int64, device=device)
    padded.array[:mine.numel()] = mine.array
    gathered = [zeros(longest, dtype=int64, device=device) for _ in range(group_.size)]
    all_gather(gathered, padded)
    object_list[:] = [_unpickled(words) for words in gathered]


def broadcast_object_list(object_list: list[Any], src: int = 0, group: None = None) -> None:
    """Every rank's ``object_list`` (a list of the same length everywhere) becomes rank ``src``'s."""
    group_ = _group("broadcast_object_list", group)
    if not isinstance(object_list, list):
        raise ValueError(f"broadcast_object_list: object_list must be a list, got {object_list!r}")
    device = group_.engine.device
    sent = _pickled(object_list, device) if group_.rank == src else None
    length = tensor(0 if sent is None else sent.numel(), dtype=int64, device=device)
    broadcast(length, src)
    words = sent if sent is not None else zeros(int(length.item()), dtype=int64, device=device)
    broadcast(words, src)
    received = _unpickled(words)
    if len(received) != len(object_list):  # PyTorch's fills the list in place, one slot per object
        raise ValueError(f"broadcast_object_list: rank {group_.rank}'s object_list has {len(object_list)} "
                         f"element(s), rank {src}'s {len(received)}; give every rank a list of the same "
                         f"length (e.g. [None] * {len(received)})")
    object_list[:] = received


def _pickled(obj: Any, device: Any) -> Tensor:
    """``obj`` pickled into int64 words (a dtype every engine carries): the byte count, then the
    bytes, zero-padded to a whole word."""
    data = pickle.dumps(obj)
    words = array.array("q", [len(data)])
    words.frombytes(data + bytes(-len(data) % 8))
    return tensor(words.tolist(), dtype=int64, device=device)


def _unpickled(words: Tensor) -> Any:
    values = words.tolist()
    data = array.array("q", values[1:]).tobytes()
    return pickle.loads(data[:values[0]])


def barrier(group: None = None, async_op: bool = False) -> Work | None:
    """Return when every rank has called barrier (the agreement alone: it waits for them all)."""
    return _run(_group("barrier", group), "barrier()", lambda: Pending(lambda: True, nothing), [],
                async_op)


def _run(group: ProcessGroup, what: str, start: Callable[[], Pending], written: list[Any],
         async_op: bool) -> Work | None:
    """Start the agreement and the operation; wait for them unless ``async_op``."""
    work = Work(group, what, group.agree(what), start(), written)
    if async_op:
        return work
    work.wait()
    return None


def _group(what: str, group: None) -> ProcessGroup:
    current = default_group(what, group)
    if current.broken:
        raise DistBackendError(f"{what}: the process group is broken since an earlier failure: "
                               f"{current.broken} End the job.")
    return current


def _describe(tensor: Tensor) -> str:
    return f"{tensor.dtype} tensor of shape {tuple(tensor.shape)}"


def _memory(what: str, tensor: Any, group: ProcessGroup, written: bool) -> Any:
    """The array under ``tensor``, once it is one the engine can read (and write, if ``written``)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{what}: expected a tinytensor Tensor, got {type(tensor).__name__}")
    if tensor.grad_fn is not None:
        raise RuntimeError(f"{what}: this tensor was computed in the autograd graph "
                           f"(grad_fn={tensor.grad_fn!r}), and collectives are not recorded there: "
                           f"backward would ignore it. Call it on x.detach() (the same memory), or "
                           f"on leaves such as parameters and their .grad")
    engine = group.engine
    if tensor.device != engine.device:
        raise ValueError(f"{what}: the '{engine.name}' backend works on tensors on "
                         f"{engine.device}, this one is on {tensor.device}; move it (.to(...)) or "
                         f"init_process_group with the other backend ('mpi' for CPU tensors, "
                         f"'nccl' for GPU tensors)")
    if tensor.dtype.name not in DTYPES:
        raise TypeError(f"{what}: {tensor.dtype} tensors are not supported; the collectives take "
                        f"{', '.join(DTYPES)}")
    array = tensor.array
    if not array.flags.c_contiguous:
        raise ValueError(f"{what}: the {_describe(tensor)} is not contiguous in memory (a transposed, "
                         f"sliced or broadcast view); the engines read and write the memory itself: pass "
                         f"x = x.contiguous() and use that")
    if written and not getattr(array.flags, "writeable", True):
        raise ValueError(f"{what}: the {_describe(tensor)} is read-only memory (from_numpy of a "
                         f"read-only array?); pass x = x.clone() and use that")
    return array


def _like(what: str, name: str, tensors: Any, model: Tensor, group: ProcessGroup) -> list[Any]:
    """The arrays of ``tensors``, one per rank, each of ``model``'s dtype and shape."""
    if not isinstance(tensors, (list, tuple)) or len(tensors) != group.size:
        count = len(tensors) if isinstance(tensors, (list, tuple)) else type(tensors).__name__
        raise ValueError(f"{what}: {name} must be a list of one tensor per rank ({group.size}), "
                         f"got {count}")
    arrays = []
    for rank, tensor in enumerate(tensors):
        array = _memory(f"{what}: {name}[{rank}]", tensor, group, written=name == "tensor_list")
        if (tensor.dtype, tensor.shape) != (model.dtype, model.shape):
            raise ValueError(f"{what}: {name}[{rank}] is a {_describe(tensor)}; each must be a "
                             f"{_describe(model)}, like the other tensor argument")
        arrays.append(array)
    return arrays
