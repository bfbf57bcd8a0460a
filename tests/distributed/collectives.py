"""Run by tests/test_distributed.py on every rank: each collective, each dtype and op, and what they refuse.

    mpiexec -n 2 python tests/distributed/collectives.py OUT_DIR [mpi|nccl]   (or python alone: a world of one)

With "nccl" (a GPU per process) the tensors are on rank r's GPU, cuda:<r mod the GPU count>.

Each rank saves what it got to OUT_DIR/rank<r>.npz; the test compares it with
NumPy. The inputs are ``inputs(rank, dtype)``, which the test calls too.
"""
from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import numpy as np

import tinytensor as tt
import tinytensor.distributed as dist
from tinytensor import backend as backend_module
from tinytensor.data import DistributedSampler

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/, for the CuPy stand-in
import cupy_standin  # noqa: E402

DTYPES = ["float16", "float32", "float64", "int32", "int64", "bool"]
OPS = ["SUM", "AVG", "MAX", "MIN"]


def inputs(rank: int, dtype: str, piece: int = 0) -> np.ndarray:
    """What rank ``rank`` passes: small integers (every sum exact in float16), negatives included."""
    base = np.arange(6).reshape(2, 3) + 7 * piece
    if dtype == "bool":
        return (base + rank) % 3 == 0
    return ((base * (rank + 1)) % 5 - 2 * rank).astype(dtype)


def error(call) -> str:
    try:
        call()
    except Exception as caught:  # the test reads the type and the message
        return f"{type(caught).__name__}: {caught}"
    return "no error"


