#!/usr/bin/env python
"""The translator trained by 2 processes: step times, the overlap bought by buckets, and PyTorch's DDP.

    python benchmarks/bench_distributed.py                   # the small preset, 3 rounds: minutes
    python benchmarks/bench_distributed.py --config base     # a larger model: more to communicate
    python benchmarks/bench_distributed.py --quick           # smoke run

What is measured, on the translator's own batches (epoch 0's, seed 0: ``Encoded.batches``) and
its own step (forward, label-smoothed cross-entropy, backward, clip_grad_norm_, Adam, the
warmup schedule), from the same initial weights:

* **tinytensor, 1 process, 2 BLAS threads** (and 1, for comparison): one batch per step.
* **tinytensor, 2 processes, 1 BLAS thread each** (``mpiexec -n 2``, DistributedDataParallel
  on MPI): one batch per process per step, rank r taking batches 2k + r, as the translator
  does. Four ways, on the same batches:
    overlap        DDP as the translator runs it: buckets all-reduced during backward
    overlap, views the same with gradient_as_bucket_view=True (no copy back into .grad)
    after backward backward under no_sync, then a barrier (the faster rank waits for the
                   slower: their batches differ in length), then the same buckets
                   all-reduced one after the other (no overlap); the all-reduces alone
                   are the communication's time
    no comm        backward under no_sync and nothing averaged: the computation alone
  so the buckets' overlap hides (after backward) - (overlap) of the communication.
* **PyTorch, 2 processes, 1 thread each**: torch.nn.parallel.DistributedDataParallel on its
  gloo backend (processes started by torch.multiprocessing on localhost), the same model
  (bench_transformer.py's twin, the same weights), the same batches and step; and with no_sync
  for its computation alone.
* **PyTorch, 1 process, 2 threads** (and 1), as a yardstick.

``--bucket-cap-mb`` sets both DDPs' buckets (default: PyTorch's, 25 MB and a first of 1 MB; the
small preset's 0.95 MB of gradients then make one bucket, which cannot overlap anything).

Each figure is the median over the measured steps of a run (after warm-up steps), and each
run is a fresh launch; ``--rounds`` rounds alternate the launches, so a busy spell of the
machine hits them all. Printed: milliseconds per step and target tokens per second; the
speed-up of 2 processes over 1; the communication time and the part the buckets hide; and
tinytensor's DDP step over PyTorch's (the goal: <= 1).
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import harness  # noqa: F401 - puts the tinytensor to time first on sys.path

import numpy as np

import tinytensor as tt
import tinytensor.distributed as dist
from tinytensor import optim

from translator.configs import PRESETS
from translator.train import Trainer

FIGURES = ["tinytensor 1 process", "tinytensor 2 processes", "torch 2 processes", "torch 1 process"]
TINY_MODES = ["overlap", "overlap, views", "after backward", "no comm"]
TORCH_MODES = ["overlap", "no comm"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=list(PRESETS), default="small")
    parser.add_argument("--steps", type=int, default=30, help="measured steps per mode (2 batches each)")
    parser.add_argument("--warmup", type=int, default=3, help="steps before measuring")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bucket-cap-mb", type=float, help="both DDPs' bucket size (default PyTorch's)")
    parser.add_argument("--quick", action="store_true", help="5 steps, 1 warm-up, 1 round")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.steps, args.warmup, args.rounds = 5, 1, 1
    if args.worker:
        return worker(args)
    return parent(args)


# ----------------------------------------------------------------------------
# What every worker shares: the translator's model, batches and step
# ----------------------------------------------------------------------------
def trainer(config: str, out: Path) -> Trainer:
    """The translator's trainer (seed 0): corpus, vocabularies, model, Adam, schedule."""
    return Trainer(PRESETS[config], out, progress_bar=False)


def batches(run: Trainer, args: argparse.Namespace) -> list[list[int]]:
    """The 2 * (warmup + steps) batches every figure trains on: the start of epoch 0."""
    return run.train_data.batches(run.config.batch_tokens, seed=0)[:2 * (args.warmup + args.steps)]


def timed(step: Callable[[list[int]], None], work: list[list[int]], warmup: int) -> list[float]:
    """Seconds of each ``step(indices)`` after the first ``warmup``."""
    seconds = []
    for i, indices in enumerate(work):
        start = time.perf_counter()
        step(indices)
        if i >= warmup:
            seconds.append(time.perf_counter() - start)
    return seconds


