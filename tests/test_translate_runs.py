"""Nothing lost: a second `train` never replaces a trained model unasked, one trainer at a time per
run folder, SIGTERM and SIGHUP save as Ctrl-C does, kill -9 loses at most --save-every steps,
a folder that cannot take the checkpoints is found before the first step, and --resume refuses
what would not continue the run.

The run folder here comes from a few steps of the tiny preset, evaluated on a slice of the valid
split, so it holds every file a run leaves (best.npz, last.npz, metrics.jsonl, curves.png) in
seconds; each test works on its own copy.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tinytensor as tt
from translator.__main__ import main
from translator.configs import PRESETS
from translator.data import Encoded
from translator.run_folder import RunFolder
from translator.train import Trainer

pytest.importorskip("sacrebleu", reason="BLEU needs sacrebleu: pip install -e '.[examples]'")
REPO = Path(__file__).resolve().parent.parent
TINY = PRESETS["tiny"].with_overrides(batch_tokens=1024)
RUN_FILES = ["best.npz", "curves.png", "last.npz", "metrics.jsonl"]


def short_trainer(out: Path, **options) -> Trainer:
    trainer = Trainer(TINY, out, progress_bar=False, **options)
    valid = trainer.valid_data
    trainer.valid_data = Encoded(valid.pairs[:32], valid.sources[:32], valid.targets[:32])
    return trainer


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A run folder: evaluated at step 4 (best.npz), stopped at step 6 (last.npz)."""
    out = tmp_path_factory.mktemp("trained") / "zh-en"
    assert short_trainer(out, eval_every=4, stop_at_step=6).run() is None
    assert sorted(p.name for p in out.iterdir()) == RUN_FILES
    return out


@pytest.fixture
def run(trained, tmp_path) -> Path:
    """A copy of the trained run folder, for one test to change."""
    return Path(shutil.copytree(trained, tmp_path / "zh-en"))


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.splitlines()) == 1 and err.startswith("error: "), err
    return err


def finished(run: Path) -> Path:
    """Make the run's last.npz that of a run which has done its one epoch."""
    checkpoint = tt.load(run / "last.npz")
    checkpoint["progress"].update(epoch=1, batch=0)
    tt.save(checkpoint, run / "last.npz")
    return run


def train_process(*arguments: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "translator", "train", "--config", "tiny", "--device", "cpu",
                             *arguments], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_for_line(process: subprocess.Popen, start: str) -> list[str]:
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith(start):
            return lines
    raise AssertionError(f"no line starting {start!r} in:\n{''.join(lines)}")


# ----------------------------------------------------------------------------
# A second train
# ----------------------------------------------------------------------------
def test_a_second_train_is_refused_and_the_trained_model_kept(run, capsys):
    before = contents(run)
    assert main(["train", "--config", "tiny", "--out", str(run)]) == 2
    err = one_error_line(capsys)
    best = tt.load(run / "best.npz")["progress"]
    assert f"error: {run} holds a trained model (valid BLEU {best['best_bleu']:.2f}, " in err
    assert "step 4" in err and "stopped in epoch 1 of 1" in err
    assert "--resume to continue it, --out DIR for a new run, or --overwrite to replace it" in err
    assert contents(run) == before


def test_the_default_run_folder_is_refused_too(trained, tmp_path, monkeypatch, capsys):
    shutil.copytree(trained, tmp_path / "runs" / "zh-en")
    monkeypatch.chdir(tmp_path)
    assert main(["train"]) == 2
    assert one_error_line(capsys).startswith("error: runs/zh-en holds a trained model (valid BLEU ")


def test_a_finished_run_is_refused_with_how_to_train_it_longer(run, capsys):
    finished(run)
    assert main(["train", "--config", "tiny", "--out", str(run)]) == 2
    assert "its 1 epoch done: --resume --epochs N to train it longer" in one_error_line(capsys)


@pytest.mark.parametrize("left, found", [(["last.npz"], "a run stopped at step 6, before its first evaluation"),
                                        (["metrics.jsonl", "curves.png"], "an earlier run's curves.png, metrics.jsonl")])
