"""Lesson 14's exercises: SHAPE's random position offsets, measured; greedy decoding without the cache.

(How these files work: lessons/README.md, "How a lesson is built".)
"""
import numpy as np

import tinytensor as tt
import transformer
from translator.tokens import Vocab, detokenize_en, tokenize_zh

HELD_OUT = "她没有苹果。"


def shape(ns):
    def shifted_positions(rng, size, length):
        return rng.integers(0, 41, (size, 1)) + np.arange(length)   # (size, 1) offsets + (length,)

    ns["shifted_positions"] = shifted_positions


def check_shape(shifted_positions, train_toy, accuracy_by_position, baseline):
    rng = np.random.default_rng(7)
    positions = np.asarray(shifted_positions(rng, 32, 6))
    assert positions.shape == (32, 6), f"shifted_positions(rng, 32, 6) has shape {positions.shape}, not (32, 6)"
    assert (np.diff(positions, axis=1) == 1).all(), "each sequence's positions must be consecutive: k, k+1, ..."
    assert positions[:, 0].min() >= 0 and positions[:, 0].max() <= 40, "the offsets must lie in 0..40"
    assert len(set(positions[:, 0])) > 5, "the offsets must be random, one per sequence"
    lines = []
    for seed, (_, before) in baseline.items():
        model = train_toy(shifted_positions, seed)
        seen_part, unseen_part = accuracy_by_position(model)
        assert seen_part > 0.99 and unseen_part > 0.99, \
            f"seed {seed}: trained with your positions, {unseen_part:.1%} right at positions 10-39"
        lines.append(f"seed {seed}: {before:.0%} -> {unseen_part:.0%}")
        if seed == 0:
            beyond = accuracy_by_position(model, length=64)[1]
            assert 0.8 < beyond < 0.99   # positions 50-63, beyond the offsets, are unseen again
    return ("positions 10-39 of length-40 sequences, from position 0 -> with random offsets: " + "; ".join(lines)
            + f"; seed 0 on length 64 (positions 10-63): {beyond:.0%}")


def wrong_shape(ns):
    """A random position for every token, not an offset for every sequence: the order is lost."""
    def shifted_positions(rng, size, length):
        return rng.integers(0, 41, (size, length))

    ns["shifted_positions"] = shifted_positions


def greedy_without_cache(ns):
    model, translator, dev = ns["model"], ns["translator"], ns["dev"]
    src_ids = translator.src_vocab.encode(tokenize_zh(HELD_OUT))
    src = tt.tensor([src_ids], device=dev)
    with tt.no_grad():
        memory = model.encode(src)
        source_padding = transformer.padding_mask(src, model.pad_id)
        ys = [Vocab.bos_id]
        for _ in range(translator.max_len(len(src_ids))):
            logits = model.decode(tt.tensor([ys], device=dev), memory, source_padding)  # (1, t, V)
            ys.append(int(logits[0, -1].argmax().item()))
            if ys[-1] == Vocab.eos_id:
                break
    ns["held_out_ids"] = ys[1:]


def check_greedy_without_cache(held_out_ids, model, translator, corpus, dev):
    train = {zh for zh, _ in corpus["train"]}
    reference = dict(corpus["test"])
    assert HELD_OUT not in train and HELD_OUT in reference   # held out: in the test split, never trained on
    src_ids = translator.src_vocab.encode(tokenize_zh(HELD_OUT))
    library = transformer.greedy_decode(model, tt.tensor([src_ids], device=dev), bos_id=Vocab.bos_id,
                                        eos_id=Vocab.eos_id, max_len=translator.max_len(len(src_ids)))[0].tolist()
    mine = list(held_out_ids)
    assert mine and mine[-1] == Vocab.eos_id, "stop at <eos> and keep it: the last id must be <eos>"
    assert mine == library, f"your tokens {mine} are not greedy_decode's {library}"
    english = translator.tgt_vocab.decode(mine)
    return (f"{HELD_OUT} -> {detokenize_en(english)!r}, greedy_decode's tokens; the test split's reference is "
            f"{reference[HELD_OUT]!r}")


def wrong_greedy_without_cache(ns):
    """<eos> dropped from the end."""
    greedy_without_cache(ns)
    ns["held_out_ids"] = ns["held_out_ids"][:-1]
