#!/usr/bin/env python
"""Training the translator to validation BLEU 95 and 99: tinytensor's trainer against the same run in PyTorch (CPU).

    python benchmarks/bench_translate.py                  # the small preset, until BLEU 99: minutes
    python benchmarks/bench_translate.py --quick          # smoke run: until BLEU 95 or 300 steps
    python benchmarks/bench_translate.py --threads 1 2    # one run per framework at each count
    python benchmarks/bench_translate.py --config tiny --max-steps 400 --json out.json

What is measured: the wall time of the training steps it takes the toy Chinese -> English
translator (translator/) to reach a validation BLEU of 95 and of 99, from the same
start, in tinytensor and in PyTorch. Only training counts: the evaluations are excluded on
both sides (tinytensor's trainer keeps that clock itself, ``record["train_seconds"]``).

The two runs are the same run:

* tinytensor: ``translator.train.Trainer`` itself, as ``python -m translator
  train --config NAME`` runs it (seed 0), plus an evaluation every
  ``--eval-every`` steps; its on_evaluation callback records (training seconds, step, BLEU)
  and stops the run at the target BLEU;
* PyTorch: the same model from torch.nn parts (bench_transformer.py's ``Torch.seq2seq``:
  nn.Embedding * sqrt(d_model), the same sinusoids, nn.Transformer(batch_first=True), a
  generator tied to the target embedding), started from the tinytensor trainer's own
  initial weights (copied name for name), trained on the same batches in the same order
  (the index lists of ``Encoded.batches(batch_tokens, seed=seed * 1000 + epoch)``, made into
  tensors by the same ``Encoded.batch``), with the same step: label-smoothed cross-entropy
  (0.1, ignoring padding), backward, clip_grad_norm_ to the config's clip_norm, Adam
  (betas 0.9, 0.98, eps 1e-9, lr 1), the paper's warmup schedule as a LambdaLR with the
  config's warmup and factor; dropout as in the config (0.1 for small);
* both evaluate at the same steps (every ``--eval-every``, at each epoch's end, at the
  last step): the valid split (1,000 sentences) translated greedily, scored with
  ``translator.evaluate.score`` (sacrebleu's corpus BLEU) on the detokenized
  sentences. torch's translations go through translator/translate.py's ``Translator.translate``
  too (the same batching by length, max_len, detokenize_en), with its ``_decode``
  replaced by a plain greedy loop: encode once, then run the decoder over the whole
  prefix at each step, until every sentence has written <eos>.

Before training, each worker checks the step on its own copy of the model, with every
dropout probability at 0: the first ``CHECK_STEPS`` steps from the same weights on the same
batches. The parent prints how far apart the first step's loss and (clipped) gradients are,
and the losses of all those steps (the later ones test the optimizer, the clipping and the
schedule). With dropout on, the runs then differ by their dropout masks (two random
generators) and by rounding, so their BLEU curves are not identical: the table of curves
shows by how much, and the steps to each BLEU differ too. Hence the seconds per target
token, which compare the speed of a step whatever the curves do.

The run stops at the first evaluation with BLEU >= 99 (``--quick``: 95), or at
``--max-steps`` (default 3 epochs' worth; ``--quick``: 300). Printed for each framework and
thread count: seconds of training and steps to the first evaluation at BLEU >= 95 and
>= 99, the final BLEU, target tokens trained per second; and the ratios tinytensor / torch
of the times to 95 and to 99. The goal: no slower than PyTorch on the CPU (ratio <= 1.0).

How it runs is the other benchmarks' (harness.py): each framework in a fresh worker process
of its own (torch first, then tinytensor; ``--rounds`` alternating rounds, the times their
median), with NumPy's BLAS pinned by threadpoolctl and torch.set_num_threads to the same
count (``--threads``; default: NumPy's BLAS default). A full run takes minutes per framework
and thread count, so on a shared machine look at the load average printed before and after.
PyTorch is only a yardstick: without it tinytensor's figures print alone.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# The shared machinery (machine info, threads, worker processes, printing) is in harness.py,
# which also puts the tinytensor to time (this checkout's, or --engine DIR) on sys.path; the
# torch model and the dropout switch are bench_transformer.py's.
import harness

import bench_transformer
import numpy as np

from translator.configs import PRESETS, Config
from translator.corpus import build_corpus
from translator.data import Encoded, build_vocabularies
from translator.evaluate import score
from translator.tokens import Vocab
from translator.train import Trainer
from translator.translate import Translator

TARGETS = (95.0, 99.0)       # the validation BLEUs whose times are reported
GOAL = 1.0                   # tinytensor / torch time to each target, at most
CHECK_STEPS = 10             # dropout-free steps compared before training
QUICK_STEPS, QUICK_BLEU = 300, 95.0
MAX_EPOCHS = 3               # --max-steps default: this many epochs' batches


def make_config(args: argparse.Namespace) -> Config:
    """The preset, with ``--dropout`` if given, and epochs enough for ``--max-steps`` (the
    trainer's ``stop_at_step`` ends the run; the schedule does not depend on the epochs)."""
    config = PRESETS[args.config].with_overrides(dropout=args.dropout)
    return config.with_overrides(epochs=max(config.epochs, args.max_steps))


def epochs_steps(train_data: Any, config: Config, seed: int, epochs: int) -> int:
    """How many steps ``epochs`` epochs of the trainer take."""
    return sum(len(train_data.batches(config.batch_tokens, seed=seed * 1000 + e)) for e in range(epochs))


def point(step: int, seconds: float, bleu: float, tokens: int, train_loss: float) -> dict:
    """One evaluation of the curve."""
    return {"step": step, "seconds": seconds, "bleu": bleu, "tokens": tokens, "train_loss": train_loss}


# ----------------------------------------------------------------------------
# tinytensor's worker: the trainer itself
# ----------------------------------------------------------------------------
def tiny_worker(args: argparse.Namespace, work: Path, config: Config) -> dict:
    tiny = bench_transformer.Tiny()
    check = work / f"check.{config.d_model}.tinytensor.npz"
    if not check.exists():  # a trainer of its own: the run's trainer below reseeds, as in a plain run
        checker = Trainer(config, work / "tinytensor-check", seed=args.seed, progress_bar=False)
        batches = checker.train_data.batches(config.batch_tokens, seed=args.seed * 1000)[:CHECK_STEPS]
        with bench_transformer.no_dropout(tiny, checker.model):
            losses = [checker.step(batches[0])[0].item()]   # its gradients stay (clipped)
            grads = {name: tiny.numpy(p.grad) for name, p in checker.model.named_parameters()}
            losses += [checker.step(indices)[0].item() for indices in batches[1:]]
        np.savez(check, loss=np.float64(losses[0]), **grads)
        np.save(work / f"losses.{config.d_model}.tinytensor.npy", np.array(losses))

    curve: list[dict] = []

    def on_evaluation(record: dict) -> None:
        if curve and curve[-1]["step"] == record["step"]:  # an epoch's end that is also an eval step
            return
        progress = trainer.progress
        curve.append(point(record["step"], progress.train_seconds, record["valid_bleu"], progress.tokens,
                           record["train_loss"]))
        print(f"... tinytensor step {record['step']}: BLEU {record['valid_bleu']:.2f} after "
              f"{progress.train_seconds:.1f} s of training", file=sys.stderr, flush=True)
        if record["valid_bleu"] >= args.stop_bleu:
            trainer.stop_requested = True

    trainer = Trainer(config, work / "tinytensor-run", seed=args.seed, eval_every=args.eval_every,
                      progress_bar=False, on_evaluation=on_evaluation, stop_at_step=args.max_steps)
    with contextlib.redirect_stdout(sys.stderr):   # the trainer's own lines are progress
        trainer.run()                              # (None when stopped: by BLEU or max_steps)
        if not curve or (curve[-1]["bleu"] < args.stop_bleu and curve[-1]["step"] != trainer.progress.step):
            trainer.evaluate()                     # stop_at_step stops before evaluating
    return {"curve": curve, "threads": tiny.threads()}


# ----------------------------------------------------------------------------
# torch's worker: the same run, written as a plain PyTorch loop
# ----------------------------------------------------------------------------
class TorchTranslator(Translator):
    """translator/translate.py's Translator (batching by length, max_len, detokenizing) over torch's model:
    only ``_decode`` differs, a plain greedy loop without a key-value cache."""

    def __init__(self, torch: Any, model: Any, src_vocab: Vocab, tgt_vocab: Vocab, config: Config) -> None:
        super().__init__(None, src_vocab, tgt_vocab, config)
        self.torch, self.torch_model = torch, model

    def _decode(self, sources: list[list[int]], beam: int) -> list[list[int]]:
        torch, model, nn = self.torch, self.torch_model, self.torch.nn
        longest = max(len(s) for s in sources)
        src = torch.tensor([s + [Vocab.pad_id] * (longest - len(s)) for s in sources])
        model.eval()
        with torch.no_grad():
            padding = src == Vocab.pad_id
            memory = model.transformer.encoder(model.embed(model.src_embed, src), src_key_padding_mask=padding)
            ys = torch.full((src.shape[0], 1), Vocab.bos_id, dtype=torch.int64)
            finished = torch.zeros(src.shape[0], dtype=torch.bool)
            for _ in range(self.max_len(src.shape[1])):
                causal = nn.Transformer.generate_square_subsequent_mask(ys.shape[1])
                y = model.transformer.decoder(model.embed(model.tgt_embed, ys), memory, tgt_mask=causal,
                                              memory_key_padding_mask=padding)
                token = model.generator(y[:, -1]).argmax(-1).masked_fill(finished, Vocab.pad_id)
                ys = torch.cat([ys, token[:, None]], 1)
                finished |= token == Vocab.eos_id
                if finished.all():
                    break
        return ys[:, 1:].tolist()


class TorchRun:
    """torch's model, optimizer and schedule from the tinytensor trainer's initial weights."""

    def __init__(self, torch: Any, reference: Any, config: Config) -> None:
        self.torch, self.config, self.data = torch, config, reference.train_data
        lib = bench_transformer.Torch(torch)
        self.model = lib.seq2seq(len(reference.src_vocab), len(reference.tgt_vocab), config.d_model,
                                 config.nhead, config.num_encoder_layers, config.num_decoder_layers,
                                 config.dim_feedforward, config.dropout, pad_id=Vocab.pad_id,
                                 norm_first=config.norm_first, max_len=2 * config.max_source_tokens + 8)
        lib.load(self.model, {k: v.numpy() for k, v in reference.model.state_dict().items()})
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
        d, warmup, factor = config.d_model, config.warmup_steps, config.lr_factor
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(   # TransformerWarmup's formula
            self.optimizer, lambda epoch: factor * d ** -0.5 * min((epoch + 1) ** -0.5,
                                                                   (epoch + 1) * warmup ** -1.5))
        self.translator = TorchTranslator(torch, self.model, reference.src_vocab, reference.tgt_vocab, config)

    def step(self, indices: list[int]) -> tuple[Any, int]:
        """Trainer.step's: the loss (before the update) and the batch's target tokens."""
        torch = self.torch
        self.model.train()
        src, tgt_in, tgt_out = (torch.from_numpy(np.asarray(t.numpy())) for t in self.data.batch(indices, "cpu"))
        logits = self.model(src, tgt_in)
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1), ignore_index=Vocab.pad_id,
            label_smoothing=self.config.label_smoothing)
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip_norm)
        self.optimizer.step()
        self.scheduler.step()
        return loss, sum(len(self.data.targets[i]) - 1 for i in indices)


