"""A font with every character of a picture: why Chinese tick labels come out as boxes, and the fix.

matplotlib writes text in DejaVu Sans, which it ships with. DejaVu has Latin,
Greek and Cyrillic but not one Chinese character, so "猫" on an axis is drawn
as an empty box (a "tofu"), and the renderer warns ``Glyph 29483 (...) missing
from font(s) DejaVu Sans``. Fonts that have Chinese are big (Noto Sans SC is
8 MB) and seldom installed on a fresh machine, so tinytensor takes one from
pip: Noto Sans SC (SIL Open Font License), packaged as pylopdf-fonts-zh-cn.

``font_for(text)`` registers that font with matplotlib's font manager (so that
matplotlib knows it by its name, "Noto Sans SC", as it knows the fonts it
found on the system) and returns the first of these that has a glyph for
every character of ``text``: Noto Sans SC, matplotlib's default font, any other
font matplotlib knows. Whether a font has a character is read from its
charmap, the table from Unicode code points to the glyphs it has.
"""
from __future__ import annotations

import functools
from typing import Any

PIP_FONT = "pylopdf-fonts-zh-cn"
# Fonts that map every code point to a box naming its Unicode block: they "have" every
# character and draw none. matplotlib ships this one (LastResortHE) as its own last fallback.
PLACEHOLDERS = {"Last Resort High-Efficiency"}


def font_for(text: str) -> Any:
    """A ``matplotlib.font_manager.FontProperties`` whose font can draw every character of ``text``."""
    from matplotlib import font_manager  # noqa: PLC0415 - matplotlib is optional

    needed = {c for c in text if not c.isspace()}
    pip_font = _register_pip_font()
    candidates = _candidates(pip_font)
    for entry in candidates:
        if {ord(c) for c in needed} <= _charmap(entry.fname):
            return font_manager.FontProperties(family=[entry.name])  # a list: a str is parsed as a pattern
    lacking = "".join(sorted(c for c in needed if ord(c) not in _charmap(candidates[0].fname)))
    if pip_font is None:
        raise ImportError(f"no installed font has every character of the labels ({candidates[0].name} "
                          f"lacks {lacking!r}); for Chinese: pip install {PIP_FONT} "
                          f"(or pip install -e \".[viz]\" in your tinytensor checkout)")
    raise ValueError(f"no font matplotlib knows has every character of the labels (Noto Sans SC "
                     f"lacks {lacking!r}); install a font that has them")


def _register_pip_font() -> str | None:
    """The path of Noto Sans SC, added to matplotlib's font manager; None without the package."""
    from matplotlib import font_manager  # noqa: PLC0415

    try:
        import pylopdf_fonts_zh_cn  # noqa: PLC0415 - optional, only pictures with Chinese need it
    except ImportError:
        return None
    path = str(pylopdf_fonts_zh_cn.sans_path())
    if all(entry.fname != path for entry in font_manager.fontManager.ttflist):  # once, not per call
        font_manager.fontManager.addfont(path)
    return path


def _candidates(pip_font: str | None) -> list[Any]:
    """The font manager's entries to try, in order: the pip font, the default font, then every
    other upright regular font it knows."""
    from matplotlib import font_manager  # noqa: PLC0415

    default = str(font_manager.findfont(font_manager.FontProperties()))  # a plain path, not a FontPath
    upright = [entry for entry in font_manager.fontManager.ttflist if entry.name not in PLACEHOLDERS
               and entry.style == "normal" and entry.weight in (400, "normal")]
    rank = {pip_font: 0, default: 1}
    return sorted(upright, key=lambda entry: rank.get(entry.fname, 2))  # sorted() keeps ties in order


@functools.lru_cache(maxsize=None)
def _charmap(path: str) -> frozenset[int]:
    """The code points the font at ``path`` has a glyph for."""
    from matplotlib import font_manager  # noqa: PLC0415

    return frozenset(font_manager.get_font(path).get_charmap())
