"""What attention learns: a tiny Transformer trained in seconds to write words backwards.

The task is the smallest one whose alignment is known in advance: the source
is a word of 3 to 7 letters (a..k), the target the same letters reversed,
"hijack" -> "kcajih". A Seq2SeqTransformer with one encoder and one decoder
layer, d_model 32 and 4 heads, learns it in a few hundred Adam steps.

Then one sentence goes through it under ``record_attention`` and the three
kinds of attention of the model are drawn:

* cross-attention: to write the t-th letter of the output the decoder needs
  the t-th letter from the end of the source, so the weights, queries down
  and keys across, should light up the anti-diagonal;
* the decoder's self-attention: the causal mask lets position t see the
  positions 0..t only, so everything above the diagonal is exactly 0;
* the encoder's self-attention: nothing forces it into any shape; it shows
  whatever the model found useful.

The decoder's rows are labelled with the letter each position writes (the
token after its input, as greedy decoding produced them), the way pictures of
translation label them with the words written.
"""
from __future__ import annotations

import random
from pathlib import Path
from typing import NamedTuple

import tinytensor as tt
import tinytensor.functional as F
from tinytensor import Tensor
from transformer import Seq2SeqTransformer, greedy_decode, record_attention

from .attention import plot_attention

SPECIALS = ["<pad>", "<bos>", "<eos>"]
LETTERS = "abcdefghijk"
VOCAB = SPECIALS + list(LETTERS)
PAD, BOS, EOS = range(3)
LONGEST = 7
KINDS = {  # kind -> the attention's path in the model, and what it is
    "encoder": ("transformer.encoder.layers.0.self_attn", "encoder self-attention"),
    "decoder": ("transformer.decoder.layers.0.self_attn", "decoder self-attention (causal mask)"),
    "cross": ("transformer.decoder.layers.0.multihead_attn", "cross-attention"),
}


class Attention(NamedTuple):
    """One kind of attention of one sentence: what plot_attention needs."""

    weights: Tensor        # (1, heads, T, S)
    x_tokens: list[str]    # the keys
    y_tokens: list[str]    # the queries


def reversal_batch(rng: random.Random, n: int) -> tuple[Tensor, Tensor]:
    """Source ids (n, LONGEST) and target ids "<bos> reversed <eos>" (n, LONGEST + 2), padded."""
    src, tgt = [], []
    for _ in range(n):
        letters = [rng.randrange(len(SPECIALS), len(VOCAB)) for _ in range(rng.randint(3, LONGEST))]
        src.append(letters + [PAD] * (LONGEST - len(letters)))
        tgt.append([BOS, *letters[::-1], EOS] + [PAD] * (LONGEST - len(letters)))
    return tt.tensor(src), tt.tensor(tgt)


def train(steps: int = 500, seed: int = 0) -> Seq2SeqTransformer:
    """The model, after ``steps`` Adam steps on batches of 64 random words (about 5 s on one core)."""
    tt.manual_seed(seed)
    rng = random.Random(seed)
    model = Seq2SeqTransformer(len(VOCAB), len(VOCAB), d_model=32, nhead=4, num_encoder_layers=1,
                               num_decoder_layers=1, dim_feedforward=64, dropout=0.0, pad_id=PAD)
    optimizer = tt.optim.Adam(model.parameters(), lr=3e-3, betas=(0.9, 0.98), eps=1e-9)
    for _ in range(steps):
        src, tgt = reversal_batch(rng, 64)
        logits = model(src, tgt[:, :-1])  # teacher forcing: "<bos> k c a" in, "k c a j" expected
        loss = F.cross_entropy(logits.reshape(-1, len(VOCAB)), tgt[:, 1:].reshape(-1), ignore_index=PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def attention_of(model: Seq2SeqTransformer, word: str) -> dict[str, Attention]:
    """The model's attention while it reverses ``word``, by kind: "encoder" (self-attention),
    "decoder" (self-attention) and "cross" (cross-attention)."""
    if not word or set(word) - set(LETTERS):
        raise ValueError(f"attention_of: the model knows the letters {LETTERS!r} only, got {word!r}")
    src = tt.tensor([[VOCAB.index(letter) for letter in word]])
    written = greedy_decode(model, src, max_len=len(word) + 1, bos_id=BOS, eos_id=EOS)  # (1, L)
    tgt_in = tt.cat([tt.full((1, 1), BOS, dtype=tt.int64), written[:, :-1]], 1)
    with tt.no_grad(), record_attention(model) as hooks:
        model(src, tgt_in)  # the whole output at once: the same weights as step by step
    source, inputs, outputs = list(word), _tokens(tgt_in), _tokens(written)
    tokens = {"encoder": (source, source), "decoder": (inputs, outputs), "cross": (source, outputs)}
    return {kind: Attention(hooks[path].weights, *tokens[kind]) for kind, (path, _) in KINDS.items()}


def plot_reversal_attention(out: "str | Path", word: str = "hijack", steps: int = 500) -> list[Path]:
    """Train the model and write one heat map per kind of attention, attention_{kind}.png."""
    maps = attention_of(train(steps), word)
    return [plot_attention(maps[kind].weights, maps[kind].x_tokens, maps[kind].y_tokens,
                           Path(out) / f"attention_{kind}.png", title=f"{what}, reversing {word!r}")
            for kind, (_, what) in KINDS.items()]


def _tokens(ids: Tensor) -> list[str]:
    return [VOCAB[i] for i in ids[0].tolist()]
