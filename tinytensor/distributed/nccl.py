"""The NCCL engine: NVIDIA's collectives between GPUs, through CuPy's bindings (cupy.cuda.nccl).

UNTESTED: no GPU has run this file yet. It is written against CuPy's documented
API (NcclCommunicator, get_unique_id, get_version, Stream, Event); what CI tests
is only that asking for it where no GPU or no CuPy is gives a clear error. Run
the collectives tests on a machine with GPUs before trusting it.

How the communicator starts, as ChainerMN and llm.c start theirs: rank 0 asks
NCCL for a unique id (128 bytes that name the communicator to be), MPI's
broadcast hands it to every rank, and each rank joins with it and its rank
(ncclCommInitRank), bound to its own GPU: by default the process's rank among
the processes on its machine (``device_id`` says another). MPI stays alongside:
it carries the agreements (work.py), so barrier and the checks are MPI's.

Streams: a collective runs on a stream of the group's own, after the work
already queued on the current stream (which computes its input: an event
recorded there, waited on by ours). An event recorded after it says when it is
done; Work asks it without blocking, and waiting polls it from the host (so the
timeout holds), then lets the current stream go on after it. PyTorch's wait()
only orders the streams and does not block the host; phase 2 may do the same.

dtypes: NCCL has no bool, so bool travels as uint8 (the same byte), and, as in
PyTorch, SUM and MAX are NCCL's max (a logical or), MIN its min (a logical and).
AVG is NCCL's own average from NCCL 2.10 on; before, a SUM, then a division.
"""
from __future__ import annotations

from typing import Any, Callable

from .. import backend
from .reduce_op import ReduceOp
from .work import Pending, nothing


def load() -> tuple[Any, Any]:
    """CuPy's ``cuda`` module and its NCCL bindings, or a clear error saying what is missing."""
    if not backend.cuda_is_available():
        raise RuntimeError(f"init_process_group(backend='nccl'): NCCL connects GPUs, and device "
                           f"'cuda' is not available here: {backend.cuda_unavailable_reason()} "
                           f"For CPU tensors use backend='mpi'.")
    try:
        from cupy import cuda
        from cupy.cuda import nccl
    except ImportError as error:
        raise RuntimeError(f"init_process_group(backend='nccl'): CuPy's NCCL bindings "
                           f"(cupy.cuda.nccl) cannot be imported: {error}") from error
    if not nccl.available:
        raise RuntimeError("init_process_group(backend='nccl'): CuPy found no NCCL library; CuPy's "
                           "installation guide says how to add it (Optional libraries: NCCL)")
    return cuda, nccl


