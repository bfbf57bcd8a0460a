#!/usr/bin/env python
"""How fast is tinytensor? The same workloads, timed in tinytensor and in PyTorch (CPU).

    python benchmarks/bench_engine.py                 # every case, tinytensor vs torch
    python benchmarks/bench_engine.py --quick         # a fast smoke run (fewer, shorter repeats)
    python benchmarks/bench_engine.py --cases chain mlp_sgd
    python benchmarks/bench_engine.py --threads 1     # pin NumPy's BLAS and torch to 1 thread
    python benchmarks/bench_engine.py --profile 25    # then cProfile tinytensor on each case
    python benchmarks/bench_engine.py --json out.json # also write the figures as JSON

The cases (``--list`` prints them):

chain        per-op overhead: forward + backward of a chain of 1,000 ops (x = x*a + b,
             alternating mul and add) on shape-(1,) float32 tensors, in microseconds per op
chain_tanh   the same with mul, add, tanh in turn
mlp_sgd      one training step of an MLP 784-256-256-10 at batch 128, float32: forward (x @ W + b,
             relu), cross-entropy, backward, plain SGD by hand under no_grad
mlp_adam     the same MLP built from nn.Linear, stepped by optim.Adam (needs tinytensor.nn.Linear
             and tinytensor.optim.Adam)
blocks_adam  4 pre-norm residual blocks x + Linear(GELU(Linear(LayerNorm(x)))), 256-1024-256,
             GELU in tanh form, on a batch of 64 x 32 tokens: forward, loss, backward, Adam
             (needs nn.Linear, nn.LayerNorm, nn.GELU, optim.Adam)

Both frameworks run the same model on the same data (the same NumPy arrays) and the script
checks, before timing, that they compute the same loss and gradients. Each figure is the
median over ``--rounds`` x ``--repeat`` repeats, each repeat timing as many calls as
fill about ``--min-time`` seconds (timeit's autorange), after warmup calls. Each round
runs each framework in a fresh process (torch, then tinytensor, alternating), so NumPy's
and torch's thread pools never compete and a busy spell of the machine hits both. The ratio is
tinytensor / torch: below 1 means tinytensor is faster.

Threads: NumPy's elementwise ops are single-threaded; its matrix products use OpenBLAS's
threads. By default torch gets as many intra-op threads as NumPy's BLAS has (torch
would use them for elementwise ops too); ``--threads N`` pins both to N.

PyTorch is only a yardstick here: when it is not installed, tinytensor's figures print
alone. This script never changes tinytensor.
"""
from __future__ import annotations

import argparse
import datetime
import gc
import importlib.metadata
import importlib.util
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _engine_dir(argv: list[str]) -> Path:
    """The folder holding the tinytensor package to time (``--engine DIR``, default: this checkout)."""
    for i, arg in enumerate(argv):
        if arg == "--engine" and i + 1 < len(argv):
            return Path(argv[i + 1]).resolve()
        if arg.startswith("--engine="):
            return Path(arg.split("=", 1)[1]).resolve()
    return Path(__file__).resolve().parent.parent


ENGINE = _engine_dir(sys.argv)
sys.path.insert(0, str(ENGINE))  # time that copy, not an installed one

import numpy as np

try:
    import threadpoolctl
except ImportError:
    threadpoolctl = None

import tinytensor as tt

torch: Any = None  # imported only inside the torch worker process (see run_case)

N_CHAIN = 1000           # ops in the per-op chain
MLP_SIZES = (784, 256, 256, 10)
MLP_BATCH = 128
BLOCK_D, BLOCK_HIDDEN, BLOCK_COUNT = 256, 1024, 4
BLOCK_BATCH, BLOCK_TOKENS = 64, 32
LR = 1e-3


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
# Timing
# ----------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------
# The workloads, written once: `lib` is the framework's namespace adapter
# ----------------------------------------------------------------------------
class TT:
    """tinytensor, seen through the few calls the workloads need."""

    name = "tinytensor"

    @staticmethod
    def leaf(array: np.ndarray, requires_grad: bool = True) -> Any:
        return tt.tensor(array.copy(), requires_grad=requires_grad)

    @staticmethod
    def const(array: np.ndarray) -> Any:
        return tt.tensor(array.copy())

    @staticmethod
    def target(array: np.ndarray) -> Any:
        return tt.tensor(array.copy(), dtype=tt.int64)

    no_grad = staticmethod(tt.no_grad)

    @staticmethod
    def cross_entropy(logits: Any, target: Any) -> Any:
        return tt.functional.cross_entropy(logits, target)

    @staticmethod
    def sgd_(p: Any, lr: float) -> None:
        # no in-place Tensor ops in tinytensor (yet): update the array itself
        if hasattr(p, "sub_"):
            p.sub_(p.grad * lr)
        else:
            p.data -= lr * p.grad.data
        p.grad = None

    @staticmethod
    def numpy(t: Any) -> np.ndarray:
        return np.asarray(t.numpy(), dtype=np.float64)

    nn = property(lambda self: tt.nn)
    optim = property(lambda self: tt.optim)

    @staticmethod
    def gelu() -> Any:
        try:
            return tt.nn.GELU(approximate="tanh")
        except TypeError:  # tinytensor's GELU is the tanh form already
            return tt.nn.GELU()