def torch_worker(args: argparse.Namespace, work: Path, config: Config, torch: Any) -> dict:
    reference = Trainer(config, work / "torch-reference", seed=args.seed, progress_bar=False)  # data, weights
    valid = reference.valid_data.pairs
    check = work / f"check.{config.d_model}.torch.npz"
    if not check.exists():
        run = TorchRun(torch, reference, config)
        batches = reference.train_data.batches(config.batch_tokens, seed=args.seed * 1000)[:CHECK_STEPS]
        with bench_transformer.no_dropout(bench_transformer.Torch(torch), run.model):
            losses = [run.step(batches[0])[0].item()]           # its gradients stay (clipped)
            grads = {name: p.grad.numpy().copy() for name, p in run.model.named_parameters()}
            losses += [run.step(indices)[0].item() for indices in batches[1:]]
        np.savez(check, loss=np.float64(losses[0]), **grads)
        np.save(work / f"losses.{config.d_model}.torch.npy", np.array(losses))

    torch.manual_seed(args.seed)  # dropout's generator
    run = TorchRun(torch, reference, config)
    curve: list[dict] = []
    step, seconds, tokens, epoch = 0, 0.0, 0, 0
    while True:
        batches = reference.train_data.batches(config.batch_tokens, seed=args.seed * 1000 + epoch)
        pending, pending_tokens, loss_sum, loss_tokens = torch.zeros(()), 0, 0.0, 0
        for done, indices in enumerate(batches, 1):
            start = time.perf_counter()
            loss, count = run.step(indices)
            step, tokens = step + 1, tokens + count
            pending, pending_tokens = pending + loss.detach() * count, pending_tokens + count
            evaluating = step % args.eval_every == 0 or done == len(batches) or step == args.max_steps
            if evaluating or done % 20 == 0 or done == 1:  # when the trainer reads its loss
                loss_sum, loss_tokens = loss_sum + float(pending), loss_tokens + pending_tokens
                pending, pending_tokens = torch.zeros(()), 0
            seconds += time.perf_counter() - start
            if evaluating:
                bleu = score(run.translator.translate([zh for zh, _ in valid]), [en for _, en in valid]).bleu
                curve.append(point(step, seconds, bleu, tokens, loss_sum / loss_tokens if loss_tokens
                                   else math.nan))
                print(f"... torch step {step}: BLEU {bleu:.2f} after {seconds:.1f} s of training",
                      file=sys.stderr, flush=True)
                if bleu >= args.stop_bleu or step >= args.max_steps:
                    return {"curve": curve, "threads": torch.get_num_threads()}
        epoch += 1


