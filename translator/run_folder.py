"""A run's folder (``--out``, default runs/zh-en): one trainer at a time, and no trained model lost.

    runs/zh-en/
        last.npz  best.npz  metrics.jsonl  curves.png   what a run leaves (train.py)
        train.lock                                      while a trainer runs: "pid 4242 on HOST since ..."

``python -m translator train`` keeps three rules with it:

- A new run never starts over an earlier one. If the folder holds a run's files, ``earlier_run``
  says what (a trained model with its BLEU and step, a run stopped before its first evaluation,
  or just its metrics), and the command stops there, offering --resume to continue it, --out DIR
  for a new run, or --overwrite, which removes the old run's files before the first step, so that
  its metrics and curves never mix with the new run's.
- One trainer at a time: ``lock`` takes an exclusive lock (flock) on train.lock, refuses a
  second trainer with whose lock it is, and removes the file when training ends. The system
  releases an flock when its process ends, however it ends (kill -9 and power cuts too), so a
  lock file left behind by a dead trainer is unlocked, and the next trainer takes it over.
  (flock is POSIX; where there is none, Windows, the folder is not locked.)
- The folder can take the checkpoints before the first step, not after an epoch: a probe file is
  written, flushed and removed (``check_writable``), and the disk has room for them (``check_room``).
"""
from __future__ import annotations

import os
import shutil
import socket
import sys
import time
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Iterator

import tinytensor as tt

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

RUN_FILES = ("best.npz", "curves.png", "last.npz", "metrics.jsonl")
LOCK = "train.lock"


class RunFolderError(Exception):
    """The run folder cannot be trained into now: another trainer has it, it cannot be written,
    or it holds a run the user did not ask to continue or replace."""


class RunFolder:
    def __init__(self, path: "str | Path") -> None:
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.path)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the folder for this process (made if need be) until the block ends."""
        self._make()
        if fcntl is None:
            yield
            return
        path = self.path / LOCK
        descriptor = self._locked(path)
        try:
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, f"pid {os.getpid()} on {socket.gethostname()} "
                                 f"since {time.strftime('%Y-%m-%d %H:%M')}\n".encode(), 0)
            yield
        finally:
            with suppress(FileNotFoundError):
                os.unlink(path)  # before unlocking: no one else can hold it now
            os.close(descriptor)

    def _locked(self, path: Path) -> int:
        """An open descriptor of ``path``, locked; RunFolderError if a live process holds it."""
        while True:
            try:
                descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as error:
                raise self._unwritable(error) from None
            left_by = os.read(descriptor, 200).decode(errors="replace").strip()
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)
                raise RunFolderError(f"{self} is in use by another trainer ({left_by or 'starting'}): wait for "
                                     f"it to finish, stop it, or give --out DIR for a new run") from None
            except OSError as error:  # a file system without locks (some network ones): say so, go on
                print(f"{path}: cannot be locked ({error.strerror}); make sure no other trainer uses {self}",
                      file=sys.stderr)
                return descriptor
            with suppress(FileNotFoundError):
                if os.path.samestat(os.fstat(descriptor), os.stat(path)):
                    if left_by:  # its trainer ended without removing it: killed, or the machine stopped
                        print(f"{path}: left by {left_by}, which has ended; taking it over", file=sys.stderr)
                    return descriptor
            os.close(descriptor)  # its holder removed the file while we opened it: try the new one

    def check_writable(self) -> None:
        """Write, flush and remove a probe file: a read-only folder is found now."""
        self._make()
        probe = self.path / f".write-probe-{os.getpid()}"
        try:
            with open(probe, "wb") as file:
                file.write(b"\0" * 4096)
                file.flush()
                os.fsync(file.fileno())
        except OSError as error:
            raise self._unwritable(error) from None
        finally:
            with suppress(OSError):
                probe.unlink()

    def check_room(self, checkpoint_bytes: int) -> None:
        """The disk has room for best.npz, last.npz and the temporary file of a save."""
        held = sum((self.path / name).stat().st_size for name in ("best.npz", "last.npz")
                   if (self.path / name).exists())
        needed, free = 3 * checkpoint_bytes - held, shutil.disk_usage(self.path).free
        if needed > free:
            raise RunFolderError(f"--out {self}: the checkpoints need about {_mb(needed)} and the disk has "
                                 f"{_mb(free)} free; free some space or give --out DIR on another disk")

    def earlier_run(self) -> str | None:
        """What an earlier run left here, in a phrase, or None if there is none of its files."""
        present = [name for name in RUN_FILES if (self.path / name).exists()]
        if not present:
            return None
        best, last = self._progress("best.npz"), self._progress("last.npz")
        if best is None and last is None:
            return f"an earlier run's {', '.join(present)}"
        if best is None:
            return f"a run stopped at step {last['step']}, before its first evaluation"
        described = (f"a trained model (valid BLEU {best['best_bleu']:.2f}, exact {best['best_exact']:.1%}, "
                     f"step {best['step']})")
        if last is None:
            return described
        done, epochs = last["epoch"], last["epochs"]
        return described + (f", its {_epochs(epochs)} done" if done >= epochs else
                            f", stopped in epoch {done + 1} of {epochs}")

    def refuse_new_run(self) -> None:
        """RunFolderError saying what is here and how to go on, if an earlier run is."""
        found = self.earlier_run()
        if found is None:
            return
        go_on = ("--resume --epochs N to train it longer" if found.endswith("done") else
                 "--resume to continue it")
        raise RunFolderError(f"{self} holds {found}: {go_on}, --out DIR for a new run, or --overwrite "
                             f"to replace it")

    def clear(self) -> None:
        """Remove an earlier run's files (--overwrite), and only those."""
        for name in RUN_FILES:
            (self.path / name).unlink(missing_ok=True)

    def _progress(self, name: str) -> dict | None:
        """The progress a checkpoint here records, with its config's epochs; None if unreadable."""
        try:
            checkpoint = tt.load(self.path / name, map_location="cpu")
            return {**checkpoint["progress"], "epochs": checkpoint["config"]["epochs"]}
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _make(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise self._unwritable(error) from None

    def _unwritable(self, error: OSError) -> RunFolderError:
        return RunFolderError(f"--out {self}: cannot write there ({error.strerror or error}); give --out DIR "
                              f"in a folder you can write")


def _mb(size: int) -> str:
    return f"{size / 1e6:,.0f} MB"


def _epochs(n: int) -> str:
    return f"{n} epoch" if n == 1 else f"{n} epochs"