class Torch:
    """PyTorch, behind the same calls."""

    name = "torch"

    @staticmethod
    def leaf(array: np.ndarray, requires_grad: bool = True) -> Any:
        return torch.tensor(array, requires_grad=requires_grad)

    @staticmethod
    def const(array: np.ndarray) -> Any:
        return torch.tensor(array)

    @staticmethod
    def target(array: np.ndarray) -> Any:
        return torch.tensor(array, dtype=torch.int64)

    no_grad = staticmethod(lambda: torch.no_grad())

    @staticmethod
    def cross_entropy(logits: Any, target: Any) -> Any:
        return torch.nn.functional.cross_entropy(logits, target)

    @staticmethod
    def sgd_(p: Any, lr: float) -> None:
        p -= lr * p.grad
        p.grad = None

    @staticmethod
    def numpy(t: Any) -> np.ndarray:
        return t.detach().numpy().astype(np.float64)

    nn = property(lambda self: torch.nn)
    optim = property(lambda self: torch.optim)

    @staticmethod
    def gelu() -> Any:
        return torch.nn.GELU(approximate="tanh")


# -- 1. per-op overhead --------------------------------------------------------
def make_chain(lib: Any, kind: str) -> tuple[Callable, Callable]:
    """(step, check): step runs forward + backward of the N_CHAIN-op chain."""
    x0 = lib.leaf(np.array([0.5], np.float32))
    a = lib.leaf(np.array([0.9], np.float32))
    b = lib.leaf(np.array([0.1], np.float32))
    leaves = (x0, a, b)
    forward_times: list[float] = []

    if kind == "chain":
        def forward() -> Any:
            x = x0
            for _ in range(N_CHAIN // 2):
                x = x * a + b
            return x
    else:  # chain_tanh: mul, add, tanh, mul, add, tanh, ...
        def forward() -> Any:
            x = x0
            for i in range(N_CHAIN):
                r = i % 3
                x = x * a if r == 0 else (x + b if r == 1 else x.tanh())
            return x

    def step() -> None:
        for p in leaves:
            p.grad = None
        t0 = time.perf_counter()
        x = forward()
        forward_times.append(time.perf_counter() - t0)
        x.backward()

    def check() -> list[np.ndarray]:
        step()
        return [lib.numpy(p.grad) for p in leaves]

    step.forward_times = forward_times  # type: ignore[attr-defined]
    return step, check


# -- 2. MLP by hand, SGD ---------------------------------------------------------
def mlp_data(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in itertools.pairwise(MLP_SIZES):
        bound = 1 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, (fan_out,)).astype(np.float32))
    x = rng.standard_normal((MLP_BATCH, MLP_SIZES[0])).astype(np.float32)
    y = rng.integers(0, MLP_SIZES[-1], MLP_BATCH).astype(np.int64)
    return {"params": params, "x": x, "y": y}


def make_mlp_sgd(lib: Any) -> tuple[Callable, Callable]:
    data = mlp_data()
    params = [lib.leaf(p) for p in data["params"]]
    x, y = lib.const(data["x"]), lib.target(data["y"])

    def loss_and_backward() -> Any:
        w1, b1, w2, b2, w3, b3 = params
        h = (x @ w1 + b1).relu()
        h = (h @ w2 + b2).relu()
        loss = lib.cross_entropy(h @ w3 + b3, y)
        loss.backward()
        return loss

    def step() -> None:
        loss_and_backward()
        with lib.no_grad():
            for p in params:
                lib.sgd_(p, LR)

    def check() -> list[np.ndarray]:
        loss = loss_and_backward()
        out = [lib.numpy(loss)] + [lib.numpy(p.grad) for p in params]
        for p in params:
            p.grad = None
        return out

    return step, check