def tiny_step(run: Trainer, model: Any, sync: Callable[[], None] | None = None) -> Callable[[list[int]], None]:
    """The trainer's step through ``model`` (the module, or DDP around it); ``sync`` after backward."""
    def step(indices: list[int]) -> None:
        src, tgt_in, tgt_out = run.train_data.batch(indices, "cpu")
        logits = model(src, tgt_in)
        loss = tt.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1),
                                           ignore_index=0, label_smoothing=run.config.label_smoothing)
        run.optimizer.zero_grad()
        loss.backward()
        if sync is not None:
            sync()
        optim.clip_grad_norm_(run.model.parameters(), run.config.clip_norm)
        run.optimizer.step()
        run.scheduler.step()
    return step


# ----------------------------------------------------------------------------
# The workers
# ----------------------------------------------------------------------------
def worker(args: argparse.Namespace) -> int:
    figures = {"tinytensor 1 process": tiny_one, "tinytensor 2 processes": tiny_ddp,
               "torch 2 processes": torch_ddp, "torch 1 process": torch_one}[args.worker](args)
    if figures is not None:
        args.out.write_text(json.dumps(figures))
    return 0


def tiny_one(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as out:
        run = trainer(args.config, Path(out))
        work = batches(run, args)
        figures: dict[str, Any] = {"tokens": tokens(run, work[2 * args.warmup:])}
        for threads in (2, 1):
            tt.set_num_threads(threads)
            figures[f"{threads} threads"] = timed(tiny_step(run, run.model), work, 2 * args.warmup)
        return figures


def tiny_ddp(args: argparse.Namespace) -> dict | None:
    tt.set_num_threads(1)
    dist.init_process_group("mpi")
    rank, size = dist.get_rank(), dist.get_world_size()
    with tempfile.TemporaryDirectory() as out:
        run = trainer(args.config, Path(out))
        mine = batches(run, args)[rank::size]
        DDP, cap = tt.nn.parallel.DistributedDataParallel, args.bucket_cap_mb
        ddp = DDP(run.model, bucket_cap_mb=cap)
        views = DDP(run.model, bucket_cap_mb=cap, gradient_as_bucket_view=True)
        no_sync = DDP(run.model, bucket_cap_mb=cap)
        no_sync.require_backward_grad_sync = False  # what no_sync() sets, for every step
        parts: dict[str, list[float]] = {"imbalance": [], "communication": []}
        steps = {"overlap": tiny_step(run, ddp), "overlap, views": tiny_step(run, views),
                 "after backward": tiny_step(run, no_sync, lambda: all_reduce_after(ddp, parts)),
                 "no comm": tiny_step(run, no_sync)}
        figures: dict[str, Any] = {mode: timed(steps[mode], mine, args.warmup) for mode in TINY_MODES}
        figures.update({name: times[args.warmup:] for name, times in parts.items()})
        waits = []  # the end of backward to the averages in place: the communication not hidden
        step = steps["overlap"]
        for indices in mine[:args.steps]:
            step(indices)
            times = {kind: t for kind, _, t in ddp.timeline}
            waits.append(times["averaged"] - times["backward end"])
        figures["overlap wait"] = waits
        figures["buckets"] = [round(b.nbytes() / 2 ** 20, 3) for b in ddp._buckets]
        figures["tokens"] = sum(gathered_tokens(run, mine[args.warmup:]))
    return figures if rank == 0 else None


def all_reduce_after(ddp: Any, parts: dict[str, list[float]]) -> None:
    """The same buckets as DDP's, all-reduced one after another once backward has finished and
    both ranks are there; the seconds of waiting for the other rank and of the all-reduces."""
    start = time.perf_counter()
    dist.barrier()
    middle = time.perf_counter()
    for bucket in ddp._buckets:
        for i, p in enumerate(bucket.params):
            bucket.slot(i)[...] = p.grad.array
        dist.all_reduce(bucket.buffer, op=dist.ReduceOp.AVG)
        for i, p in enumerate(bucket.params):
            p.grad.array[...] = bucket.slot(i)
    parts["imbalance"].append(middle - start)
    parts["communication"].append(time.perf_counter() - middle)


def gathered_tokens(run: Trainer, mine: list[list[int]]) -> list[int]:
    counts = [tt.zeros((), dtype=tt.int64) for _ in range(dist.get_world_size())]
    dist.all_gather(counts, tt.tensor(tokens(run, mine)))
    return [int(c.item()) for c in counts]


def tokens(run: Trainer, work: list[list[int]]) -> int:
    return sum(run.train_data.tokens(indices) for indices in work)


def torch_run(args: argparse.Namespace, out: Path) -> tuple[Any, Trainer, Any]:
    """PyTorch's twin of the translator (bench_translate.py's TorchRun) from tinytensor's weights."""
    import torch  # noqa: PLC0415
    from bench_translate import TorchRun  # noqa: PLC0415
    reference = trainer(args.config, out)
    return torch, reference, TorchRun(torch, reference, reference.config)


def torch_one(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as out:
        torch, reference, run = torch_run(args, Path(out))
        work = batches(reference, args)
        figures: dict[str, Any] = {"tokens": tokens(reference, work[2 * args.warmup:])}
        for threads in (2, 1):
            torch.set_num_threads(threads)
            figures[f"{threads} threads"] = timed(run.step, work, 2 * args.warmup)
        return figures


def torch_ddp(args: argparse.Namespace) -> None:
    import torch.multiprocessing  # noqa: PLC0415
    with socket.socket() as probe:  # a free port on localhost for torch's rendezvous
        probe.bind(("127.0.0.1", 0))
        args.port = probe.getsockname()[1]
    torch.multiprocessing.spawn(torch_rank, args=(args,), nprocs=2)


def torch_rank(rank: int, args: argparse.Namespace) -> None:
    import torch  # noqa: PLC0415
    import torch.distributed as torch_dist  # noqa: PLC0415
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(args.port))
    torch_dist.init_process_group("gloo", rank=rank, world_size=2)
    with tempfile.TemporaryDirectory() as out:
        torch, reference, run = torch_run(args, Path(out))
        mine = batches(reference, args)[rank::2]
        model = run.model
        cap = {} if args.bucket_cap_mb is None else {"bucket_cap_mb": args.bucket_cap_mb}
        run.model = torch.nn.parallel.DistributedDataParallel(model, **cap)
        figures = {"overlap": timed(run.step, mine, args.warmup)}
        with run.model.no_sync():
            figures["no comm"] = timed(run.step, mine, args.warmup)
    if rank == 0:
        args.out.write_text(json.dumps(figures))
    torch_dist.destroy_process_group()


# ----------------------------------------------------------------------------
# The parent
# ----------------------------------------------------------------------------
def launch(figure: str, args: argparse.Namespace, out: Path) -> dict | None:
    python = [sys.executable, str(Path(__file__).resolve()), "--worker", figure, "--out", str(out),
              "--config", args.config, "--steps", str(args.steps), "--warmup", str(args.warmup)]
    if args.bucket_cap_mb is not None:
        python += ["--bucket-cap-mb", str(args.bucket_cap_mb)]
    if figure == "tinytensor 2 processes":
        python = [str(Path(sys.executable).parent / "mpiexec"), "-n", "2", *python]
    env = dict(os.environ, OMP_NUM_THREADS="1" if "2 processes" in figure else "2",
               PYTHONPATH=os.pathsep.join([str(harness.ENGINE), os.environ.get("PYTHONPATH", "")]))
    out.unlink(missing_ok=True)
    done = subprocess.run(python, env=env, check=False)
    return json.loads(out.read_text()) if done.returncode == 0 and out.exists() else None


def parent(args: argparse.Namespace) -> int:
    have_torch = harness.torch_version() is not None
    figures = [f for f in FIGURES if have_torch or not f.startswith("torch")]
    print(f"# bench_distributed: the translator's {args.config} preset, 2 processes against 1\n")
    info = harness.machine("1 per process (2 for one process)", "1 per process (2 for one process)", have_torch)
    info["load before"] = harness.load_average()
    for key, value in info.items():
        print(f"{key:>20}: {value}")
    with tempfile.TemporaryDirectory() as work:
        runs, failed = harness.alternate("bench_distributed", figures, args.rounds,
                                         lambda figure, round_: launch(figure, args, Path(work) / "out.json"))
    info["load after"] = harness.load_average()
    print(f"{'load after':>20}: {info['load after']}\n")
    if failed:
        print(f"failed: {', '.join(failed)}")
    result = summary(runs, args)
    report(result, args)
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "result": result, "runs": runs}, indent=2))
        print(f"\nwrote {args.json}")
    return 1 if failed else 0


