"""Run by tests/test_translate_parallel.py on every rank: the translator's trainer on a slice of the corpus.

    mpiexec -n N python tests/distributed/translator_run.py OUT BATCH_TOKENS PAIRS [SEED]

Trains the tiny preset for one epoch on the first PAIRS training pairs, in batches of about
BATCH_TOKENS target tokens per process, and evaluates on the first 300 valid pairs; rank 0
writes OUT/result.json (BLEU, exact match, steps, target tokens trained).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from translator import parallel
from translator.configs import PRESETS
from translator.data import Encoded
from translator.train import Trainer


def sliced(data: Encoded, count: int) -> Encoded:
    return Encoded(data.pairs[:count], data.sources[:count], data.targets[:count])


def main(out: Path, batch_tokens: int, pairs: int, seed: int) -> None:
    parallel.start()
    trainer = Trainer(PRESETS["tiny"].with_overrides(batch_tokens=batch_tokens, epochs=int(__import__("os").environ.get("EP", 1))), out, seed=seed,
                      progress_bar=False)
    trainer.train_data, trainer.valid_data = sliced(trainer.train_data, pairs), sliced(trainer.valid_data, 300)
    record = trainer.run()
    if trainer.rank == 0:
        (out / "result.json").write_text(json.dumps({
            "bleu": record["valid_bleu"], "exact": record["valid_exact"], "steps": trainer.progress.step,
            "tokens": trainer.progress.tokens, "processes": trainer.world_size}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 0)
