"""The translator trained by N processes: ``mpiexec -n N python -m translator train ...``.

Data parallelism (tinytensor/nn/parallel/distributed.py): every process (rank) holds the
whole model, trains on batches of its own, and DistributedDataParallel averages the ranks'
gradients in each backward, so every rank takes the same step. One step trains on N batches.
The batches hold about the same number of target tokens, not exactly: the average of their
mean losses' gradients weighs a token of a smaller batch a little more than one big batch of
them all would (the mean of means is the whole batch's mean only for equal shares). The loss
the translator prints is weighted by tokens, the whole step's.

Who does what:

    every rank   builds the model (rank 0's weights reach the others), trains on its share of
                 each epoch's batches, and takes part in every save (its random state)
    rank 0       alone holds the run folder's lock and checks the folder, prints, evaluates,
                 and writes metrics.jsonl, curves.png, best.npz and last.npz

Each rank's share. Every rank makes the same list of the epoch's batches (from seed and
epoch, as one process does) and takes its share the way ``DistributedSampler`` with
``drop_last=True`` takes examples: from ``done``, the batches already trained (all ranks
together), rank r takes batches done + r, done + r + N, ... So the shares are disjoint and
equal in count; the last (len - done) mod N batches are left out of this epoch (fewer than N;
the next epoch has another order). Leaving them out, rather than repeating some as padding,
keeps ``done`` a position in the list that any number of processes can continue from.

Stopping and saving, the same on every rank. A signal (Ctrl-C or SIGTERM to mpiexec, which
passes it to every rank; or SIGTERM to one rank) and rank 0's clock for the periodic saves
are one rank's news: after each step the ranks agree (an all-reduce of three numbers, their
maximum) on whether to stop and whether to save, so they stop together after the same step,
and rank 0 writes one last.npz holding every rank's random state. mpiexec does not pass on
SIGHUP (it ends the job): under mpiexec run with nohup or a scheduler.

Resuming. With the same N, a resumed run is the uninterrupted one, bit for bit (on the CPU,
with the same BLAS threads). With another N it continues the same epoch from the same
position in the same batch order, from the same weights, Adam moments and schedule step; but
from there a step averages N' batches instead of N, so it is another run (its steps, losses
and weights differ), as valid as the first. A rank beyond those the run had starts its dropout
stream from its seed.
"""
from __future__ import annotations

import os
from typing import Any, Sequence, TypeVar

import tinytensor as tt
import tinytensor.distributed as dist
from tinytensor.data import DistributedSampler

T = TypeVar("T")
# What MPI launchers tell the processes they start: MPICH's mpiexec, Open MPI's
SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK")


def start() -> tuple[int, int]:
    """Join the other processes if an MPI launcher started several (this rank, their count)."""
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    if _launched(SIZE_VARIABLES, 1) > 1:
        dist.init_process_group("mpi")
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def rank() -> int:
    """This process's rank: the process group's, else the launcher's word (before the group exists)."""
    return dist.get_rank() if dist.is_initialized() else _launched(RANK_VARIABLES, 0)


def size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def share(batches: Sequence[T], done: int, rank: int, size: int) -> list[T]:
    """Rank ``rank``'s batches of the rest of an epoch, from position ``done`` (DistributedSampler's rule)."""
    rest = range(len(batches) - done)
    return [batches[done + i] for i in DistributedSampler(rest, size, rank, shuffle=False, drop_last=True)]


def agree(values: list[int]) -> list[int]:
    """Every rank's ``values``, replaced by their maximum over the ranks."""
    if size() == 1:
        return values
    agreed = tt.tensor(values, dtype=tt.int64)
    dist.all_reduce(agreed, op=dist.ReduceOp.MAX)
    return agreed.tolist()


def total(values: list[float]) -> list[float]:
    """The sum of ``values`` over the ranks (float64)."""
    if size() == 1:
        return values
    summed = tt.tensor(values, dtype=tt.float64)
    dist.all_reduce(summed)
    return summed.tolist()


def gathered(obj: Any) -> list[Any]:
    """Every rank's ``obj``, in rank order."""
    objects: list[Any] = [None] * size()
    if size() == 1:
        objects[0] = obj
    else:
        dist.all_gather_object(objects, obj)
    return objects


def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank ``rank``'s dropout stream (rank 0's is the run's own seed)."""
    return seed + 1_000_003 * rank


def end_job(status: int) -> None:
    """End every rank now (after a second Ctrl-C): the others may be waiting for this one."""
    if size() > 1:
        from mpi4py import MPI  # noqa: PLC0415 - the engine under the process group
        dist.process_group.abort_the_job(MPI.COMM_WORLD, status)  # after this rank's last words


def _launched(names: tuple[str, ...], default: int) -> int:
    for name in names:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return default