def median_ms(rounds: list[dict], key: str) -> float:
    """The median step, in milliseconds, over every round's steps."""
    return 1e3 * statistics.median(t for figures in rounds for t in figures[key])


def summary(runs: dict[str, list[dict]], args: argparse.Namespace) -> dict:
    result: dict[str, Any] = {}
    for name in ("tinytensor 1 process", "torch 1 process"):
        if runs.get(name):  # one batch a step: two steps train what 2 processes train in one
            result[name] = {f"{n} threads": {"per 2 batches": 2 * median_ms(runs[name], f"{n} threads"),
                                             "tokens per s": runs[name][0]["tokens"] / sum(runs[name][0][f"{n} threads"])}
                            for n in (2, 1)}
    if runs.get("tinytensor 2 processes"):
        rounds = runs["tinytensor 2 processes"]
        result["tinytensor 2 processes"] = {mode: median_ms(rounds, mode) for mode in
                                            TINY_MODES + ["overlap wait", "imbalance", "communication"]}
        result["tinytensor 2 processes"]["tokens per s"] = rounds[0]["tokens"] / sum(rounds[0]["overlap"])
        result["buckets MB"] = rounds[0]["buckets"]
    if runs.get("torch 2 processes"):
        result["torch 2 processes"] = {mode: median_ms(runs["torch 2 processes"], mode) for mode in TORCH_MODES}
    return result