def worker(args: argparse.Namespace) -> int:
    work = Path(args.work)
    torch = harness.start_worker(args.worker, args.threads[0])
    config = make_config(args)
    started = time.perf_counter()
    result = tiny_worker(args, work, config) if torch is None else torch_worker(args, work, config, torch)
    result["wall"] = time.perf_counter() - started
    (work / f"{args.threads[0]}.{args.worker}.json").write_text(json.dumps(result))
    return 0


# ----------------------------------------------------------------------------
# The parent
# ----------------------------------------------------------------------------
def milestones(curve: list[dict]) -> dict:
    """Seconds and steps to the first evaluation at each target BLEU; the final point; tokens/s."""
    out: dict = {}
    for target in TARGETS:
        first = next((p for p in curve if p["bleu"] >= target), None)
        out[f"to {target:g}"] = {"seconds": first["seconds"], "step": first["step"]} if first else None
    last = curve[-1]
    out["final"] = {"bleu": last["bleu"], "step": last["step"], "seconds": last["seconds"]}
    out["tokens_per_second"] = last["tokens"] / last["seconds"] if last["seconds"] else 0.0
    return out


def pooled(runs: list[dict]) -> dict:
    """One framework's figures over its rounds: median seconds; steps and BLEU of the first round
    (the same in every round unless the threads change the rounding)."""
    figures = [milestones(r["curve"]) for r in runs]
    out = dict(figures[0])
    for key in (f"to {t:g}" for t in TARGETS):
        if all(f[key] for f in figures):
            out[key] = {"seconds": statistics.median(f[key]["seconds"] for f in figures),
                        "rounds": [f[key]["seconds"] for f in figures],
                        "step": figures[0][key]["step"],
                        "steps": sorted({f[key]["step"] for f in figures})}
        else:
            out[key] = None
    out["tokens_per_second"] = statistics.median(f["tokens_per_second"] for f in figures)
    out["curve"] = runs[0]["curve"]
    out["threads"] = sorted({r["threads"] for r in runs}, key=str)
    out["worker_wall"] = [round(r["wall"], 1) for r in runs]
    return out


