"""Launching real MPI jobs from the tests: MPICH's mpiexec (from its wheel) starts the processes.

``launch(script, ...)`` runs ``mpiexec -n N python tests/distributed/<script>.py`` (N = 1 is
plain ``python``, no launcher: a world of one) under a timeout, so no test can hang. Tests
that need it skip, saying why, where mpi4py or mpiexec is missing:
``pip install -e ".[distributed]"``, which the test extra includes, so CI runs them.

The launcher is the mpiexec beside this Python (the environment's bin/, where the mpich
wheel puts it), else the one on PATH.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = Path(__file__).parent / "distributed"
INSTALL = 'pip install -e ".[distributed]"'
MPIEXEC = (str(Path(sys.executable).parent / "mpiexec")
           if (Path(sys.executable).parent / "mpiexec").exists() else shutil.which("mpiexec"))
HAVE_MPI = importlib.util.find_spec("mpi4py") is not None and MPIEXEC is not None
needs_mpi = pytest.mark.skipif(not HAVE_MPI, reason=f"mpi4py or mpiexec is not installed: {INSTALL}")


def launch(script: "str | list[str]", *args: str, ranks: int = 2, options: tuple[str, ...] = (),
           timeout: float = 120, env: dict | None = None) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``script`` (a file of tests/distributed, or a command: ["-m", "translator", ...]) on
    ``ranks`` processes (1: plain python); its result and the seconds it took.

    The job runs in a session of its own, so that past ``timeout`` every process of it is
    killed (the launcher, its proxies, the ranks), and the test fails showing what they printed.
    Each rank has one BLAS thread, as ranks sharing a machine's cores should.
    """
    python = [sys.executable, *([str(SCRIPTS / script)] if isinstance(script, str) else script), *args]
    command = [MPIEXEC, *options, "-n", str(ranks), *python] if ranks > 1 else python
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
                       OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", **(env or {}))
    start = time.monotonic()
    job = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=environment, cwd=ROOT, start_new_session=True)
    try:
        stdout, stderr = job.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)
        stdout, stderr = job.communicate()
        pytest.fail(f"{' '.join(command)} still ran after {timeout} s:\n{stdout}{stderr}")
    return subprocess.CompletedProcess(command, job.returncode, stdout, stderr), time.monotonic() - start


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr
