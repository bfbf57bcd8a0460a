"""Work: a collective under way, as PyTorch's ``async_op=True`` returns it.

    work = dist.all_reduce(grad, async_op=True)   # starts it and returns at once
    ...                                           # compute something else meanwhile
    work.wait()                                   # now grad holds the sum

Every collective runs in two parts, both started at once and both non-blocking:

1. the *agreement*: each rank contributes a fingerprint of the call it is making
   (which collective, dtype, shape, op, src) to a tiny all-reduce of its own. A
   rank that called something else (another shape, another collective) shows up
   there, and every rank raises an error naming what each rank called, instead
   of a silently wrong answer or a hang. It completes only when every rank has
   arrived, so it is also the barrier.
2. the *operation*: the collective itself, started by the engine (mpi.py,
   nccl.py) on the tensor's memory.

``wait()`` sees the agreement through, then the operation, then the engine's
last steps (the division of AVG, copies out of a staging buffer). It gives up
at the process group's timeout with an error saying which part never finished,
and marks the group broken: a collective left half done cannot be taken back.

MPI moves a non-blocking collective forward only while the process calls into
MPI, so waiting means asking again and again (``poll``), as MPI's own blocking
wait does. Between asks the process yields its core, so that where processes
outnumber cores the one being waited for runs; after the first 50 ms it pauses,
a little longer each time (up to a millisecond), to leave the core to the others
during a long wait. Not sooner: a short collective needs several asks on each
rank, one after another, and a pause before each would cost many times its
latency.
"""
from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from ..autograd import inplace

if TYPE_CHECKING:
    from .process_group import ProcessGroup

SPIN = 0.05  # seconds of asking at once (yielding the core) before pausing between asks


class Pending(NamedTuple):
    """A started non-blocking operation: ``test()`` says whether it has finished (and moves it
    forward); ``finish()`` runs once after it has, for what must follow on this process; ``keep``
    holds the buffers it reads or writes alive until then (the engine writes to raw memory)."""
    test: Callable[[], bool]
    finish: Callable[[], None]
    keep: tuple = ()


def nothing() -> None:
    """The finish of an operation that leaves nothing to do."""


def poll(test: Callable[[], bool], deadline: float) -> bool:
    """Call ``test()`` until it says True (then True), or until ``deadline`` passes (then False)."""
    spin_until, pause = time.monotonic() + SPIN, 0.0
    while not test():
        now = time.monotonic()
        if now > deadline:
            return False
        if now < spin_until:
            os.sched_yield()  # a waiting process on this core runs (it may be the one we wait for)
        else:
            time.sleep(pause)
            pause = min(2 * pause or 1e-5, 1e-3)
    return True


class Work:
    """One collective under way: its agreement, then its operation, then the arrays it wrote."""

    def __init__(self, group: "ProcessGroup", what: str, agreement: Pending, operation: Pending,
                 written: list[Any]) -> None:
        self._group, self._what = group, what
        self._parts = [agreement, operation]  # what is left to see through, in order
        self._written = written
        self._deadline = time.monotonic() + group.timeout

    def is_completed(self) -> bool:
        """Whether the collective has finished (its result is then in place). Never blocks."""
        while self._parts:
            part = self._parts[0]
            if not part.test():
                return False
            self._parts.pop(0)
            part.finish()  # the agreement's raises when the ranks called different collectives
            if not self._parts:
                for array in self._written:  # a backward that needs the old values now refuses
                    inplace.mark_written(array)
        return True

    def wait(self) -> bool:
        """Block until the collective has finished (True), or raise at the process group's timeout."""
        if not poll(self.is_completed, self._deadline):
            raise self._group.fail(self._timeout_message())
        return True

    def _timeout_message(self) -> str:
        where = (f"{self._what} on rank {self._group.rank} of {self._group.size}: no answer within "
                 f"{self._group.timeout:g} s (init_process_group's timeout): ")
        if len(self._parts) == 2:
            return where + ("not every rank has called it. A rank has died, is stuck, or runs "
                            "different code (a collective that only some ranks call).")
        return where + ("every rank called it, but it did not finish: a rank died during it, or "
                        "the connection between machines broke.")
