"""tinytensor.distributed with real processes: MPICH's mpiexec (from its wheel) starts them.

Each test launches ``mpiexec -n N python tests/distributed/<script>.py`` (mpi_launch.py: N = 1
is plain ``python``, no launcher: a world of one) under a subprocess timeout, so no test can
hang, and checks what each rank saved against NumPy, or what a failing job printed and how
fast it ended. They skip, saying why, where mpi4py or mpiexec is missing.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

import tinytensor as tt
import tinytensor.distributed as dist
from mpi_launch import HAVE_MPI, INSTALL, ROOT, launch, needs_mpi, output

sys.path.insert(0, str(Path(__file__).parent / "distributed"))
from collectives import DTYPES, OPS, inputs  # noqa: E402 - the script the ranks run


# ----------------------------------------------------------------------------
# Each collective, each dtype and op, on 1 (no launcher), 2 and 3 processes; and on
# NCCL where a GPU answers (a world of one: one process per GPU, and one GPU is enough)
# ----------------------------------------------------------------------------
WORLDS = [("mpi", 1), ("mpi", 2), ("mpi", 3)] + ([("nccl", 1)] if tt.cuda.is_available() else [])


@pytest.fixture(scope="module", params=WORLDS, ids=lambda param: f"{param[0]}-{param[1]}proc")
def ranks(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """What every rank of collectives.py saved, rank by rank."""
    backend, count = request.param
    if not HAVE_MPI:
        pytest.skip(f"mpi4py or mpiexec is not installed: {INSTALL}")
    out = tmp_path_factory.mktemp(f"collectives-{backend}-{count}")
    result, _ = launch("collectives.py", str(out), backend, ranks=count)
    assert result.returncode == 0, result.stdout + result.stderr
    return [dict(np.load(out / f"rank{r}.npz")) for r in range(count)]


def reduced(op: str, arrays: list[np.ndarray]) -> np.ndarray:
    """What a reduction over the ranks must give, by NumPy."""
    stack = np.stack(arrays)
    if stack.dtype == bool:
        return stack.all(0) if op == "MIN" else stack.any(0)  # SUM and MAX are or, MIN is and
    if op in ("SUM", "AVG"):
        total = stack.sum(0, dtype=stack.dtype)
        return total / len(arrays) if op == "AVG" else total
    return stack.max(0) if op == "MAX" else stack.min(0)


def test_each_rank_knows_its_rank_and_the_world(ranks):
    for rank, got in enumerate(ranks):
        assert (got["rank"], got["size"], got["initialized"]) == (rank, len(ranks), True)
        assert got["backend"] in ("mpi", "nccl")
        assert got["destroyed"] and got["again"] == len(ranks)  # a new group after destroy
        assert "has not been initialized" in str(got["after_destroy"])


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_all_reduce_matches_numpy(ranks, dtype, op):
    for got in ranks:
        for mode in ("sync", "async"):
            result = got[f"all_reduce/{dtype}/{op}/{mode}"]
            if op == "AVG" and not dtype.startswith("float"):
                assert str(result).startswith("TypeError: all_reduce:") and "AVG" in str(result)
                continue
            expected = reduced(op, [inputs(r, dtype) for r in range(len(ranks))])
            assert result.dtype == np.dtype(dtype), (mode, result.dtype)
            np.testing.assert_array_equal(result, expected, err_msg=f"{mode} on rank {got['rank']}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_broadcast_from_each_src(ranks, dtype):
    for got in ranks:
        for src in range(len(ranks)):
            np.testing.assert_array_equal(got[f"broadcast/{dtype}/{src}"], inputs(src, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_all_gather(ranks, dtype):
    expected = np.stack([inputs(r, dtype) for r in range(len(ranks))])
    for got in ranks:
        assert got[f"all_gather/{dtype}"].dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got[f"all_gather/{dtype}"], expected)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_reduce_scatter(ranks, dtype, op):
    for got in ranks:
        result = got[f"reduce_scatter/{dtype}/{op}"]
        if op == "AVG" and not dtype.startswith("float"):
            assert str(result).startswith("TypeError: reduce_scatter:")
            continue
        piece = got["rank"]  # rank k gets the reduction of every rank's piece k
        expected = reduced(op, [inputs(r, dtype, piece) for r in range(len(ranks))])
        np.testing.assert_array_equal(result, expected)


def test_zero_d_two_in_flight_and_barrier(ranks):
    n = len(ranks)
    for got in ranks:
        np.testing.assert_array_equal(got["all_reduce/0-d"], n * (n + 1) / 2)
        np.testing.assert_array_equal(got["async/two_in_flight"],
                                      [[n * (n + 1) / 2] * 3, [n * (n + 1) / 2 + 9 * n] * 3])
        assert got["barrier"]


def test_autograd_collectives_work_on_values_outside_the_graph(ranks):
    for got in ranks:
        np.testing.assert_array_equal(got["autograd/leaf"], [len(ranks), 2 * len(ranks)])
        assert "modified by an in-place operation" in str(got["autograd/backward_after"])
        assert str(got["autograd/grad_fn"]).startswith("RuntimeError: all_reduce: this tensor was "
                                                       "computed in the autograd graph")
        assert "x.detach()" in str(got["autograd/grad_fn"])
        assert str(got["autograd/detached"]) == "no error"


def test_refusals_name_the_collective_and_what_to_do(ranks):
    expected = {
        "refuse/int_avg": "TypeError: all_reduce: ReduceOp.AVG of int64 tensors",
        "refuse/op": "TypeError: all_reduce: op must be a tinytensor.distributed.ReduceOp",
        "refuse/list": "TypeError: all_reduce: expected a tinytensor Tensor, got list",
        "refuse/transposed": "ValueError: all_reduce: the float32 tensor of shape (3, 2) is not contiguous",
        "refuse/broadcast_view": "ValueError: all_reduce: the float32 tensor of shape (2, 3) is not contiguous",
        "refuse/read_only": "ValueError: all_reduce: the float64 tensor of shape (3,) is read-only",
        "refuse/device": "ValueError: all_reduce: the 'mpi' backend works on tensors on cpu, this one "
                         "is on cuda:0",
        "refuse/dtype": "TypeError: all_reduce: uint8 tensors are not supported",
        "refuse/src": f"ValueError: broadcast: src must be a rank, 0 to {len(ranks) - 1}, got {len(ranks)}",
        "refuse/gather_count": f"ValueError: all_gather: tensor_list must be a list of one tensor per "
                               f"rank ({len(ranks)}), got {len(ranks) + 1}",
        "refuse/gather_shape": "ValueError: all_gather: tensor_list[0] is a float32 tensor of shape (3,)",
        "refuse/group": "ValueError: all_reduce: tinytensor has the default process group only",
        "refuse/init_twice": "ValueError: trying to initialize the default process group twice!",
    }
    for got in ranks:
        for key, start in expected.items():
            if key in ("refuse/read_only", "refuse/device") and got["backend"] != "mpi":
                continue  # read-only memory is NumPy's; the "cuda" tensor is the mpi backend's mistake
            assert str(got[key]).startswith(start), (key, str(got[key]))


def test_python_objects_are_gathered_and_broadcast(ranks):
    n = len(ranks)
    expected = [{"rank": r, "big": 2 ** 100 + r, "text": "x" * (r * 13)} for r in range(n)]
    for rank, got in enumerate(ranks):
        assert str(got["objects/gathered"]) == repr(expected)
        assert str(got["objects/broadcast"]) == repr([f"from rank {n - 1}", {"n": n - 1}, None])
        refused = (f"ValueError: broadcast_object_list: rank {rank}'s object_list has 2 element(s), rank 0's "
                   f"1; give every rank a list of the same length (e.g. [None] * 1)")
        assert str(got["refuse/broadcast_length"]) == ("no error" if rank == 0 else refused)
        assert str(got["refuse/object_list"]).startswith(
            f"ValueError: all_gather_object: object_list must be a list of one item per rank ({n})")


def test_distributed_sampler_shares_are_disjoint_and_cover(ranks):
    n = len(ranks)
    shares = ranks[0]["sampler/shares"]  # every rank's share, gathered
    for got in ranks:
        np.testing.assert_array_equal(got["sampler/shares"], shares)
        assert got["sampler/len"] == -(-11 // n)
    everything = shares.ravel()
    padding = n * -(-11 // n) - 11
    assert sorted(set(everything.tolist())) == list(range(11))  # covers the dataset
    assert len(everything) == 11 + padding                       # each example once, but the padding


# ----------------------------------------------------------------------------
# A job that goes wrong ends, with an error that says what happened, never a hang
# ----------------------------------------------------------------------------
@needs_mpi
def test_a_rank_that_never_comes_gives_a_timeout_error_not_a_hang():
    result, seconds = launch("failures.py", "late", "1")
    assert result.returncode != 0 and seconds < 20, output(result)
    assert ("DistBackendError: all_reduce(float32 tensor of shape (4,), op=SUM) on rank 0 of 2: no "
            "answer within 1 s (init_process_group's timeout): not every rank has called it") in output(result)


@needs_mpi
def test_a_rank_that_dies_ends_the_job():
    """MPICH's launcher ends the others at once when a process dies (long before the 60 s timeout)."""
    result, seconds = launch("failures.py", "exit", "60")
    assert result.returncode != 0 and seconds < 20, output(result)
    assert "all_reduce returned" not in output(result)


