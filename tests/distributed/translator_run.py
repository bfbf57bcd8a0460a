"""Run by tests/test_translate_parallel.py on every rank: the translator's trainer on a slice of the corpus.

    mpiexec -n N python tests/distributed/translator_run.py OUT --batch-tokens B --pairs P
            [--epochs E] [--stop-at STEP] [--dropout D] [--resume]

The tiny preset (dropout D, default its 0), B target tokens per batch and per process, the
first P training pairs, evaluated on the first 300 valid pairs. --stop-at stops there as
Ctrl-C would (last.npz written); --resume continues OUT/last.npz. Rank 0 writes
OUT/result.json: BLEU and exact match (when an evaluation ran), step, batch, tokens, processes.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from translator import parallel
from translator.configs import PRESETS
from translator.data import Encoded
from translator.train import Trainer


def sliced(data: Encoded, count: int) -> Encoded:
    return Encoded(data.pairs[:count], data.sources[:count], data.targets[:count])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--batch-tokens", type=int, required=True)
    parser.add_argument("--pairs", type=int, required=True)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--stop-at", type=int)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    parallel.start()
    options = dict(progress_bar=False, stop_at_step=args.stop_at)
    if args.resume:
        trainer = Trainer.resume(args.out / "last.npz", **options)
    else:
        config = PRESETS["tiny"].with_overrides(batch_tokens=args.batch_tokens, epochs=args.epochs,
                                                dropout=args.dropout)
        trainer = Trainer(config, args.out, **options)
    trainer.train_data, trainer.valid_data = sliced(trainer.train_data, args.pairs), sliced(trainer.valid_data, 300)
    record = trainer.run()
    if trainer.rank == 0:
        progress = trainer.progress
        (args.out / "result.json").write_text(json.dumps({
            "bleu": record and record["valid_bleu"], "exact": record and record["valid_exact"],
            "step": progress.step, "batch": progress.batch, "tokens": progress.tokens,
            "processes": trainer.world_size}))


if __name__ == "__main__":
    main()
