"""The device and seed lines at the top of PyTorch scripts, with torch's names and meanings.

torch.backends (mps, cudnn, cuda.matmul), torch.set_float32_matmul_precision, torch.cuda
and torch.accelerator: on this machine as it is (torch reports no accelerator here, and
neither does tinytensor unless a GPU answers), and on "cuda", the GPU or the CuPy stand-in
with its two pretend GPUs, where tinytensor has an accelerator.
"""
from __future__ import annotations

import numpy as np
import pytest

import tinytensor as tt
from tinytensor import backend

TORCH_REASON = "PyTorch is the reference for parity tests: pip install -e '.[torch]'"
no_gpu_here = pytest.mark.skipif(backend.cuda_is_available(), reason="this machine has a GPU: the "
                                 "answers without one are tested where there is none")


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason=TORCH_REASON)


# ----------------------------------------------------------------------------
# torch.backends
# ----------------------------------------------------------------------------
def test_mps_is_never_there(torch):
    assert tt.backends.mps.is_available() is False and tt.backends.mps.is_built() is False
    if not torch.backends.mps.is_available():  # a Mac's torch has it; then only the names are compared
        assert torch.backends.mps.is_built() is tt.backends.mps.is_built()


def test_cudnn_switches_start_as_torchs_and_keep_what_is_set(torch):
    cudnn = tt.backends.cudnn
    for name in ("enabled", "benchmark", "deterministic", "allow_tf32"):
        assert getattr(cudnn, name) == getattr(torch.backends.cudnn, name), name
    assert cudnn.is_available() is False and cudnn.version() is None  # tinytensor calls no cuDNN
    try:
        cudnn.benchmark, cudnn.deterministic = True, True
        import tinytensor.backends.cudnn as imported  # noqa: PLC0415 - the import form scripts use
        assert imported is cudnn and imported.benchmark and imported.deterministic
    finally:
        cudnn.benchmark, cudnn.deterministic = False, False


def test_matmul_tf32_is_the_float32_precision_seen_as_a_switch_as_in_torch(torch):
    def walk(library):
        """(precision, flag) after each step: the flag set, or the precision set. (Torch refuses to
        read the precision after "medium" then False, a mix of its two APIs: not a step here.)"""
        seen = [(library.get_float32_matmul_precision(), library.backends.cuda.matmul.allow_tf32)]
        for step in (True, "medium", "highest", False, "high", "highest"):
            if isinstance(step, bool):
                library.backends.cuda.matmul.allow_tf32 = step
            else:
                library.set_float32_matmul_precision(step)
            seen.append((library.get_float32_matmul_precision(), library.backends.cuda.matmul.allow_tf32))
        return seen

    mine = walk(tt)
    assert mine == walk(torch) and mine[0] == mine[-1] == ("highest", False)


def test_a_precision_torch_does_not_know_is_refused():
    with pytest.raises(ValueError, match=r"'fast' is not one of \('highest', 'high', 'medium'\)"):
        tt.set_float32_matmul_precision("fast")


# ----------------------------------------------------------------------------
# torch.cuda and torch.accelerator on a machine without a GPU: torch's answers
# ----------------------------------------------------------------------------
@no_gpu_here
def test_without_a_gpu_the_questions_have_torchs_answers(torch):
    assert tt.cuda.is_available() is torch.cuda.is_available() is False
    assert tt.cuda.device_count() == torch.cuda.device_count() == 0
    assert tt.accelerator.is_available() is torch.accelerator.is_available() is False
    assert tt.accelerator.current_accelerator() is torch.accelerator.current_accelerator() is None
    assert tt.accelerator.device_count() == torch.accelerator.device_count() == 0


@no_gpu_here
def test_without_a_gpu_seeding_it_does_nothing_and_leaves_the_cpu_stream_alone(torch):
    for library in (tt, torch):
        library.manual_seed(0)
        first = library.rand(4).numpy()
        library.manual_seed(0)
        library.cuda.manual_seed(5)
        library.cuda.manual_seed_all(5)
        np.testing.assert_array_equal(library.rand(4).numpy(), first)


