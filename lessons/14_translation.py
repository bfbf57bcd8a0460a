# %% [markdown]
# # Lesson 14: Translating 我有一只猫。
#
# Every piece is built: attention (lesson 7), heads (8), positions (9), Add & Norm (10), the
# mask (11). Here they work together as the seeds' whole story, the encoder-decoder
# (编码器-解码器) that is autoregressive (自回归), the first two lines of seed 001's outline.
# Seed 004 tells it step by step ("Decoder 预测"): the encoder reads 我有一只猫 into its
# encoding matrix C (编码信息矩阵); the decoder is given the start token "<Begin>" and
# predicts "I", is given "<Begin> I" and predicts "have", and so on until the end token.
# "Attention Is All You Need" says the same in §3: "the model is auto-regressive, consuming
# the previously generated symbols as additional input when generating the next."
#
# We take the project's toy translator ([`translator/`](../translator/),
# its grammar in `docs/toy-translation.md`), and watch it:
#
# 1. write "I have a cat." one token at a time, with the probabilities it gives each
#    candidate (greedy decoding, 贪心解码);
# 2. look at the Chinese characters while it writes: the decoder's cross-attention
#    (交叉注意力, the paper's "encoder-decoder attention", §3.2.3), Q from the decoder,
#    K and V from C;
# 3. keep several sentences in play instead of one: beam search (束搜索, §6.1: beam size 4,
#    length penalty α = 0.6), which with a beam of 1 is greedy decoding again.
#
# The decoding code is [`transformer/decoding.py`](../transformer/decoding.py); read its
# docstring beside this lesson.

# %%
from pathlib import Path

import numpy as np

import tinytensor as tt
import transformer
import visualize
from lesson_tools import device, show
from transformer import beam_search, greedy_decode
from translator.configs import PRESETS
from translator.corpus import build_corpus
from translator.data import padded
from translator.tokens import Vocab, detokenize_en, tokenize_zh
from translator.train import Trainer
from translator.translate import Translator

dev = device()
tt.manual_seed(0)
print("device:", dev)

# %% [markdown]
# ## A trained translator
#
# The README's first command trains the `small` model for four epochs (78 s of training on a
# 2-core CPU) and keeps the best one in `runs/zh-en/best.npz`. If you ran it, the lesson
# loads that. If not, it trains the `tiny` preset here ([`configs.py`](../translator/configs.py):
# d_model 32, 2 heads, 1 + 1 layers) for one epoch of the 40,000 training pairs, about ten
# seconds, with the real trainer's step ([`train.py`](../translator/train.py):
# teacher forcing (教师强制), label smoothing 0.1, Adam with the paper's warmup).

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
seen = {zh for zh, _ in build_corpus(0)["train"]}
outputs = translator.translate(list(EXAMPLES))
for (zh, want), got in zip(EXAMPLES.items(), outputs):
    print(f"{zh:<10} -> {got:<38} {'right' if got == want else 'WRONG, want ' + want:<8}"
          f"  ({'in' if zh in seen else 'not in'} the training data)")
right = sum(got == want for got, want in zip(outputs, EXAMPLES.values()))
print(f"{right} of {len(EXAMPLES)} exactly right")
# On this CPU both the tiny and the small model get all eight; a model trained elsewhere
# (a GPU rounds differently, so training takes another path) may miss one.
assert right >= len(EXAMPLES) - 1
assert outputs[0] == "I have a cat."

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
assert characters == ["我", "有", "一", "只", "猫", "。"]
assert translator.src_vocab.decode(src_ids) == characters

printout = translator.steps(SENTENCE)
print(printout)

# %% [markdown]
# The same decoding, with the numbers kept: `greedy_decode(..., return_steps=True)` gives, for
# every step, the token chosen, the softmax over the whole English vocabulary, and the
# attention weights. Each step is a probability distribution, so it sums to 1, and greedy
# decoding takes its largest entry.
#
# Then an independent check. While decoding, the model saw one new token per step and kept
# the past in its key-value cache. In training it sees the whole target at once, shifted
# right ("<bos> I have a cat ." in, "I have a cat . <eos>" out, seed 004's teacher forcing),
# and the causal mask (lesson 11) keeps each position from seeing its future. If the mask
# does its job, one parallel forward pass over "<bos> I have a cat ." must give exactly the
# distributions the six sequential steps gave. We softmax its logits with NumPy.

