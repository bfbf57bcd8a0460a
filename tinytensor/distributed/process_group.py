"""The process group: the N processes of one job, each knowing its rank and the world size.

A launcher starts N copies of one program, ``mpiexec -n 4 python train.py``, on
one machine or several. Each copy calls ``init_process_group()``, which asks MPI
who it is: its *rank* r (0 to N-1, the only thing that differs between the
copies) and the *world size* N. From then on the N processes form the default
process group, the one every collective runs over, until
``destroy_process_group()``.

    python train.py                  a world of one: rank 0 of 1, every collective
                                     returns its input (MPI starts on its own, as
                                     PyTorch's MPI backend does)
    mpiexec -n 4 python train.py     ranks 0, 1, 2, 3 of 4

Never a hang: each collective, and ``init_process_group`` itself, waits at most
``timeout`` (PyTorch's defaults: 30 minutes, 10 for NCCL) for the other ranks,
then raises an error naming the collective and what was missing, and the group
is broken: its collectives refuse, and at exit the process ends the whole job
(``MPI_Abort``) rather than wait for ranks that will not come. From the start of
MPI on, an exception that escapes any rank ends the whole job too, as torchrun
ends the other workers when one fails: without that, the other ranks would wait
for it in their next collective until their timeout.
"""
from __future__ import annotations

import array
import atexit
import importlib.util
import sys
import time
import zlib
from datetime import timedelta
from typing import Any

from .. import backend
from . import mpi, nccl
from .work import Pending, poll

# PyTorch's defaults (torch.distributed.constants)
default_pg_timeout = timedelta(minutes=30)
default_pg_nccl_timeout = timedelta(minutes=10)

BACKENDS = ("mpi", "nccl")


class DistError(RuntimeError):
    """A distributed operation went wrong (as torch.distributed.DistError)."""


class DistBackendError(DistError):
    """The communication engine failed or timed out (as torch.distributed.DistBackendError)."""


class ProcessGroup:
    """The default group: this process's rank, the world size, the engine, and the agreements."""

    def __init__(self, backend_name: str, MPI: Any, checks: Any, engine: Any, timeout: float) -> None:
        self.backend, self.MPI, self.checks, self.engine = backend_name, MPI, checks, engine
        self.rank, self.size = checks.Get_rank(), checks.Get_size()
        self.timeout = timeout  # seconds
        self.broken = ""        # why, once a collective failed

    def agree(self, what: str) -> Pending:
        """Start the check that every rank is calling ``what`` (work.py says why)."""
        code = zlib.crc32(what.encode())  # two different calls share a code once in 4 billion
        votes = array.array("q", [code, -code])  # after MAX over the ranks: [largest, -smallest]
        request = self.checks.Iallreduce(self.MPI.IN_PLACE, votes, op=self.MPI.MAX)

        def compare() -> None:
            if votes[0] != -votes[1]:  # not every rank's code is the same
                calls = self.checks.allgather(what)  # every rank is here: each has just voted
                raise self.fail("Detected mismatch between collectives on ranks: " + "; ".join(
                    f"rank {rank} called {call}" for rank, call in enumerate(calls)) + ".",
                    DistError)
        return Pending(request.Test, compare, keep=(votes,))

    def fail(self, message: str, kind: type[DistError] = DistBackendError) -> DistError:
        """Mark the group broken, arrange the end of the job at exit, and make the error to raise."""
        if not self.broken:
            self.broken = message
            if self.size > 1:  # leaving MPI normally would wait for the ranks that did not come
                atexit.register(abort_the_job, self.MPI.COMM_WORLD)
            self.engine.abort()
        return kind(message + " This process group is broken: end the job (leave the "
                    "exception uncaught, and every rank stops).")


_group: ProcessGroup | None = None


