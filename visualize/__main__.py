"""``python -m visualize [--out DIR] [--format svg|png]``: draw every picture of docs/visualize.md.

Writes, into docs/images/ by default: each gallery scene before and after
backward, the step-by-step backprop pages, the gradient-flow plots and the
attention heat maps of a tiny model it trains first (a few seconds).
"""
from __future__ import annotations

import argparse
import contextlib
from typing import Any

from .gallery import write_all


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m visualize", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/images", help="directory to write into (default: %(default)s)")
    parser.add_argument("--format", default="svg", choices=("svg", "png"),
                        help="format of the graph pictures (default: %(default)s)")
    args = parser.parse_args()
    with one_blas_thread():
        written = write_all(args.out, args.format)
    for path in written:
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


def one_blas_thread() -> Any:
    """The gallery's matrices are tiny: more BLAS threads gain nothing on them, and on a busy
    machine they wait for each other (docs/benchmarks.md, "Pictures"). One thread, for the
    ``with`` block, where threadpoolctl is installed (the test and examples extras have it)."""
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415 - optional
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


if __name__ == "__main__":
    main()