@needs_mpi
def test_a_rank_that_dies_the_survivor_times_out_with_a_clear_error():
    """Where the launcher lets the others run on (-disable-auto-cleanup), the timeout ends them."""
    result, seconds = launch("failures.py", "exit", "1", options=("-disable-auto-cleanup",))
    assert result.returncode != 0 and seconds < 20, output(result)
    assert "on rank 0 of 2: no answer within 1 s" in output(result)


@needs_mpi
def test_a_rank_that_dies_during_the_collective():
    result, seconds = launch("failures.py", "die_during", "1", options=("-disable-auto-cleanup",))
    assert result.returncode != 0 and seconds < 20, output(result)
    assert ("all_reduce(float32 tensor of shape (1048576,), op=SUM) on rank 0 of 2: no answer within "
            "1 s (init_process_group's timeout): every rank called it, but it did not finish") in output(result)


@needs_mpi
def test_an_uncaught_exception_on_one_rank_ends_every_rank():
    """Long before the 60 s timeout: the rank that failed ends the job (MPI_Abort)."""
    result, seconds = launch("failures.py", "raise", "60")
    assert result.returncode != 0 and seconds < 20, output(result)
    assert "ValueError: rank 1 has a bug" in output(result)


@needs_mpi
@pytest.mark.parametrize("mode, rank1_called", [
    ("shapes", "all_reduce(float32 tensor of shape (5,), op=SUM)"),
    ("collectives", "broadcast(float32 tensor of shape (4,), src=0)"),
])
def test_ranks_that_call_different_collectives_get_an_error_naming_each_call(mode, rank1_called):
    result, seconds = launch("failures.py", mode, "60")
    assert result.returncode != 0 and seconds < 20, output(result)
    assert (f"DistError: Detected mismatch between collectives on ranks: rank 0 called "
            f"all_reduce(float32 tensor of shape (4,), op=SUM); rank 1 called {rank1_called}.") in output(result)
    assert "all_reduce returned" not in output(result)  # no rank went on with a wrong result


