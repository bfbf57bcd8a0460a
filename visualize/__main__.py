"""``python -m visualize [--out DIR] [--format svg|png]``: draw every picture of docs/visualize.md.

Writes, into docs/images/ by default: each gallery scene before and after
backward, the step-by-step backprop pages and the gradient-flow plot.
"""
from __future__ import annotations

import argparse

from .gallery import write_all


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m visualize", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/images", help="directory to write into (default: %(default)s)")
    parser.add_argument("--format", default="svg", choices=("svg", "png"),
                        help="format of the graph pictures (default: %(default)s)")
    args = parser.parse_args()
    for path in write_all(args.out, args.format):
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