# -- 3. nn.Linear + Adam, and pre-norm residual blocks ----------------------------
def nn_ready() -> tuple[bool, str]:
    need = [("nn", "Module"), ("nn", "Linear"), ("optim", "Adam")]
    missing = [f"tinytensor.{m}.{a}" for m, a in need if not hasattr(getattr(tt, m, None), a)]
    return (not missing, "missing " + ", ".join(missing) if missing else "")


def blocks_ready() -> tuple[bool, str]:
    need = [("nn", "Module"), ("nn", "Linear"), ("nn", "LayerNorm"), ("nn", "GELU"),
            ("optim", "Adam")]
    missing = [f"tinytensor.{m}.{a}" for m, a in need if not hasattr(getattr(tt, m, None), a)]
    return (not missing, "missing " + ", ".join(missing) if missing else "")


def build_mlp(lib: Any) -> Any:
    nn = lib.nn

    class MLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(MLP_SIZES[0], MLP_SIZES[1])
            self.fc2 = nn.Linear(MLP_SIZES[1], MLP_SIZES[2])
            self.fc3 = nn.Linear(MLP_SIZES[2], MLP_SIZES[3])

        def forward(self, x: Any) -> Any:
            return self.fc3(self.fc2(self.fc1(x).relu()).relu())

    return MLP()


