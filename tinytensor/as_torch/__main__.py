"""python -m tinytensor.as_torch PROGRAM.py [ARGS...]: run a PyTorch program with tinytensor as torch.

The program runs as ``python PROGRAM.py ARGS...`` would run it (its folder first on
sys.path, sys.argv as it expects), inside ``as_torch.imports()``.
"""
from __future__ import annotations

import os
import runpy
import sys

from . import imports


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        usage = ("python -m tinytensor.as_torch PROGRAM.py [ARGS...]: run a PyTorch program with "
                 "tinytensor as torch")
        print(f"usage: {usage}" if argv else f"error: give the program to run: {usage}",
              file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    program = argv[0]
    if not os.path.isfile(program):
        print(f"error: {program}: no such file (give the path of a Python program written for PyTorch)",
              file=sys.stderr)
        return 2
    sys.argv = list(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(program)))  # as `python program.py` does
    with imports():
        runpy.run_path(program, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
