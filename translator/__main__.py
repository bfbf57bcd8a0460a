"""The translator's command line: ``python -m translator COMMAND``.

    corpus     --out DIR                      write the toy corpus's splits as TSV (zh TAB en)
    train      [--config small] [--device auto] [--epochs N] [--batch-tokens N] [--seed N]
               [--out runs/zh-en] [--resume | --overwrite] [--save-every N] [--save-every-minutes M]
    translate  [--checkpoint PATH] [--beam K] [--steps] [--attention FILE.png] [SENTENCE ...]
               (no sentences: standard input, each line answered as it comes)
    evaluate   [--checkpoint PATH] [--split test|valid|long] [--pairs FILE.tsv] [--beam K]

    train, translate and evaluate take --threads N: the BLAS threads (default: the free cores now)

Without ``--checkpoint`` the default run's best checkpoint is used (runs/zh-en/best.npz).

``train`` never starts over an earlier run: if --out holds one, it stops at once, saying what
is there (the model's BLEU and step) and offering --resume to continue it, --out DIR for a new
run beside it, or --overwrite to replace it. One trainer at a time may use a folder (a lock,
run_folder.py). Ctrl-C, SIGTERM and SIGHUP save last.npz and say how to resume; the exit
status is then 128 + the signal's number (130, 143, 129), as a shell reports a stopped program.

``mpiexec -n N python -m translator train ...`` trains one model with N processes, each step
on N batches, one per process; rank 0 alone locks the folder, prints, evaluates and saves
(parallel.py; docs/distributed.md).

A mistake in the arguments or the input (a file that cannot be read, a line that is not
UTF-8...) prints one line, ``error: ...``, naming the argument, the value and what to do, and
exits with status 2; never a traceback. Output into a pipe closed early (``| head``) ends
quietly, as the Python documentation recommends.
"""
from __future__ import annotations

import argparse
import codecs
import os
import signal
import sys
import warnings
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import tinytensor as tt
from tinytensor.threads import choose_num_threads

from . import parallel
from .configs import DEFAULT, PRESETS
from .corpus import SPLITS, build_corpus, read_tsv, write_tsv
from .evaluate import score, worst
from .run_folder import RunFolder, RunFolderError
from .train import Trainer, resolve_device
from .translate import CheckpointError, Translator, read_checkpoint

T = TypeVar("T")
RUN = Path("runs/zh-en")
PICTURES = (".png", ".svg", ".pdf")   # what --attention writes
SAVE_EVERY_MINUTES = 10.0             # train's periodic last.npz: a kill -9 loses at most this


class UsageError(Exception):
    """A mistake in the command line's arguments or input: one `error:` line, exit status 2."""