@no_gpu_here
@pytest.mark.parametrize("call", ["cuda.current_device()", "cuda.set_device(0)", "cuda.get_device_name()",
                                  "cuda.synchronize()", "accelerator.current_device_index()",
                                  "accelerator.set_device_index(0)"])
def test_without_a_gpu_asking_about_one_is_an_error_that_says_why(torch, call):
    with pytest.raises(Exception):  # noqa: B017 - torch's CPU build raises AssertionError, RuntimeError...
        eval("torch." + call)
    with pytest.raises(RuntimeError, match="not available|none is available") as error:
        eval("tt." + call)
    assert "CuPy is not installed" in str(error.value) or "no CUDA GPU" in str(error.value)


# ----------------------------------------------------------------------------
# ... and where tinytensor has GPUs: the GPU, or the stand-in's two
# ----------------------------------------------------------------------------
@pytest.fixture
def gpus(cuda):
    yield tt.cuda.device_count()
    if tt.cuda.is_available():
        tt.cuda.set_device(0)


def test_with_gpus_the_accelerator_is_cuda(gpus):
    assert tt.cuda.is_available() and tt.accelerator.is_available()
    device = tt.accelerator.current_accelerator()
    assert device.type == "cuda" and device == "cuda:0"
    assert tt.accelerator.device_count() == gpus >= 1
    assert tt.cuda.current_device() == tt.accelerator.current_device_index() == 0
    assert isinstance(tt.cuda.get_device_name(), str) and tt.cuda.get_device_name(0)
    tt.cuda.synchronize()
    tt.accelerator.synchronize()


def test_set_device_makes_cuda_name_that_gpu(gpus):
    if gpus < 2:
        pytest.skip(f"needs two GPUs, this machine has {gpus}")
    tt.cuda.set_device(1)
    assert tt.cuda.current_device() == 1 and tt.accelerator.current_device_index() == 1
    assert tt.zeros(2, device="cuda").device == "cuda:1" and tt.ones(2).cuda().device == "cuda:1"
    assert tt.ones(2).cuda(0).device == "cuda:0"
    assert tt.cuda.get_device_name() == tt.cuda.get_device_name(1)
    tt.accelerator.set_device_index("cuda:0")
    assert tt.zeros(2, device="cuda").device == "cuda:0"
    with pytest.raises(RuntimeError, match=rf"device cuda:{gpus} does not exist: this machine has {gpus} GPUs"):
        tt.cuda.set_device(gpus)
    with pytest.raises(ValueError, match="expected a GPU"):
        tt.cuda.set_device("cpu")


def test_cuda_manual_seed_restarts_the_current_gpu_as_manual_seed_does(gpus):
    tt.manual_seed(7)
    expected = tt.rand(5, device="cuda").numpy()
    tt.manual_seed(0)
    cpu_first = tt.rand(3).numpy()
    tt.manual_seed(0)
    tt.rand(5, device="cuda")  # some draws, then the GPU alone restarts
    tt.cuda.manual_seed(7)
    np.testing.assert_array_equal(tt.rand(5, device="cuda").numpy(), expected)
    np.testing.assert_array_equal(tt.rand(3).numpy(), cpu_first)  # the CPU's stream went on untouched


def test_cuda_manual_seed_seeds_one_gpu_and_manual_seed_all_every_one(gpus):
    if gpus < 2:
        pytest.skip(f"needs two GPUs, this machine has {gpus}")
    draws = {}
    for seed in (0, 3):
        tt.manual_seed(seed)
        draws[seed] = [tt.rand(4, device=f"cuda:{i}").numpy() for i in (0, 1)]
    tt.manual_seed(0)
    tt.cuda.set_device(1)
    tt.cuda.manual_seed(3)
    np.testing.assert_array_equal(tt.rand(4, device="cuda:0").numpy(), draws[0][0])
    np.testing.assert_array_equal(tt.rand(4, device="cuda:1").numpy(), draws[3][1])
    tt.cuda.manual_seed_all(3)
    for i in (0, 1):
        np.testing.assert_array_equal(tt.rand(4, device=f"cuda:{i}").numpy(), draws[3][i])
