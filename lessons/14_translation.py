# %% [markdown]
# # Lesson 14: Translating 我有一只猫。
#
# Every piece is built: attention (lesson 7), heads (8), positions (9), Add & Norm (10), the
# mask (11), the whole model assembled (12) and trained (13). Here a trained translator works
# as the seeds' whole story, the encoder-decoder (编码器-解码器) that is autoregressive
# (自回归), the first two lines of seed 001's outline. Seed 004 tells it step by step ("Decoder
# 预测"): the encoder reads 我有一只猫 into its encoding matrix C (编码信息矩阵); the decoder is
# given the start token "<Begin>" and predicts "I", is given "<Begin> I" and predicts "have", and
# so on until the end token. "Attention Is All You Need" says the same in §3: "the model is
# auto-regressive, consuming the previously generated symbols as additional input when
# generating the next."
#
# We take the project's toy translator ([`translator/`](../translator/), its grammar in
# [`docs/toy-translation.md`](../docs/toy-translation.md)) and
#
# 1. watch it write "I have a cat." one token at a time, with the probability of each
#    candidate (greedy decoding, 贪心解码);
# 2. see why each step costs one position and not the whole prefix: the key-value cache
#    (键值缓存);
# 3. look at every head of every layer of its three attentions: the encoder's self-attention,
#    the decoder's masked self-attention, and the cross-attention (交叉注意力, the paper's
#    "encoder-decoder attention", §3.2.3), Q from the decoder, K and V from C;
# 4. keep several sentences in play instead of one: beam search (束搜索, §6.1);
# 5. test the seeds' claim that sinusoidal positions let a model translate sentences longer than
#    any it saw, and measure one remedy from the literature.
#
# The decoding code is [`transformer/decoding.py`](../transformer/decoding.py) and the cache
# [`transformer/kv_cache.py`](../transformer/kv_cache.py); read their docstrings beside this lesson.

# %%
import math
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import tinytensor as tt
import transformer
import visualize
from lesson_tools import checks, device, exercise, show
from transformer import beam_search, greedy_decode
from translator.configs import PRESETS
from translator.corpus import build_corpus
from translator.data import padded
from translator.evaluate import score
from translator.tokens import Vocab, detokenize_en, tokenize_zh
from translator.train import Trainer
from translator.translate import Translator

dev = device()
tt.manual_seed(0)
print("device:", dev)

# %% [markdown]
# ## A trained translator
#
# The README's first command trains the `small` model for four epochs (about a minute of
# training on a 2-core CPU) and keeps the best one in `runs/zh-en/best.npz`. If you ran it, the
# lesson loads that. If not, it trains the `tiny` preset here ([`configs.py`](../translator/configs.py):
# d_model 32, 2 heads, 1 + 1 layers) for one epoch of the 40,000 training pairs, in seconds, with
# the real trainer's step ([`train.py`](../translator/train.py), the loop of lesson 13: teacher
# forcing (教师强制), label smoothing 0.1, Adam with the paper's warm-up).

# %%
CHECKPOINT = Path(transformer.__file__).resolve().parent.parent / "runs" / "zh-en" / "best.npz"

if CHECKPOINT.exists():
    translator = Translator.load(CHECKPOINT, device=dev)
    print(f"loaded {CHECKPOINT}")
else:
    trainer = Trainer(PRESETS["tiny"].with_overrides(batch_tokens=1024), out="lesson-14-run",
                      device=dev, seed=0, progress_bar=False)
    batches = trainer.train_data.batches(trainer.config.batch_tokens, seed=0)
    for indices in batches:  # one epoch; nothing is written to lesson-14-run/
        trainer.step(indices)
    translator = trainer.translator
    print(f"trained the tiny preset for {len(batches)} steps")
model = translator.model.eval()  # eval: no dropout while we look
config = translator.config
corpus = build_corpus(0)
seen = {zh for zh, _ in corpus["train"]}
print(f"config {config.name}: d_model {config.d_model}, {config.nhead} heads, "
      f"{config.num_encoder_layers} + {config.num_decoder_layers} layers")

# %% [markdown]
# Before looking inside, is it any good? The example sentences of the grammar's own tables
# (`docs/toy-translation.md`), each with the one translation the grammar allows. Some were
# drawn into the training data, some never were: a model that gets those right has learnt
# the rules, not the pairs.