def run(threads: int, args: argparse.Namespace, work: Path, frameworks: list[str]) -> dict:
    result: dict = {"threads": threads}
    options = ["--threads", str(threads), "--work", str(work), "--config", args.config, "--seed",
               str(args.seed), "--eval-every", str(args.eval_every), "--max-steps", str(args.max_steps),
               "--stop-bleu", str(args.stop_bleu)] + (["--dropout", str(args.dropout)]
                                                       if args.dropout is not None else [])

    def run_one(framework: str, round_: int) -> dict | None:
        return harness.run_worker(__file__, framework, options, work / f"{threads}.{framework}.json")

    runs, failed = harness.alternate(f"training to BLEU {args.stop_bleu:g}, {threads} thread(s)",
                                     frameworks, args.rounds, run_one)
    if failed:
        result["failed"] = failed
    for framework, figures in runs.items():
        if figures:
            result[framework] = pooled(figures)
    if "torch" in result and "tinytensor" in result:
        ours, theirs = result["tinytensor"], result["torch"]
        for key in (f"to {t:g}" for t in TARGETS):
            result[f"ratio {key}"] = (ours[key]["seconds"] / theirs[key]["seconds"]
                                      if ours[key] and theirs[key] else None)
        result["ratio per token"] = theirs["tokens_per_second"] / ours["tokens_per_second"]
    return result


