"""The layers: nothing imports from a layer above its own.

    tinytensor/ (the engine) -> transformer/ (the model) -> translator/ (the application)
                                                            and visualize/ (the pictures)

Every module of each package is read with ``ast`` (test_backend_isolation.py's scanner: every
``import`` anywhere, lazy ones inside functions too) and each absolute import of one of the
project's packages is checked against the packages below it. translator/ draws its attention
heat maps with visualize/; visualize/ never imports the translator.

One exception, documented where it is: tinytensor/nn/__init__.py's ``__getattr__``
imports the model package on first access of ``nn.Transformer`` and its kin (PyTorch's
users look for them under nn), never at import time, which the last test checks.
"""
import subprocess
import sys

from test_backend_isolation import ROOT, imported_names

BELOW = {
    "tinytensor": set(),
    "transformer": {"tinytensor"},
    "visualize": {"tinytensor", "transformer"},
    "translator": {"tinytensor", "transformer", "visualize"},
}


# (file, package it may import though the package is above): the documented exceptions
EXCEPTIONS = {("tinytensor/nn/__init__.py", "transformer")}


def upward_imports(package, allowed, exceptions=EXCEPTIONS):
    """'path:line imports name' for each import in ``package`` of a project package not in ``allowed``."""
    for path in sorted((ROOT / package).rglob("*.py")):
        where = path.relative_to(ROOT).as_posix()
        for line, name in imported_names(path.read_text(encoding="utf-8")):
            if name in BELOW and name != package and name not in allowed and (where, name) not in exceptions:
                yield f"{where}:{line} imports {name}"


def test_every_package_of_the_project_has_its_layer():
    assert {path.parent.name for path in ROOT.glob("*/__init__.py")} == set(BELOW)


def test_the_check_sees_imports_from_above_lazy_ones_too():
    """The check itself works: it sees the model import the engine, and the translator's one import
    of visualize/, inside a function, when those are not allowed."""
    assert any(o.endswith("imports tinytensor") for o in upward_imports("transformer", allowed=set()))
    assert any(o.endswith("imports visualize") for o in upward_imports("translator", BELOW["transformer"]))


def test_nothing_imports_from_a_layer_above():
    offences = [o for package, below in BELOW.items() for o in upward_imports(package, below)]
    assert not offences, "an import runs up the layers:\n" + "\n".join(offences)


def test_the_one_exception_is_seen_and_only_it_is_excused():
    offences = list(upward_imports("tinytensor", BELOW["tinytensor"], exceptions=set()))
    assert len(offences) == 1 and offences[0].startswith("tinytensor/nn/__init__.py:")


def test_importing_the_engine_loads_no_model_code_until_nn_transformer_is_asked_for():
    script = ("import sys, tinytensor, tinytensor.nn, tinytensor.nn.functional as F\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('transformer', 'translator', "
              "'visualize')))\n"
              "print(tinytensor.nn.Transformer.__module__, 'transformer' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["[]", "transformer.transformer True"]