# %%
EXAMPLES = {"我有一只猫。": "I have a cat.", "她不喜欢猫。": "She does not like cats.",
            "他没有车。": "He does not have a car.", "你有一只猫吗？": "Do you have a cat?",
            "昨天我买了一本书。": "Yesterday I bought a book.",
            "明天他会喝一杯茶。": "Tomorrow he will drink a cup of tea.",
            "猫在桌子上。": "The cat is on the table.", "这本书很新。": "This book is very new."}
outputs = translator.translate(list(EXAMPLES))
for (zh, want), got in zip(EXAMPLES.items(), outputs):
    print(f"{zh:<10} -> {got:<38} {'right' if got == want else 'WRONG, want ' + want:<8}"
          f"  ({'in' if zh in seen else 'not in'} the training data)")
right = sum(got == want for got, want in zip(outputs, EXAMPLES.values()))
print(f"{right} of {len(EXAMPLES)} exactly right")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("at most one of the grammar's examples wrong (a GPU's rounding may cost one), 我有一只猫。 right") as check:
    check.true("all but one right", right >= len(EXAMPLES) - 1)
    check.equal("我有一只猫。", outputs[0], "I have a cat.")

# %% [markdown]
# ## One token at a time
#
# The Chinese side is split into characters; each gets its id in the source vocabulary.
# `translator.steps` is what `python -m translator translate --steps` prints: at
# each step, the prefix fed back in, the token chosen and its probability, and the runners-up.

# %%
SENTENCE = "我有一只猫。"
characters = tokenize_zh(SENTENCE)
src_ids = translator.src_vocab.encode(characters)
src = tt.tensor([src_ids], device=dev)  # (1, 6): one sentence of six characters
print(dict(zip(characters, src_ids)))
printout = translator.steps(SENTENCE)
print(printout)

# %% [markdown]
# The same decoding, with the numbers kept: `greedy_decode(..., return_steps=True)` gives, for
# every step, the token chosen, the softmax over the whole English vocabulary, and the
# attention weights. Each step is a probability distribution, and greedy decoding takes its
# largest entry. The probabilities stop short of 1 because the model was trained with label
# smoothing 0.1 (the paper's §5.4): it was taught to keep a little probability for every word.
#
# The check adds an independent one. While decoding, the model saw one new token per step. In
# training it sees the whole target at once, shifted right ("<bos> I have a cat ." in, "I have a
# cat . <eos>" out, seed 004's teacher forcing), and the causal mask (lesson 11) keeps each
# position from seeing its future. If the mask does its job, one parallel forward pass over
# "<bos> I have a cat ." gives exactly the distributions the six sequential steps gave.

# %%
max_len = translator.max_len(len(src_ids))
ids, steps = greedy_decode(model, src, max_len=max_len, bos_id=Vocab.bos_id, eos_id=Vocab.eos_id,
                           return_steps=True)
written = ids[0].tolist()
words = [translator.tgt_vocab.to_list()[i] for i in written]
probs = np.stack([step.probs[0].cpu().numpy() for step in steps])      # (6 steps, vocabulary)
print(words)
print("probability of each chosen token:", probs[np.arange(len(written)), written].round(3))

# %% tags=["check"] jupyter={"source_hidden": true}
with tt.no_grad():
    tgt_in = tt.tensor([[Vocab.bos_id] + written[:-1]], device=dev)  # <bos> I have a cat .
    logits = model(src, tgt_in)[0].cpu().numpy().astype(np.float64)   # (6, vocabulary), in parallel
reference = np.exp(logits - logits.max(axis=1, keepdims=True))
reference /= reference.sum(axis=1, keepdims=True)
lines = [line for line in printout.splitlines() if line.startswith("step")]
with checks("the tokens; each step a distribution, its argmax chosen; the parallel pass gives the same; the printout") as check:
    check.equal("characters", characters, ["我", "有", "一", "只", "猫", "。"])
    check.equal("decoded back", translator.src_vocab.decode(src_ids), characters)
    check.equal("words", words, ["I", "have", "a", "cat", ".", "<eos>"])
    check.close("each step sums to 1", probs.sum(axis=1), 1.0, atol=1e-5)
    check.equal("greedy: the largest entry", probs.argmax(axis=1), written)
    check.close("sequential = parallel (softmax in NumPy)", probs, reference, atol=1e-5)
    check.equal("a line per step", len(lines), len(written))
    for line, t in zip(lines, range(len(written))):
        check.true(f"step {t + 1}'s line", f"-> {words[t]:<10} {reference[t, written[t]]:.3f}" in line)