def init_process_group(backend: str | None = None, init_method: str | None = None,
                       timeout: timedelta | None = None, world_size: int = -1, rank: int = -1,
                       device_id: "int | str | backend.Device | None" = None) -> None:
    """Join the processes the launcher started into the default process group.

    ``backend``: "mpi" (the default; CPU tensors, any number of machines) or
    "nccl" (GPU tensors, through CuPy; ``device_id`` picks this process's GPU,
    by default the process's rank among those on its machine). Rank and world
    size come from the launcher; ``world_size`` and ``rank``, if given, must
    agree with it. ``init_method`` has no meaning here (MPI's launcher is the
    rendezvous) and is refused.
    """
    global _group
    if _group is not None:
        raise ValueError("trying to initialize the default process group twice!")
    backend_name = "mpi" if backend is None else str(backend).lower()
    if backend_name not in BACKENDS:
        raise ValueError(f"init_process_group: unknown backend {backend!r}; tinytensor has 'mpi' "
                         f"(CPU tensors) and 'nccl' (GPU tensors)")
    if init_method is not None:
        raise ValueError(f"init_process_group: init_method={init_method!r} has no meaning here: the "
                         f"processes find each other through the MPI launcher (mpiexec -n N), which "
                         f"also gives each its rank; leave init_method out")
    if timeout is None:
        timeout = default_pg_nccl_timeout if backend_name == "nccl" else default_pg_timeout
    if not isinstance(timeout, timedelta) or timeout.total_seconds() <= 0:
        raise TypeError(f"init_process_group: timeout must be a positive datetime.timedelta, "
                        f"got {timeout!r}")
    if device_id is not None and backend_name != "nccl":
        raise ValueError("init_process_group: device_id picks the GPU of the 'nccl' backend; "
                         "the 'mpi' backend works on CPU tensors")
    if backend_name == "nccl":
        nccl.load()  # where no GPU or no NCCL is, fail at once, before waiting for the others
    MPI = mpi.load()
    world = MPI.COMM_WORLD
    _end_the_job_on_uncaught_exceptions(world)
    _check_against_launcher(world_size, rank, world.Get_size(), world.Get_rank())
    seconds = timeout.total_seconds()
    if backend_name == "nccl":
        checks, = _rendezvous(world, seconds, 1)
        engine: Any = nccl.NCCLEngine(MPI, checks, device_id)
    else:
        checks, data = _rendezvous(world, seconds, 2)
        engine = mpi.MPIEngine(MPI, data)
    _group = ProcessGroup(backend_name, MPI, checks, engine, seconds)


def _check_against_launcher(world_size: int, rank: int, launched: int, launched_rank: int) -> None:
    if world_size not in (-1, launched):
        raise ValueError(f"init_process_group: world_size={world_size}, but the launcher started "
                         f"{launched} process(es); launch with mpiexec -n {world_size}, or leave "
                         f"world_size out")
    if rank not in (-1, launched_rank):
        raise ValueError(f"init_process_group: rank={rank}, but the launcher made this process rank "
                         f"{launched_rank}; leave rank out (MPI numbers the processes)")


def _rendezvous(world: Any, seconds: float, count: int) -> list[Any]:
    """``count`` communicators of the group's own (the agreements', then MPI's data), copies of
    the world made by every rank together (MPI_Comm_idup) within ``seconds``: the ranks meet here."""
    copies = [world.Idup() for _ in range(count)]  # (communicator, request) each
    if not poll(lambda: all(request.Test() for _, request in copies), time.monotonic() + seconds):
        if world.Get_size() > 1:
            atexit.register(abort_the_job, world)
        raise DistBackendError(f"init_process_group on rank {world.Get_rank()} of {world.Get_size()}: "
                               f"the other ranks did not call init_process_group within {seconds:g} s "
                               f"(the timeout). One has died, is stuck, or never calls it.")
    return [communicator for communicator, _ in copies]


def _end_the_job_on_uncaught_exceptions(world: Any) -> None:
    """After Python prints an exception that escapes a rank, end every rank (MPI_Abort)."""
    if world.Get_size() == 1 or getattr(sys.excepthook, "ends_the_job", False):
        return
    previous = sys.excepthook

    def hook(kind: Any, value: Any, traceback: Any) -> None:
        previous(kind, value, traceback)
        abort_the_job(world)
    hook.ends_the_job = True  # type: ignore[attr-defined]
    sys.excepthook = hook


def abort_the_job(world: Any, status: int = 1) -> None:
    """End every rank (MPI_Abort, exit ``status``), once this rank's last words have reached the user.

    The launcher forwards a rank's output through a proxy process, and MPI_Abort ends the
    proxies too: what they had not yet passed on (often the error itself) would be lost.
    A second's pause, on a job that is failing anyway, lets them pass it on.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    time.sleep(1.0)
    world.Abort(status)


def destroy_process_group(group: None = None) -> None:
    """Leave the default process group; ``init_process_group`` may make a new one after."""
    global _group
    current = default_group("destroy_process_group", group)
    if not current.broken:  # a broken group's communicators may still have operations in flight
        current.engine.close()
        current.checks.Free()
    _group = None


def default_group(what: str, group: None = None) -> ProcessGroup:
    """The default process group, or a clear error when there is none (or another is asked for)."""
    if group is not None:
        raise ValueError(f"{what}: tinytensor has the default process group only (no new_group); "
                         f"leave group out")
    if _group is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         "call init_process_group.")
    return _group


def is_available() -> bool:
    """Whether tinytensor.distributed can run here: mpi4py is installed (as torch.distributed's)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_initialized() -> bool:
    return _group is not None


def get_rank(group: None = None) -> int:
    """This process's number in the group, 0 to world size - 1."""
    return default_group("get_rank", group).rank


def get_world_size(group: None = None) -> int:
    """How many processes the group has."""
    return default_group("get_world_size", group).size


def get_backend(group: None = None) -> str:
    return default_group("get_backend", group).backend