def main(out: Path, backend: str) -> None:
    dist.init_process_group(backend, timeout=timedelta(seconds=60))
    rank, size = dist.get_rank(), dist.get_world_size()
    device = "cpu" if backend == "mpi" else f"cuda:{rank % tt.cuda.device_count()}"
    got: dict[str, object] = {"rank": rank, "size": size, "backend": dist.get_backend(),
                              "initialized": dist.is_initialized()}
    for dtype in DTYPES:
        for op in OPS:
            for mode in ("sync", "async"):
                x = tt.tensor(inputs(rank, dtype), device=device)
                if mode == "sync":
                    failure = error(lambda: dist.all_reduce(x, op=dist.ReduceOp[op]))
                else:
                    def start_and_wait():
                        work = dist.all_reduce(x, op=dist.ReduceOp[op], async_op=True)
                        assert work.wait() is True and work.is_completed()
                    failure = error(start_and_wait)
                got[f"all_reduce/{dtype}/{op}/{mode}"] = x.numpy() if failure == "no error" else failure
        for src in range(size):
            x = tt.tensor(inputs(rank, dtype), device=device)
            dist.broadcast(x, src=src)
            got[f"broadcast/{dtype}/{src}"] = x.numpy()
        outputs = [tt.zeros((2, 3), dtype=dtype, device=device) for _ in range(size)]
        dist.all_gather(outputs, tt.tensor(inputs(rank, dtype), device=device))
        got[f"all_gather/{dtype}"] = np.stack([o.numpy() for o in outputs])
        for op in OPS:
            output = tt.zeros((2, 3), dtype=dtype, device=device)
            pieces = [tt.tensor(inputs(rank, dtype, piece), device=device) for piece in range(size)]
            failure = error(lambda: dist.reduce_scatter(output, pieces, op=dist.ReduceOp[op]))
            got[f"reduce_scatter/{dtype}/{op}"] = output.numpy() if failure == "no error" else failure

    # a 0-d tensor; async work left to finish while another collective runs
    scalar = tt.tensor(float(rank + 1), device=device)
    dist.all_reduce(scalar)
    got["all_reduce/0-d"] = scalar.numpy()
    first, second = tt.ones(3, device=device) * (rank + 1), tt.ones(3, device=device) * (rank + 10)
    works = [dist.all_reduce(first, async_op=True), dist.all_reduce(second, async_op=True)]
    got["async/two_in_flight"] = np.stack([w.wait() and t.numpy() for w, t in zip(works, [first, second])])
    barrier = dist.barrier(async_op=True)
    got["barrier"] = barrier.wait()

    # autograd: a parameter (a leaf) is fine; a tensor the graph computed is refused; a backward
    # that needs the values a collective overwrote refuses
    w = tt.tensor([1.0, 2.0], requires_grad=True, device=device)
    loss = (w * w).sum()
    dist.all_reduce(w)
    got["autograd/leaf"] = w.numpy()
    got["autograd/backward_after"] = error(loss.backward)
    got["autograd/grad_fn"] = error(lambda: dist.all_reduce(w * 2))
    got["autograd/detached"] = error(lambda: dist.all_reduce((w * 2).detach()))

    # what the collectives refuse, before any rank starts one
    got["refuse/int_avg"] = error(lambda: dist.all_reduce(tt.tensor([1, 2], device=device),
                                                          op=dist.ReduceOp.AVG))
    got["refuse/op"] = error(lambda: dist.all_reduce(tt.ones(2, device=device), op="sum"))
    got["refuse/list"] = error(lambda: dist.all_reduce([1.0, 2.0]))
    got["refuse/transposed"] = error(lambda: dist.all_reduce(tt.ones((2, 3), device=device).t()))
    got["refuse/broadcast_view"] = error(lambda: dist.all_reduce(tt.ones(3, device=device).expand(2, 3)))
    if backend == "mpi":  # read-only memory is NumPy's
        frozen = np.ones(3)
        frozen.flags.writeable = False
        got["refuse/read_only"] = error(lambda: dist.all_reduce(tt.from_numpy(frozen)))
        backend_module.use_cuda_module(cupy_standin)  # a "cuda" tensor where no GPU is
        got["refuse/device"] = error(lambda: dist.all_reduce(tt.ones(2, device="cuda")))
        backend_module.use_cuda_module(None)
    got["refuse/dtype"] = error(lambda: dist.all_reduce(tt.tensor(np.array([1, 2], dtype=np.uint8),
                                                                  device=device)))
    got["refuse/src"] = error(lambda: dist.broadcast(tt.ones(2, device=device), src=size))
    two, three = tt.ones(2, device=device), tt.ones(3, device=device)
    got["refuse/gather_count"] = error(lambda: dist.all_gather([two] * (size + 1), two))
    got["refuse/gather_shape"] = error(lambda: dist.all_gather([three] * size, two))
    got["refuse/group"] = error(lambda: dist.all_reduce(tt.ones(2, device=device), group="a group"))
    got["refuse/init_twice"] = error(dist.init_process_group)

    sampler = DistributedSampler(range(11), seed=3)
    sampler.set_epoch(2)
    mine = tt.tensor(list(sampler), dtype=tt.int64, device=device)
    shares = [tt.zeros(len(sampler), dtype=tt.int64, device=device) for _ in range(size)]
    dist.all_gather(shares, mine)
    got["sampler/shares"] = np.stack([s.numpy() for s in shares])
    got["sampler/len"] = len(sampler)

    # Python objects: each rank's own (of another length each), and rank 0's list
    objects = [None] * size
    dist.all_gather_object(objects, {"rank": rank, "big": 2 ** 100 + rank, "text": "x" * (rank * 13)})
    got["objects/gathered"] = repr(objects)
    sent = [f"from rank {rank}", {"n": rank}, None]
    dist.broadcast_object_list(sent, src=size - 1)
    got["objects/broadcast"] = repr(sent)
    got["refuse/object_list"] = error(lambda: dist.all_gather_object([None] * (size + 1), 1))
    # a receiving list of another length: every rank takes part, the receivers are told
    got["refuse/broadcast_length"] = error(lambda: dist.broadcast_object_list([rank] * (1 + (rank != 0)), src=0))

    dist.destroy_process_group()
    got["destroyed"] = not dist.is_initialized()
    got["after_destroy"] = error(dist.get_rank)
    dist.init_process_group(backend)  # a new group after destroy
    got["again"] = dist.get_world_size()
    dist.destroy_process_group()
    np.savez(out / f"rank{rank}.npz", **{key: np.asarray(value) for key, value in got.items()})


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "mpi")
