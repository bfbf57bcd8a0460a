"""The translator: it learns in seconds, its command line works end to end, it resumes bit for bit,
Ctrl-C leaves a checkpoint, and bad input gets a clear message instead of a crash.

One tiny run (the ``tiny`` preset, one epoch, about 10 s, on the CPU) is shared by the tests
that need a trained checkpoint; the tests on every device (a short run, the resume) train a
few dozen steps of their own.
"""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tinytensor as tt
from translator.__main__ import main
from translator.configs import PRESETS
from translator.data import Encoded
from translator.train import Trainer
from translator.translate import CheckpointError, Translator

pytest.importorskip("sacrebleu", reason="BLEU needs sacrebleu: pip install -e '.[examples]'")
REPO = Path(__file__).resolve().parent.parent
TINY = PRESETS["tiny"].with_overrides(batch_tokens=1024)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A tiny translator trained for one epoch by the command line: its run folder."""
    out = tmp_path_factory.mktemp("zh-en")
    assert main(["train", "--config", "tiny", "--batch-tokens", "1024", "--out", str(out), "--device", "cpu"]) == 0
    return out


def test_training_learns_and_writes_its_run_folder(run, capsys):
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(records) == 1 and records[0]["step"] > 300
    assert records[0]["valid_bleu"] > 70 and records[0]["train_loss"] < 2.0  # from about 4.5
    assert {"last.npz", "best.npz", "metrics.jsonl", "curves.png"} <= {p.name for p in run.iterdir()}
    translator = Translator.load(run / "best.npz")
    held_out = ["我有一只猫。", "她不喜欢猫。", "他没有车。", "猫在桌子上。"]   # the spec's examples (three are in train)
    right = ["I have a cat.", "She does not like cats.", "He does not have a car.", "The cat is on the table."]
    assert sum(a == b for a, b in zip(translator.translate(held_out), right)) >= 3


def test_translate_command_greedy_beam_and_steps(run, capsys):
    checkpoint = str(run / "best.npz")
    assert main(["translate", "--checkpoint", checkpoint, "我有一只猫。", "她不喜欢猫。"]) == 0
    greedy = capsys.readouterr().out.splitlines()
    assert len(greedy) == 2 and greedy[0] == "I have a cat."
    assert main(["translate", "--checkpoint", checkpoint, "--beam", "4", "我有一只猫。"]) == 0
    assert capsys.readouterr().out.splitlines() == ["I have a cat."]
    assert main(["translate", "--checkpoint", checkpoint, "--steps", "我有一只猫。"]) == 0
    steps = capsys.readouterr().out
    assert "step  1  <bos>" in steps and "-> I " in steps and "<bos> I have a cat ." in steps
    assert "(then: " in steps and steps.rstrip().endswith("I have a cat.")


def test_translate_reads_standard_input_line_by_line(run, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("我有一只猫。\n\n他没有车。\n".encode()), encoding="utf-8"))
    assert main(["translate", "--checkpoint", str(run / "best.npz")]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0] == "I have a cat." and captured.out.splitlines()[1] == ""
    assert len(captured.out.splitlines()) == 3  # one output line per input line, the empty one too
    assert "line 2: empty, nothing to translate" in captured.err


def test_attention_heat_map(run, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / "attention.png"
    assert main(["translate", "--checkpoint", str(run / "best.npz"), "--attention", str(path), "我有一只猫。"]) == 0
    assert path.stat().st_size > 5000


def test_evaluate_prints_sacrebleu_with_its_signature(run, capsys, tmp_path):
    assert main(["evaluate", "--checkpoint", str(run / "best.npz"), "--split", "valid", "--worst", "2"]) == 0
    out = capsys.readouterr().out
    assert "BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:" in out and "exact match = " in out
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("我有一只猫。\tI have a cat.\n他没有车。\tHe does not have a car.\n", encoding="utf-8")
    assert main(["evaluate", "--checkpoint", str(run / "best.npz"), "--pairs", str(pairs)]) == 0
    assert "2 pairs from" in capsys.readouterr().out


def test_bad_input_lines_get_messages_not_crashes(run):
    translator = Translator.load(run / "best.npz")
    with pytest.warns(UserWarning) as caught:
        out = translator.translate(["", "狮龙", "我有一只猫。" * 12, "我有一只猫。"])
    messages = [str(w.message) for w in caught]
    assert out[:3] == ["", "", ""] and out[3] == "I have a cat."
    assert "line 1: empty, nothing to translate" in messages
    assert "unknown characters replaced by <unk>: '狮', '龙'" in messages
    assert "line 2: no character the model knows in '狮龙'" in messages
    assert any(m.startswith("line 3: 72 characters, longer than the 64 this model takes") for m in messages)


def test_missing_corrupt_and_foreign_checkpoints(tmp_path, capsys):
    assert main(["translate", "--checkpoint", str(tmp_path / "none.npz"), "我有一只猫。"]) == 2
    assert "no checkpoint at" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"not a checkpoint at all")
    assert main(["evaluate", "--checkpoint", str(corrupt)]) == 2
    assert "cannot read the checkpoint" in capsys.readouterr().err
    foreign = tmp_path / "digits.npz"
    tt.save({"model": tt.nn.Linear(2, 2).state_dict(), "epoch": 3}, foreign)
    with pytest.raises(CheckpointError, match="is a tinytensor checkpoint but not a translator's"):
        Translator.load(foreign)


def test_corpus_command_writes_the_splits(tmp_path, capsys):
    assert main(["corpus", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["long.tsv", "test.tsv", "train.tsv", "valid.tsv"]
    first = (tmp_path / "test.tsv").read_text(encoding="utf-8").splitlines()[0]
    zh, en = first.split("\t")
    assert zh.endswith(("。", "？")) and en.endswith((".", "?"))


# ----------------------------------------------------------------------------
# Every device: a short run learns and its checkpoint translates anywhere; resuming is bit for bit
# ----------------------------------------------------------------------------
def weights(trainer: Trainer) -> dict[str, np.ndarray]:
    return {k: v.numpy().copy() for k, v in trainer.model.state_dict().items()}


def test_a_short_run_on_every_device_learns_and_its_checkpoint_loads_anywhere(tmp_path, device):
    trainer = Trainer(TINY, tmp_path, device=device, progress_bar=False, stop_at_step=60)
    valid = trainer.valid_data
    trainer.valid_data = Encoded(valid.pairs[:64], valid.sources[:64], valid.targets[:64])
    before = trainer.valid_loss()
    assert trainer.run() is None and trainer.progress.step == 60
    assert trainer.valid_loss() < before - 0.5  # from about 4.6
    assert trainer.model.src_embed.embedding.weight.device == device
    here, on_cpu = Translator.load(tmp_path / "last.npz", device), Translator.load(tmp_path / "last.npz")
    src, tgt_in, _ = trainer.valid_data.batch(range(8), device)
    with tt.no_grad():
        np.testing.assert_allclose(here.model(src, tgt_in).numpy(),
                                   on_cpu.model(src.cpu(), tgt_in.cpu()).numpy(), rtol=1e-4, atol=1e-4)
    assert len(here.translate(["我有一只猫。", "他没有车。"])) == 2


def test_an_evaluation_mid_epoch_records_the_loss_of_every_step_before_it(tmp_path):
    """The loss is read every 20 steps; an evaluation in between reads it first (before, one at step 10
    showed step 1's loss alone, and benchmarks/bench_translate.py's torch loop, nan)."""
    trainer = Trainer(TINY, tmp_path, progress_bar=False, eval_every=10, stop_at_step=11)
    trainer.valid_data = Encoded(*(part[:16] for part in (trainer.valid_data.pairs, trainer.valid_data.sources,
                                                         trainer.valid_data.targets)))
    losses, records, step = [], [], trainer.step
    trainer.step = lambda indices: losses.append(step(indices)) or losses[-1]
    trainer.on_evaluation = records.append
    trainer.run()
    expected = sum(loss.item() * tokens for loss, tokens in losses[:10]) / sum(tokens for _, tokens in losses[:10])
    assert [r["step"] for r in records] == [10] and records[0]["train_loss"] == pytest.approx(expected, rel=1e-6)


def test_a_resumed_run_is_bit_identical_to_an_uninterrupted_one(tmp_path, device):
    config = TINY.with_overrides(dropout=0.1)  # dropout: the device's random state must resume too
    straight = Trainer(config, tmp_path / "a", device, seed=1, progress_bar=False, stop_at_step=40)
    assert straight.run() is None and straight.progress.step == 40
    first = Trainer(config, tmp_path / "b", device, seed=1, progress_bar=False, stop_at_step=17)
    first.run()
    resumed = Trainer.resume(tmp_path / "b" / "last.npz", device, progress_bar=False, stop_at_step=40)
    assert resumed.progress.step == 17 and resumed.progress.batch == 17
    resumed.run()
    a, b = weights(straight), weights(resumed)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert straight.optimizer.state_dict()["state"][0]["step"] == resumed.optimizer.state_dict()["state"][0]["step"]


def hear_ctrl_c() -> None:
    """In the child: Ctrl-C handled by default, even where the tests run in the background of a
    shell, which starts them with SIGINT ignored (the translator then leaves it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_writes_a_checkpoint_that_resumes(tmp_path):
    out = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "translator", "train", "--config", "tiny",
                                "--out", str(out), "--device", "cpu"], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                               preexec_fn=hear_ctrl_c)
    for line in process.stdout:  # wait until training has begun
        if line.startswith("config tiny"):
            break
    time.sleep(1.5)
    process.send_signal(signal.SIGINT)
    output = process.stdout.read()
    assert process.wait(timeout=60) == 130
    assert "resume with: python -m translator train --resume --out" in output
    stopped = Trainer.resume(out / "last.npz", progress_bar=False)
    assert stopped.progress.step > 0
    stopped.stop_at_step = stopped.progress.step + 3
    stopped.run()
    assert stopped.progress.step == tt.load(out / "last.npz")["progress"]["step"]