# %% [markdown]
# ## The key-value cache
#
# At step t the decoder needs, in each self-attention, the keys and values of all the tokens
# written so far. Recomputing them would run the whole prefix through every layer again: t
# positions at step t, 1 + 2 + ... + n = n(n + 1)/2 for a sentence of n tokens. But the causal
# mask means position i never looks at anything after it, so its keys and values, in every
# layer, are the same at every later step. The cache (`transformer.kv_cache(model)`) keeps them:
# each step feeds only the newest token (`model.decode` with `offset=t`, its position), projects
# its key and value, appends them, and attends from its one query. The cross-attention's keys
# and values are projections of C, which does not change while decoding: they are made once, at
# the first step. Here is greedy decoding written out with the cache, printing what it holds.

# %%
self_path, cross_path = "transformer.decoder.layers.0.self_attn", "transformer.decoder.layers.0.multihead_attn"
with tt.no_grad(), transformer.kv_cache(model) as caches:
    memory = model.encode(src)                                       # C: (1, 6, d_model), once
    source_padding = transformer.padding_mask(src, model.pad_id)
    cached = [Vocab.bos_id]
    print("step  token   self-attention keys (B, h, t, d_k)   cross-attention keys")
    for t in range(max_len):
        new = tt.tensor([[cached[-1]]], device=dev)                  # (1, 1): only the newest token
        next_logits = model.decode(new, memory, source_padding, offset=t)[0, -1]
        cached.append(int(next_logits.argmax().item()))
        print(f"{t + 1:4d}  {translator.tgt_vocab.to_list()[cached[-1]]:<6}  "
              f"{str(tuple(caches[self_path].keys.shape)):<35}  {tuple(caches[cross_path].keys.shape)}")
        if cached[-1] == Vocab.eos_id:
            break

# %% [markdown]
# The self-attention's cache grows by one position a step; the cross-attention's stays the six
# characters. What it saves grows with the sentence: on a long sentence of the corpus, greedy
# decoding with and without the cache (`use_cache=False` recomputes the prefix) writes the same
# tokens, and the time of each is printed (it depends on the machine, so nothing is asserted).

# %%
long_zh, _ = corpus["long"][0]
long_src = tt.tensor([translator.src_vocab.encode(tokenize_zh(long_zh))], device=dev)
options = dict(max_len=translator.max_len(long_src.shape[1]), bos_id=Vocab.bos_id, eos_id=Vocab.eos_id)
timings, tokens = {}, {}
for use_cache in (True, False):
    start = time.perf_counter()
    tokens[use_cache] = greedy_decode(model, long_src, use_cache=use_cache, **options)[0].tolist()
    timings[use_cache] = time.perf_counter() - start
n = len(tokens[True])
print(f"{long_zh}: {n} tokens; positions run through the decoder: {n} with the cache, "
      f"{n * (n + 1) // 2} without")
print(f"with the cache {timings[True] * 1e3:.0f} ms, without {timings[False] * 1e3:.0f} ms")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("the hand-written cached loop and both library loops write the same tokens") as check:
    check.equal("the hand loop = greedy_decode", cached[1:], written)
    check.equal("with and without the cache", tokens[True], tokens[False])

# %% [markdown]
# ## Every head of every layer
#
# `record_attention` keeps the weights of every attention during one forward pass, one
# (heads, queries, keys) map per layer. The model has three kinds, drawn below with one row of
# panels per layer and one panel per head:
#
# * the **encoder's self-attention**, characters against characters: what each character
#   gathers from the others to build C;
# * the **decoder's masked self-attention**, English against English: the upper triangle is
#   empty, the mask of lesson 11;
# * the **cross-attention**, English against Chinese: where each English word looked while it
#   was written.

# %%
with tt.no_grad(), transformer.record_attention(model) as hooks:
    model(src, tgt_in)


