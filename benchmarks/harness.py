"""The measuring machinery the benchmarks share (bench_engine.py, bench_transformer.py,
bench_translate.py).

A benchmark script is both the parent and its workers:

* the parent parses the options (``make_parser``, ``add_timing_arguments``,
  ``apply_quick``), prints the machine (``machine``, ``print_header``), and runs every
  figure as a series of rounds (``alternate``), each round one fresh worker process per
  framework (``run_worker``): torch, then tinytensor, so a busy spell of the machine hits
  both, and NumPy's OpenBLAS threads and torch's OpenMP threads never share a process
  (on 2 cores they slow each other down by 10-100x);
* a worker (the same script with ``--worker torch|tinytensor``) pins its threads and seeds
  itself (``start_worker``), times its step (``measure``: timeit-style autorange, wall and
  CPU time per call), optionally profiles it (``profile_text``), and writes its figures as
  JSON into the parent's work folder.

Importing this module puts the tinytensor to time first on ``sys.path``: this checkout's,
or the folder given by ``--engine DIR`` (an older commit's ``git archive``, say). Import it
before tinytensor.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def engine_dir(argv: list[str]) -> Path:
    """The folder holding the tinytensor package to time (``--engine DIR``, default: this checkout)."""
    for i, arg in enumerate(argv):
        if arg == "--engine" and i + 1 < len(argv):
            return Path(argv[i + 1]).resolve()
        if arg.startswith("--engine="):
            return Path(arg.split("=", 1)[1]).resolve()
    return Path(__file__).resolve().parent.parent


ENGINE = engine_dir(sys.argv)
sys.path.insert(0, str(ENGINE))  # time that copy, not an installed one

import numpy as np  # noqa: E402  (after the sys.path change, like tinytensor)

try:
    import threadpoolctl
except ImportError:
    threadpoolctl = None

import tinytensor as tt  # noqa: E402


# ----------------------------------------------------------------------------
# Machine and threads
# ----------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def numpy_blas() -> tuple[int | None, str]:
    """(threads, description) of NumPy's BLAS, or (None, why unknown)."""
    if threadpoolctl is None:
        return None, "unknown (threadpoolctl not installed)"
    found = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
    found = [i for i in found if "numpy" in i.get("filepath", "")] or found
    if not found:
        return None, "unknown (threadpoolctl found no BLAS)"
    i = found[0]
    return i["num_threads"], f"{i['num_threads']} ({i.get('internal_api')} {i.get('version')})"


def thread_settings(requested: list[int] | None) -> tuple[list[int], str]:
    """(thread counts to run, description of NumPy's BLAS threads) for ``--threads``.

    Without a request, one count: NumPy's BLAS default, which torch then gets too.
    """
    blas_threads, text = numpy_blas()
    if requested is None:
        return [blas_threads or os.cpu_count() or 1], text
    label = ", ".join(str(n) for n in requested)
    if threadpoolctl is None:
        return requested, text + f"; --threads {label} not applied to NumPy (needs threadpoolctl)"
    return requested, f"{label} (pinned with threadpoolctl; default {text})"


def torch_version() -> str | None:
    if importlib.util.find_spec("torch") is None:
        return None
    try:
        return importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        return "installed (version unknown)"


def git_state() -> str:
    """`, git abc1234` (plus `, tinytensor/ modified`) when the engine is a git checkout."""
    def git(*command: str) -> str:
        return subprocess.run(["git", "-C", str(ENGINE), *command], capture_output=True, text=True,
                              check=False, timeout=10).stdout.strip()
    try:
        commit = git("rev-parse", "--short", "HEAD")
        if not commit or Path(git("rev-parse", "--show-toplevel")).resolve() != ENGINE:
            return ""
        return f", git {commit}" + (", tinytensor/ modified" if git("status", "--porcelain", "--",
                                                                     "tinytensor") else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg()) + " (1, 5, 15 min)"
    except OSError:
        return "unknown"


def machine(blas_text: str, torch_threads: Any, have_torch: bool) -> dict:
    cpus = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = cpus
    return {
        "date": datetime.date.today().isoformat(),
        "platform": platform.platform(),
        "cpu": f"{cpu_model()} ({usable} usable of {cpus} logical cores)",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy BLAS threads": blas_text,
        "tinytensor": f"{getattr(tt, '__version__', '?')} from {ENGINE}{git_state()}",
        "torch": (torch_version() if have_torch else None) or "not installed",
        "torch threads": torch_threads if have_torch else "-",
    }


# ----------------------------------------------------------------------------
# Options
# ----------------------------------------------------------------------------
def make_parser(doc: str) -> argparse.ArgumentParser:
    """A parser whose description is the docstring's first paragraph, the rest its epilog."""
    return argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter,
                                   epilog=doc.split("\n\n", 1)[1])


