"""The translator's command line: ``python -m translator COMMAND``.

    corpus     --out DIR                      write the toy corpus's splits as TSV (zh TAB en)
    train      [--config small] [--device auto] [--epochs N] [--batch-tokens N] [--seed N]
               [--out runs/zh-en] [--resume]
    translate  [--checkpoint PATH] [--beam K] [--steps] [--attention FILE.png] [SENTENCE ...]
               (no sentences: one line at a time from standard input, one output line each)
    evaluate   [--checkpoint PATH] [--split test|valid|long] [--pairs FILE.tsv] [--beam K]

Without ``--checkpoint`` the default run's best checkpoint is used (runs/zh-en/best.npz).
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from .configs import DEFAULT, PRESETS
from .corpus import SPLITS, build_corpus, read_tsv, write_tsv
from .evaluate import score, worst
from .train import Trainer, resolve_device
from .translate import CheckpointError, Translator

RUN = Path("runs/zh-en")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.command(args)
    except CheckpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def corpus(args: argparse.Namespace) -> int:
    for path in write_tsv(build_corpus(args.seed), args.out):
        print(f"wrote {path} ({sum(1 for _ in open(path, encoding='utf-8')):,} pairs)")
    return 0


def train(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    if args.resume:
        trainer = Trainer.resume(args.out / "last.npz", device, epochs=args.epochs)
        print(f"resuming {args.out / 'last.npz'}: epoch {trainer.progress.epoch + 1}, batch "
              f"{trainer.progress.batch}, step {trainer.progress.step}")
    else:
        config = PRESETS[args.config].with_overrides(epochs=args.epochs, batch_tokens=args.batch_tokens)
        trainer = Trainer(config, args.out, device, args.seed)
    config = trainer.config
    print(f"config {config.name}: d_model {config.d_model}, {config.nhead} heads, "
          f"{config.num_encoder_layers} + {config.num_decoder_layers} layers, {config.epochs} epochs of "
          f"{len(trainer.train_data):,} pairs in batches of about {config.batch_tokens} target tokens; "
          f"{sum(p.numel() for p in trainer.model.parameters()):,} parameters", flush=True)
    if trainer.run() is None:
        return 130  # interrupted: last.npz was written and the resume line printed
    print(f"best: valid exact match {trainer.progress.best_exact:.1%}, BLEU {trainer.progress.best_bleu:.2f}: "
          f"{args.out / 'best.npz'} "
          f"({trainer.progress.train_seconds:.0f} s of training)")
    return 0


def translate(args: argparse.Namespace) -> int:
    translator = Translator.load(args.checkpoint)
    sentences = args.sentences or [line.rstrip("\n") for line in sys.stdin]
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = _warn_to_stderr
        if args.steps:
            for sentence in sentences:
                print(translator.steps(sentence) + "\n")
        else:
            for line in translator.translate(sentences, beam=args.beam):
                print(line)
        if args.attention:
            print(f"wrote {translator.attention(sentences[0], args.attention)}", file=sys.stderr)
    return 0


def evaluate(args: argparse.Namespace) -> int:
    translator = Translator.load(args.checkpoint)
    pairs = read_tsv(args.pairs) if args.pairs else build_corpus(0)[args.split]
    sources, references = [zh for zh, _ in pairs], [en for _, en in pairs]
    hypotheses = translator.translate(sources, beam=args.beam)
    print(f"{len(pairs):,} pairs from {args.pairs or args.split}, "
          f"{'greedy' if args.beam == 1 else f'beam {args.beam}'}")
    print(score(hypotheses, references))
    wrong = worst(sources, hypotheses, references, count=args.worst)
    if wrong:
        print(f"\nthe {len(wrong)} worst translations (sentence BLEU, source, output, reference):")
    for bleu, source, output, reference in wrong:
        print(f"  {bleu:5.1f}  {source}\n         output:    {output}\n         reference: {reference}")
    return 0


def _warn_to_stderr(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"warning: {message}", file=sys.stderr)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m translator",
                                     description="The toy Chinese -> English translator.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    p = commands.add_parser("corpus", help="write the corpus splits as TSV files")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(command=corpus)

    p = commands.add_parser("train", help="train a translator")
    p.add_argument("--config", choices=list(PRESETS), default=DEFAULT,
                   help=f"model and training preset (default {DEFAULT}): "
                        + "; ".join(f"{n}: d_model {c.d_model}, {c.num_encoder_layers}+{c.num_decoder_layers} layers"
                                    for n, c in PRESETS.items()))
    p.add_argument("--device", default="auto", help="auto (the GPU if there is one), cpu, cuda or cuda:N")
    p.add_argument("--epochs", type=int, default=None, help="override the preset's number of epochs")
    p.add_argument("--batch-tokens", type=int, default=None, help="target tokens per batch")
    p.add_argument("--seed", type=int, default=0, help="weights, dropout and batch order")
    p.add_argument("--out", type=Path, default=RUN, help=f"run folder (default {RUN})")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last.npz")
    p.set_defaults(command=train)

    p = commands.add_parser("translate", help="translate sentences")
    p.add_argument("sentences", nargs="*", metavar="SENTENCE", help="Chinese sentences (default: stdin)")
    p.add_argument("--checkpoint", type=Path, default=RUN / "best.npz")
    p.add_argument("--beam", type=int, default=1, help="beam size (1: greedy)")
    p.add_argument("--steps", action="store_true", help="print each decoding step")
    p.add_argument("--attention", type=Path, metavar="FILE.png",
                   help="write the cross-attention heat map of the first sentence")
    p.set_defaults(command=translate)

    p = commands.add_parser("evaluate", help="BLEU and exact match on a split or a TSV file")
    p.add_argument("--checkpoint", type=Path, default=RUN / "best.npz")
    p.add_argument("--split", choices=[s for s in SPLITS if s != "train"], default="test")
    p.add_argument("--pairs", type=Path, help="a TSV file of zh TAB en pairs instead of a split")
    p.add_argument("--beam", type=int, default=1)
    p.add_argument("--worst", type=int, default=10, help="how many wrong translations to show")
    p.set_defaults(command=evaluate)
    return parser


if __name__ == "__main__":
    sys.exit(main())