@needs_mpi
def test_init_process_group_times_out_when_a_rank_never_calls_it():
    result, seconds = launch("failures.py", "init_late", "1")
    assert result.returncode != 0 and seconds < 20, output(result)
    assert ("init_process_group on rank 0 of 2: the other ranks did not call init_process_group "
            "within 1 s") in output(result)


@needs_mpi
def test_world_size_is_checked_against_the_launcher():
    result, _ = launch("failures.py", "world_size", "60")
    assert result.returncode != 0
    assert ("init_process_group: world_size=3, but the launcher started 2 process(es); launch with "
            "mpiexec -n 3") in output(result)


# ----------------------------------------------------------------------------
# Before MPI starts: this pytest process itself, or a Python without mpi4py
# ----------------------------------------------------------------------------
def test_before_init_process_group_the_calls_say_so():
    assert not dist.is_initialized()
    for call in (dist.get_rank, dist.get_world_size, dist.barrier, lambda: dist.all_reduce(tt.ones(2)),
                 dist.destroy_process_group, lambda: tt.data.DistributedSampler(range(4))):
        with pytest.raises(ValueError, match="Default process group has not been initialized, please "
                                             "make sure to call init_process_group"):
            call()


@pytest.mark.parametrize("kwargs, error, message", [
    ({"backend": "gloo"}, ValueError, "unknown backend 'gloo'; tinytensor has 'mpi'"),
    ({"init_method": "env://"}, ValueError, "init_method='env://' has no meaning here"),
    ({"timeout": 30}, TypeError, "timeout must be a positive datetime.timedelta, got 30"),
    ({"timeout": timedelta(0)}, TypeError, "timeout must be a positive datetime.timedelta"),
    ({"device_id": 0}, ValueError, "device_id picks the GPU of the 'nccl' backend"),
])
def test_init_arguments_are_refused_before_mpi_starts(kwargs, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        dist.init_process_group(**kwargs)
    assert not dist.is_initialized()


@pytest.mark.skipif(tt.cuda.is_available(), reason="a GPU answers here: NCCL would start")
def test_nccl_where_no_gpu_is_says_so():
    with pytest.raises(RuntimeError, match="NCCL connects GPUs, and device 'cuda' is not available "
                                           "here: .* For CPU tensors use backend='mpi'"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()


def test_without_mpi4py_the_error_says_what_to_install():
    code = textwrap.dedent("""
        import sys
        sys.modules["mpi4py"] = None  # as if mpi4py were not installed: its import fails
        import tinytensor.distributed as dist
        print(dist.is_available())
        dist.init_process_group()
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                            timeout=120, check=False, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.returncode == 1
    assert result.stdout.strip() == "False"
    assert ('RuntimeError: the MPI backend needs mpi4py and an MPI library, and mpi4py is not '
            'installed: pip install -e ".[distributed]" in your tinytensor checkout') in result.stderr