def layers_of(kind):
    """{"layer 1": (heads, T, S), ...} for the attentions whose path ends with ``kind``."""
    paths = [p for p in hooks if p.startswith(f"transformer.{kind[0]}.") and p.endswith(kind[1])]
    return {f"layer {i + 1}": hooks[p].weights[0].cpu().numpy() for i, p in enumerate(paths)}


encoder_self = layers_of(("encoder", "self_attn"))
decoder_self = layers_of(("decoder", "self_attn"))
cross = layers_of(("decoder", "multihead_attn"))
in_words = ["<bos>"] + words[:-1]
show(visualize.plot_attention(encoder_self, characters, characters,
                              title=f"encoder self-attention: {SENTENCE}"), "14_encoder_self_attention.png")
show(visualize.plot_attention(decoder_self, in_words, in_words,
                              title="decoder masked self-attention: <bos> I have a cat ."),
     "14_decoder_self_attention.png")
show(visualize.plot_attention(cross, characters, words, title=f"cross-attention: {SENTENCE} -> I have a cat."),
     "14_cross_attention.png")

# %% [markdown]
# The encoder's heads are the hardest to read: each character gathers from several others at
# once, building the matrix C in which the decoder then finds what it needs. The decoder's
# self-attention is all below the diagonal, as the mask demands. In the cross-attention, bright
# cells are the characters a word was written from. Averaged over the heads of the last layer,
# its alignment is the one a person would draw: 我-I, 有-have, 一-a,
# 猫-cat, 。-. (只, the measure word, has no English word of its own; "a" took it from 一). The
# decoding steps recorded the same weights one row at a time, from the cache: they must agree.

# %%
last = list(cross.values())[-1].mean(axis=0)  # (6 English tokens, 6 characters)
alignment = {word: characters[int(last[t].argmax())] for t, word in enumerate(words[:5])}
print(alignment)

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("one map per layer and head; rows sum to 1; the decoder's future is 0; steps = pass; the alignment") as check:
    for name, layers, count, shape in (
            ("encoder", encoder_self, config.num_encoder_layers, (len(characters), len(characters))),
            ("decoder", decoder_self, config.num_decoder_layers, (len(in_words), len(in_words))),
            ("cross", cross, config.num_decoder_layers, (len(words), len(characters)))):
        check.equal(f"{name}: one map per layer", len(layers), count)
        for layer, weights in layers.items():
            check.equal(f"{name} {layer}: (heads, queries, keys)", weights.shape, (config.nhead, *shape))
            check.close(f"{name} {layer}: rows sum to 1", weights.sum(-1), 1.0, atol=1e-5)
    for layer, weights in decoder_self.items():
        check.true(f"decoder {layer}: nothing above the diagonal", (weights[:, np.triu(np.ones((6, 6), bool), 1)] == 0).all())
    for i, (layer, weights) in enumerate(cross.items()):
        path = f"transformer.decoder.layers.{i}.multihead_attn"
        rows = np.concatenate([step.attention[path][0].cpu().numpy() for step in steps], axis=1)
        check.close(f"cross {layer}: the steps' rows = the pass", rows, weights, atol=1e-5)
    check.equal("the alignment", alignment, {"I": "我", "have": "有", "a": "一", "cat": "猫", ".": "。"})

# %% [markdown]
# ## Greedy against beam search
#
# Greedy decoding commits to the single best word at every step; a word that looked best
# early can lead to a worse sentence. Beam search keeps the `beam_size` best sentences so far,
# extends each by every word, and keeps the best `beam_size` of those. A sum of log
# probabilities favours short sentences, so hypotheses are ranked by
#
#     score(Y) = log P(Y | X) / lp(Y),      lp(Y) = ((5 + |Y|) / 6) ** 0.6
#
# (GNMT's length penalty, the one the paper uses, §6.1), |Y| counting the tokens written,
# <eos> included. The check recomputes each score by hand: log P(Y | X) is the sum of the log
# probabilities of Y's tokens, which one teacher-forced pass over Y gives.

# %%
hypotheses, scores = beam_search(model, src, beam_size=4, max_len=max_len, bos_id=Vocab.bos_id,
                                 eos_id=Vocab.eos_id, return_all=True)
