"""Checks that never make the host wait for the GPU, and the one way values come back to the host.

Some mistakes show only in an array's values: a token id past the end of an
embedding table, a class label out of range. On the CPU the values are at hand,
so ``check`` looks at once and raises. On a GPU, looking means copying values to
the host, and the host then waits for every kernel queued before the copy (a
*sync*): a training step with three of them (two embeddings and the loss) kept
the GPU from ever running ahead of Python, and a step with any cannot be
captured as a CUDA graph. So on a GPU a check

1. computes its verdict on the device, queued like any kernel: whether some
   entry is bad, and the first bad entry (for the message);
2. folds it into its GPU's *report*, two int64 numbers on the device: the
   number of the first check that failed since the last read (0: none) and
   the entry it found;
3. returns at once. The op goes on with whatever CuPy does with a bad entry (it
   wraps an index around), so what is computed from there on is undefined, as
   in PyTorch after a device-side assert.

The report rides on the next read from that GPU. Every value tinytensor takes
to the host passes through ``to_host`` (``.item()``, ``.numpy()``, ``.tolist()``,
``bool()``, printing, ``.cpu()``, saving, the random state, ``one_hot``'s class
count...): when a check is waiting, the report's 16 bytes are copied *with* the
values asked for, in the same transfer, so reading costs no extra sync; if a
check failed, the read raises its error instead of returning the values.
``synchronize`` reads the report too, after the GPU has drained. That is
PyTorch's device-side assert, surfacing at the next sync, with tinytensor's
own message instead of "device-side assert triggered".

What it does not do:

* it reports the first failure since the last read, not every one;
* a read from one GPU reports that GPU's checks: each GPU has a report;
* a check still waiting when the program ends is read at exit, and its error
  printed (PyTorch may lose it); the exit status stays the program's;
* CuPy's own syncs (a boolean mask index counts its True values on the host)
  do not read the report: the next read does.
"""
from __future__ import annotations

import atexit
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy

from .arrays import Device, _cupy, device_of, ndarray, on_device, xp_of

LATE = ("found on {device} by a check that did not wait for the GPU, so raised at this read, the "
        "first from the GPU after the op: what was computed from that op on is undefined")


def check(bad: Any, values: Any, error: type[Exception], message: str) -> None:
    """Raise ``error(message.format(v))``, v the first entry of ``values`` where ``bad`` is True:
    at once on the CPU; on a GPU at the next read from it, without waiting here."""
    if isinstance(bad, ndarray):
        if bad.any():
            raise error(message.format(values[bad][0].item()))
        return
    _report(device_of(bad)).add(bad, values, error, message)


@dataclass
class _Report:
    """One GPU's report: which check failed first since the last read, and the entry it found."""

    device: Device
    verdict: Any                  # int64 (2,), on the GPU: [number of the failed check or 0, its entry]
    kinds: dict = field(default_factory=dict)  # (error, message) -> its number, from 1
    waiting: bool = False         # a check was made since the last read

    def add(self, bad: Any, values: Any, error: type[Exception], message: str) -> None:
        """Fold one check's verdict into the report, on the device (no sync)."""
        number = self.kinds.setdefault((error, message), len(self.kinds) + 1)
        xp = xp_of(bad)
        with on_device(self.device):
            flat = bad.ravel()
            entry = xp.take(values.ravel(), flat.argmax()).astype(numpy.int64)  # argmax: the first True
            first = flat.any() & (self.verdict[0] == 0)   # it failed, and nothing failed before it
            self.verdict[1] = xp.where(first, entry, self.verdict[1])
            self.verdict[0] = xp.where(first, number, self.verdict[0])
        self.waiting = True

    def settle(self, verdict: numpy.ndarray) -> None:
        """The report has reached the host as ``verdict``: raise the failed check's error, if any."""
        self.waiting = False
        number, entry = (int(v) for v in verdict)
        if number:
            with on_device(self.device):
                self.verdict[...] = 0  # the next read starts clean
            error, message = list(self.kinds)[number - 1]
            raise error(f"{message.format(entry)} ({LATE.format(device=self.device)})")


_reports: dict[Device, _Report] = {}


def _report(device: Device) -> _Report:
    report = _reports.get(device)
    if report is None:
        with on_device(device):
            report = _reports[device] = _Report(device, _cupy().zeros(2, dtype=numpy.int64))
    return report


def forget_reports() -> None:
    """Drop every GPU's report (``use_cuda_module``: they belonged to the other module)."""
    _reports.clear()


# ----------------------------------------------------------------------------
# Reading: values to the host, and the report with them
# ----------------------------------------------------------------------------
def to_host(array: Any) -> numpy.ndarray:
    """``array``'s values as a NumPy array: the one way values leave a GPU in tinytensor.

    With a check waiting on the array's GPU, the report and the values are
    copied in one transfer (16 bytes, then the values' bytes); a failed check
    raises its error here.
    """
    if not hasattr(array, "__cuda_array_interface__"):  # on the CPU already (NumPy's allclose: a bool)
        return numpy.asarray(array)
    report = _reports.get(device_of(array))
    if report is None or not report.waiting:
        return array.get()
    with on_device(report.device):
        both = xp_of(array).concatenate([report.verdict.view(numpy.uint8), array.ravel().view(numpy.uint8)])
        both = both.get()  # the one transfer
    report.settle(both[:16].view(numpy.int64))
    return both[16:].view(array.dtype).reshape(array.shape)


def synchronize(device: Device) -> None:
    """Wait until the GPU has finished the work queued on it (before reading a clock, say); then
    read its report, if a check is waiting (a failed one raises here)."""
    if device.type != "cuda":
        return
    with on_device(device):
        _cupy().cuda.Device(device.index).synchronize()
        report = _reports.get(device)
        if report is not None and report.waiting:
            report.settle(report.verdict.get())


@atexit.register
def _read_at_exit() -> None:
    """A check still waiting when the program ends is read now: a failure is printed, too late to raise."""
    for device in [device for device, report in _reports.items() if report.waiting]:
        try:
            synchronize(device)
        except Exception as error:  # noqa: BLE001 - the program is over: say what went wrong, and end
            print(f"tinytensor: error at exit: {error}", file=sys.stderr)
