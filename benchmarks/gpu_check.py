#!/usr/bin/env python
"""The GPU path, proven in one run of at most 8 minutes: the GPU tests, the translator trained to
its target BLEU, and tinytensor's Transformer timed against torch.nn.Transformer, all on CUDA.

    python benchmarks/gpu_check.py                        # all three phases; results in runs/gpu_check/
    python benchmarks/gpu_check.py --out DIR --budget 420
    python benchmarks/gpu_check.py --phases tests         # or any of: tests translate bench
    python benchmarks/gpu_check.py --standin --phases translate bench --config tiny   # rehearse, no GPU

For a machine with a CUDA GPU, CuPy 14, PyTorch, pytest and NumPy, and no network: it installs
nothing. Run it from anywhere: it puts this repository first on sys.path and on the tests'
PYTHONPATH (or install the project first with ``pip install --no-deps --no-build-isolation -e .``).
CuPy compiles each kernel the first time it meets one; ``CUPY_CACHE_DIR`` (default: .cupy_cache
in the repository, which git ignores) keeps them on disk, so a second run tests instead of compiling.

The phases run in this order, each within its share of ``--budget`` seconds (default 480):

tests      ``python -m pytest -m gpu``: every device test, its "cuda" run on the GPU through CuPy
           (tests/conftest.py), with pytest-xdist (``-n 8``) when it is installed. The counts and
           the failures go into the table, pytest's whole output into pytest.txt.
translate  the toy translator (``--config``, default small) trained on the GPU by its own Trainer
           (translator/train.py), evaluated every ``--eval-every`` steps, until the
           validation BLEU reaches ``--target-bleu`` (99) or its time is up: the seconds of
           training and the steps to BLEU 95 and to the target, and tokens per second. Without
           sacrebleu the BLEU cannot be computed; exact match (``--target-exact``, 0.97) stands in.
bench      one training step (forward, label-smoothed cross-entropy, backward, Adam) and greedy
           decoding of 64 sentences to 20 tokens, tinytensor's against the same model from torch.nn
           (bench_transformer.py's, with torch's initial weights copied in), both on CUDA, at
           ``--sizes`` (d_model, default 128 256). First, without dropout, the loss and gradients
           of the two are compared. Times: median of 5 repeats of at least 0.2 s, each ended by a
           device synchronize, after 3 warmup calls.

Everything goes into one table, results.md (and results.json) under ``--out``, printed at the end
too; docs/gpu.md says how to record a run. ``--standin`` rehearses the script where no GPU is:
"cuda" is then the CuPy stand-in of tests/cupy_standin, the tests are those marked standin, and
torch is compared only when it has CUDA (tests/test_gpu_check.py rehearses it so, ``--quick``).
The exit status is 1 when a test fails, the tests time out or a phase breaks; 2 without a GPU.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
os.environ.setdefault("CUPY_CACHE_DIR", str(REPO / ".cupy_cache"))  # before CuPy is imported
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

import bench_transformer as bench  # noqa: E402  (also the harness; after the sys.path change)
import tinytensor as tt  # noqa: E402
from tinytensor import backend  # noqa: E402

PHASES = {"tests": 0.55, "translate": 0.3, "bench": 0.15}  # each phase's share of the budget
XDIST_WORKERS = 8


# ----------------------------------------------------------------------------
# The machine
# ----------------------------------------------------------------------------
def use_standin() -> None:
    """Drive "cuda" with the CuPy stand-in, as the tests do where there is no GPU."""
    sys.path.insert(0, str(REPO / "tests"))
    import cupy_standin  # noqa: PLC0415 - a test helper, only for rehearsals

    backend.use_cuda_module(cupy_standin)


def cuda_torch() -> Any:
    """torch, when it is installed and sees a GPU; else None."""
    if importlib.util.find_spec("torch") is None:
        return None
    import torch  # noqa: PLC0415 - optional yardstick

    return torch if torch.cuda.is_available() else None


def environment(standin: bool, torch: Any) -> dict[str, str]:
    cupy = backend._cupy()
    if standin:
        gpu = "none: the CuPy stand-in of tests/cupy_standin (a rehearsal, not a GPU run)"
    else:
        properties = cupy.cuda.runtime.getDeviceProperties(0)
        gpu = (f"{properties['name'].decode()}, {properties['totalGlobalMem'] / 2 ** 30:.0f} GiB, "
               f"{tt.cuda.device_count()} device(s); CUDA runtime {cupy.cuda.runtime.runtimeGetVersion()}, "
               f"driver {cupy.cuda.runtime.driverGetVersion()}")
    return {"date": time.strftime("%Y-%m-%d"), "gpu": gpu, "python": sys.version.split()[0],
            "numpy": np.__version__, "cupy": getattr(cupy, "__version__", "stand-in"),
            "torch": f"{torch.__version__} (CUDA {torch.version.cuda})" if torch else "none with CUDA",
            "pytest-xdist": "yes" if importlib.util.find_spec("xdist") else "no",
            "sacrebleu": "yes" if importlib.util.find_spec("sacrebleu") else "no",
            "tinytensor": f"{REPO}{bench.harness.git_state()}",
            "CUPY_CACHE_DIR": os.environ["CUPY_CACHE_DIR"]}


# ----------------------------------------------------------------------------
# Phase 1: the GPU tests
# ----------------------------------------------------------------------------
def run_tests(seconds: float, out: Path, standin: bool) -> dict:
    command = [sys.executable, "-m", "pytest", "-m", "standin" if standin else "gpu", "-q", "-rfE",
               "-p", "no:cacheprovider"]
    if importlib.util.find_spec("xdist"):
        command += ["-n", str(min(XDIST_WORKERS, os.cpu_count() or 1))]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    start = time.perf_counter()
    try:
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=seconds, check=False)
        output, timed_out = done.stdout + done.stderr, False
    except subprocess.TimeoutExpired as stopped:
        output, timed_out = _text(stopped.stdout) + _text(stopped.stderr), True
    (out / "pytest.txt").write_text(output)
    summary = output.strip().splitlines()[-1] if output.strip() else ""
    found = re.findall(r"(\d+) (passed|failed|skipped|errors?)", summary)
    return {"command": " ".join(command[1:]), "seconds": time.perf_counter() - start,
            "timed_out": timed_out, "counts": {word.rstrip("s"): int(n) for n, word in found},
            "failures": [line for line in output.splitlines() if line.startswith(("FAILED", "ERROR"))]}


def _text(output: "str | bytes | None") -> str:
    return output.decode(errors="replace") if isinstance(output, bytes) else output or ""


# ----------------------------------------------------------------------------
# Phase 2: the translator, to its target BLEU
# ----------------------------------------------------------------------------
def train_translator(seconds: float, out: Path, args: argparse.Namespace) -> dict:
    from translator import train as training  # noqa: PLC0415 - builds the corpus
    from translator.configs import PRESETS  # noqa: PLC0415

    have_bleu = importlib.util.find_spec("sacrebleu") is not None
    if not have_bleu:  # the trainer scores with sacrebleu; without it, exact match alone
        training.score = _exact_match_only
    deadline = time.perf_counter() + seconds
    reached: dict[str, dict] = {}
    history: list[dict] = []

    def on_evaluation(record: dict) -> None:
        history.append(record)
        for name, met in (("BLEU 95", record["valid_bleu"] >= 95), ("target", _at_target(record, args))):
            if met and name not in reached:
                reached[name] = {"seconds": record["train_seconds"], "step": record["step"]}
        if "target" in reached or time.perf_counter() > deadline:
            trainer.stop_requested = True

    config = PRESETS[args.config]
    trainer = training.Trainer(config, out / "translator", device="cuda", eval_every=args.eval_every,
                               stop_at_step=args.max_steps, progress_bar=False, on_evaluation=on_evaluation)
    start = time.perf_counter()
    trainer.run()
    last = history[-1] if history else {}
    target = (f"BLEU >= {args.target_bleu}" if have_bleu else
              f"exact match >= {args.target_exact} (no sacrebleu)")
    return {"config": config.name, "target": target, "reached": reached,
            "wall_seconds": time.perf_counter() - start, "train_seconds": trainer.progress.train_seconds,
            "steps": trainer.progress.step, "tokens_per_second": trainer.tokens_per_second(), "last": last}


def _at_target(record: dict, args: argparse.Namespace) -> bool:
    bleu = record["valid_bleu"]
    return bleu >= args.target_bleu if bleu == bleu else record["valid_exact"] >= args.target_exact


def _exact_match_only(hypotheses: list[str], references: list[str]) -> Any:
    from translator.evaluate import Score  # noqa: PLC0415

    exact = sum(h == r for h, r in zip(hypotheses, references)) / max(len(references), 1)
    return Score(float("nan"), "BLEU not computed: sacrebleu is not installed", exact, "none")


# ----------------------------------------------------------------------------
# Phase 3: tinytensor against torch.nn.Transformer on CUDA
# ----------------------------------------------------------------------------
def timed(step: Callable[[], Any], synchronize: Callable[[], None], quick: bool) -> float:
    """Milliseconds per call: the median of 5 runs of enough calls to last 0.2 s after 3 warmup
    calls (``quick``: one run, one warmup), each run ended by a synchronize, so that the work the
    GPU still has queued is counted."""
    repeat, min_time, warmup = (1, 0.02, 1) if quick else (5, 0.2, 3)
    for _ in range(warmup):
        step()
    synchronize()
    number, times = 1, []
    while len(times) < repeat:
        start = time.perf_counter()
        for _ in range(number):
            step()
        synchronize()
        elapsed = time.perf_counter() - start
        if elapsed < min_time and not times:  # still finding how many calls fill min_time
            number = max(2 * number, int(number * min_time / max(elapsed, 1e-9)) + 1)
            continue
        times.append(elapsed / number * 1e3)
    return statistics.median(times)


def compare_with_torch(seconds: float, args: argparse.Namespace, torch: Any) -> list[dict]:
    deadline = time.perf_counter() + seconds
    data = bench.batch()
    rows = []
    for d_model in args.sizes:
        if time.perf_counter() > deadline:
            rows.append({"d_model": d_model, "skipped": "out of time"})
            continue
        rows.append(_compare_one(d_model, data, torch, args.quick))
    return rows


def _compare_one(d_model: int, data: dict[str, np.ndarray], torch: Any, quick: bool) -> dict:
    frameworks = {"tinytensor": (bench.Tiny("cuda"), tt.cuda.synchronize)}
    if torch is not None:
        frameworks["torch"] = (bench.Torch(torch, "cuda"), torch.cuda.synchronize)
    models = {name: lib.model(d_model) for name, (lib, _) in frameworks.items()}
    result: dict = {"d_model": d_model, "layers": bench.LAYERS[d_model]}
    if torch is not None:
        bench.Tiny.load(models["tinytensor"], {k: v.detach().cpu().numpy()
                                               for k, v in models["torch"].state_dict().items()})
    grads, tokens = {}, {}
    for name, (lib, synchronize) in frameworks.items():
        model, batch = models[name], {k: lib.ids(v) for k, v in data.items()}
        optimizer = lib.adam(model)

        def step() -> Any:
            optimizer.zero_grad()
            loss = lib.loss(model(batch["src"], batch["tgt_in"]), batch["target"])
            loss.backward()
            return loss

        with bench.no_dropout(lib, model):
            loss = step()
            grads[name] = [lib.numpy(loss)] + [lib.numpy(p.grad) for _, p in sorted(model.named_parameters())]
        optimizer.zero_grad()
        result[f"{name} train"] = timed(lambda: (step(), optimizer.step()), synchronize, quick)
        for variant, decode in lib.decoders(model, batch["src"]).items():
            tokens[f"{name} {variant}"] = lib.numpy(decode())
            result[f"{name} decode {variant}"] = timed(decode, synchronize, quick)
    if torch is not None:
        difference = bench.harness.max_difference(grads["tinytensor"], grads["torch"])
        result["check"] = bench.harness.check_text(difference) + " (without dropout)"
        result["equal tokens"] = {v: float((tokens[f"tinytensor {v}"] == tokens["torch greedy"]).mean())
                                  for v in ("cache", "no cache")}
    return result


# ----------------------------------------------------------------------------
# The table
# ----------------------------------------------------------------------------
def table(info: dict, results: dict) -> str:
    """The machine, then one row per result, as a Markdown table."""
    lines = ["| | |", "|---|---|", *(f"| {key} | {value} |" for key, value in info.items()), "",
             "| what | tinytensor | torch | tinytensor / torch | notes |", "|---|---|---|---|---|"]
    if "tests" in results:
        lines.append(_tests_row(results["tests"]))
    if "translate" in results:
        lines.append(_translator_row(results["translate"]))
    for row in results.get("bench", []):
        lines += _bench_rows(row)
    return "\n".join(lines) + "\n"


def _tests_row(t: dict) -> str:
    counts = ", ".join(f"{n} {word}" for word, n in t["counts"].items()) or "no summary line"
    failures = "; ".join(f.replace("|", "/") for f in t["failures"][:10]) or "no failures"
    return (f"| tests (`{t['command']}`) | {counts} in {t['seconds']:.0f} s | | | "
            f"{'TIMED OUT; ' if t['timed_out'] else ''}{failures} |")


def _translator_row(r: dict) -> str:
    marks = "; ".join(f"{name}: {m['seconds']:.1f} s of training, step {m['step']}"
                      for name, m in r["reached"].items()) or "target not reached"
    last, nan = r["last"], float("nan")
    return (f"| translator `{r['config']}` to {r['target']} | {marks} | | | {r['steps']} steps, "
            f"{r['tokens_per_second']:,.0f} tokens/s, {r['wall_seconds']:.0f} s with the evaluations; "
            f"last: BLEU {last.get('valid_bleu', nan):.2f}, exact {last.get('valid_exact', nan):.1%} |")


def _bench_rows(row: dict) -> list[str]:
    size = f"d_model {row['d_model']}"
    if "skipped" in row:
        return [f"| {size} | | | | skipped: {row['skipped']} |"]
    size += f", {row['layers']}+{row['layers']} layers"
    shares = row.get("equal tokens", {})
    cases = [("training step", "train", "train", row.get("check", "")),
             ("greedy decoding with the KV cache", "decode cache", "decode greedy", _share(shares, "cache")),
             ("greedy decoding without", "decode no cache", "decode greedy", _share(shares, "no cache"))]
    lines = []
    for label, ours, theirs, note in cases:
        mine, other = row[f"tinytensor {ours}"], row.get(f"torch {theirs}")
        lines.append(f"| {label}, {size} (ms) | {mine:.2f} | {f'{other:.2f}' if other else '-'} | "
                     f"{f'{mine / other:.2f}x' if other else ''} | {note} |")
    return lines


def _share(shares: dict, variant: str) -> str:
    return f"tokens equal to torch's: {shares[variant]:.1%}" if variant in shares else ""


def main(argv: list[str] | None = None) -> int:
    parser = bench.harness.make_parser(__doc__)
    parser.add_argument("--phases", nargs="+", choices=list(PHASES), default=list(PHASES))
    parser.add_argument("--budget", type=float, default=480, help="seconds for everything (default 480)")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "gpu_check", help="where the results go")
    parser.add_argument("--config", default="small", help="the translator's preset (default small)")
    parser.add_argument("--target-bleu", type=float, default=99.0)
    parser.add_argument("--target-exact", type=float, default=0.97, help="the target without sacrebleu")
    parser.add_argument("--eval-every", type=int, default=100, help="evaluate the translator this often")
    parser.add_argument("--max-steps", type=int, default=None, help="stop the translator here at the latest")
    parser.add_argument("--sizes", nargs="+", type=int, choices=list(bench.LAYERS), default=[128, 256])
    parser.add_argument("--quick", action="store_true", help="time each figure once, briefly (a smoke run)")
    parser.add_argument("--standin", action="store_true", help="rehearse on the CuPy stand-in (no GPU)")
    args = parser.parse_args(argv)
    if args.standin:
        use_standin()
    elif backend.cuda_unavailable_reason():
        print(f"gpu_check: no GPU to check: {backend.cuda_unavailable_reason()}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    torch = cuda_torch()
    info = environment(args.standin, torch)
    results, broken = run_phases(args, torch, info)
    text = table(info, results)
    (args.out / "results.md").write_text(text)
    (args.out / "results.json").write_text(json.dumps({"machine": info, "results": results}, indent=2,
                                                      default=str))
    print(f"\n{text}\nwrote {args.out / 'results.md'}")
    tests = results.get("tests", {})
    return 1 if broken or tests.get("counts", {}).get("failed") or tests.get("timed_out") else 0


def run_phases(args: argparse.Namespace, torch: Any, info: dict) -> tuple[dict, bool]:
    """Each chosen phase until its share of the budget is spent (a phase done early leaves the
    rest to the next); a phase that breaks is reported in ``info`` and the others still run."""
    start, chosen = time.perf_counter(), [p for p in PHASES if p in args.phases]
    total = sum(PHASES[p] for p in chosen)
    results, broken, share = {}, False, 0.0
    for phase in chosen:
        share += PHASES[phase] / total
        seconds = start + share * args.budget - time.perf_counter()
        print(f"=== {phase}: {seconds:.0f} s", flush=True)
        try:
            if phase == "tests":
                results[phase] = run_tests(seconds, args.out, args.standin)
            elif phase == "translate":
                results[phase] = train_translator(seconds, args.out, args)
            else:
                results[phase] = compare_with_torch(seconds, args, torch)
        except Exception as error:  # noqa: BLE001 - say which phase broke and how; run the others
            print(f"gpu_check: the {phase} phase broke: {type(error).__name__}: {error}", file=sys.stderr)
            info[f"{phase} phase"] = f"BROKE: {type(error).__name__}: {error}"
            broken = True
    info["total"] = f"{time.perf_counter() - start:.0f} s of a {args.budget:.0f} s budget"
    return results, broken


if __name__ == "__main__":
    sys.exit(main())
