"""Training the translator, with the habits of a real trainer (``python -m translator train``).

Each step, for a batch of pairs of similar length (about ``batch_tokens`` target tokens):

    logits = model(src, tgt_in)                                  teacher forcing
    loss   = cross_entropy(logits, tgt_out, ignore_index=<pad>, label_smoothing=0.1)
    loss.backward(); clip_grad_norm_(...); optimizer.step(); scheduler.step()

with Adam (betas 0.9, 0.98, eps 1e-9) and the paper's warmup schedule. After each
epoch (and every ``eval_every`` steps, if set) the model translates the valid split
greedily: the validation loss, BLEU (sacrebleu) and exact match go to the screen,
to ``metrics.jsonl`` and to ``curves.png``.

What a run leaves in its folder (default runs/zh-en):

    last.npz       the latest state: model, optimizer, schedule, random state, progress,
                   vocabularies and config, written atomically (tinytensor.save)
    best.npz       the same, from the evaluation with the best validation exact match (then BLEU)
    metrics.jsonl  one line per evaluation
    curves.png     loss and BLEU against training time

Ctrl-C stops at the end of the current step (never in the middle of an update),
writes last.npz and prints how to resume; a second Ctrl-C stops at once. SIGTERM
(what ``kill``, ``timeout`` and job schedulers send) and SIGHUP (a closed terminal;
unless ``nohup`` ignores it) do the same. ``save_every`` steps and
``save_every_minutes`` write last.npz as it goes, so a ``kill -9`` loses at most that.
``--resume`` takes last.npz up where it left off: the batches of every epoch come
from (seed, epoch), and the checkpoint holds the position within the epoch and
the random generator's state (dropout), so on the CPU the resumed run is bit for
bit the run that was never interrupted. A resumed run keeps the better of its own
best score and best.npz's, so best.npz is never replaced by a worse model, and an
evaluation it does again replaces the lost one in metrics.jsonl.

The command line (``__main__.py``) guards the folder around this loop: one trainer
at a time, no new run over a trained one unasked (run_folder.py).

Under ``mpiexec -n N`` the same loop runs on N processes, one model trained with
DistributedDataParallel, each rank on its share of every epoch's batches; rank 0
alone evaluates and writes the run's files (parallel.py says who does what, and what
resuming with another N means).
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import signal
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import tinytensor as tt
import tinytensor.functional as F
from tinytensor import backend, nn, optim
from transformer import Seq2SeqTransformer

from . import parallel
from .configs import Config
from .corpus import build_corpus
from .data import Encoded, build_vocabularies
from .evaluate import score
from .tokens import Vocab
from .translate import KIND, Translator, fitting, read_checkpoint

try:
    from tqdm import tqdm
except ImportError:  # the progress bar is a nicety: without tqdm, a line per evaluation
    tqdm = None


@dataclass
class Progress:
    """Where training stands: everything besides tensors that a resumed run needs."""

    epoch: int = 0              # epochs finished
    batch: int = 0              # batches of the current epoch done (by all ranks together)
    step: int = 0               # optimizer steps in all
    train_seconds: float = 0.0  # time spent in training steps (not in evaluation)
    best_exact: float = -1.0    # the best evaluation so far: exact match first, BLEU breaking ties
    best_bleu: float = -1.0
    loss_sum: float = 0.0       # the current epoch's loss, summed over its target tokens
    loss_tokens: int = 0
    tokens: int = 0             # target tokens trained on, in all
    seed: int = 0
    threads: int | None = None  # the BLAS threads it trained on: another count changes the last bits
    world_size: int = 1         # the processes that trained it (each step averages that many batches)


@dataclass
class Trainer:
    config: Config
    out: Path
    device: str = "cpu"
    seed: int = 0
    eval_every: int | None = None            # also evaluate every this many steps
    stop_at_step: int | None = None          # stop there as if Ctrl-C had been pressed (tests, benchmarks)
    save_every: int | None = None            # write last.npz every this many steps...
    save_every_minutes: float | None = None  # ...and at least this often
    progress_bar: bool = True
    on_evaluation: Callable[[dict], None] | None = None  # called with each metrics record
    progress: Progress = field(default_factory=Progress)
    stop_requested: bool = False
    stopped_by: int | None = None            # the signal that stopped the run (SIGINT for Ctrl-C...)
    epoch_batches: int = 0                   # how many batches the current epoch has

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.config.fixed_shapes is None:  # decided once, and kept in checkpoints: a resumed run batches alike
            self.config = self.config.with_overrides(fixed_shapes=self.device != "cpu")
        self.rank, self.world_size = parallel.rank(), parallel.size()
        corpus = _corpus()                       # the data: the same for every run and seed
        self.src_vocab, self.tgt_vocab = build_vocabularies(corpus["train"])
        self.train_data = Encoded.of(corpus["train"], self.src_vocab, self.tgt_vocab)
        self.valid_data = Encoded.of(corpus["valid"], self.src_vocab, self.tgt_vocab)
        tt.manual_seed(self.seed)
        self.progress.seed = self.seed
        self.model = Seq2SeqTransformer(len(self.src_vocab), len(self.tgt_vocab), pad_id=Vocab.pad_id,
                                        **self.config.model_arguments()).to(self.device)
        if self.rank > 0:  # dropout masks of its own; rank 0 draws those one process would
            tt.manual_seed(parallel.rank_seed(self.seed, self.rank))
        self.data_parallel: nn.Module = self.model  # what a step calls: DistributedDataParallel with N ranks
        self.optimizer = optim.Adam(self.model.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
        self.scheduler = optim.lr_scheduler.TransformerWarmup(self.optimizer, self.config.d_model,
                                                              self.config.warmup_steps, self.config.lr_factor)
        self.translator = Translator(self.model, self.src_vocab, self.tgt_vocab, self.config, self.device)

    # ------------------------------------------------------------------
    # Checkpoints
    # ------------------------------------------------------------------
    def save(self, name: str) -> Path:
        """Write ``name``.npz (rank 0). Every rank calls save("last") together: it holds every
        rank's random state; best.npz, written by rank 0 alone, holds rank 0's."""
        path = self.out / f"{name}.npz"
        rng = tt.get_rng_state()
        ranks_rng = parallel.gathered(rng) if name == "last" and self.world_size > 1 else None
        if name == "last":
            self._saved_at = time.monotonic()
        if self.rank > 0:
            return path
        self.out.mkdir(parents=True, exist_ok=True)
        self.progress.threads, self.progress.world_size = tt.get_num_threads(), self.world_size
        tt.save({"kind": KIND, "config": self.config.to_dict(), "src_vocab": self.src_vocab.to_list(),
                 "tgt_vocab": self.tgt_vocab.to_list(), "model": self.model.state_dict(),
                 "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                 "rng": rng, "progress": vars(self.progress),
                 **({"rng_of_ranks": ranks_rng} if ranks_rng else {})}, path)
        return path

    def checkpoint_bytes(self) -> int:
        """About how big a checkpoint is: the weights and Adam's two moments of each."""
        return 3 * sum(p.numel() * p.dtype.itemsize for p in self.model.parameters())

    @classmethod
    def resume(cls, path: "str | Path", device: str = "cpu", epochs: int | None = None,
               **options: Any) -> "Trainer":
        """A trainer that continues the run of ``path`` (``epochs``: train longer than planned)."""
        checkpoint = read_checkpoint(path, device)
        with fitting(path):
            config = Config.from_dict(checkpoint["config"]).with_overrides(epochs=epochs)
            progress = Progress(**checkpoint["progress"])
            trainer = cls(config, Path(path).parent, device, progress.seed, **options)
            if (trainer.src_vocab.to_list(), trainer.tgt_vocab.to_list()) != \
                    (checkpoint["src_vocab"], checkpoint["tgt_vocab"]):
                raise ValueError("its vocabularies are not this corpus's; it cannot be resumed here")
            trainer.model.load_state_dict(checkpoint["model"])
            trainer.optimizer.load_state_dict(checkpoint["optimizer"])
            trainer.scheduler.load_state_dict(checkpoint["scheduler"])
        trainer._continue_random_state(checkpoint)
        trainer.progress = progress
        trainer._keep_the_better_best(Path(path).parent / "best.npz")
        return trainer

    def _continue_random_state(self, checkpoint: dict) -> None:
        """This rank's random state as saved; a rank the run did not have keeps its fresh one."""
        states = checkpoint.get("rng_of_ranks") or [checkpoint["rng"]]
        if self.rank < len(states):
            tt.set_rng_state(states[self.rank])

    def _keep_the_better_best(self, best: Path) -> None:
        """Start from best.npz's score if it is better than this checkpoint's (a best.npz written
        after the last save of a run that was killed): a worse model must never replace it."""
        if not best.exists():
            return
        saved = read_checkpoint(best)["progress"]
        if (saved["best_exact"], saved["best_bleu"]) > (self.progress.best_exact, self.progress.best_bleu):
            self.progress.best_exact, self.progress.best_bleu = saved["best_exact"], saved["best_bleu"]

    # ------------------------------------------------------------------
    # The loop
    # ------------------------------------------------------------------
    def run(self) -> dict | None:
        """Train to the configured number of epochs; returns the last metrics record.

        Stops early, with last.npz written and None returned, on Ctrl-C, SIGTERM or SIGHUP
        (``stopped_by`` says which), or when ``stop_requested`` is set or ``stop_at_step`` reached.
        """
        if self.progress.epoch >= self.config.epochs:
            raise ValueError(f"run: this run has done its {self.config.epochs} epochs; nothing to train "
                             f"(Trainer.resume(..., epochs=N) trains it longer)")
        if self.world_size > 1 and self.data_parallel is self.model:
            self.data_parallel = nn.parallel.DistributedDataParallel(self.model)
        previous = self._catch_stop_signals()
        self._saved_at = time.monotonic()
        try:
            record = None
            while self.progress.epoch < self.config.epochs:
                if not self._epoch():
                    return None
                record = self.evaluate()
                self.progress = dataclasses.replace(self.progress, epoch=self.progress.epoch + 1, batch=0,
                                                    loss_sum=0.0, loss_tokens=0)  # a new epoch
                self.save("last")
            return record
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _catch_stop_signals(self) -> dict[int, Any]:
        """Ctrl-C, SIGTERM and SIGHUP stop after the current step (signals reach the main thread
        only; one that is ignored, as nohup ignores SIGHUP, stays ignored). The previous handlers."""
        if threading.current_thread() is not threading.main_thread():
            return {}
        wanted = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
        return {signum: signal.signal(signum, self._interrupt) for signum in wanted
                if signal.getsignal(signum) is not signal.SIG_IGN}

    def _epoch(self) -> bool:
        """This rank's share of the rest of the current epoch's batches; False if it was interrupted."""
        epoch = self.progress.epoch
        batches = self.train_data.batches(self.config.batch_tokens, seed=self.seed * 1000 + epoch,
                                          fixed_shapes=self.config.fixed_shapes)
        self.epoch_batches = len(batches)
        mine = parallel.share(batches, self.progress.batch, self.rank, self.world_size)
        bar = self._bar(len(batches) // self.world_size, f"epoch {epoch + 1}/{self.config.epochs}")
        pending = tt.zeros((), device=self.device)  # the loss since the last readout, summed on the device
        pending_tokens = 0
        for i, indices in enumerate(mine):
            start = time.perf_counter()
            loss, tokens = self.step(indices)
            pending, pending_tokens = pending + loss.detach() * tokens, pending_tokens + tokens
            self.progress.batch += self.world_size
            self.progress.tokens += tokens  # this rank's; the others' are added at the next readout
            stopping, saving = self._stop_or_save()
            evaluating = bool(self.eval_every) and self.progress.step % self.eval_every == 0
            steps = self.progress.batch // self.world_size  # of this epoch
            if stopping or saving or evaluating or steps % 20 == 0 or steps == 1 or i == len(mine) - 1:
                # an evaluation records the loss so far
                self._read_loss(pending, pending_tokens)  # one sync every 20 steps (and the first: the bar shows it)
                pending, pending_tokens = tt.zeros((), device=self.device), 0
            self.progress.train_seconds += time.perf_counter() - start
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{self.epoch_loss():.3f}", lr=f"{self.scheduler.get_last_lr()[0]:.2e}",
                                tok_s=f"{self.tokens_per_second():,.0f}", refresh=False)
            if stopping:
                self._stopped(bar)
                return False
            if saving:
                self.save("last")
            if evaluating:
                self.evaluate()
        if bar is not None:
            bar.close()
        return True

    def _stop_or_save(self) -> tuple[bool, bool]:
        """Whether to stop now, and whether to save now; the same on every rank: a signal to any
        rank stops them all, and rank 0's clock says when a periodic save is due."""
        stop = self.stop_requested or self.progress.step == self.stop_at_step
        save = not stop and self.rank == 0 and self._save_due()
        stop, signum, save = parallel.agree([int(stop), self.stopped_by or 0, int(save)])
        if signum:
            self.stopped_by = signum
        return bool(stop), bool(save) and not stop

    def _save_due(self) -> bool:
        """Is it time for a periodic last.npz (``save_every`` steps, ``save_every_minutes``)?"""
        by_steps = self.save_every and self.progress.step % self.save_every == 0
        by_time = self.save_every_minutes and time.monotonic() - self._saved_at >= 60 * self.save_every_minutes
        return bool(by_steps or by_time)

    def step(self, indices: list[int]) -> tuple[tt.Tensor, int]:
        """One optimizer step on the pairs ``indices``; the loss (a device tensor) and its token count."""
        self.model.train()
        src, tgt_in, tgt_out = self.train_data.batch(indices, self.device)
        logits = self.data_parallel(src, tgt_in)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1),
                               ignore_index=Vocab.pad_id, label_smoothing=self.config.label_smoothing)
        self.optimizer.zero_grad()
        loss.backward()  # with N ranks: the gradient averaged over their batches
        optim.clip_grad_norm_(self.model.parameters(), self.config.clip_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.progress.step += 1
        return loss, self.train_data.tokens(indices)

    # ------------------------------------------------------------------
    # Evaluation
    # ------------------------------------------------------------------
    def evaluate(self) -> dict:
        """Validation loss, BLEU and exact match; written to metrics.jsonl, curves.png and best.npz.
        Rank 0 alone evaluates (the others' record is empty)."""
        if self.rank > 0:
            return {}
        self.model.eval()
        hypotheses = self.translator.translate([zh for zh, _ in self.valid_data.pairs])
        result = score(hypotheses, [en for _, en in self.valid_data.pairs])
        record = {"epoch": self.progress.epoch + self.progress.batch / max(1, self.epoch_batches),
                  "step": self.progress.step, "train_seconds": round(self.progress.train_seconds, 2),
                  "train_loss": self.epoch_loss(), "valid_loss": self.valid_loss(),
                  "valid_bleu": result.bleu, "valid_exact": result.exact,
                  "lr": self.scheduler.get_last_lr()[0], "bleu_signature": result.signature}
        self._report(record)
        # The toy grammar has one right translation per sentence, so exact match, the stricter
        # measure, picks the best checkpoint; BLEU only breaks ties.
        if (result.exact, result.bleu) > (self.progress.best_exact, self.progress.best_bleu):
            self.progress.best_exact, self.progress.best_bleu = result.exact, result.bleu
            self.save("best")
        return record

    @tt.no_grad()
    def valid_loss(self) -> float:
        """Label-smoothed cross-entropy per target token over the valid split (no dropout).

        Summed on the device and read once at the end: reading each batch's loss
        would make the host wait for the GPU after every batch.
        """
        total, tokens = tt.zeros((), device=self.device), 0
        for indices in self.valid_data.batches(self.config.batch_tokens * 4, seed=None, shuffle=False,
                                               fixed_shapes=self.config.fixed_shapes):
            src, tgt_in, tgt_out = self.valid_data.batch(indices, self.device)
            logits = self.model(src, tgt_in)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1),
                                   ignore_index=Vocab.pad_id, label_smoothing=self.config.label_smoothing)
            count = self.valid_data.tokens(indices)
            total, tokens = total + loss * count, tokens + count
        return total.item() / tokens

    def epoch_loss(self) -> float:
        return self.progress.loss_sum / self.progress.loss_tokens if self.progress.loss_tokens else math.nan

    def tokens_per_second(self) -> float:
        """Target tokens trained on per second of training steps."""
        return self.progress.tokens / self.progress.train_seconds if self.progress.train_seconds else 0.0

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------
    def _read_loss(self, pending: tt.Tensor, tokens: int) -> None:
        """The loss and the target tokens since the last readout, all ranks' together, into the progress."""
        loss_sum, all_tokens = parallel.total([pending.item(), tokens])
        self.progress.tokens += int(all_tokens) - tokens  # the other ranks'
        if all_tokens:
            self.progress.loss_sum += loss_sum
            self.progress.loss_tokens += int(all_tokens)

    def _report(self, record: dict) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        self._write_metrics(record)
        print(f"epoch {record['epoch']:.2f}  step {record['step']}  train loss {record['train_loss']:.3f}  "
              f"valid loss {record['valid_loss']:.3f}  valid BLEU {record['valid_bleu']:.2f}  "
              f"exact {record['valid_exact']:.1%}  ({record['train_seconds']:.0f} s of training)\n"
              f"  (BLEU: sacrebleu, corpus level, {record['bleu_signature']})", flush=True)
        plot_curves(self.out / "metrics.jsonl", self.out / "curves.png")
        if self.on_evaluation is not None:
            self.on_evaluation(record)

    def _write_metrics(self, record: dict) -> None:
        """Append ``record`` to metrics.jsonl, first dropping any records from this step on: they
        were made by a run killed before its next save, and this resumed run is doing them again."""
        path = self.out / "metrics.jsonl"
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True) if path.exists() else []
        kept = [line for line, old in zip(lines, read_records(lines)) if old and old["step"] < record["step"]]
        if len(kept) < len(lines):
            temporary = path.with_name(f".{path.name}.{os.getpid()}")
            temporary.write_text("".join(kept), encoding="utf-8")
            os.replace(temporary, path)  # all or nothing, as a checkpoint
        with open(path, "a", encoding="utf-8") as file:
            file.write(json.dumps(record) + "\n")

    def _bar(self, total: int, description: str) -> Any:
        if tqdm is None or not self.progress_bar or self.rank > 0:
            return None
        unit = "batch" if self.world_size == 1 else "step"
        return tqdm(total=total, initial=self.progress.batch // self.world_size, desc=description, unit=unit,
                    leave=False)

    def _interrupt(self, signum: int, frame: Any) -> None:
        name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        if self.stop_requested:  # a second one: stop now
            raise KeyboardInterrupt
        self.stop_requested, self.stopped_by = True, signum
        if self.rank > 0:  # rank 0 speaks for the job
            return
        with suppress(OSError):  # after SIGHUP the terminal may be gone; the save matters, not the line
            print(f"\n{name}: stopping after this step ({'press' if name == 'Ctrl-C' else 'send'} it again "
                  f"to stop at once)", flush=True)

    @property
    def exit_status(self) -> int:
        """What the command exits with once a signal stopped the run: 128 + its number, as a shell
        reports a stopped program (Ctrl-C 130)."""
        return 128 + (self.stopped_by or signal.SIGINT)

    def _stopped(self, bar: Any) -> None:
        if bar is not None:
            bar.close()
        path = self.save("last")
        if self.rank > 0:
            return
        launcher = f"mpiexec -n {self.world_size} " if self.world_size > 1 else ""
        print(f"stopped at epoch {self.progress.epoch + 1}, batch {self.progress.batch}, step "
              f"{self.progress.step}; saved {path}\nresume with: {launcher}python -m translator train "
              f"--resume --out {self.out}", flush=True)