def check_result(work: Path, d_model: int) -> dict:
    """The dropout-free check: first step's loss and gradients, and the losses of CHECK_STEPS steps."""
    ours, theirs = (np.load(work / f"losses.{d_model}.{f}.npy") for f in ("tinytensor", "torch"))
    return {"first step": bench_transformer.compare_gradients(work, d_model, copied=True),
            "losses": {"tinytensor": ours.tolist(), "torch": theirs.tolist(),
                       "max relative difference": float(np.max(np.abs(ours - theirs) / np.abs(theirs)))}}


def print_tables(results: list[dict], config: Config, args: argparse.Namespace, check: dict | None) -> None:
    def seconds(x: dict | None) -> tuple[str, str]:
        return (f"{x['seconds']:.1f}", str(x["step"]) + ("" if len(x.get("steps", [0])) == 1
                                                         else f" ({'/'.join(map(str, x['steps']))})")) \
            if x else ("not reached", "-")

    def ratio(x: float | None) -> str:
        return f"{x:.2f}x ({'yes' if x <= GOAL else 'no'})" if x is not None else "-"

    print(f"training the {config.name} preset (d_model {config.d_model}, {config.nhead} heads, "
          f"{config.num_encoder_layers} + {config.num_decoder_layers} layers, d_ff {config.dim_feedforward}, "
          f"dropout {config.dropout}, about {config.batch_tokens} target tokens a batch, warmup "
          f"{config.warmup_steps}, factor {config.lr_factor:g}) until valid BLEU >= {args.stop_bleu:g} or "
          f"step {args.max_steps}, evaluating every {args.eval_every} steps; seconds of training steps only")
    rows = [("threads", "framework", "s to 95", "steps", "s to 99", "steps", "final BLEU", "at step",
             "tokens/s")]
    for r in results:
        for framework in ("tinytensor", "torch"):
            if framework in r:
                f = r[framework]
                rows.append((str(r["threads"]), framework, *seconds(f["to 95"]), *seconds(f["to 99"]),
                             f"{f['final']['bleu']:.2f}", str(f["final"]["step"]),
                             f"{f['tokens_per_second']:,.0f}"))
        if "failed" in r:
            rows.append((str(r["threads"]), ", ".join(r["failed"]) + " FAILED", *[""] * 7))
    harness.print_rows(rows)
    with_ratios = [r for r in results if "ratio per token" in r]
    if with_ratios:
        print(f"\nratio = tinytensor / torch (goal: no slower than PyTorch, ratio <= {GOAL:.1f})")
        rows = [("threads", "time to 95", "time to 99", "time per target token")]
        for r in with_ratios:
            rows.append((str(r["threads"]), ratio(r["ratio to 95"]), ratio(r["ratio to 99"]),
                         f"{r['ratio per token']:.2f}x"))
        harness.print_rows(rows)
    if check:
        losses = check["losses"]
        print(f"\ncheck, dropout off, from the same weights: first step: {check['first step']}\n"
              f"  losses of the first {len(losses['torch'])} steps agree to "
              f"{losses['max relative difference']:.0e} (relative); step {len(losses['torch'])}: "
              f"{losses['tinytensor'][-1]:.6f} vs {losses['torch'][-1]:.6f}")
    for r in results:
        if "tinytensor" not in r or "torch" not in r:
            continue
        ours = {p["step"]: p for p in r["tinytensor"]["curve"]}
        theirs = {p["step"]: p for p in r["torch"]["curve"]}
        print(f"\nthe curves, {r['threads']} thread(s): valid BLEU, train loss (the epoch's so far) and "
              f"seconds of training at each evaluation" + (" (the first round)" if args.rounds > 1 else ""))
        rows = [("step", "tt BLEU", "torch BLEU", "difference", "tt loss", "torch loss", "tt s", "torch s")]
        for step in sorted(set(ours) | set(theirs)):
            a, b = ours.get(step), theirs.get(step)
            rows.append((str(step), f"{a['bleu']:.2f}" if a else "", f"{b['bleu']:.2f}" if b else "",
                         f"{a['bleu'] - b['bleu']:+.2f}" if a and b else "",
                         f"{a['train_loss']:.3f}" if a else "", f"{b['train_loss']:.3f}" if b else "",
                         f"{a['seconds']:.1f}" if a else "", f"{b['seconds']:.1f}" if b else ""))
        harness.print_rows(rows)


