"""Installing as a real user would: no message or document names an install of someone else's package.

"tinytensor" on PyPI is an unrelated project, so the distribution is named tinytensor-learn
(the import name stays tinytensor), and every hint installs from the checkout (pip install -e
".[cuda]") or names the third-party package itself (cupy-cuda13x, matplotlib, graphviz).
"""
from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DISTRIBUTION = "tinytensor-learn"
TEXT = ("*.py", "*.md", "*.toml", "*.cfg", "*.txt", "run")


def project_files():
    for pattern in TEXT:
        for path in ROOT.rglob(pattern):
            parts = path.relative_to(ROOT).parts
            if not any(p.startswith(".") and p != ".ci" or p in ("build", "dist") or p.endswith(".egg-info")
                       for p in parts):
                yield path


def pip_installs(text):
    """The arguments of each `pip install ...` in ``text``, up to the end of its command."""
    for match in re.finditer(r"pip3? install ([^\n`\"]*(?:\"[^\"\n]*\"[^\n`\"]*)*)", text):
        command = re.split(r"&&|\)|;|\||#", match.group(1))[0]
        try:
            yield shlex.split(command)
        except ValueError:  # an unbalanced quote inside a Python string: take the words as they are
            yield command.split()


def fetches_the_unrelated_tinytensor(arguments):
    """Whether these pip arguments would fetch "tinytensor" (with or without extras) from an index:
    the first requirement after the options (prose may follow it: "... in your tinytensor checkout")."""
    with_values = {"-e", "--editable", "-r", "--requirement", "-c", "--constraint", "-i", "--index-url",
                   "--extra-index-url", "-f", "--find-links"}
    words = iter(arguments)
    for word in words:
        if word in with_values:
            next(words, None)
        elif not word.startswith("-"):
            return bool(re.fullmatch(r"tinytensor(\[[^\]]*\])?(==.*)?", word.strip("'\"")))
    return False


def test_the_distribution_has_a_name_of_its_own():
    if sys.version_info < (3, 11):
        pytest.skip("tomllib is in the standard library from Python 3.11")
    import tomllib  # noqa: PLC0415

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == DISTRIBUTION
    for extra, requirements in project["optional-dependencies"].items():
        for requirement in requirements:
            assert not re.match(r"tinytensor(\[|$)", requirement), f"extra {extra}: {requirement}"


def test_no_install_hint_fetches_someone_elses_package():
    offences = [f"{path.relative_to(ROOT)}: pip install {' '.join(arguments)}"
                for path in project_files() if path != Path(__file__).resolve()  # its examples below
                for arguments in pip_installs(path.read_text(encoding="utf-8", errors="replace"))
                if fetches_the_unrelated_tinytensor(arguments)]
    assert not offences, "\n".join(offences)


def test_the_check_itself_catches_the_old_hints():
    old = "Install it with `pip install 'tinytensor[cuda]'` (CUDA 13), or pip install tinytensor"
    assert [fetches_the_unrelated_tinytensor(a) for a in pip_installs(old)] == [True, True]
    fine = 'pip install -e ".[cuda]" && pip install cupy-cuda12x; pip install tinytensor-learn'
    assert not any(fetches_the_unrelated_tinytensor(a) for a in pip_installs(fine))


def test_the_cuda_hint_names_the_wheels_and_the_checkout():
    from tinytensor.backend import arrays  # noqa: PLC0415

    source = Path(arrays.__file__).read_text()
    assert "pip install cupy-cuda13x" in source and 'pip install -e \\".[cuda]\\"' in source


def test_readme_tells_a_machine_without_a_gpu_how_to_get_torchs_cpu_build():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in readme
    assert 'pip install -e ".[test,torch]" && python -m pytest' in readme  # CI's command, kept
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install -q -e ".[test,torch]"' in ci
