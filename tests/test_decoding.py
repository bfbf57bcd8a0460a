"""Decoding: a tiny encoder-decoder learns to reverse sequences in seconds, then decodes them.

Greedy and beam search must give the right answers on sequences it never saw,
and agree with themselves: cached and uncached decoding give identical tokens,
beam_size=1 is greedy, and a batch decodes as its sentences do one at a time.
The model trains once, on the CPU; every decoding test runs on every device.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest

import tinytensor as tt
import tinytensor.functional as F
import transformer as T

VOCAB, PAD, BOS, EOS = 14, 0, 1, 2


def reversal_batch(rng: np.random.Generator, n: int, longest: int = 7):
    """Random sequences of 3..longest tokens (ids 3..13), padded; the target is the reverse."""
    src = np.zeros((n, longest), dtype=np.int64)
    tgt = np.zeros((n, longest + 2), dtype=np.int64)
    for row, length in enumerate(rng.integers(3, longest + 1, n)):
        tokens = rng.integers(3, VOCAB, length)
        src[row, :length] = tokens
        tgt[row, 0], tgt[row, 1:length + 1], tgt[row, length + 1] = BOS, tokens[::-1], EOS
    return tt.tensor(src), tt.tensor(tgt)


@pytest.fixture(scope="module")
def trained() -> T.Seq2SeqTransformer:
    tt.manual_seed(0)
    rng = np.random.default_rng(0)
    model = T.Seq2SeqTransformer(VOCAB, VOCAB, d_model=32, nhead=4, num_encoder_layers=1,
                                 num_decoder_layers=1, dim_feedforward=64, dropout=0.0, pad_id=PAD)
    optimizer = tt.optim.Adam(model.parameters(), lr=3e-3, betas=(0.9, 0.98), eps=1e-9)
    for _ in range(600):  # about 4 s on one core
        src, tgt = reversal_batch(rng, 64)
        logits = model(src, tgt[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), tgt[:, 1:].reshape(-1), ignore_index=PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.final_loss = loss.item()
    return model


@pytest.fixture(scope="module")
def held_out() -> tuple[tt.Tensor, tt.Tensor]:
    return reversal_batch(np.random.default_rng(12345), 48)


@pytest.fixture
def model(trained: T.Seq2SeqTransformer, device: str) -> T.Seq2SeqTransformer:
    """The trained model, on the test's device (a copy, so the CPU one stays as it is)."""
    return trained if device == "cpu" else copy.deepcopy(trained).to(device)


@pytest.fixture
def data(held_out: tuple[tt.Tensor, tt.Tensor], device: str) -> tuple[tt.Tensor, tt.Tensor]:
    return held_out[0].to(device), held_out[1].to(device)


def exact_matches(ids: tt.Tensor, tgt: tt.Tensor) -> float:
    """The share of rows whose output, up to and including <eos>, is the reference."""
    right = 0
    for out, ref in zip(ids.tolist(), tgt[:, 1:].tolist()):
        right += out[:ref.index(EOS) + 1] == ref[:ref.index(EOS) + 1]
    return right / len(ids)


def test_a_tiny_model_learns_to_reverse_and_decodes_it(model, data):
    src, tgt = data
    assert model.final_loss < 0.1
    assert exact_matches(T.greedy_decode(model, src, max_len=9, bos_id=BOS, eos_id=EOS), tgt) >= 0.9
    assert exact_matches(T.beam_search(model, src, max_len=9, bos_id=BOS, eos_id=EOS), tgt) >= 0.9


def test_cached_and_uncached_decoding_give_identical_tokens(model, data):
    src = data[0]
    for decode in (T.greedy_decode, T.beam_search):
        cached = decode(model, src, max_len=9, bos_id=BOS, eos_id=EOS)
        uncached = decode(model, src, max_len=9, bos_id=BOS, eos_id=EOS, use_cache=False)
        np.testing.assert_array_equal(cached.numpy(), uncached.numpy())


def test_cached_decoding_of_an_untrained_model_is_exact_too(device):
    """Its choices are close calls everywhere, so any cache error would change some token."""
    tt.manual_seed(3)
    model = T.Seq2SeqTransformer(VOCAB, VOCAB, d_model=16, nhead=2, num_encoder_layers=2,
                                 num_decoder_layers=2, dim_feedforward=32, norm_first=True).double().to(device)
    src = reversal_batch(np.random.default_rng(1), 6)[0].to(device)
    cached, steps = T.greedy_decode(model, src, max_len=12, bos_id=BOS, eos_id=EOS, return_steps=True)
    _, uncached_steps = T.greedy_decode(model, src, max_len=12, bos_id=BOS, eos_id=EOS, use_cache=False,
                                        return_steps=True)
    for a, b in zip(steps, uncached_steps):
        np.testing.assert_allclose(a.probs.numpy(), b.probs.numpy(), rtol=1e-10, atol=1e-12)
    beams = T.beam_search(model, src, beam_size=3, max_len=12, bos_id=BOS, eos_id=EOS, return_all=True)
    beams_uncached = T.beam_search(model, src, beam_size=3, max_len=12, bos_id=BOS, eos_id=EOS,
                                   use_cache=False, return_all=True)
    np.testing.assert_array_equal(beams[0].numpy(), beams_uncached[0].numpy())