def build_blocks(lib: Any) -> Any:
    nn = lib.nn

    class Block(nn.Module):
        """Pre-norm residual feed-forward block: x + W2 GELU(W1 LayerNorm(x))."""

        def __init__(self) -> None:
            super().__init__()
            self.norm = nn.LayerNorm(BLOCK_D)
            self.fc1 = nn.Linear(BLOCK_D, BLOCK_HIDDEN)
            self.act = lib.gelu()
            self.fc2 = nn.Linear(BLOCK_HIDDEN, BLOCK_D)

        def forward(self, x: Any) -> Any:
            return x + self.fc2(self.act(self.fc1(self.norm(x))))

    class Stack(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            for i in range(BLOCK_COUNT):  # plain attributes: no ModuleList needed
                setattr(self, f"block{i}", Block())

        def forward(self, x: Any) -> Any:
            for i in range(BLOCK_COUNT):
                x = getattr(self, f"block{i}")(x)
            return x

    return Stack()


def load_weights(model: Any, arrays: list[np.ndarray]) -> bool:
    """Give the tinytensor model torch's initial weights, when the parameters line up."""
    ours = list(model.parameters())
    if len(ours) != len(arrays) or any(tuple(p.shape) != a.shape for p, a in zip(ours, arrays)):
        return False
    for p, a in zip(ours, arrays):
        p.data[...] = a
    return True


def make_trained(lib: Any, kind: str, shared: dict) -> tuple[Callable, Callable]:
    """(step, check) for mlp_adam / blocks_adam.

    The torch worker puts its initial weights in ``shared["init"]``; the tinytensor worker
    finds them there and copies them in (``shared["copied"]`` says whether it could).
    """
    if kind == "mlp_adam":
        data = mlp_data()
        model = build_mlp(lib)
        x, y = lib.const(data["x"]), lib.target(data["y"])

        def loss_fn() -> Any:
            return lib.cross_entropy(model(x), y)
    else:
        rng = np.random.default_rng(1)
        model = build_blocks(lib)
        x = lib.const(rng.standard_normal((BLOCK_BATCH, BLOCK_TOKENS, BLOCK_D)).astype(np.float32))

        def loss_fn() -> Any:
            out = model(x)
            return (out * out).mean()

    if lib.name == "torch":
        shared["init"] = [p.detach().numpy().copy() for p in model.parameters()]
    elif shared.get("init") is not None:
        shared["copied"] = load_weights(model, shared["init"])
    opt = lib.optim.Adam(model.parameters(), lr=LR)

    def step() -> None:
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        opt.step()

    def check() -> list[np.ndarray]:
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        out = [lib.numpy(loss)] + [lib.numpy(p.grad) for p in model.parameters()]
        opt.zero_grad()
        return out

    return step, check


TT_LIB, TORCH = TT(), Torch()

CASES: dict[str, dict] = {
    "chain": {"title": f"per-op overhead, {N_CHAIN} ops x*a+b, shape (1,)", "unit": "us/op",
              "scale": 1e6 / N_CHAIN, "make": lambda lib, s: make_chain(lib, "chain"),
              "ready": lambda: (True, ""), "target": "<= 1.0 (DeZero ~26 us/op)"},
    "chain_tanh": {"title": f"per-op overhead, {N_CHAIN} ops mul/add/tanh, shape (1,)",
                   "unit": "us/op", "scale": 1e6 / N_CHAIN,
                   "make": lambda lib, s: make_chain(lib, "chain_tanh"),
                   "ready": lambda: (True, ""), "target": "<= 1.0"},
    "mlp_sgd": {"title": "MLP 784-256-256-10, batch 128, step with SGD by hand", "unit": "ms/step",
                "scale": 1e3, "make": lambda lib, s: make_mlp_sgd(lib),
                "ready": lambda: (True, ""), "target": "<= 1.1"},
    "mlp_adam": {"title": "MLP 784-256-256-10 (nn.Linear), batch 128, step with Adam",
                 "unit": "ms/step", "scale": 1e3,
                 "make": lambda lib, s: make_trained(lib, "mlp_adam", s),
                 "ready": nn_ready, "target": "<= 1.1"},
    "blocks_adam": {"title": f"{BLOCK_COUNT} pre-norm blocks {BLOCK_D}-{BLOCK_HIDDEN}-{BLOCK_D}, "
                             f"{BLOCK_BATCH}x{BLOCK_TOKENS} tokens, step with Adam",
                    "unit": "ms/step", "scale": 1e3,
                    "make": lambda lib, s: make_trained(lib, "blocks_adam", s),
                    "ready": blocks_ready, "target": "<= 1.1"},
}




# ----------------------------------------------------------------------------
# Workers: each (case, framework) is timed in a fresh process of its own, so that
# NumPy's OpenBLAS threads and torch's OpenMP threads never spin against each other
# on the same cores (together they slow both down by 10-100x on a 2-core machine).
# ----------------------------------------------------------------------------
def worker(args: argparse.Namespace) -> int:
    global torch
    work, name, framework = Path(args.work), args.case, args.worker
    if framework == "torch":
        import torch as torch_module

        torch = torch_module
        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        lib: Any = TORCH
    else:
        if threadpoolctl is not None:
            threadpoolctl.threadpool_limits(limits=args.threads, user_api="blas")
        tt.manual_seed(0)
        lib = TT_LIB
    case = CASES[name]
    shared: dict = {}
    init = work / f"{name}.init.npz"
    if framework == "tinytensor" and init.exists():
        with np.load(init) as f:
            shared["init"] = [f[f"arr_{i}"] for i in range(len(f.files))]
    step, check = case["make"](lib, shared)
    if framework == "torch" and "init" in shared and not init.exists():
        np.savez(init, *shared["init"])
    if not (work / f"{name}.{framework}.check.npz").exists():
        np.savez(work / f"{name}.{framework}.check.npz", *check())
    times, cpu = measure(step, args.repeat, args.warmup, args.min_time)
    result = {"times": [t * case["scale"] for t in times], "cpu": [t * case["scale"] for t in cpu],
              "copied": shared.get("copied"),
              "blas_threads": numpy_blas()[0],
              "torch_threads": torch.get_num_threads() if framework == "torch" else None}
    forward = getattr(step, "forward_times", None)
    if forward:  # the chain also records its forward part alone (from the timed calls)
        result["forward"] = [t * case["scale"] for t in forward[-len(forward) // 2:]]
    (work / f"{name}.{framework}.json").write_text(json.dumps(result))
    if args.profile and framework == "tinytensor":
        (work / f"{name}.profile.txt").write_text(profile_text(step, case, args.profile, args.profile_sort))
    return 0


def profile_text(step: Callable, case: dict, top: int, sort: str) -> str:
    import cProfile
    import io
    import pstats

    calls = 20 if case["unit"] == "us/op" else 10
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        step()
    profiler.disable()
    out = io.StringIO()
    out.write(f"{calls} calls of the step under cProfile (which inflates small calls)\n")
    pstats.Stats(profiler, stream=out).sort_stats(sort).print_stats(top)
    return out.getvalue()


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


def run_case(name: str, args: argparse.Namespace, work: Path, have_torch: bool) -> dict:
    case = CASES[name]
    result: dict = {"case": name, "title": case["title"], "unit": case["unit"], "target": case["target"]}
    ready, why = case["ready"]()
    if not ready:
        result["skipped"] = f"tinytensor: {why}"
        return result
    frameworks = (["torch"] if have_torch else []) + ["tinytensor"]  # torch first: its initial
    pooled: dict = {f: {"times": [], "cpu": [], "forward": [], "threads": set()}  # are copied
                    for f in frameworks}
    for round_ in range(args.rounds):  # rounds alternate the two, so a busy spell hits both
        for framework in frameworks:
            print(f"... {name}: {framework}, round {round_ + 1} of {args.rounds}", file=sys.stderr,
                  flush=True)
            profile = args.profile if round_ == args.rounds - 1 else 0
            command = [sys.executable, str(Path(__file__).resolve()), "--engine", str(ENGINE),
                       "--worker", framework, "--case", name, "--work", str(work),
                       "--threads", str(args.threads), "--repeat", str(args.repeat),
                       "--warmup", str(args.warmup), "--min-time", str(args.min_time),
                       "--profile", str(profile), "--profile-sort", args.profile_sort]
            out = work / f"{name}.{framework}.json"
            out.unlink(missing_ok=True)
            done = subprocess.run(command, check=False)
            if done.returncode != 0 or not out.exists():
                result["failed"] = sorted(set(result.get("failed", [])) | {framework})
                continue
            figures = json.loads(out.read_text())
            pooled[framework]["times"] += figures["times"]
            pooled[framework]["cpu"] += figures["cpu"]
            pooled[framework]["threads"].add(figures["torch_threads"] if framework == "torch"
                                             else figures["blas_threads"])
            pooled[framework]["forward"] += figures.get("forward", [])
            pooled[framework]["copied"] = figures["copied"]
    if "failed" in result:
        return result
    for framework, figures in pooled.items():
        result[framework] = {"median": statistics.median(figures["times"]),
                             "min": min(figures["times"]), "repeats": len(figures["times"]),
                             "cpu": statistics.median(figures["cpu"]), "copied": figures.get("copied"),
                             "threads": sorted(figures["threads"], key=str)}
        if figures["forward"]:
            result[framework]["forward"] = statistics.median(figures["forward"])
    if have_torch:
        if name in ("mlp_adam", "blocks_adam") and not result["tinytensor"].get("copied"):
            result["check"] = "not compared: parameters do not line up with torch's"
        else:
            diff = max_difference(load_arrays(work / f"{name}.tinytensor.check.npz"),
                                  load_arrays(work / f"{name}.torch.check.npz"))
            result["check"] = f"same loss and grads as torch to {diff:.0e} (relative)" if diff < 1e-3 \
                else f"MISMATCH: loss/grads differ from torch by {diff:.1e} (relative)"
        ours, theirs = result["tinytensor"], result["torch"]
        result["ratio"] = ours["median"] / theirs["median"]
        result["ratio_min"] = ours["min"] / theirs["min"]
        result["ratio_cpu"] = ours["cpu"] / theirs["cpu"]
    profile = work / f"{name}.profile.txt"
    if profile.exists():
        result["profile"] = profile.read_text()
    return result


def print_table(results: list[dict], have_torch: bool) -> None:
    def figure(r: dict, framework: str) -> str:
        f = r.get(framework)
        if not f:
            return "failed" if framework in r.get("failed", ()) else ("n/a" if not have_torch else "")
        return f"{f['median']:.2f}" + (f" (fwd {f['forward']:.2f})" if "forward" in f else "")

    rows = [("case", "unit", "tinytensor", "torch", "ratio", "target", "min ratio", "cpu ratio")]
    for r in results:
        if "skipped" in r:
            rows.append((r["case"], r["unit"], "skipped", "", "", r["target"], "", ""))
            continue
        rows.append((r["case"], r["unit"], figure(r, "tinytensor"), figure(r, "torch"),
                     f"{r['ratio']:.2f}x" if "ratio" in r else "", r["target"],
                     f"{r['ratio_min']:.2f}x" if "ratio" in r else "",
                     f"{r['ratio_cpu']:.2f}x" if "ratio" in r else ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for k, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
        if k == 0:
            print("  ".join("-" * w for w in widths))
    print("\nfigures: medians (fwd: the forward part alone); ratio = tinytensor / torch of the medians;"
          "\nmin ratio: of the fastest repeats; cpu ratio: of the process CPU times (all threads), which"
          "\nresist other load on the machine when both run one thread\n")
    for r in results:
        note = r.get("check") or (f"skipped: {r['skipped']}" if "skipped" in r else "")
        print(f"{r['case']:12} {r['title']}" + (f"\n{'':12} {note}" if note else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES),
                        metavar="CASE", help=f"which cases to run (default: all): {', '.join(CASES)}")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 3 repeats of about 0.05 s after 1 warmup call")
    parser.add_argument("--repeat", type=int, default=None, help="repeats per figure (default 7)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="fresh worker processes per framework and case, alternating "
                             "torch / tinytensor; figures pool all their repeats (default 3)")
    parser.add_argument("--warmup", type=int, default=None, help="warmup calls (default 3)")
    parser.add_argument("--min-time", type=float, default=None,
                        help="seconds each repeat lasts at least (default 0.3)")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for NumPy's BLAS and for torch (default: NumPy's BLAS "
                             "default, and torch gets the same)")
    parser.add_argument("--no-torch", action="store_true", help="time tinytensor alone")
    parser.add_argument("--engine", type=Path, default=ENGINE,
                        help="folder holding the tinytensor package to time (default: this "
                             "checkout); e.g. a `git archive` of an older commit, to compare")
    parser.add_argument("--profile", type=int, nargs="?", const=25, default=0, metavar="N",
                        help="also cProfile tinytensor on each case and print the top N functions "
                             "(default N: 25)")
    parser.add_argument("--profile-sort", default="tottime", choices=["tottime", "cumulative"],
                        help="order of the profile (default: tottime, a function's own time)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--worker", choices=["tinytensor", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--case", choices=list(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.list:
        for name, case in CASES.items():
            print(f"{name:12} {case['title']}")
        return 0
    quick = args.quick
    args.repeat = args.repeat or (3 if quick else 5)
    args.rounds = args.rounds or (1 if quick else 3)
    args.warmup = args.warmup if args.warmup is not None else (1 if quick else 3)
    args.min_time = args.min_time if args.min_time is not None else (0.05 if quick else 0.3)

    blas_threads, blas_text = numpy_blas()
    if args.threads is None:
        args.threads = blas_threads or os.cpu_count() or 1
    elif threadpoolctl is None:
        blas_text += f"; --threads {args.threads} not applied to NumPy (needs threadpoolctl)"
    else:
        blas_text = f"{args.threads} (pinned with threadpoolctl; default {blas_text})"
    have_torch = not args.no_torch and torch_version() is not None
    info = machine(blas_text, args.threads, have_torch)
    print("tinytensor engine benchmark" + (" (--quick: figures are rough)" if quick else ""))
    for key, value in info.items():
        print(f"  {key:19} {value}")
    if not have_torch:
        why = "--no-torch" if args.no_torch else "PyTorch is not installed"
        print(f"  {why}: tinytensor's figures alone, no ratios")
    print(f"  timing              median of {args.rounds} x {args.repeat} repeats of >= "
          f"{args.min_time} s, each after {args.warmup} warmup calls; {args.rounds} fresh process(es) "
          f"per framework, alternating; ratio = tinytensor / torch")
    print(f"  load average        {load_average()} at the start (other processes make figures noisy)\n")

    with tempfile.TemporaryDirectory(prefix="tinytensor-bench-") as tmp:
        results = [run_case(name, args, Path(tmp), have_torch) for name in args.cases]
    print_table(results, have_torch)
    seen = {f: sorted({"unknown" if t is None else str(t) for r in results
                       for t in r.get(f, {}).get("threads", [])})
            for f in ("tinytensor", "torch")}
    print(f"\nthreads in the workers: NumPy BLAS {', '.join(seen['tinytensor']) or '-'} "
          f"(tinytensor), torch.get_num_threads() {', '.join(seen['torch']) or '-'}")
    print(f"load average at the end: {load_average()}")
    if args.json:
        clean = [{k: v for k, v in r.items() if k != "profile"} for r in results]
        args.json.write_text(json.dumps({"machine": info, "quick": quick, "results": clean}, indent=2))
        print(f"\nwrote {args.json}")
    for r in results:
        if "profile" in r:
            print(f"\n=== cProfile of tinytensor, {r['case']}: {r['title']} ===\n{r['profile']}")
    return 1 if any("failed" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
