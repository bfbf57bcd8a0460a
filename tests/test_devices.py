"""Where CuPy differs from NumPy, tinytensor behaves the same on every device.

Each difference the CuPy stand-in models (tests/cupy_standin) and that
tinytensor must absorb, tested on "cpu" and "cuda" alike:

* an integer index past the end raises one clear IndexError (CuPy would wrap
  it around and pick the wrong row): on a GPU without a sync, at the next read;
* random numbers: CuPy's Generator has no ``permutation``, and its state must
  go into checkpoints for a resumed run to draw the same dropout masks;
* NumPy scalars are not weak under NEP 50: an lr of numpy.float64 must not turn
  float32 updates into float64 ones;
* a broadcast view is read-only on the CPU but writable on CuPy: in-place ops
  into one are refused on both;
* several GPUs: every op allocates and computes on its tensors' device, and
  moving between GPUs copies (two stand-in devices; a real machine needs two);
* host-device syncs per training step, counted on the stand-in: none.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinytensor as tt
import tinytensor.functional as F
import transformer
from tinytensor import backend, nn, optim
from translator.configs import PRESETS
from translator.data import Encoded
from translator.train import Trainer

from conftest import REAL_GPU

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------------
# Integer indices out of range
# ----------------------------------------------------------------------------
CHECKED = {  # name: (pick(x, ids, device), ids in range, ids out of range, the message)
    "getitem": (lambda x, ids, d: x[tt.tensor(ids, device=d)], [0, 2], [0, 5],
                r"getitem: index 5 is out of range for dimension 0 of size 3 \(valid: -3..2\)"),
    "getitem list": (lambda x, ids, d: x[:, ids], [1, -4], [1, -5],
                     r"getitem: index -5 is out of range for dimension 1 of size 4 \(valid: -4..3\)"),
    "getitem pair": (lambda x, ids, d: x[tt.tensor([0, 1], device=d), tt.tensor(ids, device=d)], [3, 2],
                     [3, 4], r"getitem: index 4 is out of range for dimension 1 of size 4"),
    "gather": (lambda x, ids, d: x.gather(1, tt.tensor(ids, device=d)), [[0], [3], [1]], [[0], [4], [1]],
               r"gather: index 4 is out of range for dimension 1 of size 4"),
    "index_select": (lambda x, ids, d: x.index_select(0, tt.tensor(ids, device=d)), [2], [3],
                     r"index_select: index 3 is out of range for dimension 0 of size 3"),
    "embedding": (lambda x, ids, d: F.embedding(tt.tensor(ids, device=d), x), [[2, 1]], [[2, 3]],
                  r"embedding: index 3 is out of range for a table of 3 rows \(valid: 0..2\)"),
    "one_hot": (lambda x, ids, d: F.one_hot(tt.tensor(ids, device=d), 4), [1, 3], [1, 4],
                r"one_hot: class 4 is out of range for 4 classes"),
    "cross_entropy": (lambda x, ids, d: F.cross_entropy(x, tt.tensor(ids, device=d), ignore_index=7),
                      [0, 7, 3], [0, -1, 7],
                      r"cross_entropy: target -1 is out of range for 4 classes \(ignore_index=7\)"),
}


@pytest.mark.parametrize("name", CHECKED)
def test_an_index_out_of_range_raises_on_every_device(device, name):
    """On the CPU the pick raises; on a GPU the first read after it (the check does not wait)."""
    pick, good, bad, message = CHECKED[name]
    x = tt.randn(3, 4, device=device, requires_grad=True)
    assert pick(x, good, device).tolist() == pick(x.cpu(), good, "cpu").tolist()
    with pytest.raises(IndexError, match=message):
        pick(x, bad, device).tolist()
    assert x.tolist() == x.cpu().tolist()  # reported once: the next read is clean


@pytest.mark.parametrize("name", CHECKED)
def test_on_a_gpu_a_range_check_makes_no_sync_and_the_next_read_reports_it(cuda, transfers, name):
    pick, good, bad, message = CHECKED[name]
    x = tt.randn(3, 4, device=cuda)
    picked = pick(x, good, cuda)
    assert transfers.count == 0, str(transfers)
    picked.tolist()
    assert transfers.count == 1, str(transfers)  # the values and the verdict, in one transfer
    wrapped = pick(x, bad, cuda)                 # no error yet: the GPU has not been asked
    assert transfers.count == 1, str(transfers)
    with pytest.raises(IndexError, match=message + r".* \(found on cuda:0 by a check that did not wait for "
                                         r"the GPU, so raised at this read.*undefined\)"):
        wrapped.tolist()
    assert transfers.count == 2, str(transfers)


def test_topk_picks_without_a_check(cuda, transfers):
    tt.randn(4, 6, device=cuda).topk(3)
    assert transfers.count == 0, str(transfers)


# ----------------------------------------------------------------------------
# Random numbers
# ----------------------------------------------------------------------------
def test_randperm_on_every_device(device):
    a, b = tt.randperm(50, device=device), tt.randperm(50, device=device)
    assert a.device == device and a.dtype == tt.int64
    assert sorted(a.tolist()) == list(range(50)) and a.tolist() != b.tolist()
    tt.manual_seed(0)
    assert tt.randperm(50, device=device).tolist() == a.tolist()


def test_the_rng_state_resumes_every_devices_draws(device, tmp_path):
    tt.rand(3, device=device)  # the generator is made, and has moved on
    tt.save({"rng": tt.get_rng_state()}, tmp_path / "rng.npz")
    expected = [tt.rand(5, device=device).tolist(), F.dropout(tt.ones(8, device=device)).tolist()]
    tt.manual_seed(123)
    tt.rand(7, device=device)
    tt.set_rng_state(tt.load(tmp_path / "rng.npz")["rng"])
    assert [tt.rand(5, device=device).tolist(), F.dropout(tt.ones(8, device=device)).tolist()] == expected


def test_a_generator_first_used_after_the_save_starts_from_the_seed(device):
    tt.manual_seed(7)
    state = tt.get_rng_state()  # only the CPU generator exists yet
    expected = tt.rand(4, device=device).tolist()
    tt.manual_seed(8)
    tt.rand(4, device=device)
    tt.set_rng_state(state)
    assert tt.rand(4, device=device).tolist() == expected


def test_the_gpu_generators_are_in_the_state(cuda):
    tt.rand(2, device=cuda)
    state = tt.get_rng_state()
    assert set(state) == {"seed", "cpu", "cuda:0"} and state["seed"] == 0
    assert isinstance(state["cuda:0"], tt.Tensor) and state["cuda:0"].device == "cpu"


def test_older_states_and_absent_gpus():
    cpu_only = backend.generator(backend.CPU).bit_generator.state  # what checkpoints held before
    expected = tt.rand(3).tolist()
    tt.set_rng_state(cpu_only)
    assert tt.rand(3).tolist() == expected
    state = tt.get_rng_state()
    expected = tt.rand(3).tolist()
    tt.set_rng_state({**state, "cuda:7": tt.zeros(40, dtype="int8")})  # a GPU this machine lacks
    assert tt.rand(3).tolist() == expected


# ----------------------------------------------------------------------------
# NEP 50 and in-place writes into broadcast views
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("make", [optim.Adam, optim.AdamW, optim.SGD])
def test_a_numpy_learning_rate_acts_as_the_python_number(device, make):
    runs = []
    for lr in (1e-2, np.float64(1e-2)):
        tt.manual_seed(0)
        p = tt.randn(4, 3, device=device, requires_grad=True)
        opt = make([p], lr=lr)
        for _ in range(3):
            opt.zero_grad()
            (p * p * p).sum().backward()
            opt.step()
        assert all(t.dtype == tt.float32 for t in [p, *opt.state[p].values()] if isinstance(t, tt.Tensor))
        runs.append(p.numpy().tobytes())
    assert runs[0] == runs[1]


def test_writing_into_a_broadcast_view_is_refused(device):
    x = tt.ones(3, device=device)
    with pytest.raises(ValueError, match=r"fill_: cannot write into a tensor of shape \(2, 3\): it is "
                                         r"a broadcast view \(from expand\), read-only.*\.clone\(\)"):
        x.expand(2, 3).zero_()
    assert x.expand(2, 3).clone().zero_().sum().item() == 0 and x.sum().item() == 3


# ----------------------------------------------------------------------------
# Several GPUs (the stand-in has two)
# ----------------------------------------------------------------------------
@pytest.fixture
def two_gpus(cuda: str) -> None:
    if tt.cuda.device_count() < 2:
        pytest.skip(f"needs two GPUs, this machine has {tt.cuda.device_count()}")


def test_moving_between_gpus_copies(two_gpus):
    x = tt.arange(4.0, device="cuda:0")
    y = x.to("cuda:1")
    y.add_(1)
    assert y.device == "cuda:1" and x.device == "cuda:0"
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0] and y.tolist() == [1.0, 2.0, 3.0, 4.0]
    with pytest.raises(RuntimeError, match=r"same device, got cuda:0 and cuda:1.*\.to\('cuda:0'\)"):
        x + y
    with pytest.raises(RuntimeError, match=r"device cuda:9 does not exist: this machine has \d+ GPUs"):
        tt.zeros(2, device="cuda:9")


def train_linear(device: str) -> tuple[nn.Module, optim.Optimizer, tt.Tensor]:
    tt.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Dropout(0.2), nn.ReLU(), nn.Linear(8, 3)).to(device)
    opt = optim.AdamW(model.parameters(), lr=1e-2)
    x, y = tt.randn(10, 6).to(device), tt.tensor([0, 1, 2, 1, 0, 2, 2, 1, 0, 0], device=device)
    for _ in range(3):
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        optim.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
    return model, opt, loss


def test_a_model_on_the_second_gpu_stays_there(two_gpus, tmp_path):
    model, opt, loss = train_linear("cuda:1")
    assert loss.device == "cuda:1"
    for p in model.parameters():
        assert p.device == "cuda:1" and p.grad.device == "cuda:1"
        assert all(t.device == "cuda:1" for t in opt.state[p].values() if isinstance(t, tt.Tensor))
    first = train_linear("cuda:0")[0]  # each GPU's generator starts from the seed: the same masks
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(first.parameters(), model.parameters()))
    tt.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "c.npz")
    loaded = tt.load(tmp_path / "c.npz")
    assert all(t.device == "cuda:1" for t in loaded["model"].values())
    first.load_state_dict(loaded["model"])
    opt.load_state_dict(loaded["optimizer"])
    assert all(p.device == "cuda:0" for p in first.parameters())


def test_a_transformer_trains_and_decodes_on_the_second_gpu(two_gpus):
    results = {}
    for device in ("cuda:0", "cuda:1"):
        tt.manual_seed(0)
        model = transformer.Seq2SeqTransformer(11, 13, d_model=16, nhead=2, num_encoder_layers=1,
                                               num_decoder_layers=1, dim_feedforward=32, dropout=0.0)
        model.to(device)
        src = tt.tensor([[3, 4, 5, 0], [6, 7, 8, 9]], device=device)
        tgt = tt.tensor([[1, 4, 5], [1, 7, 8]], device=device)
        opt = optim.Adam(model.parameters(), lr=1e-2)
        logits = model(src, tgt[:, :-1]).reshape(-1, 13)
        loss = F.cross_entropy(logits, tgt[:, 1:].reshape(-1), ignore_index=0)
        loss.backward()
        opt.step()
        greedy = transformer.greedy_decode(model, src, max_len=5, bos_id=1, eos_id=2)
        beam = transformer.beam_search(model, src, beam_size=2, max_len=5, bos_id=1, eos_id=2)
        assert greedy.device == device and beam.device == device
        results[device] = (loss.item(), greedy.tolist(), beam.tolist())
    assert results["cuda:0"] == results["cuda:1"]


# ----------------------------------------------------------------------------
# A check on a GPU waits for no read: every read from that GPU reports it
# ----------------------------------------------------------------------------
def bad_lookup(device: str) -> tt.Tensor:
    """An embedding with id 5 of a table of 3 rows: on a GPU it returns, its check waiting."""
    return F.embedding(tt.tensor([[1, 5]], device=device), tt.ones(3, 2, device=device))


BAD_LOOKUP = r"embedding: index 5 is out of range for a table of 3 rows \(valid: 0..2\)"


def save(t: tt.Tensor, folder) -> None:
    tt.save({"t": t}, folder / "t.npz")


def plateau(t: tt.Tensor, folder) -> None:
    optim.lr_scheduler.ReduceLROnPlateau(optim.SGD([tt.zeros(1, requires_grad=True)], lr=0.1)).step(t.sum())


READS = {  # every way tinytensor takes values from the GPU to the host
    "item": lambda t, folder: t.sum().item(), "numpy": lambda t, folder: t.numpy(),
    "tolist": lambda t, folder: t.tolist(), "bool": lambda t, folder: bool(t.sum() > 0),
    "float": lambda t, folder: float(t.sum()), "int": lambda t, folder: int(t.sum()),
    "repr": lambda t, folder: repr(t), "print": lambda t, folder: print(t), "str": lambda t, folder: str(t),
    "cpu": lambda t, folder: t.cpu(), "to cpu": lambda t, folder: t.to("cpu"),
    "synchronize": lambda t, folder: tt.cuda.synchronize(), "save": save,
    "get_rng_state": lambda t, folder: tt.get_rng_state(), "allclose": lambda t, folder: tt.allclose(t, t),
    "equal": lambda t, folder: tt.equal(t, t), "one_hot's class count": lambda t, folder: F.one_hot(t.long()),
    "ReduceLROnPlateau": plateau, "fill_ with a tensor": lambda t, folder: t.clone().fill_(t.sum()),
    "multinomial": lambda t, folder: tt.multinomial(t.abs().reshape(-1) + 1, 1),
    "binary_cross_entropy": lambda t, folder: F.binary_cross_entropy(t.sigmoid(), t.sigmoid()),
}


@pytest.mark.parametrize("read", READS)
def test_every_read_from_the_gpu_reports_a_failed_check(cuda, transfers, tmp_path, read):
    tt.rand(1, device=cuda)  # the GPU's generator exists: get_rng_state reads its state
    t = bad_lookup(cuda)
    assert transfers.count == 0, str(transfers)
    with pytest.raises(IndexError, match=BAD_LOOKUP + r" \(found on cuda:0 by a check that did not wait"):
        READS[read](t, tmp_path)
    assert transfers.count == 1, str(transfers)  # the report came with the values: no extra sync
    READS[read](t, tmp_path)  # reported once; the values read now are the wrapped lookup's


def test_every_read_goes_through_to_host(cuda, transfers, tmp_path):
    """Values leave the GPU in one place, backend.to_host (and synchronize), which reports the checks;
    the only other syncs are CuPy's own (a boolean mask, nonzero), which cannot carry the report."""
    for read in READS.values():
        read(tt.rand(2, 3, device=cuda), tmp_path)  # one_hot wants no negative numbers
    model, _, _ = train_linear(cuda)
    tt.gradcheck(lambda a: (a * a).sum(), [tt.randn(3, dtype=tt.float64, device=cuda, requires_grad=True)])
    x = tt.randn(4, 5, device=cuda) * 3
    [x.erf(), F.gelu(x), x.unique(), x.nonzero(), x[x > 0], model(x[:, :2].repeat(1, 3)).argmax(1).tolist()]
    seq2seq = transformer.Seq2SeqTransformer(11, 13, d_model=16, nhead=2, num_encoder_layers=1,
                                             num_decoder_layers=1, dim_feedforward=32).to(cuda)
    src = tt.tensor([[3, 4, 5, 0], [6, 7, 8, 9]], device=cuda)
    transformer.greedy_decode(seq2seq, src, max_len=4, bos_id=1, eos_id=2).tolist()
    transformer.beam_search(seq2seq, src, beam_size=2, max_len=4, bos_id=1, eos_id=2).tolist()
    elsewhere = [(what, where) for what, where in transfers.events
                 if not where.startswith("checks.py") and what not in ("boolean mask index", "nonzero")]
    assert transfers.count > 30 and not elsewhere, "\n".join(f"{what} at {where}" for what, where in elsewhere)