def test_beam_size_one_is_greedy(model, data):
    src = data[0]
    greedy = T.greedy_decode(model, src, max_len=9, bos_id=BOS, eos_id=EOS)
    np.testing.assert_array_equal(
        T.beam_search(model, src, beam_size=1, max_len=9, bos_id=BOS, eos_id=EOS).numpy(), greedy.numpy())


def test_a_batch_decodes_as_its_sentences_one_at_a_time(model, data):
    src = data[0][:8]
    for decode in (T.greedy_decode, T.beam_search):
        together = decode(model, src, max_len=9, bos_id=BOS, eos_id=EOS).tolist()
        for row in range(len(src)):
            length = int((src[row] != PAD).sum().item())
            alone = decode(model, src[row:row + 1, :length], max_len=9, bos_id=BOS, eos_id=EOS).tolist()[0]
            assert together[row][:len(alone)] == alone
            assert all(t == PAD for t in together[row][len(alone):])


def test_beam_search_returns_the_n_best_sorted(model, data, device):
    src = data[0][:5]
    ids, scores = T.beam_search(model, src, beam_size=4, max_len=9, bos_id=BOS, eos_id=EOS, return_all=True)
    assert ids.shape[:2] == (5, 4) and scores.shape == (5, 4) and ids.dtype == tt.int64
    assert (np.diff(scores.numpy(), axis=1) <= 0).all()                 # best first
    best = T.beam_search(model, src, beam_size=4, max_len=9, bos_id=BOS, eos_id=EOS)
    np.testing.assert_array_equal(ids[:, 0, :best.shape[1]].numpy(), best.numpy())
    # each score is log P(Y | X) over GNMT's length penalty ((5 + |Y|) / 6) ** 0.6
    row = ids[0, 0].tolist()
    length = row.index(EOS) + 1 if EOS in row else len(row)
    with tt.no_grad():
        tgt_in = tt.tensor([[BOS] + row[:length - 1]], device=device)
        log_p = F.log_softmax(model(src[:1], tgt_in), -1).numpy()[0]  # dropout is 0: train mode is eval
    expected = sum(log_p[t, token] for t, token in enumerate(row[:length])) / ((5 + length) / 6) ** 0.6
    assert scores[0, 0].item() == pytest.approx(expected, rel=1e-4)


def test_outputs_end_at_eos_and_never_pass_max_len(model, data):
    src = data[0]
    for max_len in (1, 3, 9):
        for decode in (T.greedy_decode, T.beam_search):
            ids = decode(model, src, max_len=max_len, bos_id=BOS, eos_id=EOS)
            assert ids.dtype == tt.int64 and ids.shape[0] == len(src) and 1 <= ids.shape[1] <= max_len
            for row in ids.tolist():
                if EOS in row:  # padding only after it
                    assert all(t == PAD for t in row[row.index(EOS) + 1:])


def test_decoding_steps_for_the_printout(model, data):
    src = data[0][:2]
    assert model.training
    ids, steps = T.greedy_decode(model, src, max_len=9, bos_id=BOS, eos_id=EOS, return_steps=True)
    assert len(steps) == ids.shape[1]
    for t, step in enumerate(steps):
        np.testing.assert_array_equal(step.tokens.numpy(), ids[:, t].numpy())
        np.testing.assert_allclose(step.probs.numpy().sum(-1), 1.0, rtol=1e-5)
        cross = step.attention["transformer.decoder.layers.0.multihead_attn"]
        assert cross.shape == (2, 4, 1, src.shape[1])                   # (B, heads, 1 query, source)
        assert step.attention["transformer.decoder.layers.0.self_attn"].shape == (2, 4, 1, t + 1)
    assert model.training  # decoding ran in eval mode and put the mode back


def test_decoding_bad_input(device):
    model = T.Seq2SeqTransformer(VOCAB, VOCAB, d_model=8, nhead=2, num_encoder_layers=1,
                                 num_decoder_layers=1).to(device)
    src = tt.tensor([[3, 4]], device=device)
    with pytest.raises(ValueError, match="greedy_decode: max_len must be a positive number of tokens to "
                                         "generate, got 0"):
        T.greedy_decode(model, src, max_len=0, bos_id=BOS, eos_id=EOS)
    with pytest.raises(ValueError, match="beam_search: beam_size must be at least 1, got 0"):
        T.beam_search(model, src, beam_size=0, max_len=5, bos_id=BOS, eos_id=EOS)
    with pytest.raises(ValueError, match=r"beam_search: src must be a \(batch, length\) tensor"):
        T.beam_search(model, tt.tensor([3, 4], device=device), max_len=5, bos_id=BOS, eos_id=EOS)
    with T.kv_cache(model):
        with pytest.raises(RuntimeError, match="already has attention hooks attached"):
            T.greedy_decode(model, src, max_len=3, bos_id=BOS, eos_id=EOS)


def test_beam_search_keeps_every_column_up_to_the_last_one_used():
    from transformer.decoding import _longest

    assert _longest(tt.tensor([[5, 0, 7, 2, 0], [3, 2, 0, 0, 0]]), pad_id=0) == 4  # an inner pad is kept
    assert _longest(tt.tensor([[0, 0]]), pad_id=0) == 1
