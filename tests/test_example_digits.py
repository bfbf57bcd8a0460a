"""The digits example trains: a short run of examples/train_digits.py must learn (> 85% accuracy),
on every device."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "train_digits.py"


def test_train_digits_learns(capsys, device):
    pytest.importorskip("sklearn", reason="the example's data ships with scikit-learn: "
                                          "pip install -e '.[examples]'")
    spec = importlib.util.spec_from_file_location("train_digits", SCRIPT)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    accuracy = example.main(["--epochs", "3", "--seed", "0", "--device", device])
    assert accuracy > 0.85  # chance is 0.10; three epochs reach about 0.95
    assert "test accuracy" in capsys.readouterr().out