# %%
max_len = translator.max_len(len(src_ids))
ids, steps = greedy_decode(model, src, max_len=max_len, bos_id=Vocab.bos_id, eos_id=Vocab.eos_id,
                           return_steps=True)
written = ids[0].tolist()
words = [translator.tgt_vocab.to_list()[i] for i in written]
print(words)
assert words == ["I", "have", "a", "cat", ".", "<eos>"]
assert detokenize_en(translator.tgt_vocab.decode(written)) == "I have a cat."

probs = np.stack([step.probs[0].numpy() for step in steps])      # (6 steps, vocabulary)
assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)            # each step sums to 1
assert (probs.argmax(axis=1) == written).all()                   # greedy: the largest entry

with tt.no_grad():
    tgt_in = tt.tensor([[Vocab.bos_id] + written[:-1]], device=dev)  # <bos> I have a cat .
    logits = model(src, tgt_in)[0].numpy().astype(np.float64)      # (6, vocabulary), in parallel
reference = np.exp(logits - logits.max(axis=1, keepdims=True))
reference /= reference.sum(axis=1, keepdims=True)
print("largest difference, sequential against parallel:", f"{abs(probs - reference).max():.1e}")
assert abs(probs - reference).max() < 1e-5

# The printout's probabilities are these numbers, rounded: check every step's line.
lines = [line for line in printout.splitlines() if line.startswith("step")]
for line, t in zip(lines, range(len(written))):
    assert f"-> {words[t]:<10} {reference[t, written[t]]:.3f}" in line, line
assert len(lines) == len(written)

# %% [markdown]
# The probabilities stop short of 1 because the model was trained with label smoothing 0.1
# (the paper's §5.4): it was taught to keep a little probability for every other word.
#
# ## Where the decoder looked
#
# In each decoder layer the cross-attention's queries come from the English written so far and
# its keys and values from the encoder's output C (seed 004, "Decoder block 第二个 Multi-Head
# Attention"). `record_attention` keeps the weights of every attention during one forward pass:
# for the cross-attention they are (heads, English tokens, Chinese characters), one row per
# token written, each row a softmax over the six characters. The decoding steps recorded the
# same weights one row at a time, from the cache: they must agree.

# %%
with tt.no_grad(), transformer.record_attention(model) as hooks:
    model(src, tgt_in)
cross = {name.replace("transformer.decoder.layers.", "decoder layer ").split(".")[0]: hook.weights[0]
         for name, hook in hooks.items() if name.endswith("multihead_attn")}  # (heads, 6, 6) each
for name, hook in hooks.items():
    if name.endswith("multihead_attn"):
        rows = np.concatenate([step.attention[name][0].numpy() for step in steps], axis=1)
        assert np.allclose(rows, hook.weights[0].numpy(), atol=1e-5)   # sequential = parallel

for name, weights in cross.items():
    row_sums = weights.numpy().sum(axis=-1)
    print(f"{name}: weights {tuple(weights.shape)}, every row sums to 1: {np.allclose(row_sums, 1, atol=1e-5)}")
    assert np.allclose(row_sums, 1.0, atol=1e-5)

show(visualize.plot_attention(cross, characters, words, title=f"cross-attention: {SENTENCE} -> I have a cat."),
     "14_cross_attention.png")

# %% [markdown]
# Bright cells are the characters a word was written from. Averaged over the heads of the
# last layer, the alignment is the one a person would draw: 我-I, 有-have, 一-a, 猫-cat,
# 。-. (只, the measure word, has no English word of its own; "a" took it from 一).

# %%
last = list(cross.values())[-1].numpy().mean(axis=0)  # (6 English tokens, 6 characters)
alignment = {word: characters[int(last[t].argmax())] for t, word in enumerate(words[:5])}
print(alignment)
assert alignment == {"I": "我", "have": "有", "a": "一", "cat": "猫", ".": "。"}

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
# <eos> included. We print the four hypotheses and check each score by hand: log P(Y | X) is
# the sum of the log probabilities of Y's tokens, which one teacher-forced pass over Y gives.