@functools.lru_cache(maxsize=1)
def _corpus() -> dict:
    """The toy corpus (seed 0), built once per process: trainers made one after another share it."""
    return build_corpus(0)


def resolve_device(device: str) -> str:
    """``auto``: the GPU when CuPy and a GPU are there, else the CPU; says which and why.
    With N processes the CPU: their engine is MPI (NCCL, for GPUs, is not tested yet)."""
    if device == "auto":
        reason = backend.cuda_unavailable_reason()
        if parallel.size() > 1 and not reason:
            reason = f"{parallel.size()} processes train on CPUs (MPI)"
        device = "cpu" if reason else "cuda"
        if parallel.rank() == 0:
            print(f"training on {device}" + (f" (no GPU: {reason})" if reason else ""), flush=True)
    elif device.startswith("cuda") and parallel.size() > 1:
        raise RuntimeError(f"--device {device}: training with {parallel.size()} processes runs on CPUs (MPI); "
                           f"tinytensor's GPU engine, NCCL, is not tested yet (docs/gpu.md): use --device cpu")
    elif device.startswith("cuda") and backend.cuda_unavailable_reason():
        raise RuntimeError(f"--device {device}: {backend.cuda_unavailable_reason().rstrip('.')}; use --device cpu")
    return device


def read_records(lines: list[str]) -> list[dict | None]:
    """The records of metrics.jsonl's lines; None for a line cut short (a kill while it was written)."""
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            records.append(None)
    return records


