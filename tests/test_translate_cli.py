"""The translator's command line as a careless user meets it: every mistake gets one `error:` line
naming the argument, the value and what to do, and exit status 2, never a traceback; standard input
is answered line by line as it comes; a closed pipe ends it quietly; Translator.translate takes a
string as one sentence.

The checkpoint here is an untrained tiny model (saved before any step): it translates badly, which
is all these tests need, and takes no time to make.
"""
from __future__ import annotations

import io
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import tinytensor as tt
from translator.__main__ import main
from translator.configs import PRESETS
from translator.corpus import read_tsv
from translator.train import Trainer
from translator.translate import CheckpointError, Translator

pytest.importorskip("sacrebleu", reason="BLEU needs sacrebleu: pip install -e '.[examples]'")
REPO = Path(__file__).resolve().parent.parent
TINY = PRESETS["tiny"].with_overrides(batch_tokens=1024)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """An untrained tiny translator's checkpoint."""
    out = tmp_path_factory.mktemp("untrained")
    return Trainer(TINY, out, progress_bar=False).save("best")


def one_error_line(capsys) -> str:
    """The single line the command printed on stderr, checked to be an `error:` line."""
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) == 1 and err.startswith("error: "), err
    return err


def stdin_of(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


# ----------------------------------------------------------------------------
# Arguments
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("argv, named", [
    (["translate", "--beam", "0", "我有一只猫。"], "--beam: 0"),
    (["translate", "--beam", "-3", "我有一只猫。"], "--beam: -3"),
    (["evaluate", "--beam", "0"], "--beam: 0"),
    (["translate", "--beam", "two", "我有一只猫。"], "--beam: 'two'"),
    (["train", "--batch-tokens", "0"], "--batch-tokens: 0"),
    (["train", "--epochs", "0"], "--epochs: 0"),
    (["train", "--device", "banana"], "--device: unknown device 'banana'"),
    (["train", "--threads", "0"], "--threads: 0"),
    (["train", "--save-every", "0"], "--save-every: 0"),
    (["train", "--save-every-minutes", "-1"], "--save-every-minutes: -1"),
    (["train", "--resume", "--overwrite"], "--overwrite"),
    (["train", "--config", "huge"], "--config: invalid choice: 'huge'"),
])
def test_bad_arguments_get_one_error_line_and_exit_2(argv, named, capsys):
    assert main(argv) == 2
    assert named in one_error_line(capsys)


def test_corpus_into_a_folder_that_cannot_be_written_is_one_error_line(tmp_path, capsys):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    assert main(["corpus", "--out", str(blocker / "data")]) == 2
    assert f"error: --out {blocker / 'data'}: cannot write there" in one_error_line(capsys)


def test_a_gpu_device_without_a_gpu_is_one_error_line(capsys, tmp_path):
    if tt.cuda_is_available():
        pytest.skip("this machine has a GPU: --device cuda trains on it")
    assert main(["train", "--device", "cuda", "--out", str(tmp_path / "run")]) == 2
    assert "--device cuda: " in one_error_line(capsys)
    assert not (tmp_path / "run" / "train.lock").exists()


# ----------------------------------------------------------------------------
# translate
# ----------------------------------------------------------------------------
def test_translate_takes_a_string_as_one_sentence(checkpoint):
    translator = Translator.load(checkpoint)
    one = translator.translate("我有一只猫。")
    assert isinstance(one, str) and one == translator.translate(["我有一只猫。"])[0]


@pytest.mark.parametrize("attention, stdin, sentence, expected", [
    ("a.png", b"", None, "--attention a.png: no sentence to draw"),
    ("a.png", None, "狮龙", "--attention a.png: "),
    ("missing/a.png", None, "我有一只猫。", "--attention missing/a.png: "),
    ("a.xyz", None, "我有一只猫。", "--attention a.xyz: "),
    ("a", None, "我有一只猫。", "--attention a: "),
])
def test_every_attention_failure_is_one_error_line(checkpoint, tmp_path, monkeypatch, capsys,
                                                    attention, stdin, sentence, expected):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    if stdin is not None:
        stdin_of(monkeypatch, stdin)
    argv = ["translate", "--checkpoint", str(checkpoint), "--attention", attention] + ([sentence] if sentence else [])
    assert main(argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if not line.startswith("warning: ")]
    assert "Traceback" not in err and len(errors) == 1 and errors[0].startswith("error: " + expected), err
    assert os.listdir(tmp_path) == []


def test_a_beam_wider_than_the_vocabulary_is_capped_with_a_warning(checkpoint, capsys):
    translator = Translator.load(checkpoint)
    words = len(translator.tgt_vocab)
    with pytest.warns(UserWarning, match=f"beam 1000 is wider than the {words} words of the target vocabulary"):
        wide = translator.translate(["我有一只猫。", "他没有车。"], beam=1000)
    assert wide == translator.translate(["我有一只猫。", "他没有车。"], beam=words)


def test_a_wide_beam_decodes_fewer_sentences_at_once(checkpoint, monkeypatch):
    """Memory grows with sentences x beam: a batch holds about 256 hypotheses, whatever the beam."""
    import translator.translate as module
    translator, widths = Translator.load(checkpoint), []
    real = module.beam_search
    monkeypatch.setattr(module, "beam_search", lambda model, src, **kw: widths.append(src.shape[0] * kw["beam_size"])
                        or real(model, src, **kw))
    translator.translate(["我有一只猫。"] * 20, beam=64)
    assert sum(widths) == 20 * 64 and max(widths) <= 256


@pytest.mark.parametrize("encoding, line", [("gbk", 2), ("utf-16", 1), ("utf-16-le", 1)])
def test_standard_input_not_in_utf8_is_named_with_its_line(checkpoint, monkeypatch, capsys, encoding, line):
    text = "我有一只猫。\n他没有车。\n"
    data = ("我有一只猫。\n".encode("utf-8") + "他没有车。\n".encode(encoding)) if encoding == "gbk" \
        else text.encode(encoding)
    stdin_of(monkeypatch, data)
    assert main(["translate", "--checkpoint", str(checkpoint)]) == 2
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == line - 1  # the lines before it were translated
    errors = [e for e in captured.err.splitlines() if e.startswith("error: ")]
    assert errors == [e for e in captured.err.splitlines() if not e.startswith("warning: ")]
    assert len(errors) == 1 and f"standard input, line {line}: not UTF-8" in errors[0]


def test_a_utf8_byte_order_mark_and_windows_line_ends_are_fine(checkpoint, monkeypatch, capsys):
    stdin_of(monkeypatch, "\ufeff我有一只猫。\r\n他没有车。\r\n".encode("utf-8"))
    assert main(["translate", "--checkpoint", str(checkpoint)]) == 0
    translator = Translator.load(checkpoint)
    assert capsys.readouterr().out.splitlines() == translator.translate(["我有一只猫。", "他没有车。"])


def test_translate_answers_each_line_as_it_comes(checkpoint):
    """Typed sentences are answered one by one, before standard input is closed."""
    process = subprocess.Popen([sys.executable, "-m", "translator", "translate", "--checkpoint", str(checkpoint)],
                               cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    answers: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [answers.put(line) for line in process.stdout], daemon=True).start()
    try:
        for sentence in ("我有一只猫。", "他没有车。"):
            process.stdin.write(sentence.encode() + b"\n")
            process.stdin.flush()
            assert answers.get(timeout=60).endswith(b"\n")  # stdin is still open: the answer came anyway
    finally:
        process.stdin.close()
        process.wait(timeout=60)
    assert process.returncode == 0 and answers.empty()


def test_output_into_a_closed_pipe_ends_quietly(checkpoint):
    """`... | head -1`: the reader goes away; no BrokenPipeError traceback (the CPython docs' recipe)."""
    process = subprocess.Popen([sys.executable, "-m", "translator", "translate", "--checkpoint", str(checkpoint)],
                               cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader is gone before the first line
    _, err = process.communicate("我有一只猫。\n他没有车。\n".encode() * 50, timeout=120)
    assert process.returncode == 1 and b"Traceback" not in err and b"BrokenPipe" not in err, err


# ----------------------------------------------------------------------------
# evaluate and checkpoints
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("content, expected", [
    (b"", "no pairs"),
    (b"\xe6\x88\x91\xe6\x9c\x89\n", "line 1: expected 'zh<TAB>en'"),
    ("我有一只猫。\tI have a cat.\tthird\n".encode(), "line 1: expected 'zh<TAB>en'"),
    ("我有一只猫。\tI have a cat.\n".encode("utf-8") + "他没有车。\tHe does not have a car.\n".encode("gbk"),
     "line 2: not UTF-8"),
    (None, "no such file"),
])
def test_evaluate_pairs_that_cannot_be_read_is_one_error_line(checkpoint, tmp_path, capsys, content, expected):
    pairs = tmp_path / "pairs.tsv"
    if content is not None:
        pairs.write_bytes(content)
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--pairs", str(pairs)]) == 2
    err = one_error_line(capsys)
    assert f"--pairs {pairs}" in err and expected in err


def test_evaluate_reads_windows_line_ends_and_says_its_threads(checkpoint, tmp_path, capsys):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_bytes("\ufeff我有一只猫。\tI have a cat.\r\n他没有车。\tHe does not have a car.\r\n".encode())
    assert read_tsv(pairs) == [("我有一只猫。", "I have a cat."), ("他没有车。", "He does not have a car.")]
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--pairs", str(pairs), "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "2 pairs from" in out and "BLAS threads: 1 (--threads 1)" in out


def test_a_checkpoint_whose_config_does_not_fit_its_weights_is_one_error_line(checkpoint, tmp_path, capsys):
    contents = tt.load(checkpoint)
    contents["config"] = PRESETS["small"].to_dict()  # the tiny model's weights, the small model's config
    changed = tmp_path / "changed.npz"
    tt.save(contents, changed)
    with pytest.raises(CheckpointError, match="changed.npz: its config, vocabularies and weights do not fit"):
        Translator.load(changed)
    assert main(["translate", "--checkpoint", str(changed), "我有一只猫。"]) == 2
    assert len(one_error_line(capsys)) < 400
    run = tmp_path / "run"
    run.mkdir()
    assert main(["translate", "--checkpoint", str(run), "我有一只猫。"]) == 2
    assert f"is a folder; give a checkpoint in it, e.g. {run / 'best.npz'}" in one_error_line(capsys)
    (run / "last.npz").write_bytes(changed.read_bytes())
    assert main(["train", "--resume", "--out", str(run), "--threads", "1"]) == 2
    assert "last.npz: its config, vocabularies and weights do not fit" in one_error_line(capsys)
