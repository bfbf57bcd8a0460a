"""How many threads the CPU's matrix products use: ``set_num_threads``, ``get_num_threads``
(PyTorch's names), and ``choose_num_threads`` for a machine that others are using too.

NumPy hands matmul to a BLAS library (OpenBLAS, MKL...), which starts one thread per core.
On an idle machine that is the fastest. On a busy one the threads fight the other
processes for the cores, and each product waits for its slowest thread, so a loaded machine
can slow training several times over instead of by its share of the cores. ``threadpoolctl``
finds the BLAS libraries loaded in this process and sets their thread count while it runs.

``choose_num_threads`` answers "how many cores are free now?":

    cores   the cores this process may run on (its CPU affinity), or fewer where a cgroup
            quota (a container, a systemd slice) allows less CPU time than that, shared
            with the sibling processes of its job on this machine: ``mpiexec -n 2`` on 2
            cores gives each rank 1 (the launcher says how many there are)
    load    the load average of the last minute (processes running or waiting to run),
            scaled to our share of the machine's cores
    threads round(cores - load), at least 1 and at most the cores

Call it when the program starts: once it is busy, its own threads count in the load (and
its siblings', which start at the same time, do not yet: hence their share above).
The number of threads can change the last bits of a result (a BLAS may split a sum
between threads in another order); README.md says what was measured here.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

try:
    import threadpoolctl
except ImportError:  # a dependency of tinytensor; the error below says so where it is needed
    threadpoolctl = None

CPU_MAX = "/sys/fs/cgroup/cpu.max"                   # cgroup v2: "QUOTA PERIOD", or "max PERIOD"
CFS_QUOTA = "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"   # cgroup v1: QUOTA, -1 for none
CFS_PERIOD = "/sys/fs/cgroup/cpu/cpu.cfs_period_us"
# How many processes of one job a launcher started on this machine: MPICH's mpiexec, Open MPI's, torchrun
LOCAL_PROCESSES = ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE", "LOCAL_WORLD_SIZE")


def set_num_threads(n: int) -> None:
    """Use ``n`` threads in the BLAS (and OpenMP) libraries behind matmul on the CPU."""
    if not isinstance(n, int) or isinstance(n, bool):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(n).__name__}")
    if n < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer, got {n}")
    _controller().limit(limits=n)


def get_num_threads() -> int:
    """The threads the BLAS library behind matmul uses on the CPU (1 if it has no threads)."""
    return max((library.num_threads for library in _controller().select(user_api="blas").lib_controllers),
               default=1)


@dataclass(frozen=True)
class Choice:
    """A thread count and why: ``str(choice)`` is "1 (2 cores, load 1.9)", or
    "1 (1 core of 2 shared by 2 processes, load 0.0)" under a launcher."""

    threads: int
    cores: float        # the cores this process may use: its share
    load: float         # other processes' demand on them
    processes: int = 1  # the processes of this job on this machine, sharing its cores

    def __str__(self) -> str:
        if self.processes == 1:
            return f"{self.threads} ({self.cores:g} cores, load {self.load:.1f})"
        return (f"{self.threads} ({self.cores:g} core{'s' if self.cores != 1 else ''} of "
                f"{self.cores * self.processes:g} shared by {self.processes} processes, load {self.load:.1f})")


def choose_num_threads() -> Choice:
    """As many threads as there are free cores now (at least 1); see the module's docstring."""
    machine = os.cpu_count() or 1
    cores = float(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else machine)
    quota = _cgroup_cores()
    if quota is not None:
        cores = min(cores, quota)
    processes = local_processes()
    cores /= processes
    load = os.getloadavg()[0] * cores / machine if hasattr(os, "getloadavg") else 0.0
    threads = max(1, min(math.floor(cores), math.floor(cores - load + 0.5)))
    return Choice(threads, cores, load, processes)


def local_processes() -> int:
    """How many processes of this job run on this machine, as its launcher says (1 without one)."""
    for name in LOCAL_PROCESSES:
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return 1


def _cgroup_cores() -> float | None:
    """The CPU time this process's cgroup may use, in cores, or None where it has no quota."""
    try:
        quota, period = _read(CPU_MAX).split()
    except (OSError, ValueError):
        try:
            quota, period = _read(CFS_QUOTA), _read(CFS_PERIOD)
        except OSError:
            return None
    if quota in ("max", "-1"):
        return None
    return int(quota) / int(period)


def _read(path: str) -> str:
    with open(path, encoding="ascii") as file:
        return file.read().strip()


def _controller() -> "threadpoolctl.ThreadpoolController":
    if threadpoolctl is None:
        raise ImportError("setting the number of threads needs threadpoolctl, a dependency of tinytensor: "
                          "pip install threadpoolctl")
    return threadpoolctl.ThreadpoolController()  # the libraries loaded now (NumPy's BLAS among them)
