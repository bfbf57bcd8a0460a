"""Freed memory kept for the next array: the one process-wide setting tinytensor makes.

A training step makes and frees the same large arrays every time: activations,
gradients. By default glibc's malloc hands every freed block over 128 KiB back
to the operating system, so each new array of the next step is fresh memory,
which the kernel faults in page by page; that system time is a large share of
a small model's step. PyTorch's allocator keeps its blocks; so does this.

``keep_freed_memory()`` asks glibc to serve arrays of up to 32 MiB (its largest
allowed threshold) from malloc's heap, and to keep up to 64 MiB freed at the
top of the heap instead of returning it: a step reuses the memory the last one
freed. It changes malloc for the whole process, which is why it is named here
rather than hidden: ``tinytensor/backend/__init__.py`` calls it once, at import,
unless the environment says ``TINYTENSOR_KEEP_FREED_MEMORY=0``; and
``keep_freed_memory(False)`` puts glibc's default thresholds back at any time.
Where the C library is not glibc (macOS, Windows, musl) nothing changes.
benchmarks/profile_step.py counts the page faults and system time of a step.
"""
from __future__ import annotations

import ctypes
import platform

ENVIRONMENT_SWITCH = "TINYTENSOR_KEEP_FREED_MEMORY"  # "0": import tinytensor leaves malloc alone

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers, from glibc's malloc.h
_GLIBC_DEFAULT = 128 * 1024                    # both thresholds' defaults (mallopt(3))


def keep_freed_memory(keep: bool = True) -> bool:
    """Ask glibc's malloc to keep freed blocks for reuse (``keep=False``: its default thresholds).

    Returns whether malloc was changed: False where the C library is not glibc.
    ``False`` sets both thresholds to glibc's documented default, 128 KiB; glibc
    no longer raises the mmap threshold by itself afterwards, as it would have
    had no one ever set it.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL(None)  # the C library this process already runs on
    libc.mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024 if keep else _GLIBC_DEFAULT)
    libc.mallopt(_M_TRIM_THRESHOLD, 64 * 1024 * 1024 if keep else _GLIBC_DEFAULT)
    return True

