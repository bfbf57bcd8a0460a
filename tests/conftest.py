"""Shared test fixtures: the devices a test runs on, the seed, the count of host-device syncs.

``device`` runs a test once on "cpu" and once on "cuda"; ``cuda`` gives a test
"cuda" alone. What "cuda" is, is chosen once, when the tests start:

* where CuPy is installed and a GPU answers, the GPU itself: those runs carry
  the ``gpu`` marker, so ``pytest -m gpu`` on a GPU machine runs just them;
* everywhere else (CI, a laptop), the strict CuPy stand-in of
  tests/cupy_standin, NumPy underneath and CuPy's rules on top, with two
  pretend GPUs: those runs carry the ``standin`` marker. So every device test
  runs everywhere, and fails where it would fail on a GPU.

``TINYTENSOR_TEST_CUDA=standin`` picks the stand-in even where a GPU is (to
reproduce CI there). The stand-in drives "cuda" only for the length of a test
that asks for it; every other test sees the machine as it is.
"""
from __future__ import annotations

import os
from typing import Iterator

import pytest

import cupy_standin
import tinytensor as tt
from tinytensor import backend

REAL_GPU = not backend.cuda_unavailable_reason() and os.environ.get("TINYTENSOR_TEST_CUDA") != "standin"
CUDA_MARK = pytest.mark.gpu if REAL_GPU else pytest.mark.standin


@pytest.fixture
def cuda() -> Iterator[str]:
    """Device "cuda": the GPU, or the stand-in until the test ends."""
    if REAL_GPU:
        yield "cuda"
        return
    backend.use_cuda_module(cupy_standin)
    try:
        yield "cuda"
    finally:
        backend.use_cuda_module(None)


@pytest.fixture(params=["cpu", "cuda"])
def device(request: pytest.FixtureRequest) -> str:
    if request.param == "cuda":
        request.getfixturevalue("cuda")
    return request.param


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs on "cuda" (through ``cuda`` or ``device``) gpu or standin."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if "cuda" in item.fixturenames or (callspec and callspec.params.get("device") == "cuda"):
            item.add_marker(CUDA_MARK)


@pytest.fixture
def transfers(cuda: str) -> Iterator[cupy_standin.Transfers]:
    """Counts the device-to-host transfers (host-device syncs) the test makes on the stand-in."""
    if REAL_GPU:
        pytest.skip("transfers are counted on the CuPy stand-in, not on a real GPU")
    with cupy_standin.count_transfers() as counter:
        yield counter


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
