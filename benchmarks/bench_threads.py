#!/usr/bin/env python
"""BLAS threads on a busy machine: training steps of the translator with the thread count that
``tinytensor.threads.choose_num_threads`` picks, against one thread per core, with busy
processes beside it; and whether the thread count changes the numbers, bit for bit.

    python benchmarks/bench_threads.py                         # tiny preset, 200 steps, 2 busy, 3 rounds
    python benchmarks/bench_threads.py --config small --steps 60 --busy 3 --rounds 2

What it does:

* starts ``--busy`` processes that spin (``while True: pass``), as other work on the machine
  would, waits ``--settle`` seconds so that the load average sees them, and asks
  ``choose_num_threads`` (the translator's default) how many threads to use;
* times ``--steps`` training steps of the translator (``Trainer.step``: forward, loss,
  backward, clipping, Adam, on the first batches of epoch 1, seed 0), each in a fresh worker
  process, with the chosen count and with one thread per core, in alternating rounds, so a
  busy spell of the machine hits both; the figure is the median over the rounds;
* stops the busy processes, then runs the same steps with 1 thread and with one per core on
  the quiet machine, and compares every step's loss and every final weight bit for bit.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def worker(config: str, steps: int, threads: int) -> None:
    """Print, as JSON, the seconds of ``steps`` steps on ``threads`` threads, their losses (as hex)
    and a digest of the final weights."""
    import hashlib  # noqa: PLC0415

    import tinytensor as tt  # noqa: PLC0415
    from translator.configs import PRESETS  # noqa: PLC0415
    from translator.train import Trainer  # noqa: PLC0415

    tt.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(PRESETS[config], out, progress_bar=False)
        batches = trainer.train_data.batches(trainer.config.batch_tokens, seed=0)[:steps]
        losses, start = [], time.perf_counter()
        for indices in batches:
            loss, _ = trainer.step(indices)
            losses.append(loss.item())
        seconds = time.perf_counter() - start
    digest = hashlib.sha256(b"".join(p.numpy().tobytes() for p in trainer.model.parameters())).hexdigest()
    print(json.dumps({"threads": tt.get_num_threads(), "seconds": seconds, "losses": [x.hex() for x in losses],
                      "weights": digest}))


def run_worker(config: str, steps: int, threads: int) -> dict:
    command = [sys.executable, __file__, "--worker", str(threads), "--config", config, "--steps", str(steps)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="tiny")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--busy", type=int, default=2, help="spinning processes beside the training")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds for the load average to see them")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker is not None:
        worker(args.config, args.steps, args.worker)
        return

    from tinytensor.threads import choose_num_threads  # noqa: PLC0415

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"{args.steps} steps of --config {args.config}; {cores} cores; load before: "
          f"{os.getloadavg()[0]:.1f}; {args.busy} busy processes beside it")
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        time.sleep(args.settle)
        choice = choose_num_threads()
        print(f"chosen: {choice}")
        times: dict[int, list[float]] = {choice.threads: [], cores: []}
        for round_ in range(args.rounds):
            for threads in times:
                times[threads].append(run_worker(args.config, args.steps, threads)["seconds"])
            print(f"round {round_ + 1}: " + ", ".join(f"{t} thread{'s' * (t > 1)} {s[-1]:.1f} s"
                                                     for t, s in times.items()))
    finally:
        for process in busy:
            process.kill()
            process.wait()
    median = {t: statistics.median(s) for t, s in times.items()}
    print(f"median: chosen ({choice.threads}) {median[choice.threads]:.1f} s, one per core ({cores}) "
          f"{median[cores]:.1f} s: one per core takes {median[cores] / median[choice.threads]:.2f}x the time")

    one, every = run_worker(args.config, args.steps, 1), run_worker(args.config, args.steps, cores)
    same = sum(a == b for a, b in zip(one["losses"], every["losses"]))
    print(f"quiet machine, 1 thread vs {cores}: {one['seconds']:.1f} s vs {every['seconds']:.1f} s; losses equal "
          f"bit for bit at {same} of {args.steps} steps; final weights "
          f"{'identical' if one['weights'] == every['weights'] else 'different'}")
    if same < args.steps:
        first = next(i for i, (a, b) in enumerate(zip(one["losses"], every["losses"])) if a != b)
        print(f"  first difference at step {first + 1}: {float.fromhex(one['losses'][first])!r} vs "
              f"{float.fromhex(every['losses'][first])!r}")


if __name__ == "__main__":
    main()
