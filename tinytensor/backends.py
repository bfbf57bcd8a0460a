"""tinytensor.backends: PyTorch's torch.backends switches, for the scripts that set them at their top.

(Not to be confused with backend/, tinytensor's own NumPy and CuPy layer: this
file only answers the questions PyTorch programs ask.) tinytensor's GPU is
CUDA through CuPy; it calls no cuDNN and has no MPS (Apple) backend. So:

    torch.backends.mps.is_available()           False, and is_built() too: use "cuda" or "cpu"
    torch.backends.cudnn.is_available()         False; version() is None
    torch.backends.cudnn.enabled = False        kept; no effect: no op of tinytensor calls cuDNN
    torch.backends.cudnn.benchmark = True       kept; no effect: there is no algorithm to pick
    torch.backends.cudnn.deterministic = True   kept; no effect: every op repeats bit for bit
                                                (but for a GPU's scatter-adds, in indexing's backward)
    torch.backends.cudnn.allow_tf32 = True      kept; no effect (cuDNN's TF32 is for convolutions)
    torch.backends.cuda.matmul.allow_tf32       kept, and tied to torch.set_float32_matmul_precision
                                                as in PyTorch ("high" <-> True); no effect: CuPy
                                                multiplies float32 in float32 unless CUPY_TF32=1 is
                                                in the environment before the first product

Each submodule is registered under its dotted name, so ``import torch.backends.cudnn
as cudnn`` finds it too.
"""
from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

from . import missing

PRECISIONS = ("highest", "high", "medium")


class _Switches(ModuleType):
    """A submodule of settable switches; a name it lacks answers as missing.names does."""

    def __init__(self, name: str, doc: str) -> None:
        super().__init__(f"{__name__}.{name}", doc)
        sys.modules[self.__name__] = self

    def __getattr__(self, name: str) -> Any:
        return missing.names(self.__name__)(name)


class _Mps(_Switches):
    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def is_built() -> bool:
        return False


class _Cudnn(_Switches):
    enabled, benchmark, deterministic, allow_tf32 = True, False, False, True  # PyTorch's defaults

    @staticmethod
    def is_available() -> bool:
        return False

    @staticmethod
    def version() -> None:
        return None


class _Matmul:
    """torch.backends.cuda.matmul: ``allow_tf32`` is the float32 matmul precision seen as a switch."""

    @property
    def allow_tf32(self) -> bool:
        return _precision != "highest"

    @allow_tf32.setter
    def allow_tf32(self, allow: bool) -> None:
        global _precision
        _precision = "high" if allow else "highest"


_precision = "highest"
mps = _Mps("mps", "Apple's GPUs: tinytensor has no MPS backend (use device 'cuda' or 'cpu').")
cudnn = _Cudnn("cudnn", "cuDNN's switches: kept, with no effect (tinytensor calls no cuDNN).")
cuda = _Switches("cuda", "CUDA's switches: matmul.allow_tf32, kept, with no effect (see backends.py).")
cuda.matmul = _Matmul()


def set_float32_matmul_precision(precision: str) -> None:
    """Kept, with no effect (see above); "highest", "high" or "medium", as torch's."""
    global _precision
    if precision not in PRECISIONS:
        raise ValueError(f"set_float32_matmul_precision: {precision!r} is not one of {PRECISIONS}")
    _precision = precision


def get_float32_matmul_precision() -> str:
    return _precision


__getattr__ = missing.names(__name__)  # a PyTorch name not here says what to use (missing.py)
