"""Run by tests/test_ddp.py on every rank: DistributedDataParallel trained on each rank's share of each batch.

    mpiexec -n 2 python tests/distributed/ddp.py OUT_DIR     (or python alone: a world of one)

Each rank starts from weights of its own (seeded by its rank), wraps them in
DistributedDataParallel, trains on its share of every batch, and saves what it
got to OUT_DIR/rank<r>.npz. The test compares that with ``reference``: one
process, the whole batch, rank 0's starting weights, run in the test itself.
Everything is float64, so "the same" means equal to float rounding.
"""
from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import numpy as np

import tinytensor as tt
import tinytensor.distributed as dist
from tinytensor import nn, optim
from tinytensor.nn.parallel import DistributedDataParallel as DDP

BATCH, STEPS, MICRO = 8, 3, 2   # examples per step (all ranks together), steps, micro-batches under no_sync
OPTIMIZERS = {"sgd": lambda params: optim.SGD(params, lr=0.1, momentum=0.9),
              "adam": lambda params: optim.Adam(params, lr=0.01)}
TINY_BUCKETS = 1e-6  # MB: every parameter in a bucket of its own


class Net(nn.Module):
    """Three layers and a buffer; ``with_unused`` adds a branch that ``forward(x, branch=True)``
    uses, and a layer that forward never uses."""

    def __init__(self, with_unused: bool = False) -> None:
        super().__init__()
        self.first, self.second, self.head = nn.Linear(4, 8), nn.Linear(8, 8), nn.Linear(8, 3)
        if with_unused:
            self.branch, self.never = nn.Linear(8, 8), nn.Linear(8, 8)
        self.register_buffer("scale", tt.ones(3))

    def forward(self, x: tt.Tensor, branch: bool = False) -> tt.Tensor:
        h = tt.tanh(self.second(tt.tanh(self.first(x))))
        if branch:
            h = h + tt.tanh(self.branch(h))
        return self.head(h) * self.scale


def net(seed: int, with_unused: bool = False) -> Net:
    tt.manual_seed(seed)
    model = Net(with_unused).double()
    model.scale.array[...] = seed + 1  # a buffer that differs between ranks before the broadcast
    return model


def batch(step: int, micro: int = 0) -> tuple[tt.Tensor, tt.Tensor]:
    """The whole batch of a step (every rank's shares together)."""
    rng = np.random.default_rng(100 * step + micro)
    return tt.tensor(rng.normal(size=(BATCH, 4))), tt.tensor(rng.normal(size=(BATCH, 3)))


def share(tensor: tt.Tensor, rank: int, size: int) -> tt.Tensor:
    part = BATCH // size
    return tensor[rank * part:(rank + 1) * part]


def loss_of(model: nn.Module, x: tt.Tensor, y: tt.Tensor, branch: bool = False) -> tt.Tensor:
    return ((model(x, branch=branch) - y) ** 2).mean()


def train(model: nn.Module, optimizer_name: str, rank: int, size: int, micro_batches: int = 1,
          no_sync: bool = False) -> None:
    """STEPS steps on this rank's share; ``micro_batches`` > 1 accumulates, under no_sync if asked."""
    optimizer = OPTIMIZERS[optimizer_name](model.parameters())
    for step in range(STEPS):
        optimizer.zero_grad()
        for micro in range(micro_batches):
            x, y = batch(step, micro)
            last = micro == micro_batches - 1
            with model.no_sync() if no_sync and not last else contextlib.nullcontext():
                (loss_of(model, share(x, rank, size), share(y, rank, size)) / micro_batches).backward()
        optimizer.step()


def reference(optimizer_name: str, micro_batches: int = 1) -> dict[str, np.ndarray]:
    """One process, the whole batch, from rank 0's weights: what every rank must end with."""
    model = net(seed=0)
    train(model, optimizer_name, rank=0, size=1, micro_batches=micro_batches)
    return params(model)


def params(model: nn.Module) -> dict[str, np.ndarray]:
    return {name: p.numpy().copy() for name, p in model.named_parameters()}


def error(call) -> str:
    try:
        call()
    except Exception as caught:  # the test reads the type and the message
        return f"{type(caught).__name__}: {caught}"
    return "no error"