# %%
hypotheses, scores = beam_search(model, src, beam_size=4, max_len=max_len, bos_id=Vocab.bos_id,
                                 eos_id=Vocab.eos_id, return_all=True)
for row, score in zip(hypotheses[0].tolist(), scores[0].tolist()):
    y = row[:row.index(Vocab.eos_id) + 1] if Vocab.eos_id in row else row  # up to <eos>, included
    with tt.no_grad():
        out = model(src, tt.tensor([[Vocab.bos_id] + y[:-1]], device=dev))[0].numpy().astype(np.float64)
    log_p = out - out.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))      # log-softmax, by hand
    by_hand = log_p[np.arange(len(y)), y].sum() / ((5 + len(y)) / 6) ** 0.6
    print(f"{score:8.4f}  {detokenize_en(translator.tgt_vocab.decode(y))}")
    assert abs(score - by_hand) < 1e-4, (score, by_hand)
assert hypotheses[0, 0].tolist()[:len(written)] == written  # the beam's best is greedy's sentence here

# %% [markdown]
# The runners-up make the mistakes the grammar was built to tempt (`docs/toy-translation.md`):
# a plural for one cat, "an" before a consonant. Here the greedy sentence is also the beam's
# best: on this easy sentence the model is sure at every step, and beam search pays off only
# where an early word that looked best leads to a worse sentence.
#
# With a beam of one, beam search keeps only the best continuation at each step, which is
# exactly greedy decoding (decoding.py's docstring): the same tokens, on a whole batch of
# sentences of different lengths.

# %%
batch = tt.tensor(padded([translator.src_vocab.encode(tokenize_zh(zh)) for zh in EXAMPLES]), device=dev)
options = dict(max_len=translator.max_len(batch.shape[1]), bos_id=Vocab.bos_id, eos_id=Vocab.eos_id)
greedy_ids = greedy_decode(model, batch, **options)
beam1_ids = beam_search(model, batch, beam_size=1, **options)
print("beam size 1 == greedy on", batch.shape[0], "sentences:", greedy_ids.tolist() == beam1_ids.tolist())
assert greedy_ids.shape == beam1_ids.shape and greedy_ids.tolist() == beam1_ids.tolist()

# %% [markdown]
# ## Exercise
#
# Write greedy decoding yourself, without the cache: encode the source once
# (`model.encode`), then start from `[<bos>]` and, at every step, run `model.decode` on the
# whole prefix, take the argmax of the last position's logits, append it, and stop at <eos>
# (or after `max_len` tokens). Try it first on your own, then compare with the solution
# below, and translate 他没有车。 with it. Each step recomputes the whole prefix: that is the
# n² / 2 the key-value cache saves (`transformer/kv_cache.py`).

# %%
def my_greedy(model, src_ids, max_len):
    src = tt.tensor([src_ids], device=dev)
    with tt.no_grad():
        memory = model.encode(src)
        source_padding = transformer.padding_mask(src, model.pad_id)
        ys = [Vocab.bos_id]
        for _ in range(max_len):
            logits = model.decode(tt.tensor([ys], device=dev), memory, source_padding)  # (1, t, V)
            ys.append(int(logits[0, -1].argmax().item()))
            if ys[-1] == Vocab.eos_id:
                break
    return ys[1:]


exercise_ids = translator.src_vocab.encode(tokenize_zh("他没有车。"))
mine = my_greedy(model, exercise_ids, translator.max_len(len(exercise_ids)))
print(detokenize_en(translator.tgt_vocab.decode(mine)))

# %% [markdown]
# ### Check
#
# Your tokens must be the library's, <eos> included, and the sentence the grammar's.

# %%
theirs = greedy_decode(model, tt.tensor([exercise_ids], device=dev), max_len=translator.max_len(len(exercise_ids)),
                       bos_id=Vocab.bos_id, eos_id=Vocab.eos_id)[0].tolist()
assert mine == theirs, (mine, theirs)
assert mine[-1] == Vocab.eos_id
assert detokenize_en(translator.tgt_vocab.decode(mine)) == EXAMPLES["他没有车。"]
print("your greedy decoder writes what greedy_decode writes")
