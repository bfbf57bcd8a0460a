"""Backend isolation: NumPy and CuPy are imported in exactly one package, tinytensor/backend/.

(One exception: the NCCL engine, tinytensor/distributed/nccl.py, is CuPy's NCCL
bindings put to use, so it imports CuPy, never NumPy, and only when asked for.)

That is the promise that makes a port to another array library a one-package job,
and that keeps CuPy optional. The first test reads every module of the
packages (tinytensor/, transformer/, translator/, visualize/) with ``ast`` and looks at each
``import`` and ``from ... import`` statement, wherever it is (a lazy import
inside a function counts too). The second imports tinytensor in a fresh
interpreter in which importing CuPy fails loudly, so any import of it, even an
indirect one, is caught. The last reads the model, transformer/, for any use of the
backend or of ``Tensor._make``: a layer up, everything is a Tensor.
"""
import ast
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tinytensor", "transformer", "translator", "visualize")
BACKEND = Path("tinytensor/backend")  # the one package allowed to import them
ALLOWED_CUPY = {Path("tinytensor/distributed/nccl.py")}
FORBIDDEN = {"numpy", "cupy", "cupyx"}


def modules():
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def imported_names(source):
    """(line, top-level module name) of every import anywhere in ``source``, relative ones excluded."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]


def test_the_scan_finds_the_backend_imports():
    """The scanner itself works: it sees the backend's numpy and cupy imports."""
    names = {name for path in sorted((ROOT / BACKEND).rglob("*.py"))
             for _, name in imported_names(path.read_text())}
    assert {"numpy", "cupy"} <= names
    assert len(list(modules())) > 20


def test_the_scan_sees_every_form_of_import():
    source = textwrap.dedent("""
        import os, numpy as np
        from cupy import cuda
        def lazy():
            import cupyx.scipy
        from . import numpy
    """)
    names = [name for _, name in imported_names(source)]
    assert names.count("numpy") == 1 and "cupy" in names and "cupyx" in names  # not the relative one


def test_only_backend_imports_numpy_or_cupy():
    offenders = []
    for path in modules():
        relative = path.relative_to(ROOT)
        if BACKEND in relative.parents:
            continue
        for line, name in imported_names(path.read_text(encoding="utf-8")):
            if name in FORBIDDEN and not (relative in ALLOWED_CUPY and name == "cupy"):
                offenders.append(f"{relative}:{line} imports {name}")
    assert not offenders, "only tinytensor/backend/ may import numpy/cupy:\n" + "\n".join(offenders)


BLOCKER = textwrap.dedent("""
    import sys

    class BlockCuPy:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("cupy", "cupyx"):
                raise ImportError(f"test_backend_isolation: tinytensor tried to import {name}")
            return None

    sys.meta_path.insert(0, BlockCuPy())
    import tinytensor
    import tinytensor.functional
    x = tinytensor.randn(3, 4, requires_grad=True)
    (tinytensor.functional.softmax(x @ x.T) ** 2).sum().backward()
    assert x.grad.shape == (3, 4)
    assert not tinytensor.cuda_is_available()  # asked: CuPy's absence is an answer, not a crash
    print(sorted(m for m in sys.modules if m.split(".")[0] in ("cupy", "cupyx")))
""")


def test_import_tinytensor_never_imports_cupy():
    result = subprocess.run([sys.executable, "-c", BLOCKER], capture_output=True, text=True,
                            cwd=ROOT, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_import_tinytensor_leaves_cupy_out_of_sys_modules():
    code = "import sys, tinytensor; print([m for m in sys.modules if m.startswith('cupy')])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def backend_uses(source):
    """(line, what) for each use of tinytensor's arrays or private constructor in ``source``."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tinytensor"):
            if node.module.endswith(".backend") or any(alias.name == "backend" for alias in node.names):
                yield node.lineno, f"from {node.module} import {', '.join(a.name for a in node.names)}"
        elif isinstance(node, ast.Import) and any(a.name.endswith(".backend") for a in node.names):
            yield node.lineno, "import of the backend"
        elif isinstance(node, ast.Attribute) and node.attr in ("backend", "_make"):
            yield node.lineno, f".{node.attr}"


def test_the_backend_scan_sees_what_it_looks_for():
    source = "from tinytensor import Tensor, backend\nimport tinytensor.backend\nx = Tensor._make(a, None)\n"
    assert [line for line, _ in backend_uses(source)] == [1, 2, 3]


def test_the_model_speaks_tensor():
    """transformer/ (the model) is written with Tensors: it never reaches down to the backend's arrays
    or the engine's private constructor (masks, for one, are tensors that need no gradient)."""
    offenders = [f"{path.relative_to(ROOT)}:{line} {what}"
                 for path in sorted((ROOT / "transformer").glob("*.py"))
                 for line, what in backend_uses(path.read_text(encoding="utf-8"))]
    assert not offenders, "transformer/ uses the backend:\n" + "\n".join(offenders)
