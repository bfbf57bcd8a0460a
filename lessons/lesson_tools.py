"""What every lesson shares: where it runs, how it shows a picture, checks, exercises and sliders.

A lesson is a jupytext "percent" script (``# %%`` starts a cell): Jupyter opens it
as a notebook, and ``python lessons/01_neuron.py`` runs it top to bottom, as CI
does. Pictures then appear inline in the notebook; run as a script they are
written to ``lesson-pictures/`` in the current folder and the path is printed.

The cells of a lesson are of four kinds:

* teaching cells, prose and code, that compute and print;
* check cells, ``# %% tags=["check"] jupyter={"source_hidden": true}`` (collapsed in
  Jupyter), at the end of a section: ``with checks("what was checked") as check:``
  compares the section's numbers with independent references and prints one line;
* exercise cells, ``# %% tags=["exercise"]``, where the learner writes: they set the
  names the check reads to ``...`` ("# your answer");
* the exercise's check, ``exercise(globals(), "01_neuron", "tanh_from_exp")``, which
  runs ``check_tanh_from_exp`` of ``lessons/solutions/01_neuron.py`` on those names.
  With ``LESSON_SOLUTIONS=1`` in the environment it first runs the solution, the
  function ``tanh_from_exp`` of the same file, so that CI proves every exercise solvable.

``slider(draw, name=..., c=(0.5, 8))`` lets the learner move a number and watch a
picture change (ipywidgets in a notebook; a grid of the picture for a few values
everywhere else). Importing this module also sets how many threads NumPy's linear
algebra uses, one per free core, so that a lesson runs in seconds on a busy machine.
"""
from __future__ import annotations

import contextlib
import html
import importlib.util
import inspect
import io
import itertools
import math
import os
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

import numpy as np

import tinytensor as tt

OUT = Path(os.environ.get("LESSON_PICTURES", "lesson-pictures"))
SOLUTIONS = Path(__file__).resolve().parent / "solutions"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


# ----------------------------------------------------------------------------
# Where a lesson runs
# ----------------------------------------------------------------------------
def device() -> str:
    """"cuda" when a GPU answers (CuPy installed), else "cpu": every lesson runs on either."""
    return "cuda" if tt.cuda.is_available() else "cpu"


def use_free_cores() -> int | None:
    """Limit the CPU's matrix products (and PyTorch, if imported later through optional_torch)
    to one thread per core that other programs leave free; a thread count set in the
    environment is kept.

    A lesson's matrices are small: on a machine busy with other work, BLAS threads that wait
    for a core of their own make a step several times slower than one thread does.
    ``tinytensor.threads.choose_num_threads`` counts the free cores (tinytensor/threads.py).
    """
    if any(variable in os.environ for variable in THREAD_VARIABLES):
        return None
    threads = tt.threads.choose_num_threads().threads
    tt.set_num_threads(threads)
    return threads


THREADS = use_free_cores()


def optional_torch() -> Any:
    """PyTorch when it is installed, else None: a second reference some checks compare against,
    never the only one, so every lesson runs without it."""
    try:
        import torch
    except ImportError:
        return None
    if THREADS is not None:
        torch.set_num_threads(THREADS)
    return torch


def in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


# ----------------------------------------------------------------------------
# Pictures
# ----------------------------------------------------------------------------
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
            else:  # a page in a frame of its own, so its keys and styles stay out of Jupyter's;
                # inside a <div>, which IPython does not mistake for a bare IFrame (and warn)
                page = html.escape(path.read_text(encoding="utf-8"))
                display(HTML(f'<div><iframe srcdoc="{page}" style="width:100%;height:700px;border:0">'
                             f'</iframe></div>'))
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


