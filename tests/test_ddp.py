"""DistributedDataParallel with real processes: 2 ranks with half the batch each train the model
that 1 process trains with the whole batch (tests/distributed/ddp.py runs on the ranks).

Everything is float64, so the parameters after several steps agree to float rounding (the ranks'
gradients are summed in another order than one process sums its examples): 1e-12, relative.
A world of one (plain python, no launcher) runs the same script.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import tinytensor as tt
from mpi_launch import HAVE_MPI, INSTALL, launch, needs_mpi, output

sys.path.insert(0, str(Path(__file__).parent / "distributed"))
import ddp as script  # noqa: E402 - the script the ranks run, and its one-process reference

CLOSE = dict(rtol=1e-12, atol=1e-14)


@pytest.fixture(scope="module", params=[1, 2], ids=lambda n: f"{n}proc")
def ranks(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    """What every rank of ddp.py saved, rank by rank."""
    if not HAVE_MPI:
        pytest.skip(f"mpi4py or mpiexec is not installed: {INSTALL}")
    out = tmp_path_factory.mktemp(f"ddp-{request.param}")
    result, _ = launch("ddp.py", str(out), ranks=request.param)
    assert result.returncode == 0, output(result)
    return [dict(np.load(out / f"rank{r}.npz")) for r in range(request.param)]


def trained(got: dict, prefix: str) -> dict[str, np.ndarray]:
    return {key[len(prefix):]: value for key, value in got.items() if key.startswith(prefix)}


def test_ranks_start_from_different_weights_and_are_identical_after_construction(ranks):
    rank0 = script.net(seed=0)
    for got in ranks:
        if got["rank"] > 0:
            assert not np.array_equal(got["start/before"], ranks[0]["start/before"])  # their own
        np.testing.assert_array_equal(got["start/after"], rank0.first.weight.numpy())  # rank 0's
        np.testing.assert_array_equal(got["start/scale"], [1.0, 1.0, 1.0])  # rank 0's buffer


def test_state_dict_keys_have_the_module_prefix_and_module_is_the_model(ranks):
    expected = ["module." + key for key in script.Net().state_dict()]
    for got in ranks:
        assert got["state_dict_keys"].tolist() == expected
        assert got["module_is_model"]


@pytest.mark.parametrize("variant", ["default", "tiny_buckets_views"])
@pytest.mark.parametrize("optimizer", list(script.OPTIMIZERS))
def test_half_the_batch_on_each_rank_trains_what_the_whole_batch_trains(ranks, optimizer, variant):
    expected = script.reference(optimizer)
    assert not np.array_equal(expected["head.bias"], script.net(seed=0).head.bias.numpy())  # it trains
    for got in ranks:
        params = trained(got, f"train/{optimizer}/{variant}/")
        assert params.keys() == expected.keys()
        for name, value in expected.items():
            np.testing.assert_allclose(params[name], value, **CLOSE, err_msg=f"{name} on rank {got['rank']}")


def test_buckets_and_gradients_as_views(ranks):
    for got in ranks:
        assert got["buckets/sizes"].tolist() == [6]  # 6 small tensors: one bucket
        assert got["buckets/default"] == 1
        assert got["buckets/tiny_buckets_views"] == 6   # one bucket per parameter
        assert not got["grad_is_bucket_view/default"]   # copied back into .grad
        assert got["grad_is_bucket_view/tiny_buckets_views"]


def test_buckets_leave_during_backward_in_order(ranks):
    """One bucket per parameter: each is launched by its gradient's hook, all before backward
    ends, the first while the other gradients were still to be computed."""
    for got in ranks:
        assert got["timeline/launched_during_backward"] == got["timeline/buckets"] == 6
        events = got["timeline/events"].tolist()
        for k in range(5):  # bucket k leaves before the gradient of bucket k + 1 has even arrived
            assert events.index(f"launch {k}") < events.index(f"ready {k + 1}"), events


def test_no_sync_accumulation_matches_one_process(ranks):
    expected = script.reference("sgd", micro_batches=script.MICRO)
    for got in ranks:
        params = trained(got, "no_sync/")
        for name, value in expected.items():
            np.testing.assert_allclose(params[name], value, **CLOSE, err_msg=name)


def test_a_parameter_used_only_under_no_sync_is_averaged_at_the_sync(ranks):
    """Its gradient waits in .grad through the synced backward that does not use it; the ranks'
    differ until then, so the sync must average it (as PyTorch's DDP counts use under no_sync)."""
    model = script.net(seed=0, with_unused=True)
    x, y = script.batch(0, 0)
    script.loss_of(model, x, y, branch=True).backward()  # the whole batch: the mean of the shards' means
    for got in ranks:
        np.testing.assert_allclose(got["no_sync_unused/branch_grad"], model.branch.weight.grad.numpy(), **CLOSE)


def test_a_dropped_wrapper_leaves_no_hooks_behind(ranks):
    for got in ranks:
        assert got["rewrapped/hooks"] == 1


def test_a_forward_without_backward_leaves_nothing_waiting(ranks):
    for got in ranks:
        assert str(got["forward_twice"]) == "no error"


def test_unused_parameters_count_as_zero_and_unused_everywhere_keep_no_grad(ranks):
    """As torch's DDP with find_unused_parameters=True: the branch rank 1 alone uses gets the
    average of rank 1's gradient and rank 0's zero; the layer no rank uses keeps .grad None."""
    size = len(ranks)
    if size == 1:
        assert str(ranks[0]["unused/branch_grad"]) == "None"  # the one rank did not use it
    else:
        model = script.net(seed=0, with_unused=True)
        x, y = script.batch(0)
        script.loss_of(model, script.share(x, 1, size), script.share(y, 1, size), branch=True).backward()
        for got in ranks:
            np.testing.assert_allclose(got["unused/branch_grad"], model.branch.weight.grad.numpy() / size,
                                       **CLOSE)
    for got in ranks:
        assert got["unused/never_grad_is_none"]
        for name, value in trained(ranks[0], "unused/").items():
            if name.startswith(("first", "second", "head", "branch", "never")):
                np.testing.assert_array_equal(trained(got, "unused/")[name], value)  # the ranks agree


def test_unused_parameters_without_find_unused_parameters_are_a_clear_error(ranks):
    for got in ranks:
        message = str(got["unused/refused"])
        assert message.startswith(f"RuntimeError: DistributedDataParallel: backward has finished, but 4 "
                                  f"parameter(s) got no gradient on rank {got['rank']}: never.bias, "
                                  f"never.weight, branch.bias, branch.weight.")
        assert "Pass find_unused_parameters=True to DistributedDataParallel" in message
        assert str(got["unused/after_refusal"]) == "no error"  # the process group is still in step


def test_construction_refusals(ranks):
    expected = {
        "refuse/device_ids": "ValueError: DistributedDataParallel: device_ids=[0], but device_ids only names "
                             "the one GPU a module is on",
        "refuse/bucket_cap": "ValueError: DistributedDataParallel: bucket_cap_mb must be positive, got 0",
        "refuse/no_params": "RuntimeError: DistributedDataParallel is not needed when a module doesn't have "
                            "any parameter that requires a gradient.",
        "refuse/not_a_module": "TypeError: DistributedDataParallel: module must be a tinytensor.nn.Module",
    }
    for got in ranks:
        for key, start in expected.items():
            assert str(got[key]).startswith(start), (key, str(got[key]))


@pytest.mark.parametrize("caps_mb", [[1.0, 25.0], [0.5], [0.01, 0.3]])
def test_buckets_are_assigned_as_pytorchs(caps_mb):
    """By size, one dtype each, the first smaller: torch's own assignment of the same tensors."""
    torch = pytest.importorskip("torch", reason="torch is the reference for the bucket assignment")
    from tinytensor.nn.parallel.distributed import assign_buckets
    rng = np.random.default_rng(0)
    spec = [(int(n), str(rng.choice(["float32", "float64"]))) for n in rng.integers(1, 200_000, size=40)]
    params = [tt.nn.Parameter(tt.zeros(n, dtype=dtype)) for n, dtype in spec]
    position = {id(p): i for i, p in enumerate(params)}
    ours = [[position[id(p)] for p in bucket] for bucket in assign_buckets(params, caps_mb)]
    theirs, _ = torch.distributed._compute_bucket_assignment_by_size(
        [torch.zeros(n, dtype=getattr(torch, dtype)) for n, dtype in spec], [int(c * 1024 * 1024) for c in caps_mb])
    assert ours == theirs and len(ours) > 2


def test_without_a_process_group_the_error_says_so():
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        tt.nn.parallel.DistributedDataParallel(script.Net())


def test_reachable_under_pytorchs_names():
    import tinytensor.nn.parallel as parallel
    assert tt.nn.parallel.DistributedDataParallel is parallel.DistributedDataParallel


# ----------------------------------------------------------------------------
# A job that goes wrong ends with an error saying what happened, never a hang
# ----------------------------------------------------------------------------
@needs_mpi
def test_a_rank_that_dies_during_training_gives_the_other_a_clear_error():
    """Rank 1 dies in backward; where the launcher lets rank 0 run on (-disable-auto-cleanup),
    its bucket's all-reduce times out saying what it waited for."""
    result, seconds = launch("ddp_failures.py", "die", "2", options=("-disable-auto-cleanup",))
    assert result.returncode != 0 and seconds < 30, output(result)
    assert ("DistBackendError: all_reduce(float64 tensor of shape (139,), op=AVG) on rank 0 of 2: no answer "
            "within 2 s (init_process_group's timeout): not every rank has called it") in output(result)


@needs_mpi
def test_a_rank_that_dies_ends_the_job():
    """MPICH's launcher ends the others at once when a process dies (long before the 60 s timeout)."""
    result, seconds = launch("ddp_failures.py", "die", "60")
    assert result.returncode != 0 and seconds < 30, output(result)
    assert "trained" not in result.stdout


@needs_mpi
def test_ranks_that_disagree_on_unused_parameters_end_the_job_with_the_error():
    """Rank 1 skips a layer rank 0 uses: rank 1's error ends every rank, long before the timeout."""
    result, seconds = launch("ddp_failures.py", "unused_on_one_rank", "60")
    assert result.returncode != 0 and seconds < 30, output(result)
    assert "got no gradient on rank 1: model.second.bias, model.second.weight" in output(result)
