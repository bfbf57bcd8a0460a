"""How much ink an arrow gets: its width and colour from the gradient flowing along it.

Gradient norms in one network easily span ten orders of magnitude (that is
what a vanishing gradient is), so a linear scale would draw all but the
largest arrow as a hairline. The scale is logarithmic instead, stretched over
the smallest and largest norm of the picture: the weakest arrow is thin and
pale yellow, the strongest thick and dark red, and every arrow in between is
ordered as its norm. An arrow that carries exactly zero is a dotted grey line:
nothing flows back along it (a ReLU that was off, say). An inf or nan norm
(an exploded gradient) gets the strongest ink.
"""
from __future__ import annotations

import math
from typing import Iterable

THINNEST, THICKEST = 0.8, 7.0   # points
WEAK, MIDDLE, STRONG = (0xe6, 0xc2, 0x5a), (0xf0, 0x7c, 0x2e), (0xb7, 0x10, 0x1c)  # yellow, orange, red
ZERO = "#bdbdbd"


class Ink:
    """Maps a gradient norm to a width and a colour, on a log scale fitted to ``norms``."""

    def __init__(self, norms: Iterable[float | None]) -> None:
        logs = [math.log10(n) for n in norms if n is not None and 0 < n < math.inf]
        self.low, self.high = (min(logs), max(logs)) if logs else (0.0, 0.0)

    def level(self, norm: float) -> float:
        """0 for the weakest gradient of the picture, 1 for the strongest (and for inf or nan)."""
        if self.high == self.low or not math.isfinite(norm):
            return 1.0
        return (math.log10(norm) - self.low) / (self.high - self.low)

    def width(self, norm: float) -> float:
        if norm == 0:
            return THINNEST
        return round(THINNEST + (THICKEST - THINNEST) * self.level(norm), 2)

    def colour(self, norm: float) -> str:
        if norm == 0:
            return ZERO
        level = self.level(norm)
        low, high, t = (WEAK, MIDDLE, 2 * level) if level < 0.5 else (MIDDLE, STRONG, 2 * level - 1)
        return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(low, high))