def test_what_an_earlier_run_left_is_refused_too(run, capsys, left, found):
    for name in set(RUN_FILES) - set(left):
        (run / name).unlink()
    assert main(["train", "--config", "tiny", "--out", str(run)]) == 2
    assert f"holds {found}" in one_error_line(capsys)


# ----------------------------------------------------------------------------
# --resume
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("flags, named", [
    (["--config", "small"], "--config small"),
    (["--batch-tokens", "512"], "--batch-tokens 512"),
    (["--seed", "3"], "--seed 3"),
    (["--config", "small", "--seed", "3"], "--config small --seed 3"),
])
def test_resume_refuses_arguments_that_would_not_continue_the_run(run, capsys, flags, named):
    before = contents(run)
    assert main(["train", "--resume", "--out", str(run), *flags]) == 2
    err = one_error_line(capsys)
    assert f"--resume: {run / 'last.npz'} holds a run of --config tiny --batch-tokens 1024 --seed 0; " in err
    assert f"leave out {named} to continue it, or give --out DIR for a new run" in err
    assert contents(run) == before


def test_resume_of_a_finished_run_says_so(run, capsys):
    finished(run)
    assert main(["train", "--resume", "--out", str(run), "--config", "tiny", "--batch-tokens", "1024",
                 "--seed", "0"]) == 2  # the checkpoint's own values are no conflict
    err = one_error_line(capsys)
    assert f"--resume: the run in {run} has done its 1 epoch (step 6, " in err
    assert "nothing to resume; --resume --epochs N (N > 1) trains it longer" in err
    assert main(["train", "--resume", "--out", str(run), "--epochs", "1"]) == 2
    assert "has done its 1 epoch" in one_error_line(capsys)


def test_resume_keeps_the_better_best_checkpoint(run):
    """A run killed after a best.npz newer than its last.npz: resuming must not replace that best
    by a worse one, so it starts from the better of the two scores."""
    best = tt.load(run / "best.npz")
    best["progress"].update(best_exact=0.75, best_bleu=80.0)
    tt.save(best, run / "best.npz")
    resumed = Trainer.resume(run / "last.npz", progress_bar=False)
    assert (resumed.progress.best_exact, resumed.progress.best_bleu) == (0.75, 80.0)


def test_an_evaluation_done_again_replaces_the_lost_one_in_metrics(run):
    """kill -9 after an evaluation, before the next save: the resumed run evaluates that step
    again, and metrics.jsonl keeps one record per step, so the curves never zig-zag."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    lost = dict(records[-1], step=9, valid_bleu=1.0)
    with open(run / "metrics.jsonl", "a") as file:
        file.write(json.dumps(lost) + "\n" + '{"step": 1')  # and a line cut short by the kill
    trainer = Trainer.resume(run / "last.npz", progress_bar=False, eval_every=8, stop_at_step=9)
    trainer.valid_data = Encoded(*(part[:32] for part in (trainer.valid_data.pairs, trainer.valid_data.sources,
                                                          trainer.valid_data.targets)))
    trainer.run()
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [4, 8]


# ----------------------------------------------------------------------------
# One trainer at a time; a folder that can hold the checkpoints
# ----------------------------------------------------------------------------
def test_a_second_trainer_on_the_same_folder_is_refused(run, capsys):
    pytest.importorskip("fcntl", reason="the run folder's lock is an flock (POSIX)")
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys
        from translator.run_folder import RunFolder
        with RunFolder({str(run)!r}).lock():
            print("locked", flush=True)
            sys.stdin.read()
    """)], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        assert main(["train", "--resume", "--out", str(run)]) == 2
        err = one_error_line(capsys)
        assert f"error: {run} is in use by another trainer (pid {holder.pid} on {socket.gethostname()}" in err
        assert "wait for it to finish, stop it, or give --out DIR for a new run" in err
    finally:
        holder.communicate("", timeout=30)
    assert not (run / "train.lock").exists()  # released on exit
    with RunFolder(run).lock():
        assert (run / "train.lock").read_text().startswith(f"pid {os.getpid()} on ")