def slider(draw: Callable[..., None], name: str, **ranges: Any) -> Path | None:
    """A picture the learner changes by moving sliders: ``draw(ax, **values)`` draws on one axes.

    Each range is ``(low, high)`` (a continuous slider, starting in the middle) or a list of
    values (a slider that steps through them, starting at the middle one). In a notebook with
    ipywidgets the sliders appear above the picture and redraw it; everywhere else (a script,
    no ipywidgets, or LESSON_SLIDERS=static) ``draw`` fills a grid of panels, a few values of each
    range, shown as one picture ``name``.
    """
    if not ranges:
        raise ValueError("slider: give at least one range, e.g. slider(draw, name=..., c=(0.5, 8))")
    widgets = _widgets() if in_notebook() and os.environ.get("LESSON_SLIDERS") != "static" else None
    if widgets is None:
        return show(_slider_grid(draw, ranges), name)
    from matplotlib.figure import Figure

    def redraw(**values: Any) -> None:
        figure = Figure(figsize=(5.6, 3.6))
        axes = figure.subplots()
        draw(axes, **values)
        axes.set_title(_caption(values), fontsize=9)
        show(figure, name)

    controls = {key: _control(widgets, key, spec) for key, spec in ranges.items()}
    from IPython.display import display
    display(widgets.interactive(redraw, **controls))
    return None


def _widgets() -> ModuleType | None:
    try:
        import ipywidgets
    except ImportError:
        return None
    return ipywidgets


def _control(widgets: ModuleType, key: str, spec: Any) -> Any:
    if isinstance(spec, tuple) and len(spec) == 2:
        low, high = spec
        return widgets.FloatSlider(value=(low + high) / 2, min=low, max=high, step=(high - low) / 100,
                                   description=key, continuous_update=False)
    values = list(spec)
    return widgets.SelectionSlider(options=values, value=values[len(values) // 2], description=key,
                                   continuous_update=False)


def _grid_values(spec: Any, count: int) -> list[Any]:
    if isinstance(spec, tuple) and len(spec) == 2:
        return [float(v) for v in np.linspace(spec[0], spec[1], count)]
    values = list(spec)
    if not values:
        raise ValueError("slider: a list of values must not be empty")
    return values


def _slider_grid(draw: Callable[..., None], ranges: dict[str, Any]) -> Any:
    """One panel per value: with one range, rows of three; with two, a row per value of the
    first and a column per value of the second (more ranges: every combination, in rows of three)."""
    from matplotlib.figure import Figure
    keys = list(ranges)
    values = [_grid_values(ranges[key], 4 if len(keys) == 1 else 3) for key in keys]
    combos = list(itertools.product(*values))
    cols = len(values[1]) if len(keys) == 2 else min(3, len(combos))
    rows = math.ceil(len(combos) / cols)
    figure = Figure(figsize=(3.2 * cols, 2.6 * rows))  # no layout engine: they cost seconds a grid
    axes = np.atleast_1d(figure.subplots(rows, cols)).ravel()
    figure.subplots_adjust(hspace=0.35, wspace=0.25)
    for ax, combo in zip(axes, combos):
        chosen = dict(zip(keys, combo))
        draw(ax, **chosen)
        ax.set_title(_caption(chosen), fontsize=9)
    for ax in axes[len(combos):]:
        ax.set_visible(False)
    return figure


def _caption(values: dict[str, Any]) -> str:
    return ", ".join(f"{key} = {value:.3g}" if isinstance(value, float) else f"{key} = {value}"
                     for key, value in values.items())


# ----------------------------------------------------------------------------
# Check cells
# ----------------------------------------------------------------------------
def as_numpy(value: Any) -> Any:
    """A tinytensor or torch tensor as a NumPy array (detached, on the CPU); anything else as it is."""
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "cpu"):
        value = value.cpu()
    if hasattr(value, "numpy"):
        return value.numpy()
    return value


class Check:
    """The checks of one check cell: each raises AssertionError naming what failed, and counts."""

    def __init__(self) -> None:
        self.count = 0

    def close(self, name: str, value: Any, reference: Any, rtol: float = 1e-7, atol: float = 0.0) -> None:
        """``value`` equals ``reference`` to within ``atol + rtol * |reference|``, elementwise."""
        value, reference = np.asarray(as_numpy(value)), np.asarray(as_numpy(reference))
        np.testing.assert_allclose(value, reference, rtol=rtol, atol=atol, err_msg=name)
        self.count += 1

    def equal(self, name: str, value: Any, reference: Any) -> None:
        """Exactly equal: numbers, strings, lists, or arrays of the same shape and values."""
        value, reference = as_numpy(value), as_numpy(reference)
        if isinstance(value, np.ndarray) or isinstance(reference, np.ndarray):
            np.testing.assert_array_equal(value, reference, err_msg=name)
        elif value != reference:
            raise AssertionError(f"{name}: got {value!r}, expected {reference!r}")
        self.count += 1

    def true(self, name: str, condition: Any) -> None:
        """``condition`` holds; ``name`` says what it means."""
        if not bool(condition):
            raise AssertionError(f"{name}: does not hold")
        self.count += 1

    @contextlib.contextmanager
    def raises(self, name: str, error: type[BaseException], match: str = "") -> Iterator[None]:
        """The block raises ``error`` with ``match`` in its message."""
        try:
            yield
        except error as caught:
            if match not in str(caught):
                raise AssertionError(f"{name}: {error.__name__} without {match!r}: {caught}") from caught
        else:
            raise AssertionError(f"{name}: no {error.__name__} raised")
        self.count += 1