def main(argv: list[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        return args.command(args)
    except (UsageError, CheckpointError, RunFolderError) as error:
        if parallel.rank() == 0:  # under mpiexec every rank has the error: one says it
            print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before training began, or a second Ctrl-C during it
        print("\ninterrupted", file=sys.stderr)
        return 128 + signal.SIGINT


def corpus(args: argparse.Namespace) -> int:
    try:
        paths = write_tsv(build_corpus(args.seed), args.out)
    except OSError as error:
        raise UsageError(f"--out {args.out}: cannot write there ({error.strerror or error}); give --out DIR "
                         f"in a folder you can write") from None
    for path in paths:
        print(f"wrote {path} ({sum(1 for _ in open(path, encoding='utf-8')):,} pairs)")
    return 0


def train(args: argparse.Namespace) -> int:
    rank, size = parallel.start()  # under mpiexec -n N: N processes train one model (parallel.py)
    folder, trainer = RunFolder(args.out), None
    with ExitStack() as held:  # rank 0's lock on the folder, released however this ends
        try:
            trainer, threads = _agreed(lambda: _prepared(args, folder, held, rank))
            if rank == 0:
                print(f"BLAS threads: {threads}\n{_described(trainer)}", flush=True)
            record = trainer.run()
        except BrokenPipeError:  # `train | head`: keep what was trained, say so, end as the docs recommend
            _quiet_stdout()
            saved = (f"; saved {trainer.save('last')}" if trainer is not None and trainer.progress.step and size == 1
                     else "")  # with N ranks a save needs them all: the last periodic save is what is kept
            with suppress(OSError):
                print(f"standard output was closed (the reading end of a pipe): stopped{saved}", file=sys.stderr)
            parallel.end_job(1)
            return 1
        except KeyboardInterrupt:  # a second Ctrl-C (or SIGTERM...) stops at once, saving nothing now
            if trainer is None:
                raise
            if rank == 0:
                print(f"\nstopped at once; {folder.path / 'last.npz'} is from the last save", file=sys.stderr)
            parallel.end_job(trainer.exit_status)  # the others may wait for this one
            return trainer.exit_status
    if record is None:
        return trainer.exit_status  # last.npz was written and the resume line printed
    if rank == 0:
        print(f"best: valid exact match {trainer.progress.best_exact:.1%}, BLEU {trainer.progress.best_bleu:.2f}: "
              f"{args.out / 'best.npz'} "
              f"({trainer.progress.train_seconds:.0f} s of training)")
    return 0


def _prepared(args: argparse.Namespace, folder: RunFolder, held: ExitStack, rank: int) -> tuple[Trainer, str]:
    """The trainer and its BLAS threads; rank 0 also locks and checks the folder (the others read it)."""
    if rank == 0:
        held.enter_context(folder.lock())  # one trainer at a time
        folder.check_writable()
    if args.resume:
        trainer, threads = _resumed(args, folder)
    else:
        threads = _use_threads(args)  # before the work: this process's own counts in the load
        trainer = _new_run(args, folder)
    if rank == 0:
        folder.check_room(trainer.checkpoint_bytes())
    return trainer, threads


def _agreed(prepare: Callable[[], T]) -> T:
    """``prepare()`` on every rank; if it fails on one, every rank stops with that error (rank 0 says it)."""
    try:
        result, error = prepare(), None
    except (UsageError, CheckpointError, RunFolderError) as caught:
        result, error = None, caught
    if parallel.size() > 1:
        failures = [(r, message) for r, message in enumerate(parallel.gathered(error and str(error))) if message]
        if failures and error is None:
            r, message = failures[0]
            error = UsageError(f"on rank {r}: {message}")
    if error is not None:
        raise error
    return result


def _new_run(args: argparse.Namespace, folder: RunFolder) -> Trainer:
    """A trainer for a new run in ``folder``: refused if an earlier run is there, unless --overwrite,
    which removes that run's files once the new trainer is ready (rank 0)."""
    earlier = folder.earlier_run()
    if earlier and not args.overwrite:
        folder.refuse_new_run()
    config = PRESETS[args.config or DEFAULT].with_overrides(epochs=args.epochs, batch_tokens=args.batch_tokens)
    trainer = Trainer(config, args.out, _training_device(args), args.seed or 0, **_saving(args))
    if earlier and trainer.rank == 0:
        folder.clear()
        print(f"--overwrite: removed {earlier} from {folder}")
    return trainer


def _described(trainer: Trainer) -> str:
    config, n = trainer.config, trainer.world_size
    processes = (f"\n{n} processes: each step averages the gradients of {n} batches, one per process "
                 f"(rank 0 evaluates and saves)" if n > 1 else "")
    return (f"config {config.name}: d_model {config.d_model}, {config.nhead} heads, "
            f"{config.num_encoder_layers} + {config.num_decoder_layers} layers, {config.epochs} epochs of "
            f"{len(trainer.train_data):,} pairs in batches of about {config.batch_tokens} target tokens"
            f"{' (a few fixed shapes)' if config.fixed_shapes else ''}; "
            f"{sum(p.numel() for p in trainer.model.parameters()):,} parameters" + processes)


def _resumed(args: argparse.Namespace, folder: RunFolder) -> tuple[Trainer, str]:
    """The trainer of the run in ``folder``, if the arguments would continue it as it was, and
    the BLAS threads it uses: the run's own unless --threads says otherwise."""
    path = folder.path / "last.npz"
    checkpoint = read_checkpoint(path)
    config, progress = checkpoint["config"], checkpoint["progress"]
    holds = {"--config": config["name"], "--batch-tokens": config["batch_tokens"], "--seed": progress["seed"]}
    given = {"--config": args.config, "--batch-tokens": args.batch_tokens, "--seed": args.seed}
    conflicts = " ".join(f"{flag} {given[flag]}" for flag in holds if given[flag] not in (None, holds[flag]))
    if conflicts:
        raise UsageError(f"--resume: {path} holds a run of {' '.join(f'{k} {v}' for k, v in holds.items())}; "
                         f"leave out {conflicts} to continue it, or give --out DIR for a new run")
    epochs = args.epochs or config["epochs"]
    if progress["epoch"] >= epochs:
        done = f"{progress['epoch']} epoch" + ("s" if progress["epoch"] != 1 else "")
        raise UsageError(f"--resume: the run in {folder} has done its {done} (step {progress['step']}, best "
                         f"valid BLEU {progress['best_bleu']:.2f}): nothing to resume; --resume --epochs N "
                         f"(N > {progress['epoch']}) trains it longer")
    same_processes = progress.get("world_size", 1) == parallel.size()  # else it cannot resume bit for bit anyway
    threads = _use_threads(args, progress.get("threads") if same_processes else None)
    trainer = Trainer.resume(path, _training_device(args), epochs=args.epochs, **_saving(args))
    if trainer.rank == 0:
        print(f"resuming {path}: epoch {trainer.progress.epoch + 1}, batch {trainer.progress.batch}, "
              f"step {trainer.progress.step}" + ("" if same_processes else
                                                 f" (trained by {progress.get('world_size', 1)} processes, "
                                                 f"now {parallel.size()}: another run from here)"))
    return trainer, threads


def _training_device(args: argparse.Namespace) -> str:
    try:
        return resolve_device(args.device)
    except RuntimeError as error:  # cuda asked for, and no GPU answers
        raise UsageError(str(error)) from None


def _saving(args: argparse.Namespace) -> dict:
    return dict(save_every=args.save_every, save_every_minutes=args.save_every_minutes)


def translate(args: argparse.Namespace) -> int:
    _use_threads(args)
    if args.attention is not None:
        _check_picture(args.attention)
    translator = Translator.load(args.checkpoint)
    batches = [[_argument(s, i) for i, s in enumerate(args.sentences, 1)]] if args.sentences else _stdin_lines()
    first, line = None, 1
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = _warn_to_stderr
        for sentences in batches:
            if args.steps:
                for sentence in sentences:
                    print(translator.steps(sentence) + "\n")
            else:
                for output in translator.translate(sentences, beam=args.beam, first_line=line):
                    print(output)
            sys.stdout.flush()  # answer what has come in before waiting for more
            first, line = first if first is not None else sentences[0], line + len(sentences)
        if args.attention is not None:
            _draw_attention(translator, first, args.attention)
    return 0


def _draw_attention(translator: Translator, sentence: str | None, path: Path) -> None:
    if sentence is None:
        raise UsageError(f"--attention {path}: no sentence to draw; give one as an argument or on "
                         f"standard input")
    try:
        print(f"wrote {translator.attention(sentence, path)}", file=sys.stderr)
    except ValueError as error:  # nothing in it the model can translate
        raise UsageError(f"--attention {path}: {error}; give a sentence the model can translate") from None
    except OSError as error:
        raise UsageError(f"--attention {path}: cannot write it ({error.strerror or error})") from None


def _check_picture(path: Path) -> None:
    """Before any work: a picture format we write, in a folder that is there."""
    if path.suffix.lower() not in PICTURES:
        raise UsageError(f"--attention {path}: a picture is written as {', '.join(PICTURES)}; "
                         f"give a file name ending in one of them")
    if not path.resolve().parent.is_dir():
        raise UsageError(f"--attention {path}: the folder {path.parent} does not exist; make it first")


def _stdin_lines() -> Iterator[list[str]]:
    """Standard input, in groups of lines: every whole line that has come in, without waiting for
    more. Typed lines are answered one by one; a file comes in large batches (translated fast)."""
    stream, pending, number = sys.stdin.buffer, b"", 0
    while True:
        chunk = stream.read1(1 << 16)
        if chunk:
            *lines, pending = (pending + chunk).split(b"\n")
        else:  # the end: a last line without its newline
            lines, pending = [pending] if pending else [], b""
        batch = []
        for line in lines:
            number += 1
            try:
                batch.append(_decoded(line, number))
            except UsageError:
                if batch:
                    yield batch  # translate the lines before it, then say so
                raise
        if batch:
            yield batch
        if not chunk:
            return


def _decoded(line: bytes, number: int) -> str:
    """One line of standard input as text, or a UsageError naming the line if it is not UTF-8."""
    if number == 1 and line.startswith(codecs.BOM_UTF8):  # a byte order mark, as Windows tools write
        line = line[len(codecs.BOM_UTF8):]
    try:
        text = line.rstrip(b"\r").decode("utf-8")
    except UnicodeDecodeError as error:
        reason = f"{error.reason} at byte {error.start + 1}"
    else:
        if "\0" not in text:
            return text
        reason = f"a NUL byte at byte {line.index(0) + 1}, as in UTF-16"  # valid UTF-8, but not text
    raise UsageError(f"standard input, line {number}: not UTF-8 ({reason}); convert it first, "
                     f"e.g. iconv -f GBK -t UTF-8 (or -f UTF-16)")


def _argument(sentence: str, number: int) -> str:
    """A sentence from the command line, which Python decodes leniently: refuse what was not UTF-8."""
    try:
        sentence.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"sentence {number} is not UTF-8; set your terminal to UTF-8") from None
    return sentence


def evaluate(args: argparse.Namespace) -> int:
    threads = _use_threads(args)
    translator = Translator.load(args.checkpoint)
    pairs = _pairs(args.pairs) if args.pairs else build_corpus(0)[args.split]
    sources, references = [zh for zh, _ in pairs], [en for _, en in pairs]
    hypotheses = translator.translate(sources, beam=args.beam)
    print(f"{len(pairs):,} pairs from {args.pairs or args.split}, "
          f"{'greedy' if args.beam == 1 else f'beam {args.beam}'}; BLAS threads: {threads}")
    print(score(hypotheses, references))
    wrong = worst(sources, hypotheses, references, count=args.worst)
    if wrong:
        print(f"\nthe {len(wrong)} worst translations (sentence BLEU, source, output, reference):")
    for bleu, source, output, reference in wrong:
        print(f"  {bleu:5.1f}  {source}\n         output:    {output}\n         reference: {reference}")
    return 0


def _pairs(path: Path) -> list[tuple[str, str]]:
    try:
        pairs = read_tsv(path)
    except OSError as error:
        raise UsageError(f"--pairs {path}: cannot read it ({(error.strerror or str(error)).lower()})") from None
    except ValueError as error:
        raise UsageError(f"--pairs {error}") from None
    if not pairs:
        raise UsageError(f"--pairs {path}: no pairs in it; give a TSV file of zh<TAB>en lines")
    return pairs


def _use_threads(args: argparse.Namespace, trained_on: int | None = None) -> str:
    """Set the BLAS threads: --threads, else those a resumed run was trained on (another count
    changes the last bits of the numbers), else the free cores now. What was chosen, and why."""
    if args.threads is not None:
        tt.set_num_threads(args.threads)
        return f"{args.threads} (--threads {args.threads})"
    if trained_on is not None:
        tt.set_num_threads(trained_on)
        return f"{trained_on} (the run's own, so that it resumes bit for bit; --threads N to change)"
    choice = choose_num_threads()
    tt.set_num_threads(choice.threads)
    return str(choice)


def _warn_to_stderr(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"warning: {message}", file=sys.stderr)


def _quiet_stdout() -> None:
    """Point standard output at /dev/null: the reader is gone, and Python's flush at exit would
    otherwise fail on it again (the Python documentation's recipe for SIGPIPE)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


# ----------------------------------------------------------------------------
# The arguments
# ----------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one `error:` line and status 2, not argparse's usage block
        raise UsageError(message)


def _positive(kind: type) -> Callable[[str], "int | float"]:
    def parse(text: str) -> "int | float":
        try:
            value = kind(text)
        except ValueError:
            whole = "whole " if kind is int else ""
            raise argparse.ArgumentTypeError(f"{text!r} is not a {whole}number") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text} is not a positive number; give 1 or more"
                                             if kind is int else f"{text} is not a positive number")
        return value
    parse.__name__ = f"positive {kind.__name__}"
    return parse


def _device(text: str) -> str:
    if text != "auto":
        try:
            tt.Device(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{error}, or 'auto'") from None
    return text


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m translator", description="The toy Chinese -> English translator.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")
    threads = dict(type=_positive(int), metavar="N",
                   help="BLAS threads (default: the cores free now, at least 1; printed at the start)")

    p = commands.add_parser("corpus", help="write the corpus splits as TSV files")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(command=corpus)

    p = commands.add_parser(
        "train", help="train a translator",
        description="Train a translator into a run folder (--out). An earlier run there is never replaced "
                    "unasked: train stops, saying what the folder holds, unless --resume continues that run "
                    "or --overwrite replaces it. One trainer at a time may use a folder. Ctrl-C, SIGTERM "
                    "and SIGHUP save last.npz and say how to resume.")
    p.add_argument("--config", choices=list(PRESETS), default=None,
                   help=f"model and training preset (default {DEFAULT}): "
                        + "; ".join(f"{n}: d_model {c.d_model}, {c.num_encoder_layers}+{c.num_decoder_layers} layers"
                                    for n, c in PRESETS.items()))
    p.add_argument("--device", type=_device, default="auto",
                   help="auto (the GPU if there is one), cpu, cuda or cuda:N")
    p.add_argument("--epochs", type=_positive(int), default=None, help="override the preset's number of epochs")
    p.add_argument("--batch-tokens", type=_positive(int), default=None, help="target tokens per batch")
    p.add_argument("--seed", type=int, default=None, help="weights, dropout and batch order (default 0)")
    p.add_argument("--out", type=Path, default=RUN, help=f"run folder (default {RUN})")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue the run in --out from its last.npz")
    again.add_argument("--overwrite", action="store_true",
                       help="replace the run in --out: its checkpoints, metrics and curves are removed first")
    p.add_argument("--save-every", type=_positive(int), metavar="STEPS",
                   help="also write last.npz every this many steps (a kill -9 loses at most that)")
    p.add_argument("--save-every-minutes", type=_positive(float), default=SAVE_EVERY_MINUTES, metavar="M",
                   help=f"also write last.npz at least every M minutes (default {SAVE_EVERY_MINUTES:g})")
    p.add_argument("--threads", **threads)
    p.set_defaults(command=train)

    p = commands.add_parser("translate", help="translate sentences")
    p.add_argument("sentences", nargs="*", metavar="SENTENCE",
                   help="Chinese sentences (default: standard input, each line answered as it comes)")
    p.add_argument("--checkpoint", type=Path, default=RUN / "best.npz")
    p.add_argument("--beam", type=_positive(int), default=1,
                   help="beam size (1: greedy; at most the target vocabulary's size)")
    p.add_argument("--steps", action="store_true", help="print each decoding step")
    p.add_argument("--attention", type=Path, metavar="FILE.png",
                   help="write the cross-attention heat map of the first sentence (.png, .svg or .pdf)")
    p.add_argument("--threads", **threads)
    p.set_defaults(command=translate)

    p = commands.add_parser("evaluate", help="BLEU and exact match on a split or a TSV file")
    p.add_argument("--checkpoint", type=Path, default=RUN / "best.npz")
    p.add_argument("--split", choices=[s for s in SPLITS if s != "train"], default="test")
    p.add_argument("--pairs", type=Path, help="a TSV file of zh TAB en pairs instead of a split")
    p.add_argument("--beam", type=_positive(int), default=1)
    p.add_argument("--worst", type=int, default=10, help="how many wrong translations to show")
    p.add_argument("--threads", **threads)
    p.set_defaults(command=evaluate)
    return parser


if __name__ == "__main__":
    try:
        status = main()
        sys.stdout.flush()  # a reader that went away shows here, while it can still be handled
    except BrokenPipeError:  # `python -m translator translate < many.txt | head -1`
        _quiet_stdout()
        status = 1
    sys.exit(status)
