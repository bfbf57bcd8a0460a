"""The translator's batches: each its own shape (the CPU's default), or a few fixed shapes (a GPU's):
every pair once an epoch, the id tensors of a shape allocated once and refilled, and the same loss
and gradients whatever the padding."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import tinytensor as tt
import tinytensor.functional as F
from translator.configs import PRESETS
from translator.data import Batch, Encoded, bucket_length, build_vocabularies
from translator.tokens import Vocab
from translator.train import Trainer, _corpus
from transformer import Seq2SeqTransformer


@pytest.fixture(scope="module")
def train_data() -> Encoded:
    pairs = _corpus()["train"]
    return Encoded.of(pairs, *build_vocabularies(pairs))


def test_bucket_lengths():
    assert [bucket_length(n) for n in (1, 2, 5, 6, 8, 9, 16, 17, 21, 32, 33, 64, 65, 100)] == \
        [2, 2, 6, 6, 8, 10, 16, 20, 24, 32, 40, 64, 80, 112]
    assert all(0 <= bucket_length(n) - n < bucket_length(n) / 5 for n in range(5, 3000))


def test_fixed_shapes_take_every_pair_once_in_a_few_shapes(train_data):
    batches = train_data.batches(512, seed=3, fixed_shapes=True)
    assert sorted(i for batch in batches for i in batch) == list(range(len(train_data)))
    for batch in batches:
        assert isinstance(batch, Batch) and 0 < len(batch) <= batch.rows == max(1, 512 // batch.length)
        assert {bucket_length(max(len(train_data.sources[i]), len(train_data.targets[i]) - 1))
                for i in batch} == {batch.length}
    shapes = Counter((batch.rows, batch.length) for batch in batches)
    assert sorted(length for _, length in shapes) == [6, 8, 10, 12, 14, 16, 20]  # toy lengths 5..20
    assert sum(batch.rows > len(batch) for batch in batches) <= len(shapes)  # one filled-up batch a shape
    own = train_data.batches(512, seed=3)
    assert len({(len(b), max(len(train_data.targets[i]) for i in b)) for b in own}) > 40  # the other way
    assert batches == train_data.batches(512, seed=3, fixed_shapes=True)  # the seed decides
    assert batches != train_data.batches(512, seed=4, fixed_shapes=True)
    in_order = train_data.batches(512, seed=None, shuffle=False, fixed_shapes=True)
    assert [b.length for b in in_order] == sorted(b.length for b in in_order)
    assert all(list(b) == sorted(b) for b in in_order)


def test_a_shape_keeps_its_tensors_and_fills_up_with_rows_the_loss_ignores(train_data, device):
    pairs = [i for i in range(200) if bucket_length(len(train_data.targets[i]) - 1) == 10
             and len(train_data.sources[i]) <= 10][:5]
    src, tgt_in, tgt_out = train_data.batch(Batch(pairs[:3], 4, 10), device)
    assert src.shape == tgt_in.shape == tgt_out.shape == (4, 10) and src.device == device
    assert src[3].tolist() == [Vocab.eos_id] + [Vocab.pad_id] * 9  # the filler row
    assert tgt_in[3].tolist() == [Vocab.bos_id] + [Vocab.pad_id] * 9 and tgt_out[3].tolist() == [Vocab.pad_id] * 10
    for row, i in enumerate(pairs[:3]):
        n = len(train_data.targets[i])
        assert tgt_in[row].tolist()[:n - 1] == train_data.targets[i][:-1]
        assert tgt_out[row].tolist() == train_data.targets[i][1:] + [Vocab.pad_id] * (11 - n)
    first = src.array
    again, _, _ = train_data.batch(Batch(pairs[2:5], 4, 10), device)
    assert again is src and again.array is first  # the same memory, refilled
    assert again[0].tolist()[:len(train_data.sources[pairs[2]])] == train_data.sources[pairs[2]]
    other, _, _ = train_data.batch(Batch(pairs[:2], 2, 10), device)
    assert other is not src and other.shape == (2, 10)


def test_the_loss_and_its_gradients_do_not_depend_on_the_padding(train_data, device):
    tt.manual_seed(0)
    src_vocab, tgt_vocab = (1 + max(max(row) for row in rows) for rows in (train_data.sources, train_data.targets))
    model = Seq2SeqTransformer(src_vocab, tgt_vocab, d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                               dim_feedforward=32, dropout=0.0).to(device)
    pairs = [i for i in range(300) if bucket_length(max(len(train_data.sources[i]),
                                                        len(train_data.targets[i]) - 1)) == 12][:6]
    results = []
    for indices in (pairs, Batch(pairs, 9, 12)):  # padded to the longest, and to 12 with three filler rows
        src, tgt_in, tgt_out = train_data.batch(indices, device)
        logits = model(src, tgt_in)
        loss = F.cross_entropy(logits.reshape(-1, tgt_vocab), tgt_out.reshape(-1), ignore_index=Vocab.pad_id,
                               label_smoothing=0.1)
        model.zero_grad()
        loss.backward()
        results.append((loss.item(), [p.grad.numpy() for p in model.parameters()]))
    (plain, plain_grads), (fixed, fixed_grads) = results
    assert fixed == pytest.approx(plain, rel=1e-5)
    for a, b in zip(plain_grads, fixed_grads):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def test_the_trainer_batches_in_fixed_shapes_on_a_gpu_only(tmp_path, device):
    trainer = Trainer(PRESETS["tiny"], tmp_path, device=device, progress_bar=False)
    assert trainer.config.fixed_shapes == (device != "cpu")  # unless the config says; kept in checkpoints
