"""Where a Transformer training step's memory and system time go (tinytensor alone).

bench_transformer.py says how tinytensor's step compares with torch's; this says why, with
the two measures the engine's memory work was steered by:

* the arrays alive after the forward, the moment a step holds the most: tracemalloc's
  total, and the source lines that allocated them (``functional/linear.py:32`` is the
  outputs of every Linear, ``functional/dropout.py`` the dropout masks and results...);
  each is an array some node of the graph keeps for its backward;
* the minor page faults and the system time per step (getrusage): a step that gets fresh
  memory from the OS pays for every page it touches (see tinytensor/backend/memory.py, keep_freed_memory).

    python benchmarks/profile_step.py                  # d_model 256, the bench's largest model
    python benchmarks/profile_step.py --size 64 --top 20
    python benchmarks/profile_step.py --engine DIR     # another copy of tinytensor (an old commit)
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one thread, as the bench's 1-thread figures
HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256, help="d_model of bench_transformer's model")
    parser.add_argument("--top", type=int, default=12, help="allocation sites to list")
    parser.add_argument("--steps", type=int, default=10, help="steps to count page faults over")
    parser.add_argument("--engine", type=Path, help="folder holding the tinytensor package to profile")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    sys.path.insert(0, str(args.engine or HERE.parent))
    import bench_transformer as bench  # noqa: PLC0415 (after the sys.path change)

    lib = bench.Tiny()
    model = lib.model(args.size)
    optimizer = lib.adam(model)
    data = {k: lib.ids(v) for k, v in bench.batch().items()}

    def forward():
        return lib.loss(model(data["src"], data["tgt_in"]), data["target"])

    def step() -> None:
        optimizer.zero_grad()
        forward().backward()
        optimizer.step()

    for _ in range(3):  # the optimizer's moments and every cache exist from here on
        step()
    tracemalloc.start(1)
    start = tracemalloc.get_traced_memory()[0]
    loss = forward()
    held = tracemalloc.take_snapshot()
    after_forward = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.reset_peak()
    loss.backward()
    peak = tracemalloc.get_traced_memory()[1] - start
    tracemalloc.stop()
    del loss

    print(f"tinytensor at {Path(bench.__file__).parent.parent}, d_model {args.size}")
    print(f"live after the forward {after_forward / 2**20:.1f} MiB, peak during backward {peak / 2**20:.1f} MiB")
    print(f"{'MiB':>7}  {'arrays':>6}  allocated at")
    for stat in held.statistics("lineno")[:args.top]:
        frame = stat.traceback[0]
        where = "/".join(Path(frame.filename).parts[-2:])
        print(f"{stat.size / 2**20:7.1f}  {stat.count:6d}  {where}:{frame.lineno}")

    before, clock = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _ in range(args.steps):
        step()
    after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - clock
    print(f"per step: {wall / args.steps * 1e3:.1f} ms, "
          f"{(after.ru_minflt - before.ru_minflt) / args.steps:,.0f} minor page faults, "
          f"{(after.ru_stime - before.ru_stime) / args.steps * 1e3:.1f} ms of system time")
    return 0


if __name__ == "__main__":
    sys.exit(main())
