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
import itertools
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The shared machinery (machine info, timing, worker processes, printing) is in harness.py,
# which also puts the tinytensor to time (this checkout's, or --engine DIR) on sys.path.
import harness
from harness import load_arrays, max_difference

import numpy as np

import tinytensor as tt

torch: Any = None  # imported only inside the torch worker process (see run_case)

N_CHAIN = 1000           # ops in the per-op chain
MLP_SIZES = (784, 256, 256, 10)
MLP_BATCH = 128
BLOCK_D, BLOCK_HIDDEN, BLOCK_COUNT = 256, 1024, 4
BLOCK_BATCH, BLOCK_TOKENS = 64, 32
LR = 1e-3


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
        p.sub_(p.grad * lr)
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
        p.array[...] = a
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
    torch = harness.start_worker(framework, args.threads)
    lib: Any = TORCH if framework == "torch" else TT_LIB
    case = CASES[name]
    shared: dict = {}
    init = work / f"{name}.init.npz"
    if framework == "tinytensor" and init.exists():
        shared["init"] = load_arrays(init)
    step, check = case["make"](lib, shared)
    if framework == "torch" and "init" in shared and not init.exists():
        np.savez(init, *shared["init"])
    if not (work / f"{name}.{framework}.check.npz").exists():
        np.savez(work / f"{name}.{framework}.check.npz", *check())
    times, cpu = harness.measure(step, args.repeat, args.warmup, args.min_time)
    result = {"times": [t * case["scale"] for t in times], "cpu": [t * case["scale"] for t in cpu],
              "copied": shared.get("copied"),
              "blas_threads": harness.numpy_blas()[0],
              "torch_threads": torch.get_num_threads() if framework == "torch" else None}
    forward = getattr(step, "forward_times", None)
    if forward:  # the chain also records its forward part alone (from the timed calls)
        result["forward"] = [t * case["scale"] for t in forward[-len(forward) // 2:]]
    (work / f"{name}.{framework}.json").write_text(json.dumps(result))
    if args.profile and framework == "tinytensor":
        calls = 20 if case["unit"] == "us/op" else 10
        (work / f"{name}.profile.txt").write_text(
            harness.profile_text(step, calls, args.profile, args.profile_sort))
    return 0


def run_case(name: str, args: argparse.Namespace, work: Path, have_torch: bool) -> dict:
    case = CASES[name]
    result: dict = {"case": name, "title": case["title"], "unit": case["unit"], "target": case["target"]}
    ready, why = case["ready"]()
    if not ready:
        result["skipped"] = f"tinytensor: {why}"
        return result
    frameworks = (["torch"] if have_torch else []) + ["tinytensor"]  # torch first: its initial
                                                                      # weights are copied

    def run_one(framework: str, round_: int) -> dict | None:
        profile = args.profile if round_ == args.rounds - 1 else 0
        options = harness.worker_options(args, args.threads, profile)
        return harness.run_worker(__file__, framework, ["--case", name, "--work", str(work), *options],
                                  work / f"{name}.{framework}.json")

    # rounds alternate the two, so a busy spell of the machine hits both
    runs, failed = harness.alternate(name, frameworks, args.rounds, run_one)
    if failed:
        result["failed"] = failed
        return result
    for framework, figures in runs.items():
        pooled = harness.summarize([t for f in figures for t in f["times"]],
                                   [t for f in figures for t in f["cpu"]])
        threads = {f["torch_threads"] if framework == "torch" else f["blas_threads"] for f in figures}
        result[framework] = {**pooled, "copied": figures[-1]["copied"],
                             "threads": sorted(threads, key=str)}
        forward = [t for f in figures for t in f.get("forward", [])]
        if forward:
            result[framework]["forward"] = statistics.median(forward)
    if have_torch:
        if name in ("mlp_adam", "blocks_adam") and not result["tinytensor"].get("copied"):
            result["check"] = "not compared: parameters do not line up with torch's"
        else:
            result["check"] = harness.check_text(max_difference(
                load_arrays(work / f"{name}.tinytensor.check.npz"),
                load_arrays(work / f"{name}.torch.check.npz")))
        result.update(harness.ratios(result["tinytensor"], result["torch"]))
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
    harness.print_rows(rows)
    print("\nfigures: medians (fwd: the forward part alone); ratio = tinytensor / torch of the medians;"
          "\nmin ratio: of the fastest repeats; cpu ratio: of the process CPU times (all threads), which"
          "\nresist other load on the machine when both run one thread\n")
    for r in results:
        note = r.get("check") or (f"skipped: {r['skipped']}" if "skipped" in r else "")
        print(f"{r['case']:12} {r['title']}" + (f"\n{'':12} {note}" if note else ""))


def main(argv: list[str] | None = None) -> int:
    parser = harness.make_parser(__doc__)
    harness.add_case_arguments(parser, CASES)
    harness.add_timing_arguments(
        parser, threads=dict(type=int, default=None,
                             help="threads for NumPy's BLAS and for torch (default: NumPy's BLAS "
                                  "default, and torch gets the same)"),
        profile_help="also cProfile tinytensor on each case and print the top N functions "
                     "(default N: 25)")
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.list:
        for name, case in CASES.items():
            print(f"{name:12} {case['title']}")
        return 0
    harness.apply_quick(args)
    threads, blas_text = harness.thread_settings(None if args.threads is None else [args.threads])
    args.threads = threads[0]
    have_torch = not args.no_torch and harness.torch_version() is not None
    info = harness.machine(blas_text, args.threads, have_torch)
    harness.print_header("tinytensor engine benchmark", info, args, have_torch)

    with tempfile.TemporaryDirectory(prefix="tinytensor-bench-") as tmp:
        results = [run_case(name, args, Path(tmp), have_torch) for name in args.cases]
    print_table(results, have_torch)
    seen = {f: sorted({"unknown" if t is None else str(t) for r in results
                       for t in r.get(f, {}).get("threads", [])})
            for f in ("tinytensor", "torch")}
    print(f"\nthreads in the workers: NumPy BLAS {', '.join(seen['tinytensor']) or '-'} "
          f"(tinytensor), torch.get_num_threads() {', '.join(seen['torch']) or '-'}")
    print(f"load average at the end: {harness.load_average()}")
    if args.json:
        harness.write_json(args.json, info, args.quick, results)
    for r in results:
        if "profile" in r:
            print(f"\n=== cProfile of tinytensor, {r['case']}: {r['title']} ===\n{r['profile']}")
    return 1 if any("failed" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
