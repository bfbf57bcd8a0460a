"""The lessons (lessons/*.py) run top to bottom, as a learner runs them, and check their numbers.

Each lesson is a jupytext percent script: its own ``assert`` lines check the seeds'
worked examples and the exercise. Here every lesson is executed in a fresh Python
(a clean folder, no network, matplotlib drawing to files), converted to a notebook to
prove Jupyter opens it, and read for what a lesson must have: a title, the seeds'
Chinese terms, an exercise and its check.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

LESSONS_DIR = Path(__file__).resolve().parent.parent / "lessons"
LESSONS = sorted(LESSONS_DIR.glob("[0-9][0-9]_*.py"))
CJK = re.compile(r"[\u4e00-\u9fff]")


def index_rows() -> list[tuple[int, str]]:
    """(number, file) of each row of lessons/README.md's table of lessons, in its order."""
    index = (LESSONS_DIR / "README.md").read_text(encoding="utf-8")
    return [(int(number), name) for number, name in
            re.findall(r"^\| (\d+) \| \[[^]]+\]\((\d\d_\w+\.py)\)", index, re.M)]


def test_the_index_lists_every_lesson_in_order_under_its_number() -> None:
    # Numbers may leave gaps (a lesson still to be written keeps its place), but the index and
    # the files must agree: every file listed once, in order, under the number of its name.
    rows = index_rows()
    assert [name for _, name in rows] == [path.name for path in LESSONS], rows
    assert all(number == int(name[:2]) for number, name in rows), rows
    assert len(LESSONS) >= 13 and LESSONS[0].name == "01_neuron.py"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_has_a_title_chinese_terms_an_exercise_and_its_check(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# %% [markdown]\n# # "), f"{path.name}: must open with a markdown title cell"
    assert CJK.search(text), f"{path.name}: give the seeds' Chinese terms beside the English ones"
    assert re.search(r"^# ## Exercise", text, re.M), f"{path.name}: needs an '## Exercise' section"
    assert re.search(r"^# ### Check", text, re.M), f"{path.name}: needs a '### Check' after its exercise"
    assert "assert " in text.split("# ## Exercise")[1], f"{path.name}: the exercise's check must assert"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_opens_as_a_notebook(path: Path) -> None:
    jupytext = pytest.importorskip("jupytext", reason="jupytext is in the test extra")
    import nbformat
    notebook = jupytext.read(path)
    nbformat.validate(notebook)
    kinds = {cell.cell_type for cell in notebook.cells}
    assert kinds == {"markdown", "code"}, f"{path.name}: cells {kinds}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_runs_top_to_bottom(path: Path, tmp_path: Path) -> None:
    # One BLAS thread: the lessons' matrices are small, and on a busy 2-core machine OpenBLAS's
    # threads wait on each other (a lesson of 8 s took 99 s); the numbers do not depend on it.
    env = dict(os.environ, MPLBACKEND="Agg", LESSON_PICTURES=str(tmp_path / "pictures"),
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(LESSONS_DIR.parent), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{path.name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