def main(out: Path) -> None:
    dist.init_process_group("mpi")
    rank, size = dist.get_rank(), dist.get_world_size()
    got: dict[str, object] = {"rank": rank, "size": size}

    # construction: rank 0's weights and buffers everywhere; state_dict keys as PyTorch's
    model = net(seed=rank)
    got["start/before"] = model.first.weight.numpy().copy()
    ddp = DDP(model)
    got["start/after"] = model.first.weight.numpy().copy()
    got["start/scale"] = model.scale.numpy().copy()
    got["state_dict_keys"] = np.array(list(ddp.state_dict()))
    got["module_is_model"] = ddp.module is model
    got["buckets/sizes"] = np.array([len(b.params) for b in ddp._buckets])

    # training: each optimizer, default buckets and one bucket per parameter (with views)
    for name in OPTIMIZERS:
        for variant, options in (("default", {}),
                                 ("tiny_buckets_views", dict(bucket_cap_mb=TINY_BUCKETS,
                                                             gradient_as_bucket_view=True))):
            ddp = DDP(net(seed=rank), **options)
            train(ddp, name, rank, size)
            for key, value in params(ddp.module).items():
                got[f"train/{name}/{variant}/{key}"] = value
            got[f"buckets/{variant}"] = len(ddp._buckets)
            grad = ddp.module.head.weight.grad
            got[f"grad_is_bucket_view/{variant}"] = any(np.shares_memory(grad.array, bucket.buffer.array)
                                                         for bucket in ddp._buckets)
            if variant != "default":  # the step's timeline: which buckets left before backward ended
                events = [(kind, index) for kind, index, _ in ddp.timeline]
                end = events.index(("backward end", -1))
                got["timeline/launched_during_backward"] = sum(kind == "launch" for kind, _ in events[:end])
                got["timeline/buckets"] = len(ddp._buckets)
                got["timeline/events"] = np.array([f"{kind} {index}" for kind, index in events])

    # gradient accumulation: micro-batches under no_sync, the last one outside
    ddp = DDP(net(seed=rank))
    train(ddp, "sgd", rank, size, micro_batches=MICRO, no_sync=True)
    for key, value in params(ddp.module).items():
        got[f"no_sync/{key}"] = value

    # a model wrapped again: the dropped wrapper's hooks go with it
    model = net(seed=rank)
    DDP(model)
    ddp = DDP(model)
    got["rewrapped/hooks"] = len(model.head.weight.post_accumulate_grad_hooks)

    # a forward without backward, then a step: nothing is left waiting
    ddp = DDP(net(seed=rank))
    x, y = batch(0)
    ddp(x)
    got["forward_twice"] = error(lambda: loss_of(ddp, x, y).backward())

    # parameters without a gradient: the branch used on rank 1 only, the "never" layer nowhere
    ddp = DDP(net(seed=rank, with_unused=True), find_unused_parameters=True, bucket_cap_mb=TINY_BUCKETS)
    optimizer = optim.SGD(ddp.parameters(), lr=0.1)
    for step in range(2):
        optimizer.zero_grad()
        x, y = batch(step)
        loss_of(ddp, share(x, rank, size), share(y, rank, size), branch=rank == 1).backward()
        if step == 0:
            grad = ddp.module.branch.weight.grad  # None where no rank used it (a world of one)
            got["unused/branch_grad"] = "None" if grad is None else grad.numpy().copy()
            got["unused/never_grad_is_none"] = ddp.module.never.weight.grad is None
        optimizer.step()
    for key, value in params(ddp.module).items():
        got[f"unused/{key}"] = value

    # a branch used in a no_sync micro-batch only: its accumulated gradient is averaged at the sync
    ddp = DDP(net(seed=rank, with_unused=True), find_unused_parameters=True)
    x, y = batch(0, 0)
    with ddp.no_sync():
        loss_of(ddp, share(x, rank, size), share(y, rank, size), branch=True).backward()
    x, y = batch(0, 1)
    loss_of(ddp, share(x, rank, size), share(y, rank, size)).backward()
    got["no_sync_unused/branch_grad"] = ddp.module.branch.weight.grad.numpy().copy()

    # ...and without find_unused_parameters: an error at the end of backward, on every rank
    ddp = DDP(net(seed=rank, with_unused=True))
    x, y = batch(0)
    got["unused/refused"] = error(lambda: loss_of(ddp, share(x, rank, size), share(y, rank, size)).backward())
    got["unused/after_refusal"] = error(lambda: loss_of(DDP(net(seed=rank)), x, y).backward())

    # what the constructor refuses
    got["refuse/device_ids"] = error(lambda: DDP(net(0), device_ids=[0]))
    got["refuse/bucket_cap"] = error(lambda: DDP(net(0), bucket_cap_mb=0))
    got["refuse/no_params"] = error(lambda: DDP(nn.ReLU()))
    got["refuse/not_a_module"] = error(lambda: DDP(lambda x: x))

    dist.destroy_process_group()
    np.savez(out / f"rank{rank}.npz", **{key: np.asarray(value) for key, value in got.items()})


if __name__ == "__main__":
    main(Path(sys.argv[1]))