class NCCLEngine:
    """Collectives on CuPy arrays of one GPU per process, over an NCCL communicator."""

    name = "nccl"

    def __init__(self, MPI: Any, checks: Any, device_id: "int | str | backend.Device | None") -> None:
        self.cuda, self.nccl = load()
        rank, self.size = checks.Get_rank(), checks.Get_size()
        self.device = _device(MPI, checks, device_id)
        with self.cuda.Device(self.device.index):
            unique_id = self.nccl.get_unique_id() if rank == 0 else None
            unique_id = checks.bcast(unique_id, root=0)
            self.comm = self.nccl.NcclCommunicator(self.size, unique_id, rank)
            self.stream = self.cuda.Stream(non_blocking=True)
        self.has_avg = self.nccl.get_version() >= 21000  # ncclAvg came with NCCL 2.10.0

    def _type(self, dtype: Any) -> int:
        return {"float16": self.nccl.NCCL_FLOAT16, "float32": self.nccl.NCCL_FLOAT32,
                "float64": self.nccl.NCCL_FLOAT64, "int32": self.nccl.NCCL_INT32,
                "int64": self.nccl.NCCL_INT64, "bool": self.nccl.NCCL_UINT8}[dtype.name]

    def _op(self, op: ReduceOp, dtype: Any) -> int:
        if dtype.kind == "b":
            return self.nccl.NCCL_MIN if op is ReduceOp.MIN else self.nccl.NCCL_MAX
        if op is ReduceOp.AVG:
            return self.nccl.NCCL_AVG if self.has_avg else self.nccl.NCCL_SUM
        return {ReduceOp.SUM: self.nccl.NCCL_SUM, ReduceOp.MAX: self.nccl.NCCL_MAX,
                ReduceOp.MIN: self.nccl.NCCL_MIN}[op]

    def _average(self, array: Any, op: ReduceOp) -> Callable[[], None]:
        def divide() -> None:
            array[...] /= self.size  # in place: the tensor's own memory
        return divide if op is ReduceOp.AVG and not self.has_avg else nothing

    def _launch(self, call: Callable[[int], None], finish: Callable[[], None], keep: tuple) -> Pending:
        """Run ``call(stream)`` on our stream after the current stream's work; Pending until done."""
        with self.cuda.Device(self.device.index):
            current = self.cuda.get_current_stream()
            self.stream.wait_event(current.record())
            call(self.stream.ptr)
            done = self.stream.record()

        def then() -> None:
            with self.cuda.Device(self.device.index):
                current.wait_event(done)  # the current stream reads the result after it is written
                finish()
        return Pending(lambda: done.done, then, keep)

    def all_reduce(self, array: Any, op: ReduceOp) -> Pending:
        ptr, kind, nccl_op = array.data.ptr, self._type(array.dtype), self._op(op, array.dtype)
        return self._launch(lambda stream: self.comm.allReduce(ptr, ptr, array.size, kind, nccl_op, stream),
                            self._average(array, op), (array,))

    def broadcast(self, array: Any, src: int) -> Pending:
        ptr, kind = array.data.ptr, self._type(array.dtype)
        return self._launch(lambda stream: self.comm.broadcast(ptr, ptr, array.size, kind, src, stream),
                            nothing, (array,))

    def all_gather(self, outputs: list[Any], array: Any) -> Pending:
        with self.cuda.Device(self.device.index):
            gathered = backend.xp_of(array).empty((self.size, *array.shape), array.dtype)  # (N, *shape)
        kind = self._type(array.dtype)

        def copy_out() -> None:
            for rank, output in enumerate(outputs):
                output[...] = gathered[rank]
        return self._launch(lambda stream: self.comm.allGather(array.data.ptr, gathered.data.ptr,
                                                               array.size, kind, stream),
                            copy_out, (array, gathered))

    def reduce_scatter(self, output: Any, inputs: list[Any], op: ReduceOp) -> Pending:
        with self.cuda.Device(self.device.index):
            send = backend.xp_of(output).stack(inputs)  # (N, *shape): block r goes to rank r
        kind, nccl_op = self._type(output.dtype), self._op(op, output.dtype)
        return self._launch(lambda stream: self.comm.reduceScatter(send.data.ptr, output.data.ptr,
                                                                   output.size, kind, nccl_op, stream),
                            self._average(output, op), (send, output))

    def abort(self) -> None:
        """Free the GPU kernels still waiting for a rank that will not come (ncclCommAbort)."""
        self.comm.abort()

    def close(self) -> None:
        self.comm.destroy()


def _device(MPI: Any, checks: Any, device_id: "int | str | backend.Device | None") -> backend.Device:
    """This process's GPU: ``device_id``, else its rank among the processes on its machine."""
    if device_id is None:
        here = checks.Split_type(MPI.COMM_TYPE_SHARED)  # the ranks on this machine
        index = here.Get_rank()
        here.Free()
    else:
        index = backend.Device(f"cuda:{device_id}" if isinstance(device_id, int) else device_id).index
    count = backend.cuda_device_count()
    if index is None or index >= count:
        raise RuntimeError(f"init_process_group(backend='nccl'): rank {checks.Get_rank()} would use "
                           f"GPU {index}, and this machine has {count}; start at most one process "
                           f"per GPU on each machine, or give device_id")
    return backend.Device(f"cuda:{index}")
