"""Turning DOT into SVG or PNG: finding a program that lays the graph out.

DOT is only a description ("this box, that arrow"); placing the boxes and
routing the arrows is Graphviz's ``dot`` program. Two programs understand the
same command line, ``PROGRAM -Tsvg in.dot``, and we take the first we find:

1. Graphviz's own ``dot``, when it is installed (``apt install graphviz``,
   ``brew install graphviz``);
2. ``graphviz-pure``, a port of Graphviz that pip installs as a wheel
   (``pip install graphviz-pure``, part of the ``viz`` extra), with no system
   library. Its binary lands in the environment's ``bin`` directory, which may
   not be on PATH, so we also look next to the running Python.

A candidate counts only once it has rendered a tiny graph to SVG, so a broken
install is skipped instead of failing later on a real picture.

An SVG names its font and leaves the drawing to the viewer, which falls back
to its default font (Times, in most browsers) when it lacks that one. The
program measured every text in DejaVu Sans (dot.py says why), so the SVG lists
DejaVu Sans first and then only fonts narrower than it: whichever the viewer
has, the text fits its box.
"""
from __future__ import annotations

import functools
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from .dot import FONT

PROGRAMS = ("dot", "graphviz-pure")
PROBE = b"digraph { a -> b }"
INSTALL_HINT = ("no Graphviz renderer found. Install one with `pip install graphviz-pure` "
                "(no system library needed) or `apt install graphviz` / `brew install graphviz`. "
                "The DOT text itself needs none: draw_graph(...).source")


SVG_FONTS = f"{FONT}, Bitstream Vera Sans, Arial, Helvetica, Liberation Sans, sans-serif"  # widest first


class RendererNotFound(RuntimeError):
    """Neither Graphviz's dot nor graphviz-pure is installed."""


@functools.lru_cache(maxsize=None)
def find_renderer() -> str:
    """The path of the first program that renders DOT, or RendererNotFound saying how to get one."""
    for program in PROGRAMS:
        for candidate in _candidates(program):
            if _works(candidate):
                return candidate
    raise RendererNotFound(INSTALL_HINT)


def _candidates(program: str) -> list[str]:
    """``program`` on PATH, then in the directory of this Python (a venv's bin/ or Scripts/)."""
    found = [shutil.which(program)]
    here = Path(sys.executable).parent
    found += [str(here / name) for name in (program, program + ".exe") if (here / name).is_file()]
    return [path for path in dict.fromkeys(found) if path]


def _works(program: str) -> bool:
    try:
        done = subprocess.run([program, "-Tsvg"], input=PROBE, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0 and b"<svg" in done.stdout


def render_bytes(graph: Any, fmt: str, dpi: int | None = None) -> bytes:
    """Lay out ``graph`` (a graphviz.Digraph or DOT text) and return the file in ``fmt``."""
    source = graph if isinstance(graph, str) else graph.source
    command = [find_renderer(), f"-T{fmt}"] + ([f"-Gdpi={dpi}"] if dpi else [])
    done = subprocess.run(command, input=source.encode(), capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed (exit {done.returncode}): "
                           f"{done.stderr.decode(errors='replace').strip()}")
    if fmt == "svg":  # the font the text was measured in, then narrower ones (see above)
        return done.stdout.replace(f'font-family="{FONT}"'.encode(), f'font-family="{SVG_FONTS}"'.encode())
    return done.stdout


def to_svg(graph: Any) -> str:
    """The picture as SVG text, for embedding in a page."""
    return render_bytes(graph, "svg").decode()


def render(graph: Any, path: "str | Path", dpi: int | None = None) -> Path:
    """Write the picture to ``path``; the suffix picks the format (.svg, .png, .pdf)."""
    path = Path(path)
    path.write_bytes(render_bytes(graph, path.suffix.lstrip(".").lower(), dpi))
    return path