def add_case_arguments(parser: argparse.ArgumentParser, cases: Any) -> None:
    """--cases (which to run, default all), --list, and the hidden --case of a worker."""
    parser.add_argument("--cases", nargs="+", choices=list(cases), default=list(cases),
                        metavar="CASE", help=f"which cases to run (default: all): {', '.join(cases)}")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--case", choices=list(cases), help=argparse.SUPPRESS)


def add_timing_arguments(parser: argparse.ArgumentParser, *, threads: dict, profile_help: str) -> None:
    """--quick, --repeat, --rounds, --warmup, --min-time, --threads (``threads``: its
    add_argument keywords), --no-torch, --engine, --profile, --profile-sort, --json;
    and the hidden --worker and --work of the worker processes."""
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 3 repeats of about 0.05 s after 1 warmup call")
    parser.add_argument("--repeat", type=int, default=None, help="repeats per figure (default 5)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="fresh worker processes per framework and case, alternating "
                             "torch / tinytensor; figures pool all their repeats (default 3)")
    parser.add_argument("--warmup", type=int, default=None, help="warmup calls (default 3)")
    parser.add_argument("--min-time", type=float, default=None,
                        help="seconds each repeat lasts at least (default 0.3)")
    parser.add_argument("--threads", **threads)
    parser.add_argument("--no-torch", action="store_true", help="time tinytensor alone")
    parser.add_argument("--engine", type=Path, default=ENGINE,
                        help="folder holding the tinytensor package to time (default: this "
                             "checkout); e.g. a `git archive` of an older commit, to compare")
    parser.add_argument("--profile", type=int, nargs="?", const=25, default=0, metavar="N",
                        help=profile_help)
    parser.add_argument("--profile-sort", default="tottime", choices=["tottime", "cumulative"],
                        help="order of the profile (default: tottime, a function's own time)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--worker", choices=["tinytensor", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)


def apply_quick(args: argparse.Namespace) -> None:
    """Fill in the timing options left unset: the defaults, or --quick's smaller ones."""
    quick = args.quick
    args.repeat = args.repeat or (3 if quick else 5)
    args.rounds = args.rounds or (1 if quick else 3)
    args.warmup = args.warmup if args.warmup is not None else (1 if quick else 3)
    args.min_time = args.min_time if args.min_time is not None else (0.05 if quick else 0.3)


def print_header(title: str, info: dict, args: argparse.Namespace, have_torch: bool,
                 timing: str | None = None) -> None:
    """The title, the machine, how the figures are taken (``timing``: instead of the repeats
    line, for a benchmark that times otherwise) and the load average."""
    print(title + (" (--quick: figures are rough)" if args.quick else ""))
    for key, value in info.items():
        print(f"  {key:19} {value}")
    if not have_torch:
        why = "--no-torch" if args.no_torch else "PyTorch is not installed"
        print(f"  {why}: tinytensor's figures alone, no ratios")
    print(f"  timing              {timing}" if timing else
          f"  timing              median of {args.rounds} x {args.repeat} repeats of >= "
          f"{args.min_time} s, each after {args.warmup} warmup calls; {args.rounds} fresh process(es) "
          f"per framework, alternating; ratio = tinytensor / torch")
    print(f"  load average        {load_average()} at the start (other processes make figures noisy)\n")


def print_rows(rows: list[tuple[str, ...]]) -> None:
    """Columns padded to their widest cell; the first row is the heading, underlined."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for k, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))


def write_json(path: Path, info: dict, quick: bool, results: list[dict]) -> None:
    """The figures (without the profiles' text) as JSON."""
    clean = [{k: v for k, v in r.items() if k != "profile"} for r in results]
    path.write_text(json.dumps({"machine": info, "quick": quick, "results": clean}, indent=2))
    print(f"\nwrote {path}")


# ----------------------------------------------------------------------------
# The parent: fresh worker processes, alternating
# ----------------------------------------------------------------------------
def worker_options(args: argparse.Namespace, threads: int, profile: int) -> list[str]:
    """The timing options a worker gets from the parent's."""
    return ["--threads", str(threads), "--repeat", str(args.repeat), "--warmup", str(args.warmup),
            "--min-time", str(args.min_time), "--profile", str(profile),
            "--profile-sort", args.profile_sort]


def run_worker(script: str, framework: str, options: list[str], out: Path) -> dict | None:
    """Run ``script --worker framework`` in a fresh process; the JSON it wrote to ``out``, or
    None when it failed (its traceback went to stderr)."""
    command = [sys.executable, str(Path(script).resolve()), "--engine", str(ENGINE),
               "--worker", framework, *options]
    out.unlink(missing_ok=True)
    done = subprocess.run(command, check=False)
    if done.returncode != 0 or not out.exists():
        return None
    return json.loads(out.read_text())


def alternate(label: str, frameworks: list[str], rounds: int,
              run_one: Callable[[str, int], dict | None]) -> tuple[dict[str, list[dict]], list[str]]:
    """``run_one(framework, round)`` for each round, the frameworks in turn within a round.

    Returns (what each framework's runs returned, in order; the frameworks that failed).
    """
    figures: dict[str, list[dict]] = {f: [] for f in frameworks}
    failed: set[str] = set()
    for round_ in range(rounds):
        for framework in frameworks:
            print(f"... {label}: {framework}, round {round_ + 1} of {rounds}", file=sys.stderr,
                  flush=True)
            got = run_one(framework, round_)
            if got is None:
                failed.add(framework)
            else:
                figures[framework].append(got)
    return figures, sorted(failed)


def summarize(times: list[float], cpu: list[float]) -> dict:
    """Median and fastest wall time, number of repeats, median CPU time."""
    return {"median": statistics.median(times), "min": min(times), "repeats": len(times),
            "cpu": statistics.median(cpu)}


def ratios(ours: dict, theirs: dict) -> dict:
    """tinytensor / torch of two ``summarize`` results: of the medians, the fastest repeats, CPU."""
    return {"ratio": ours["median"] / theirs["median"], "ratio_min": ours["min"] / theirs["min"],
            "ratio_cpu": ours["cpu"] / theirs["cpu"]}


# ----------------------------------------------------------------------------
# The worker: threads, timing, profile
# ----------------------------------------------------------------------------
def start_worker(framework: str, threads: int) -> Any:
    """Pin this process's threads to ``threads`` and seed it; torch's worker gets the torch
    module back (imported only there), tinytensor's None."""
    if framework == "torch":
        import torch

        torch.set_num_threads(threads)
        torch.manual_seed(0)
        return torch
    if threadpoolctl is not None:
        threadpoolctl.threadpool_limits(limits=threads, user_api="blas")
    tt.manual_seed(0)
    return None


def measure(step: Callable[[], Any], repeat: int, warmup: int,
            min_time: float) -> tuple[list[float], list[float]]:
    """(wall, cpu): seconds per call of ``step``, one figure per repeat (timeit-style autorange).

    ``cpu`` is the process's CPU time (all its threads): for single-threaded work it
    equals the wall time when the machine is quiet, and it does not grow when other
    processes take the core away. The garbage collector stays on (training runs with
    it on), but runs between repeats.
    """
    for _ in range(warmup):
        step()
    number = 1
    while True:  # find how many calls fill min_time
        t0 = time.perf_counter()
        for _ in range(number):
            step()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time or number >= 10_000:
            break
        number = max(number * 2, int(number * min_time / max(elapsed, 1e-9)) + 1)
    wall, cpu = [], []
    for _ in range(repeat):
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(number):
            step()
        wall.append((time.perf_counter() - t0) / number)
        cpu.append((time.process_time() - c0) / number)
    return wall, cpu


def profile_text(step: Callable[[], Any], calls: int, top: int, sort: str) -> str:
    """cProfile of ``calls`` calls of ``step``: the ``top`` functions by ``sort``."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        step()
    profiler.disable()
    out = io.StringIO()
    out.write(f"{calls} calls of the step under cProfile (which inflates small calls)\n")
    pstats.Stats(profiler, stream=out).sort_stats(sort).print_stats(top)
    return out.getvalue()


# ----------------------------------------------------------------------------
# Comparing the two frameworks' results
# ----------------------------------------------------------------------------
def max_difference(ours: list[np.ndarray], theirs: list[np.ndarray]) -> float:
    """Largest elementwise difference, relative to the largest value of torch's array."""
    worst = 0.0
    for a, b in zip(ours, theirs):
        if np.size(b):
            scale = max(float(np.abs(b).max()), 1e-12)
            worst = max(worst, float(np.abs(a - b).max()) / scale)
    return worst


def load_arrays(path: Path) -> list[np.ndarray]:
    with np.load(path) as f:
        return [f[f"arr_{i}"] for i in range(len(f.files))]


def check_text(diff: float, limit: float = 1e-3) -> str:
    """What the parent prints about a worst relative difference of loss and gradients."""
    return (f"same loss and grads as torch to {diff:.0e} (relative)" if diff < limit
            else f"MISMATCH: loss/grads differ from torch by {diff:.1e} (relative)")
