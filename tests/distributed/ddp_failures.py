"""Run by tests/test_ddp.py: ways a DistributedDataParallel job goes wrong, each of which must end it.

    mpiexec -n 2 python tests/distributed/ddp_failures.py MODE TIMEOUT_SECONDS

Rank 1 misbehaves as MODE says while rank 0 trains as it should; errors are left uncaught,
as in a user's script, so the test sees what a user would.
"""
from __future__ import annotations

import os
import sys
from datetime import timedelta

import tinytensor as tt
import tinytensor.distributed as dist
from tinytensor.nn.parallel import DistributedDataParallel

from ddp import BATCH, batch, loss_of, net, share


class Skipping(tt.nn.Module):
    """The test's model, whose forward skips the second layer where ``skip`` is set."""

    def __init__(self, model: tt.nn.Module, skip: bool) -> None:
        super().__init__()
        self.model, self.skip = model, skip

    def forward(self, x: tt.Tensor, branch: bool = False) -> tt.Tensor:
        m = self.model
        h = tt.tanh(m.first(x))
        if not self.skip:
            h = tt.tanh(m.second(h))
        return m.head(h) * m.scale


def main(mode: str, seconds: float) -> None:
    dist.init_process_group(timeout=timedelta(seconds=seconds))
    rank, size = dist.get_rank(), dist.get_world_size()
    model = net(seed=0)
    if mode == "unused_on_one_rank":
        model = Skipping(model, skip=rank == 1)
    ddp = DistributedDataParallel(model)
    x, y = batch(0)
    loss = loss_of(ddp, share(x, rank, size), share(y, rank, size))
    if mode == "die" and rank == 1:
        os._exit(3)  # dies between its forward and its backward
    loss.backward()
    print(f"rank {rank}: trained on {BATCH // size} examples", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