def test_a_lock_left_by_a_killed_trainer_is_taken_over(run, capsys):
    pytest.importorskip("fcntl", reason="the run folder's lock is an flock (POSIX)")
    (run / "train.lock").write_text("pid 999999 on elsewhere since 2024-01-01 00:00\n")  # no flock held
    with RunFolder(run).lock():
        assert (run / "train.lock").read_text().startswith(f"pid {os.getpid()} on ")
    assert "left by pid 999999 on elsewhere" in capsys.readouterr().err
    assert not (run / "train.lock").exists()


def test_an_out_folder_that_cannot_be_written_is_found_before_training(tmp_path, capsys):
    blocker = tmp_path / "a file"
    blocker.write_text("not a folder")
    assert main(["train", "--config", "tiny", "--out", str(blocker / "run")]) == 2
    assert f"error: --out {blocker / 'run'}: cannot write there" in one_error_line(capsys)


def test_a_disk_too_full_for_the_checkpoints_is_found_before_training(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    out = tmp_path / "run"
    assert main(["train", "--config", "tiny", "--out", str(out), "--device", "cpu"]) == 2
    err = one_error_line(capsys)
    assert f"error: --out {out}: the checkpoints need about " in err and "free some space" in err
    assert os.listdir(out) == []  # nothing left: no probe, no lock


# ----------------------------------------------------------------------------
# Signals and periodic checkpoints (real processes)
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_save_and_say_how_to_resume_as_ctrl_c_does(run, stop):
    process = train_process("--out", str(run), "--overwrite", "--threads", "1")
    lines = wait_for_line(process, "config tiny")
    time.sleep(1.5)
    process.send_signal(stop)
    output = "".join(lines) + process.stdout.read()
    assert process.wait(timeout=60) == 128 + stop, output
    assert "BLAS threads: 1 (--threads 1)" in output and f"--overwrite: removed a trained model" in output
    assert f"{stop.name}: stopping after this step" in output
    assert f"resume with: python -m translator train --resume --out {run}" in output
    assert sorted(os.listdir(run)) == ["last.npz"]  # the old run's best, metrics and curves are gone
    assert tt.load(run / "last.npz")["progress"]["step"] > 0


def test_kill_9_loses_at_most_save_every_steps(tmp_path, capsys):
    out = tmp_path / "run"
    process = train_process("--out", str(out), "--save-every", "5", "--threads", "1")
    wait_for_line(process, "config tiny")
    deadline = time.monotonic() + 120
    while not (out / "last.npz").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)
    process.kill()
    process.wait(timeout=30)
    step = tt.load(out / "last.npz")["progress"]["step"]
    assert step >= 5 and step % 5 == 0
    assert (out / "train.lock").exists()  # left by the killed trainer; nobody holds it
    assert main(["train", "--resume", "--out", str(out), "--seed", "1"]) == 2  # the lock was taken over
    assert "holds a run of --config tiny --batch-tokens 512 --seed 0" in capsys.readouterr().err


def test_training_into_a_closed_pipe_stops_saying_so(tmp_path):
    """`train | head -2`, the reader gone: a line on stderr says why it stopped, never a traceback."""
    process = subprocess.Popen([sys.executable, "-m", "translator", "train", "--config", "tiny", "--device", "cpu",
                                "--out", str(tmp_path / "run")], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    process.stdout.close()
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1 and "Traceback" not in err, err
    assert "standard output was closed (the reading end of a pipe): stopped" in err
    assert not (tmp_path / "run" / "train.lock").exists()


def test_a_resumed_run_keeps_the_threads_it_was_trained_on(run, monkeypatch, capsys):
    """Another thread count changes the last bits of the numbers: resuming on the run's own count
    keeps the resume bit for bit, unless --threads says otherwise."""
    from translator import __main__ as cli
    assert tt.load(run / "last.npz")["progress"]["threads"] == tt.get_num_threads()  # recorded at each save
    before = tt.get_num_threads()
    try:
        args = cli._parser().parse_args(["train", "--resume"])
        assert cli._use_threads(args, trained_on=1).startswith("1 (the run's own, so that it resumes bit for bit")
        assert tt.get_num_threads() == 1
        args = cli._parser().parse_args(["train", "--resume", "--threads", "2"])
        assert cli._use_threads(args, trained_on=1) == "2 (--threads 2)" and tt.get_num_threads() == 2
    finally:
        tt.set_num_threads(before)
