"""Run a program written for PyTorch, unchanged, on tinytensor: ``import torch`` gives tinytensor.

    python -m tinytensor.as_torch program.py [its arguments]

or, from Python,

    from tinytensor import as_torch
    with as_torch.imports():
        runpy.run_path("program.py", run_name="__main__")

While it is on, every import of torch resolves to tinytensor's module of the same
name, the module itself (not a copy): ``import torch`` is tinytensor, ``import
torch.nn as nn`` is tinytensor.nn, ``from torch.utils.data import DataLoader``
is tinytensor.utils.data's. The program's text stays PyTorch's, so it still runs
on PyTorch, and on tinytensor it can be stepped into and drawn (visualize/). A
submodule tinytensor lacks answers as a missing name does (missing.py):
``import torch.jit`` raises "tinytensor has no torch.jit; remove ...".

How: Python asks each finder on ``sys.meta_path`` for a module before it looks
on disk. ``TorchIsTinytensor``, put first, answers for ``torch`` and ``torch.*``
with a loader that hands back the tinytensor module already imported. The real
torch's modules, where it was imported already, would be found in ``sys.modules``
first: ``imports()`` sets them aside for its block, and ``install()``, for good,
refuses rather than run a program on the wrong library. __main__.py is the
command line.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.util
import sys
from typing import Any, Iterator

from .. import missing


class TorchIsTinytensor(importlib.abc.MetaPathFinder):
    """A finder: ``torch.X.Y`` is the module tinytensor.X.Y (torch.nn.functional: tinytensor's too)."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != "torch" and not fullname.startswith("torch."):
            return None
        real = "tinytensor" + fullname[len("torch"):]
        try:
            module = importlib.import_module(real)
        except ModuleNotFoundError as error:
            lacking = error.name or ""  # the first module of the chain tinytensor lacks
            if real == lacking or real.startswith(lacking + "."):
                torch_name = "torch" + lacking[len("tinytensor"):]
                raise ModuleNotFoundError(missing.use_instead(torch_name, lacking.rpartition(".")[0]),
                                          name=fullname) from None
            raise
        return importlib.util.spec_from_loader(fullname, _Same(module))


class _Same(importlib.abc.Loader):
    """Hands back the tinytensor module itself, keeping its own name and spec."""

    def __init__(self, module: Any) -> None:
        self.module, self.spec = module, module.__spec__

    def create_module(self, spec: Any) -> Any:
        return self.module

    def exec_module(self, module: Any) -> None:
        module.__spec__ = self.spec  # the import system wrote torch's name there; keep tinytensor's


def install() -> TorchIsTinytensor:
    """From now on, torch is tinytensor in this process (for a process that runs one program)."""
    if "torch" in sys.modules and not sys.modules["torch"].__name__.startswith("tinytensor"):
        raise RuntimeError("tinytensor.as_torch: the real torch is already imported in this process, so "
                           "`import torch` would keep giving it; install the alias before anything "
                           "imports torch, or run the program inside as_torch.imports()")
    finder = TorchIsTinytensor()
    sys.meta_path.insert(0, finder)
    return finder


@contextlib.contextmanager
def imports() -> Iterator[None]:
    """Inside the block, ``import torch...`` gives tinytensor's modules. A torch imported before
    (the real one) is set aside for the block and put back after it, and nothing of the alias
    stays: code imported before or after the block keeps the torch it had."""
    aside = {name: sys.modules.pop(name) for name in list(sys.modules) if _is_torch(name)}
    finder = TorchIsTinytensor()
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in [n for n in sys.modules if _is_torch(n)]:
            del sys.modules[name]
        sys.modules.update(aside)


def _is_torch(name: str) -> bool:
    return name == "torch" or name.startswith("torch.")
