"""tinytensor.distributed: many processes training one model (as torch.distributed).

When one core, one GPU or one machine is not enough, run N copies of the same
program and let them talk. A launcher starts them:

    mpiexec -n 4 python train.py

and each calls ``init_process_group()``. Together they form a *process group*:
each process knows its *rank* r (0 to N-1, its number, the one thing that
differs between the copies) and the *world size* N. They talk by *collectives*:
calls that every rank makes, in the same order, on tensors of the same shape,
and that combine what every rank holds. Four do everything data parallelism
needs (a column per rank; x, a, b: the tensors each rank passes):

    all_reduce(x, SUM)        before          after: every rank holds the sum
        rank 0                x = [1 2]       x = [9 12]
        rank 1                x = [3 4]       x = [9 12]
        rank 2                x = [5 6]       x = [9 12]

    broadcast(x, src=1)       before          after: every rank holds rank 1's
        rank 0                x = [1 2]       x = [3 4]
        rank 1                x = [3 4]       x = [3 4]
        rank 2                x = [5 6]       x = [3 4]

    reduce_scatter(out, [a, b], SUM)          after: rank r holds the sum of every rank's piece r
        rank 0                a = [1 2]  b = [3 4]      out = [1+5 2+6] = [6 8]
        rank 1                a = [5 6]  b = [7 8]      out = [3+7 4+8] = [10 12]

    all_gather([t0, t1], x)                   after: every rank holds every rank's x
        rank 0                x = [1 2]       t0 = [1 2]  t1 = [3 4]
        rank 1                x = [3 4]       t0 = [1 2]  t1 = [3 4]

(``all_gather_object`` and ``broadcast_object_list`` do the same for Python objects.)
all_reduce is a reduce_scatter followed by an all_gather: that is how the ring
all-reduce does it, sending each rank 2(N-1)/N of the tensor's bytes however
large N grows (docs/distributed.md works out the cost). ReduceOp is SUM, AVG,
MAX or MIN; ``async_op=True`` returns a Work to ``wait()`` on later.

Why data parallelism needs only all_reduce. The loss of a batch of B examples
is their mean, L = (1/B) sum_i l_i, so its gradient is the mean of the
examples' gradients. Cut the batch into N shards of B/N examples, one per rank;
rank r's backward gives g_r, the gradient of its shard's mean loss. Then

    (1/N) sum_r g_r = (1/N) sum_r (N/B) sum_{i in shard r} grad l_i = (1/B) sum_i grad l_i = grad L:

the mean of the shards' means is the whole batch's gradient. So every rank
starts from the same weights (broadcast from rank 0), and after each backward
``all_reduce(p.grad, op=ReduceOp.AVG)`` gives every rank grad L; the same
optimizer step from the same weights with the same gradient keeps the weights
the same on every rank. Nothing else has to travel:

    import tinytensor.distributed as dist
    dist.init_process_group("mpi")
    for p in model.parameters():
        dist.broadcast(p, src=0)                        # the same start everywhere
    for x, y in DataLoader(dataset, batch_sampler=BatchSampler(DistributedSampler(dataset), 32)):
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()                 # this rank's shard
        for p in model.parameters():
            dist.all_reduce(p.grad, op=dist.ReduceOp.AVG)   # the whole batch's gradient
        optimizer.step()

The engines, never a home-made transport:
    "mpi"    MPI through mpi4py, on CPU tensors, on one machine or many: MPICH
             from PyPI (pip install -e ".[distributed]"), launched by its mpiexec
    "nccl"   NVIDIA's NCCL through CuPy, on GPU tensors, one GPU per process;
             MPI starts it and carries the checks (untested until a GPU run)

Where things are:
    process_group.py   init_process_group, rank, world size, timeouts, the end of a failed job
    collectives.py     all_reduce, broadcast, all_gather, reduce_scatter, barrier; objects
    reduce_op.py       ReduceOp: SUM, AVG, MAX, MIN, and what they mean for bool and integers
    work.py            Work: a collective under way, the check that the ranks agree, waiting
    mpi.py, nccl.py    the engines
    ../data/distributed.py   DistributedSampler: each rank's share of the examples
"""
from .. import missing
from .collectives import (all_gather, all_gather_object, all_reduce, barrier, broadcast,
                          broadcast_object_list, reduce_scatter)
from .process_group import (DistBackendError, DistError, default_pg_nccl_timeout, default_pg_timeout,
                            destroy_process_group, get_backend, get_rank, get_world_size,
                            init_process_group, is_available, is_initialized)
from .reduce_op import ReduceOp
from .work import Work

__all__ = ["DistBackendError", "DistError", "ReduceOp", "Work", "all_gather", "all_gather_object",
           "all_reduce", "barrier", "broadcast", "broadcast_object_list", "default_pg_nccl_timeout",
           "default_pg_timeout", "destroy_process_group", "get_backend", "get_rank", "get_world_size",
           "init_process_group", "is_available", "is_initialized", "reduce_scatter"]


__getattr__ = missing.names(__name__)  # a PyTorch name not here says what to use (missing.py)