def test_a_read_with_a_check_waiting_returns_the_values_exactly(cuda):
    """The report and the values travel as one block of bytes: every dtype and layout comes back whole."""
    arrays = [tt.randn(3, 5, device=cuda), tt.randn(3, 5, dtype=tt.float64, device=cuda).T,
              tt.arange(7, device=cuda), tt.randn(2, 3, device=cuda) > 0, tt.tensor(2.5, device=cuda),
              tt.randn(4, device=cuda).half(), tt.arange(6, dtype=tt.int32, device=cuda)[::2],
              tt.zeros(0, 3, device=cuda)]
    for t in arrays:
        F.embedding(tt.tensor([2, 0], device=cuda), tt.ones(3, 2, device=cuda))  # a check that passes
        read = t.numpy()
        assert read.dtype == t.dtype and read.shape == t.shape
        with backend.on_device(backend.Device(cuda)):
            np.testing.assert_array_equal(read, t.array.get())


def test_the_first_failure_since_the_last_read_is_reported(cuda, transfers):
    y = tt.randn(2, 3, device=cuda)
    F.embedding(tt.tensor([4], device=cuda), tt.ones(3, 2, device=cuda))         # fails first
    F.cross_entropy(y, tt.tensor([0, 9], device=cuda))                          # fails too
    with pytest.raises(IndexError, match=r"^embedding: index 4 is out of range"):
        y.sum().item()
    assert y.sum().item() == pytest.approx(float(y.numpy().sum()))  # one report per read, as PyTorch's first assert
    F.cross_entropy(y, tt.tensor([0, 9], device=cuda))
    with pytest.raises(IndexError, match=r"^cross_entropy: target 9 is out of range for 3 classes"):
        y.sum().item()


