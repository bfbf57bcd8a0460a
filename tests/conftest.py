"""Shared test fixtures: the devices a test runs on, and float64 helpers.

``device`` runs a test once on "cpu" and once on "cuda". The "cuda" run carries
the ``gpu`` marker and is skipped, with the reason, where CuPy or a GPU is
missing; on a GPU machine ``pytest -m gpu`` runs just those.
"""
from __future__ import annotations

import pytest

import tinytensor as tt
from tinytensor import backend


def _cuda_param() -> object:
    reason = backend._cupy_or_reason()[1]
    return pytest.param("cuda", marks=[pytest.mark.gpu,
                                       pytest.mark.skipif(bool(reason), reason=reason or "")])


DEVICES = ["cpu", _cuda_param()]


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(autouse=True)
def _seed() -> None:
    tt.manual_seed(0)


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread():
    """The tests' matrices are small: a second BLAS thread gains nothing on them, and on a busy
    2-core machine the threads wait for each other (small trainings run 5 to 15 times slower)."""
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415 - comes with scikit-learn
    except ImportError:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