rows = []
for row, beam_score in zip(hypotheses[0].tolist(), scores[0].tolist()):
    y = row[:row.index(Vocab.eos_id) + 1] if Vocab.eos_id in row else row  # up to <eos>, included
    rows.append((y, beam_score))
    print(f"{beam_score:8.4f}  {detokenize_en(translator.tgt_vocab.decode(y))}")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("each beam score is log P(Y | X) / lp(Y) by hand; the beam's best is greedy's sentence") as check:
    for y, beam_score in rows:
        with tt.no_grad():
            out = model(src, tt.tensor([[Vocab.bos_id] + y[:-1]], device=dev))[0].cpu().numpy().astype(np.float64)
        log_p = out - out.max(axis=1, keepdims=True)
        log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))      # log-softmax, by hand
        check.close("score", beam_score, log_p[np.arange(len(y)), y].sum() / ((5 + len(y)) / 6) ** 0.6, atol=1e-4)
    check.equal("best = greedy", hypotheses[0, 0].tolist()[:len(written)], written)

# %% [markdown]
# The runners-up are sentences the model finds far less likely; which ones depends on the model
# (the tiny one's make the mistakes the grammar was built to tempt, `docs/toy-translation.md`:
# "an" before a consonant, a plural for one cat). Here the greedy sentence is also the beam's
# best: on this easy sentence the model is sure at every step, and beam search pays off only
# where an early word that looked best leads to a worse sentence. With a beam of one, beam
# search keeps only the best continuation at each step, which is exactly greedy decoding: the
# same tokens, on a whole batch of sentences of different lengths.

# %%
batch = tt.tensor(padded([translator.src_vocab.encode(tokenize_zh(zh)) for zh in EXAMPLES]), device=dev)
options = dict(max_len=translator.max_len(batch.shape[1]), bos_id=Vocab.bos_id, eos_id=Vocab.eos_id)
greedy_ids = greedy_decode(model, batch, **options)
beam1_ids = beam_search(model, batch, beam_size=1, **options)
print("beam size 1 == greedy on", batch.shape[0], "sentences:", greedy_ids.tolist() == beam1_ids.tolist())

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("beam size 1 is greedy decoding") as check:
    check.equal("shape", greedy_ids.shape, beam1_ids.shape)
    check.equal("tokens", greedy_ids.tolist(), beam1_ids.tolist())

# %% [markdown]
# ## Sentences longer than any in training
#
# Seeds 002 and 004 give the sinusoidal encoding's first reason: it works for sentences longer
# than any in the training set (the paper, §3.5, is more careful: it "may allow the model to
# extrapolate"). The translator was trained on sentences of at most 18 characters; the corpus's
# `long` split holds sentences of 22 or more, made of the same words (three joined objects with
# numbers and adjectives). We translate 200 sentences of the test split and 200 of the long one.

# %%
def evaluate(pairs):
    hypotheses = translator.translate([zh for zh, _ in pairs])
    return hypotheses, score(hypotheses, [en for _, en in pairs])


results = {split: evaluate(corpus[split][:200]) for split in ("test", "long")}
for split, (_, result) in results.items():
    print(f"{split:>4}: BLEU {result.bleu:5.2f}, exact match {result.exact:.1%}")
long_pairs, (long_out, _) = corpus["long"][:200], results["long"]
wrong = [(zh, en, out) for (zh, en), out in zip(long_pairs, long_out) if out != en]
for zh, en, out in wrong[:4]:
    print(f"\n{zh}\n  reference: {en}\n  model:     {out}")

# %% [markdown]
# The seeds' claim does not survive: past 18 characters the model keeps the frame of the
# sentence (subject, tense, verb) and its first object, then loses track of which number,
# adjective and noun go together in the later ones: it copies an object onto the next, merges
# two, or drops one. (The README's `small` model does better on both splits and fails the same
# way: in the runs of docs/benchmarks.md, BLEU 99.8 and 99.4% exact on the whole test split,
# BLEU 67 to 72 and 12 to 14% exact on the whole long split.) Exact match against the length of
# the Chinese sentence makes the edge visible. The check measures how often the part before the first comma, the frame and the first
# object, is right.

