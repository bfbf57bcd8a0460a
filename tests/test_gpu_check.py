"""benchmarks/gpu_check.py, rehearsed on the CuPy stand-in: a GPU run must not be the first run.

The script is meant for a GPU machine and a few minutes of its time; a typo in it
would waste them. So CI runs it here, ``--standin --quick``, on the tiny translator
and the smallest model, and checks that it trains, times, and writes its table.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

pytest.importorskip("sacrebleu", reason="the translator phase scores with sacrebleu")


def test_the_gpu_check_rehearses_on_the_standin(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "gpu_check.py"), "--standin", "--quick",
                           "--phases", "translate", "bench", "--config", "tiny", "--eval-every", "30",
                           "--max-steps", "31", "--sizes", "64", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    table = (tmp_path / "results.md").read_text()
    assert "| gpu | none: the CuPy stand-in" in table
    assert "| translator `tiny` to BLEU >= 99.0 | target not reached | | | 31 steps," in table
    for row in ("| training step, d_model 64, 2+2 layers (ms) |", "| greedy decoding with the KV cache,",
                "| greedy decoding without,"):
        assert row in table
    assert (tmp_path / "results.json").exists() and (tmp_path / "translator" / "last.npz").exists()