@contextlib.contextmanager
def checks(summary: str) -> Iterator[Check]:
    """``with checks("o against the hand formula") as check:`` ... then one line: what was checked."""
    check = Check()
    yield check
    print(f"checked: {summary} ({check.count} check{'' if check.count == 1 else 's'})")


# ----------------------------------------------------------------------------
# Exercises
# ----------------------------------------------------------------------------
def solutions(lesson: str) -> ModuleType:
    """The module lessons/solutions/<lesson>.py: a solution, a check and a wrong answer per exercise."""
    path = SOLUTIONS / f"{lesson}.py"
    if not path.exists():
        raise FileNotFoundError(f"exercise: no solutions file {path} for lesson {lesson!r}")
    spec = importlib.util.spec_from_file_location(f"lesson_solutions_{lesson}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def names_read(check: Callable[..., Any]) -> list[str]:
    """The names a check reads from the lesson: its parameters."""
    return list(inspect.signature(check).parameters)


def run_check(ns: dict[str, Any], check: Callable[..., Any]) -> str:
    missing = [name for name in names_read(check) if name not in ns]
    if missing:
        raise NameError(f"{check.__name__} reads {', '.join(missing)}, not defined: run the cells above first")
    return check(**{name: ns[name] for name in names_read(check)})


def exercise(ns: dict[str, Any], lesson: str, name: str) -> bool:
    """Check the learner's answer to exercise ``name`` of ``lesson``, in the namespace ``ns``.

    True when right; False, saying so, when the names the check reads are still ``...``;
    an AssertionError with a hint when wrong. With LESSON_SOLUTIONS=1 the solution is run
    into ``ns`` first.
    """
    module = solutions(lesson)
    solve, check = getattr(module, name), getattr(module, f"check_{name}")
    where = f"lessons/solutions/{lesson}.py, {name}()"
    if os.environ.get("LESSON_SOLUTIONS") == "1":
        solve(ns)
        print(f"LESSON_SOLUTIONS=1: ran the solution ({where})")
    waiting = [key for key in names_read(check) if ns.get(key, None) is Ellipsis]
    if waiting:
        print(f"not answered yet: {', '.join(waiting)} (write them in the exercise cell; "
              f"a solution is in {where})")
        return False
    print(f"right: {run_check(ns, check)}")
    return True


def exercise_names(module: ModuleType) -> list[str]:
    """The exercises of a solutions module: every ``name`` that has a ``check_name``."""
    return [key[len("check_"):] for key in vars(module) if key.startswith("check_")]


def prove_exercises(ns: dict[str, Any], lesson: str) -> list[str]:
    """For the tests: each exercise's check accepts its solution and rejects its planted wrong answer.

    Runs in a copy of the lesson's namespace, after the lesson has run; ``wrong_name(ns)``
    of the solutions file plants a likely mistake over the solution's names.
    """
    module = solutions(lesson)
    proved = []
    for name in exercise_names(module):
        scratch = dict(ns)
        getattr(module, name)(scratch)
        run_check(scratch, getattr(module, f"check_{name}"))
        getattr(module, f"wrong_{name}")(scratch)
        try:
            run_check(scratch, getattr(module, f"check_{name}"))
        except AssertionError as error:
            print(f"{lesson}.{name}: the check rejects the planted mistake: {error}")
        else:
            raise AssertionError(f"{lesson}.{name}: the check accepted wrong_{name}'s answer")
        proved.append(name)
    return proved


__all__ = ["Check", "as_numpy", "checks", "device", "exercise", "in_notebook",
           "optional_torch", "prove_exercises", "show", "slider", "use_free_cores"]
