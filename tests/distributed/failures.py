"""Run by tests/test_distributed.py: ways a job goes wrong, each of which must end it, never hang it.

    mpiexec -n 2 python tests/distributed/failures.py MODE TIMEOUT_SECONDS

Rank 1 misbehaves as MODE says while rank 0 does the right thing; the errors are
left uncaught, as in a user's script, so the test sees what a user would.
"""
from __future__ import annotations

import os
import sys
import time
from datetime import timedelta

import tinytensor as tt
import tinytensor.distributed as dist


def main(mode: str, seconds: float) -> None:
    timeout = timedelta(seconds=seconds)
    if mode == "init_late":
        from mpi4py import MPI  # the rank before init_process_group: ask MPI itself
        if MPI.COMM_WORLD.Get_rank() == 1:
            time.sleep(30)
        dist.init_process_group(timeout=timeout)
        return
    if mode == "world_size":
        dist.init_process_group(timeout=timeout, world_size=3)
        return
    dist.init_process_group(timeout=timeout)
    rank = dist.get_rank()
    x = tt.ones(4)
    if rank == 1:
        if mode == "late":          # never comes in time
            time.sleep(30)
        elif mode == "exit":        # dies before the collective
            os._exit(3)
        elif mode == "raise":       # a bug: an exception escapes
            raise ValueError("rank 1 has a bug")
        elif mode == "shapes":      # calls it with another shape
            x = tt.ones(5)
        elif mode == "collectives":  # calls another collective
            dist.broadcast(x, src=0)
        elif mode == "die_during":  # dies once every rank is inside the collective
            work = dist.all_reduce(tt.ones(1 << 20), async_op=True)  # 4 MB: many steps, rank 1 in each
            while len(work._parts) == 2:  # until the agreement is through: rank 0 is inside too
                work.is_completed()
            os._exit(3)
    if rank == 0 and mode == "die_during":
        x = tt.ones(1 << 20)
    dist.all_reduce(x)
    print(f"rank {rank}: all_reduce returned {x[:4].tolist()}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