# %%
def exact_by_length(pairs, outputs):
    by_length = {}
    for (zh, en), out in zip(pairs, outputs):
        by_length.setdefault(len(zh), []).append(out == en)
    return {n: np.mean(v) for n, v in sorted(by_length.items()) if len(v) >= 5}


curves = {split: exact_by_length(corpus[split][:200], results[split][0]) for split in ("test", "long")}
fig, ax = plt.subplots(figsize=(6.4, 3.6))
for split, curve in curves.items():
    ax.plot(list(curve), list(curve.values()), "o-", label=f"{split} split")
ax.axvline(18.5, color="grey", ls="--", label="the longest training sentence: 18")
ax.set(xlabel="length of the Chinese sentence (characters)", ylabel="exact match", ylim=(-0.05, 1.05),
       title=f"the {config.name} translator past its training lengths")
ax.legend(fontsize=8)
show(fig, "14_long_sentences.png")
first_clause = np.mean([out.split(",")[0] == en.split(",")[0] for (_, en), out in zip(long_pairs, long_out)])
print(f"long split: the part before the first comma is right in {first_clause:.0%}, the whole sentence "
      f"in {results['long'][1].exact:.0%}")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("long sentences: exact match 30 points lower, BLEU 20 lower; the frame and first object mostly right") as check:
    check.true("exact match falls", results["long"][1].exact < results["test"][1].exact - 0.3)
    check.true("BLEU falls", results["long"][1].bleu < results["test"][1].bleu - 20)
    check.true("the first clause survives", first_clause > 0.5)
    check.true("no training sentence is long", max(len(zh) for zh, _ in corpus["train"]) <= 18)

# %% [markdown]
# ## A remedy, measured
#
# Why should position 25 be a problem when its encoding exists? Lesson 9's exercise showed it:
# what the training data never exercise, a model does not learn. Over positions 0 to 18 the
# slowest clocks of PE hardly turn, and any map that fits them there may do anything further on.
# One remedy from the literature is SHAPE (Kiyono et al., 2021, "shifted absolute position
# embedding"): during training, shift each sentence's positions by a random offset, so that
# its first word sits at position k, not 0. The model then sees every position in training,
# and since the offset says nothing, it must rely on the distances between words, which are the
# same wherever the sentence sits.
#
# Retraining the translator takes minutes; the question fits a model that trains in a second.
# Its task: at every position, output the token before it. One attention head finds it, with
# queries and keys made from the positions alone (PE of width 16, as in lesson 9) and values
# from the tokens. It is trained on sequences of 4 to 10 tokens, and tested on sequences of 40:
# positions 10 to 39 never appeared in training.

# %%
V_TOY, D_TOY = 10, 16
POSITIONS = transformer.positional_encoding(64, D_TOY, device=dev)   # (64, 16): PE of positions 0..63


def previous_token_model(seed):
    """W_Q, W_K (16 x 16) for the positions, an embedding E (10 x 16) and W_O (16 x 10) for the tokens."""
    tt.manual_seed(seed)
    p = {"W_Q": tt.randn(D_TOY, D_TOY, device=dev) / math.sqrt(D_TOY),
         "W_K": tt.randn(D_TOY, D_TOY, device=dev) / math.sqrt(D_TOY),
         "E": tt.randn(V_TOY, D_TOY, device=dev),
         "W_O": tt.randn(D_TOY, V_TOY, device=dev) / math.sqrt(D_TOY)}
    return {name: weight.requires_grad_() for name, weight in p.items()}


def predict(p, ids, positions):
    """Scores (B, T, 10) for the token before each position; positions (B, T) index PE's table."""
    pe = POSITIONS[positions]                                          # (B, T, 16)
    scores = (pe @ p["W_Q"]) @ (pe @ p["W_K"]).mT / math.sqrt(D_TOY)   # (B, T, T): by position only
    look_back = transformer.causal_mask(ids.shape[1], device=dev)     # attend to the past only
    weights = tt.softmax(scores.masked_fill(look_back, float("-inf")), -1)
    return (weights @ p["E"][ids]) @ p["W_O"]                          # (B, T, 10)


def toy_batch(rng, size, length):
    """Random tokens and, at each position, the token before it (position 0: itself)."""
    ids = rng.integers(0, V_TOY, (size, length))
    return ids, np.concatenate([ids[:, :1], ids[:, :-1]], axis=1)