def report(result: dict, args: argparse.Namespace) -> None:
    rows = [("", "ms per step of 2 batches", "target tokens / s")]
    for name in ("tinytensor 1 process", "torch 1 process"):
        for threads in (2, 1):
            if name in result:
                figures = result[name][f"{threads} threads"]
                rows.append((f"{name}, {threads} thread{'s' if threads > 1 else ''}",
                             f"{figures['per 2 batches']:.1f}", f"{figures['tokens per s']:,.0f}"))
    two = result.get("tinytensor 2 processes")
    if two:
        for mode in TINY_MODES:
            rows.append((f"tinytensor 2 processes, {mode}", f"{two[mode]:.1f}",
                         f"{two['tokens per s']:,.0f}" if mode == "overlap" else ""))
    torch_two = result.get("torch 2 processes")
    if torch_two:
        for mode in TORCH_MODES:
            rows.append((f"torch 2 processes (gloo), {mode}", f"{torch_two[mode]:.1f}", ""))
    width = max(len(r[0]) for r in rows)
    for row in rows:
        print(f"{row[0]:<{width}}  {row[1]:>24}  {row[2]:>18}")
    if two:
        communication, hidden = two["communication"], two["after backward"] - two["overlap"]
        print(f"\nbuckets: {', '.join(f'{mb:g} MB' for mb in result['buckets MB'])}")
        print(f"after backward: waiting for the slower rank {two['imbalance']:.2f} ms, then the all-reduces "
              f"{communication:.2f} ms (medians per step)")
        print(f"hidden by the buckets' overlap (after backward - overlap): {hidden:.2f} ms"
              + (f", {hidden / communication:.0%} of the all-reduces' time" if communication > 0 else ""))
        print(f"left to wait at the end of backward (overlap; the slower rank included): "
              f"{two['overlap wait']:.2f} ms per step (median)")
        print(f"gradient_as_bucket_view: {two['overlap, views']:.1f} ms against {two['overlap']:.1f} ms "
              f"(copy back)")
    if two and "tinytensor 1 process" in result:
        one = result["tinytensor 1 process"]
        print(f"2 processes / 1 process, time for the same batches: "
              f"{two['overlap'] / one['2 threads']['per 2 batches']:.2f} against 2 threads, "
              f"{two['overlap'] / one['1 threads']['per 2 batches']:.2f} against 1")
    if two and torch_two:
        print(f"tinytensor's DDP step / PyTorch's (gloo): {two['overlap'] / torch_two['overlap']:.2f}; "
              f"without communication: {two['no comm'] / torch_two['no comm']:.2f}")


if __name__ == "__main__":
    sys.exit(main())
