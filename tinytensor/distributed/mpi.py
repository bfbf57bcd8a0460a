"""The MPI engine: the collectives of MPI, through mpi4py, on the CPU and across machines.

MPI (the Message Passing Interface) is the standard that supercomputers have
run on since 1994; MPICH, one of its implementations, installs from PyPI (the
``mpich`` wheel, with its launcher ``mpiexec``), and mpi4py calls it from Python.
Each collective here is MPI's non-blocking one (``MPI_Iallreduce`` and friends),
started on the tensor's own NumPy memory: no copy for all_reduce and broadcast,
which write their result where the input was (``MPI_IN_PLACE``).

MPI's types for tinytensor's dtypes, which mpi4py reads from the array itself:
float32/64 and int32/64 as C's; float16 as ``MPIX_C_FLOAT16``, MPICH's own
(MPI's standard has no 16-bit float); bool as ``MPI_C_BOOL``, which the standard
lets only logical ops reduce, so SUM and MAX are ``MPI_LOR`` and MIN ``MPI_LAND``.
AVG is a SUM, then a division by the world size on each rank.
"""
from __future__ import annotations

from typing import Any

from .. import backend
from .reduce_op import ReduceOp
from .work import Pending, nothing

INSTALL = ('pip install -e ".[distributed]" in your tinytensor checkout (or pip install mpi4py '
           'mpich), then launch with mpiexec -n N python your_script.py')


def load() -> Any:
    """mpi4py's ``MPI`` module; importing it starts MPI in this process (``MPI_Init``)."""
    try:
        import mpi4py  # noqa: F401 - optional dependency, imported on demand
    except ImportError:
        raise RuntimeError(f"the MPI backend needs mpi4py and an MPI library, and mpi4py is not "
                           f"installed: {INSTALL}") from None
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError) as error:  # mpi4py found no MPI library to load
        raise RuntimeError(f"mpi4py is installed but could not load an MPI library ({error}): "
                           f"{INSTALL}") from error
    return MPI


class MPIEngine:
    """Collectives on NumPy arrays over an MPI communicator (``comm``, the group's own)."""

    name = "mpi"
    device = backend.Device("cpu")

    def __init__(self, MPI: Any, comm: Any) -> None:
        self.MPI, self.comm, self.size = MPI, comm, comm.Get_size()

    def _op(self, op: ReduceOp, dtype: Any) -> Any:
        if dtype.kind == "b":
            return self.MPI.LAND if op is ReduceOp.MIN else self.MPI.LOR
        return {ReduceOp.SUM: self.MPI.SUM, ReduceOp.AVG: self.MPI.SUM,
                ReduceOp.MAX: self.MPI.MAX, ReduceOp.MIN: self.MPI.MIN}[op]

    def _average(self, array: Any, op: ReduceOp) -> Any:
        """What finishes a reduction: the division of AVG, else nothing."""
        def divide() -> None:
            array[...] /= self.size  # in place: the tensor's own memory
        return divide if op is ReduceOp.AVG else nothing

    def all_reduce(self, array: Any, op: ReduceOp) -> Pending:
        request = self.comm.Iallreduce(self.MPI.IN_PLACE, array, op=self._op(op, array.dtype))
        return Pending(request.Test, self._average(array, op), keep=(array,))

    def broadcast(self, array: Any, src: int) -> Pending:
        return Pending(self.comm.Ibcast(array, root=src).Test, nothing, keep=(array,))

    def all_gather(self, outputs: list[Any], array: Any) -> Pending:
        gathered = backend.xp_of(array).empty((self.size, *array.shape), array.dtype)  # (N, *shape)
        request = self.comm.Iallgather(array, gathered)

        def copy_out() -> None:
            for rank, output in enumerate(outputs):
                output[...] = gathered[rank]
        return Pending(request.Test, copy_out, keep=(array, gathered))

    def reduce_scatter(self, output: Any, inputs: list[Any], op: ReduceOp) -> Pending:
        send = backend.xp_of(output).stack(inputs)  # (N, *shape): block r goes to rank r
        request = self.comm.Ireduce_scatter_block(send, output, op=self._op(op, output.dtype))
        return Pending(request.Test, self._average(output, op), keep=(send, output))

    def abort(self) -> None:
        """Nothing to do now: MPI cannot cancel a collective; the job's end (at exit) ends it."""

    def close(self) -> None:
        self.comm.Free()
