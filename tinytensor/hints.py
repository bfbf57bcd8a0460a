"""Naming what was meant: the "did you mean" of an attribute that does not exist.

A mistyped name (``x.szie()``, ``layer.weights``) raises AttributeError; these
helpers find the names it was probably meant to be, so the error can say so.
"""
from __future__ import annotations

import difflib
from typing import Iterable


def did_you_mean(name: str, known: Iterable[str], prefix: str = "") -> str:
    """"; did you mean a or b?" for the public names of ``known`` close to ``name``, else ""."""
    close = difflib.get_close_matches(name, [n for n in known if not n.startswith("_")], n=3, cutoff=0.75)
    return f"; did you mean {' or '.join(prefix + c for c in close)}?" if close else ""
