"""What every lesson shares: where it runs, and how it shows a picture.

A lesson is a jupytext "percent" script (``# %%`` starts a cell): Jupyter opens it
as a notebook, and ``python lessons/01_neuron.py`` runs it top to bottom, as CI
does. Pictures then appear inline in the notebook; run as a script they are
written to ``lesson-pictures/`` in the current folder and the path is printed.
"""
from __future__ import annotations

import html
import io
import os
from pathlib import Path
from typing import Any

import tinytensor as tt

OUT = Path(os.environ.get("LESSON_PICTURES", "lesson-pictures"))


def device() -> str:
    """"cuda" when a GPU answers (CuPy installed), else "cpu": every lesson runs on either."""
    return "cuda" if tt.cuda.is_available() else "cpu"


def optional_torch() -> Any:
    """PyTorch when it is installed, else None: a second reference some checks compare against,
    never the only one, so every lesson runs without it."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def show(picture: Any, name: str) -> Path | None:
    """Show a matplotlib Figure, a graphviz DOT graph or a written file (``.svg``/``.png``/``.html``).

    In a notebook it is displayed; run as a script it is saved as ``lesson-pictures/<name>``
    (the suffix says the format) and the path is returned, so a learner can open it.
    """
    if in_notebook():
        from IPython.display import HTML, SVG, Image, display
        if hasattr(picture, "savefig"):  # as PNG bytes: a bare Figure displays as text, and
            buffer = io.BytesIO()        # a pyplot one would be drawn again at the cell's end
            picture.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
            _close(picture)
            display(Image(buffer.getvalue()))
        elif hasattr(picture, "source"):  # DOT: render to SVG text
            import visualize
            display(SVG(visualize.to_svg(picture)))
        else:
            path = Path(picture)
            viewer = {".svg": SVG, ".png": Image}.get(path.suffix)
            if viewer:
                display(viewer(filename=str(path)))
            else:  # a page in a frame of its own: its keys and styles stay out of Jupyter's
                page = html.escape(path.read_text(encoding="utf-8"))
                display(HTML(f'<iframe srcdoc="{page}" style="width:100%;height:700px;border:0"></iframe>'))
        return None
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / name
    if hasattr(picture, "savefig"):
        picture.savefig(target, dpi=110, bbox_inches="tight")
        _close(picture)
    elif hasattr(picture, "source"):
        import visualize
        visualize.render(picture, str(target))
    else:
        target.write_bytes(Path(picture).read_bytes())
    print(f"picture: {target}")
    return target


def _close(figure: Any) -> None:
    """Forget a pyplot figure (a no-op for one made without pyplot), so it is not drawn twice."""
    import matplotlib.pyplot as plt
    plt.close(figure)