def main(argv: list[str] | None = None) -> int:
    parser = harness.make_parser(__doc__)
    parser.add_argument("--config", default="small", choices=list(PRESETS),
                        help="the translator's preset (default: small)")
    parser.add_argument("--eval-every", type=int, default=50, metavar="N",
                        help="evaluate BLEU every N steps (default 50), and at each epoch's end")
    parser.add_argument("--max-steps", type=int, default=None, metavar="N",
                        help=f"stop there if the BLEU has not (default: {MAX_EPOCHS} epochs' worth; "
                             f"--quick: {QUICK_STEPS})")
    parser.add_argument("--stop-bleu", type=float, default=None, metavar="BLEU",
                        help=f"stop at the first evaluation at least this good (default {TARGETS[-1]:g}; "
                             f"--quick: {QUICK_BLEU:g})")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run: until BLEU {QUICK_BLEU:g} or step {QUICK_STEPS}")
    parser.add_argument("--threads", type=int, nargs="+", default=None, metavar="N",
                        help="thread counts, for NumPy's BLAS and for torch: one run per framework at each "
                             "(default: NumPy's BLAS default)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="fresh worker processes per framework and thread count, alternating torch / "
                             "tinytensor; the times are their median (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="the trainer's seed (default 0, as the CLI's)")
    parser.add_argument("--dropout", type=float, default=None,
                        help="override the preset's dropout (e.g. 0, to see the curves without "
                             "the two frameworks' different dropout masks)")
    parser.add_argument("--no-torch", action="store_true", help="run tinytensor alone")
    parser.add_argument("--engine", type=Path, default=harness.ENGINE,
                        help="folder holding the tinytensor package to time (default: this checkout)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    parser.add_argument("--worker", choices=["tinytensor", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.stop_bleu = args.stop_bleu if args.stop_bleu is not None else (QUICK_BLEU if args.quick else TARGETS[-1])
    if args.max_steps is None and args.quick:
        args.max_steps = QUICK_STEPS
    if args.worker:
        return worker(args)
    config = PRESETS[args.config].with_overrides(dropout=args.dropout)
    if args.max_steps is None:
        train = build_corpus(0)["train"]   # the trainer's corpus
        args.max_steps = epochs_steps(Encoded.of(train, *build_vocabularies(train)), config, args.seed,
                                      MAX_EPOCHS)
    threads, blas_text = harness.thread_settings(args.threads)
    have_torch = not args.no_torch and harness.torch_version() is not None
    info = harness.machine(blas_text, ", ".join(map(str, threads)), have_torch)
    harness.print_header("tinytensor translator benchmark: training to a validation BLEU", info, args,
                         have_torch, timing=f"seconds of training steps (evaluations excluded) to the first "
                         f"evaluation at each BLEU; {args.rounds} fresh process(es) per framework, "
                         f"alternating; ratio = tinytensor / torch")
    frameworks = (["torch"] if have_torch else []) + ["tinytensor"]
    with tempfile.TemporaryDirectory(prefix="tinytensor-bench-") as tmp:
        results = [run(n, args, Path(tmp), frameworks) for n in threads]
        check = (check_result(Path(tmp), config.d_model) if have_torch
                 and all((Path(tmp) / f"losses.{config.d_model}.{f}.npy").exists() for f in frameworks)
                 else None)
    print_tables(results, config, args, check)
    print(f"\nload average at the end: {harness.load_average()}")
    if args.json:
        harness.write_json(args.json, info, args.quick, results + ([{"check": check}] if check else []))
    return 1 if any("failed" in r for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
