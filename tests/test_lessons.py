"""The lessons (lessons/*.py) run, as a learner runs them, and check their numbers and exercises.

Each lesson is a jupytext percent script whose check cells compare its numbers with
independent references (lessons/lesson_tools.py). Here every lesson is

* read for what a lesson must have: a title, the seeds' Chinese terms, collapsed check
  cells, and an exercise with a learner cell, its check, and its solution, check and planted
  mistake in lessons/solutions/;
* executed as a notebook in a fresh Jupyter kernel (nbclient + ipykernel), failing on an error
  in any cell: every cell that draws must leave a picture, every check cell its "checked:"
  line, every exercise "right:"; then a last cell proves each exercise's check rejects a
  planted mistake (lesson_tools.prove_exercises);
* run as a plain script (``python lessons/NN_name.py``), as CI and a learner without Jupyter do;

both with LESSON_SOLUTIONS=1, so that every exercise is solved by its solution and checked.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LESSONS_DIR = ROOT / "lessons"
SOLUTIONS_DIR = LESSONS_DIR / "solutions"
LESSONS = sorted(LESSONS_DIR.glob("[0-9][0-9]_*.py"))
CJK = re.compile(r"[\u4e00-\u9fff]")
CHECK_HEADER = '# %% tags=["check"] jupyter={"source_hidden": true}'
EXERCISE_HEADER = '# %% tags=["exercise"]'
DRAWS = re.compile(r"^\s*(?:\w+ = )?(?:show|slider)\(", re.M)  # a cell that shows a picture
PICTURES = ("image/png", "image/svg+xml")
TIMEOUT = 300


def environment(tmp_path: Path) -> dict[str, str]:
    """What a lesson runs with here: the repository importable, pictures to a scratch folder,
    every exercise solved, sliders drawn as their static grid."""
    path = os.pathsep.join(p for p in (str(LESSONS_DIR), str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return dict(os.environ, PYTHONPATH=path, LESSON_SOLUTIONS="1", LESSON_SLIDERS="static",
                LESSON_PICTURES=str(tmp_path / "pictures"), MPLBACKEND="Agg")


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
def test_lesson_has_a_title_chinese_terms_and_an_exercise(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# %% [markdown]\n# # "), f"{path.name}: must open with a markdown title cell"
    assert CJK.search(text), f"{path.name}: give the seeds' Chinese terms beside the English ones"
    assert re.search(r"^# ## Exercise", text, re.M), f"{path.name}: needs an '## Exercise' section"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_checks_in_check_cells_and_hides_its_solutions(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    headers = re.findall(r"^# %%.*$", text, re.M)
    assert CHECK_HEADER in headers, f"{path.name}: verification goes in collapsed check cells ({CHECK_HEADER})"
    assert EXERCISE_HEADER in headers, f"{path.name}: an exercise needs a learner cell ({EXERCISE_HEADER})"
    calls = re.findall(rf'^exercise\(globals\(\), "{path.stem}", "(\w+)"\)$', text, re.M)
    assert calls, f'{path.name}: check each exercise with exercise(globals(), "{path.stem}", "name")'
    for learner_cell in re.findall(rf"^{re.escape(EXERCISE_HEADER)}\n(.*?)(?=^# %%)", text, re.M | re.S):
        assert re.search(r"^\w+ = \.\.\.  # your answer", learner_cell, re.M), \
            f"{path.name}: a learner cell sets each name to ... with '# your answer':\n{learner_cell}"
    solutions = (SOLUTIONS_DIR / path.name).read_text(encoding="utf-8")
    for name in calls:
        for function in (name, f"check_{name}", f"wrong_{name}"):
            assert re.search(rf"^def {function}\(", solutions, re.M), f"solutions/{path.name}: no {function}()"
    assert "assert " not in text.split("# ## Exercise")[-1], \
        f"{path.name}: the exercise's check lives in solutions/{path.name}, not in the lesson"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_opens_as_a_notebook(path: Path) -> None:
    jupytext = pytest.importorskip("jupytext", reason="jupytext is in the test extra")
    import nbformat
    notebook = jupytext.read(path)
    nbformat.validate(notebook)
    kinds = {cell.cell_type for cell in notebook.cells}
    assert kinds == {"markdown", "code"}, f"{path.name}: cells {kinds}"
    for cell in notebook.cells:
        if "check" in cell.metadata.get("tags", []) and not cell.source.startswith("exercise("):
            assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, \
                f"{path.name}: a check cell is collapsed: {CHECK_HEADER}"


def text_of(output: dict) -> str:
    if output["output_type"] == "stream":
        return output["text"]
    return output.get("data", {}).get("text/plain", "")


def shows_a_picture(output: dict) -> bool:
    data = output.get("data", {})
    return any(kind in data for kind in PICTURES) or "<iframe" in data.get("text/html", "")


def execute(notebook, tmp_path: Path, env: dict[str, str]):
    nbclient = pytest.importorskip("nbclient", reason="nbclient and ipykernel are in the test extra")
    pytest.importorskip("ipykernel", reason="nbclient and ipykernel are in the test extra")
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = nbclient.NotebookClient(notebook, timeout=TIMEOUT, startup_timeout=TIMEOUT, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute(env=env)
    return notebook


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_runs_as_a_notebook(path: Path, tmp_path: Path) -> None:
    jupytext = pytest.importorskip("jupytext", reason="jupytext is in the test extra")
    import nbformat
    notebook = jupytext.read(path)
    notebook.cells.append(nbformat.v4.new_code_cell(  # a last cell: each check rejects its planted mistake
        f'import lesson_tools\nprint("proved:", lesson_tools.prove_exercises(globals(), "{path.stem}"))'))
    env = environment(tmp_path)
    del env["MPLBACKEND"]  # the kernel's own inline backend; show() displays PNGs either way
    executed = execute(notebook, tmp_path, env)  # raises CellExecutionError on any cell's error

    for cell in executed.cells:
        if cell.cell_type != "code":
            continue
        printed = "".join(text_of(output) for output in cell.outputs)
        where = f"{path.name}, the cell\n{cell.source[:300]}\n"
        if DRAWS.search(cell.source):
            assert any(shows_a_picture(output) for output in cell.outputs), f"{where}shows no picture"
        tags = cell.metadata.get("tags", [])
        if "check" in tags and cell.source.startswith("exercise("):
            assert "right:" in printed, f"{where}printed no 'right:' with LESSON_SOLUTIONS=1:\n{printed}"
        elif "check" in tags:
            assert "checked:" in printed, f"{where}printed no 'checked:' line:\n{printed}"
        warnings = [output["text"] for output in cell.outputs
                    if output["output_type"] == "stream" and output["name"] == "stderr" and "Warning" in output["text"]]
        assert not warnings, f"{where}warned:\n{''.join(warnings)}"
    assert "proved: [" in "".join(text_of(output) for output in executed.cells[-1].outputs), \
        executed.cells[-1].outputs


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_runs_as_a_script(path: Path, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=environment(tmp_path),
                          capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, f"{path.name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    assert "right:" in done.stdout and "not answered yet" not in done.stdout, done.stdout[-3000:]


def run_python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh Python with the lessons importable (lesson_tools sets the process's threads)."""
    full = {**environment(tmp_path), **env}
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=full, capture_output=True,
                          text=True, timeout=120)