def test_the_first_bad_entry_is_named(device):
    ids = tt.tensor([[0, 1, 2], [7, 1, -3]], device=device)
    with pytest.raises(IndexError, match=r"index 7 is out of range for a table of 3 rows"):
        F.embedding(ids, tt.ones(3, 2, device=device)).tolist()


def test_each_gpu_reports_its_own_checks(two_gpus, transfers):
    on_first, on_second = tt.ones(2, device="cuda:0"), bad_lookup("cuda:1")
    assert on_first.tolist() == [1.0, 1.0]  # cuda:0 has nothing to report
    with pytest.raises(IndexError, match=BAD_LOOKUP + r" \(found on cuda:1 by"):
        on_second.sum().item()
    bad_lookup("cuda:1")
    with pytest.raises(IndexError, match=r"found on cuda:1"):
        tt.cuda.synchronize("cuda:1")
    assert transfers.count == 3, str(transfers)


def test_a_failed_check_surfaces_at_the_read_of_a_loop_that_reads_every_few_steps(device):
    """A bad target at step 6 of a loop that reads its loss every 4 steps: the read at step 8 raises."""
    model = nn.Linear(4, 3).to(device)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    x = tt.randn(8, 4, device=device)
    total, steps = tt.zeros((), device=device), []
    with pytest.raises(IndexError, match=r"cross_entropy: target 3 is out of range for 3 classes"):
        for step in range(1, 13):
            steps.append(step)
            target = tt.tensor([0, 1, 2, 0, 1, 2, 0, 3 if step == 6 else 1], device=device)
            loss = F.cross_entropy(model(x), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total = total + loss.detach()
            if step % 4 == 0:
                total.item()
    assert steps[-1] == (6 if device == "cpu" else 8)


def test_a_bad_id_in_training_surfaces_at_the_trainers_next_read(device, tmp_path):
    """The trainer reads its loss every 20 steps: a bad id in step 5 ends the run in that step on the
    CPU, at the read after step 20 on a GPU, with the model's message; nothing is saved after it."""
    trainer = Trainer(PRESETS["tiny"].with_overrides(batch_tokens=128), tmp_path, device=device,
                      progress_bar=False, stop_at_step=30)
    batches = trainer.train_data.batches(128, seed=0, fixed_shapes=trainer.config.fixed_shapes)
    trainer.train_data.sources[batches[4][0]][0] = len(trainer.src_vocab)  # one id past the vocabulary
    with pytest.raises(IndexError, match=rf"Seq2SeqTransformer: src holds a token id outside its vocabulary: "
                                         rf"embedding: index {len(trainer.src_vocab)} is out of range"):
        trainer.run()
    assert trainer.progress.step == (4 if device == "cpu" else 20)
    assert not (tmp_path / "last.npz").exists()


EXIT = """
import sys
sys.path.insert(0, "tests")
import tinytensor as tt, tinytensor.functional as F
if {standin}:
    import cupy_standin
    tt.backend.use_cuda_module(cupy_standin)
F.embedding(tt.tensor([[1, 5]], device="cuda"), tt.ones(3, 2, device="cuda"))
print("the program ends with a check waiting")
"""


def test_a_check_still_waiting_at_exit_is_printed(cuda):
    result = subprocess.run([sys.executable, "-c", EXIT.format(standin=not REAL_GPU)], capture_output=True,
                            text=True, cwd=ROOT, timeout=120, check=False,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.stdout == "the program ends with a check waiting\n", result.stderr
    assert re.search("^tinytensor: error at exit: " + BAD_LOOKUP + r" \(found on cuda:0", result.stderr), \
        result.stderr


# ----------------------------------------------------------------------------
# Host-device syncs per training step: none
# ----------------------------------------------------------------------------
def test_a_linear_adam_step_makes_no_sync(cuda, transfers):
    model = nn.Linear(8, 4).to(cuda)
    opt = optim.Adam(model.parameters(), lr=1e-3)
    x, y = tt.randn(16, 8, device=cuda), tt.randint(0, 4, (16,), device=cuda)
    loss = F.cross_entropy(model(x), y)  # the targets' range check waits on the GPU
    opt.zero_grad()
    loss.backward()
    norm = optim.clip_grad_norm_(model.parameters(), 0.1)
    opt.step()
    assert transfers.count == 0, str(transfers)
    assert norm.device == cuda and norm.item() > 0.1  # reading it is the caller's choice, and one sync
    assert transfers.count == 1, str(transfers)


def test_a_translator_step_makes_no_sync(cuda, transfers, tmp_path):
    """Two embeddings and the loss check their ids on the GPU, and nothing waits for it (before: three
    syncs, and eight before that). The validation loss reads once, at the end (before: 3 per batch + 1)."""
    trainer = Trainer(PRESETS["tiny"].with_overrides(batch_tokens=128, dropout=0.1), tmp_path, device=cuda,
                      progress_bar=False)
    assert trainer.config.fixed_shapes  # on a GPU batches come in a few shapes, in buffers kept for each
    before = transfers.count
    for indices in trainer.train_data.batches(128, seed=0, fixed_shapes=True)[:3]:
        trainer.step(indices)
    assert transfers.count - before == 0, str(transfers)
    valid = trainer.valid_data
    trainer.valid_data = Encoded(valid.pairs[:40], valid.sources[:40], valid.targets[:40])
    before = transfers.count
    trainer.valid_loss()
    assert transfers.count - before == 1, str(transfers)