def plot_curves(metrics: Path, path: Path) -> Path | None:
    """Loss and BLEU against training time, from metrics.jsonl (None without matplotlib)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: PLC0415
        from matplotlib.figure import Figure  # noqa: PLC0415
    except ImportError:
        return None
    records = [record for record in read_records(metrics.read_text(encoding="utf-8").splitlines()) if record]
    seconds = [r["train_seconds"] for r in records]
    figure = Figure(figsize=(9, 3.4), dpi=100)
    loss_axes, bleu_axes = figure.subplots(1, 2)
    loss_axes.plot(seconds, [r["train_loss"] for r in records], "o-", label="train")
    loss_axes.plot(seconds, [r["valid_loss"] for r in records], "o-", label="valid")
    loss_axes.set(xlabel="seconds of training", ylabel="loss per token (label-smoothed)", title="loss")
    loss_axes.legend()
    bleu_axes.plot(seconds, [r["valid_bleu"] for r in records], "o-", color="#2e7d32", label="BLEU")
    bleu_axes.plot(seconds, [100 * r["valid_exact"] for r in records], "o--", color="#6a1b9a",
                   label="exact match %")
    lowest = min(min(r["valid_bleu"], 100 * r["valid_exact"]) for r in records)
    bleu_axes.set(xlabel="seconds of training", ylabel="valid", title="BLEU and exact match",
                  ylim=(max(0.0, lowest - 2), 100.5))  # the last points of a good run differ by tenths
    bleu_axes.legend(loc="lower right")
    for axes in (loss_axes, bleu_axes):
        axes.grid(True, alpha=0.3)
    figure.tight_layout()
    FigureCanvasAgg(figure).print_png(str(path))
    return path