def train_toy(positions_for, seed=0, steps=200):
    """Adam on 200 batches of 32 sequences of 4..10 tokens; ``positions_for(rng, size, length)``
    gives each sequence's positions, (size, length) integers."""
    rng, p = np.random.default_rng(seed), previous_token_model(seed)
    optimizer = tt.optim.Adam(list(p.values()), lr=3e-2)
    for _ in range(steps):
        length = int(rng.integers(4, 11))
        ids, target = toy_batch(rng, 32, length)
        positions = tt.tensor(positions_for(rng, 32, length), device=dev)
        logits = predict(p, tt.tensor(ids, device=dev), positions)
        loss = tt.nn.functional.cross_entropy(logits.reshape(-1, V_TOY), tt.tensor(target.reshape(-1), device=dev))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return p


def accuracy_by_position(p, length=40):
    """Accuracy on 200 sequences of ``length`` at positions 0..length-1: (positions 1-9, positions 10+)."""
    ids, target = toy_batch(np.random.default_rng(100), 200, length)
    positions = tt.tensor(np.tile(np.arange(length), (200, 1)), device=dev)
    with tt.no_grad():
        right = predict(p, tt.tensor(ids, device=dev), positions).argmax(-1).cpu().numpy() == target
    return right[:, 1:10].mean(), right[:, 10:].mean()


def from_zero(rng, size, length):
    """Every sequence at positions 0, 1, ..., length - 1: as the translator was trained."""
    return np.tile(np.arange(length), (size, 1))


baseline = {seed: accuracy_by_position(train_toy(from_zero, seed)) for seed in (0, 1, 2)}
for seed, (seen_part, unseen_part) in baseline.items():
    print(f"seed {seed}: positions 1-9 {seen_part:.1%} right, positions 10-39 {unseen_part:.1%}")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("trained from position 0: every seen position right, the unseen ones far from it, for three seeds") as check:
    for seed, (seen_part, unseen_part) in baseline.items():
        check.close(f"seed {seed}: positions 1-9", seen_part, 1.0, atol=0.01)
        check.true(f"seed {seed}: positions 10-39 under 80%", unseen_part < 0.8)

# %% [markdown]
# The same model, perfect where it was trained, is wrong on a third or more of the positions it
# never saw: the translator's failure in miniature. Now the remedy is yours.
#
# ## Exercise 1: SHAPE
#
# Write `shifted_positions(rng, size, length)`: like `from_zero`, a (size, length) array of
# positions, but each sequence shifted by its own random offset k, drawn uniformly from 0 to 40
# (`rng.integers(0, 41, (size, 1))`). The check trains the model with it for the same three
# seeds and tests it on sequences of 40 at positions 0 to 39, as above.

# %% tags=["exercise"]
shifted_positions = ...  # your answer: def shifted_positions(rng, size, length): ... (size, length) integers

# %% tags=["check"]
exercise(globals(), "14_translation", "shape")

# %% [markdown]
# **The measured result.** With random offsets of 0 to 40 the model gets positions 10 to 39
# right as well as 1 to 9: all of them, for each seed, where training from 0 got 55 to 70% of
# them. The rule it found is "one step back", a distance. It is no cure-all: the offsets
# covered positions up to 49, and on sequences of 64 (the check measures seed 0) the positions
# 50 to 63, unseen again, pull it down to about 85%. Whether it would lift the translator's
# long split is an experiment of minutes with `translator/train.py`, not seconds.
#
# ## Exercise 2: greedy decoding without the cache
#
# Write greedy decoding yourself, without the cache: encode the source once (`model.encode`),
# then start from `[<bos>]` and, at every step, run `model.decode` on the whole prefix, take the
# argmax of the last position's logits, append it, and stop at <eos> (or after `max_len` tokens).
# Each step recomputes the whole prefix: the n(n + 1)/2 that the cache saves. Use it on
# 她没有苹果。, a sentence of the test split that the model never saw in training (the check
# makes sure), and set `held_out_ids` to the tokens you wrote after <bos>, <eos> included.

# %% tags=["exercise"]
held_out_ids = ...  # your answer: the token ids your decoder writes for 她没有苹果。, <eos> included

# %% tags=["check"]
exercise(globals(), "14_translation", "greedy_without_cache")