def test_an_unanswered_exercise_says_so_and_a_wrong_one_fails_with_a_hint(tmp_path: Path) -> None:
    code = f"""
import runpy
import lesson_tools
ns = runpy.run_path({str(LESSONS_DIR / "01_neuron.py")!r})  # its exercise cell left as it is: ...
lesson_tools.solutions("01_neuron").wrong_tanh_from_exp(ns)
try:
    lesson_tools.exercise(ns, "01_neuron", "tanh_from_exp")
except AssertionError as error:
    print("wrong:", error)
"""
    done = run_python(code, tmp_path, LESSON_SOLUTIONS="0")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "not answered yet: leaves3, o3" in done.stdout, done.stdout
    assert "wrong: o3 = 0.414214, not" in done.stdout, done.stdout  # tanh(n / 2): the hint names the value


def test_slider_interactive_in_a_kernel_and_static_elsewhere(tmp_path: Path) -> None:
    pytest.importorskip("ipywidgets", reason="ipywidgets is in the test extra")
    import nbformat
    source = """
from lesson_tools import slider
def draw(ax, c, k):
    ax.plot([0, 1], [0, c * k])
slider(draw, name="line.png", c=(0.5, 2.0), k=[1, 2, 3])
"""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    env = environment(tmp_path)
    del env["LESSON_SLIDERS"], env["MPLBACKEND"]
    executed = execute(notebook, tmp_path, env)
    views = [output for output in executed.cells[0].outputs
             if "application/vnd.jupyter.widget-view+json" in output.get("data", {})]
    assert views, executed.cells[0].outputs
    state = json.dumps(executed.metadata["widgets"]["application/vnd.jupyter.widget-state+json"])
    assert "FloatSliderModel" in state and "SelectionSliderModel" in state
    assert "image/png" in state and '"output_type": "error"' not in state  # drawn once, no error

    static = run_python(source, tmp_path)  # a script: a grid of 3 x 3 panels, saved
    assert static.returncode == 0, static.stderr[-3000:]
    assert (tmp_path / "pictures" / "line.png").exists(), static.stdout


def test_threads_one_per_free_core_and_the_environment_wins(tmp_path: Path) -> None:
    code = """
import os
from threadpoolctl import threadpool_info
import lesson_tools
blas = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
print(lesson_tools.THREADS, blas, os.cpu_count())
"""
    clean = {k: v for k, v in environment(tmp_path).items() if k not in
             ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=clean, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    threads, blas, cores = done.stdout.split(" ", 2)
    assert 1 <= int(threads) <= int(cores.strip()) and f"[{threads}]" == blas, done.stdout
    kept = run_python(code, tmp_path, OPENBLAS_NUM_THREADS="1")
    assert kept.stdout.startswith("None "), kept.stdout  # a count the user set is left alone
