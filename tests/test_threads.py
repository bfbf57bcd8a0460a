"""Threads: tinytensor.set_num_threads / get_num_threads do what PyTorch's do (the BLAS behind
matmul uses that many threads), and choose_num_threads counts the free cores of a busy machine."""
from __future__ import annotations

import pytest

import tinytensor as tt
from tinytensor import threads

pytest.importorskip("threadpoolctl", reason="tinytensor.set_num_threads works through threadpoolctl")


@pytest.fixture
def restore_threads():
    before = tt.get_num_threads()
    yield
    tt.set_num_threads(before)


def test_set_num_threads_sets_what_get_num_threads_reads_as_in_torch(restore_threads):
    torch = pytest.importorskip("torch", reason="PyTorch is the reference; pip install -e '.[torch]'")
    torch_before = torch.get_num_threads()
    try:
        for n in (1, 2, 3):
            tt.set_num_threads(n)
            torch.set_num_threads(n)
            assert tt.get_num_threads() == torch.get_num_threads() == n
    finally:
        torch.set_num_threads(torch_before)


def test_the_blas_behind_matmul_uses_the_threads_set(restore_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    tt.ones(64, 64) @ tt.ones(64, 64)  # the BLAS is loaded
    tt.set_num_threads(1)
    blas = threadpoolctl.threadpool_info()
    assert [lib["num_threads"] for lib in blas if lib["user_api"] == "blas"] in ([1], [1, 1])


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "2"])
def test_bad_thread_counts_are_refused_as_torch_refuses_them(bad, restore_threads):
    torch = pytest.importorskip("torch", reason="PyTorch is the reference; pip install -e '.[torch]'")
    with pytest.raises(RuntimeError) as theirs:
        torch.set_num_threads(bad)
    with pytest.raises(RuntimeError) as ours:
        tt.set_num_threads(bad)
    assert str(ours.value).split(",")[0] == str(theirs.value).split(",")[0]


@pytest.mark.parametrize("machine, affinity, quota, load, expected", [
    (2, 2, None, 1.9, "1 (2 cores, load 1.9)"),          # two busy processes beside us: one thread
    (2, 2, None, 0.2, "2 (2 cores, load 0.2)"),          # an idle machine: every core
    (8, 8, None, 3.0, "5 (8 cores, load 3.0)"),
    (8, 8, None, 40.0, "1 (8 cores, load 40.0)"),        # at least one
    (16, 4, None, 8.0, "2 (4 cores, load 2.0)"),         # pinned to 4 of 16 cores: a quarter of the load
    (64, 64, "150000 100000", 0.0, "1 (1.5 cores, load 0.0)"),   # a container allowed 1.5 cores
    (64, 64, "max 100000", 0.0, "64 (64 cores, load 0.0)"),      # a cgroup without a quota
])
def test_choose_num_threads_counts_the_free_cores(monkeypatch, tmp_path, machine, affinity, quota, load, expected):
    for name in threads.LOCAL_PROCESSES:  # no launcher
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: machine)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(affinity)), raising=False)
    monkeypatch.setattr("os.getloadavg", lambda: (load, load, load))
    cpu_max = tmp_path / "cpu.max"
    if quota is not None:
        cpu_max.write_text(quota + "\n")
    monkeypatch.setattr(threads, "CPU_MAX", str(cpu_max))
    monkeypatch.setattr(threads, "CFS_QUOTA", str(tmp_path / "none"))
    choice = threads.choose_num_threads()
    assert str(choice) == expected and 1 <= choice.threads <= max(1, choice.cores)


@pytest.mark.parametrize("variable, processes, load, expected", [
    ("MPI_LOCALNRANKS", "2", 0.0, "1 (1 core of 2 shared by 2 processes, load 0.0)"),  # mpiexec -n 2, 2 cores
    ("OMPI_COMM_WORLD_LOCAL_SIZE", "2", 0.0, "1 (1 core of 2 shared by 2 processes, load 0.0)"),
    ("LOCAL_WORLD_SIZE", "4", 0.0, "1 (0.5 cores of 2 shared by 4 processes, load 0.0)"),  # more ranks than cores
    ("MPI_LOCALNRANKS", "1", 1.9, "1 (2 cores, load 1.9)"),
])
def test_choose_num_threads_shares_the_cores_with_the_sibling_ranks(monkeypatch, variable, processes, load,
                                                                    expected):
    """Ranks started together see an idle machine; each takes its share, not every core."""
    for name in threads.LOCAL_PROCESSES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, processes)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr("os.getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(threads, "_cgroup_cores", lambda: None)
    assert str(threads.choose_num_threads()) == expected


def test_choose_num_threads_reads_a_cgroup_v1_quota(monkeypatch, tmp_path):
    for name in threads.LOCAL_PROCESSES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 32)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(32)), raising=False)
    monkeypatch.setattr("os.getloadavg", lambda: (0.0, 0.0, 0.0))
    (tmp_path / "quota").write_text("300000\n")
    (tmp_path / "period").write_text("100000\n")
    monkeypatch.setattr(threads, "CPU_MAX", str(tmp_path / "none"))
    monkeypatch.setattr(threads, "CFS_QUOTA", str(tmp_path / "quota"))
    monkeypatch.setattr(threads, "CFS_PERIOD", str(tmp_path / "period"))
    assert str(threads.choose_num_threads()) == "3 (3 cores, load 0.0)"


def test_on_this_machine_the_choice_is_between_one_and_every_core():
    choice = threads.choose_num_threads()
    assert 1 <= choice.threads <= len(__import__("os").sched_getaffinity(0))
