# %% [markdown]
# # Lesson 15: BERT and GPT: the same blocks assembled three ways
#
# Seed 000 ends with "BERT Vs GPT": two models of 2018 (GPT-1 in June, BERT in October) that
# both took the Transformer of "Attention Is All You Need" apart and kept one half.
#
# | model | what is kept | each word sees | learns by |
# |---|---|---|---|
# | the translator (lesson 14) | encoder and decoder (编码器-解码器) | the source; the target words before it | translating, teacher forcing (教师强制) |
# | BERT (Devlin et al., 2019) | the encoder alone | the whole sentence, both sides (双向) | filling in masked words: the masked language model (掩码语言模型) |
# | GPT (Radford et al., 2018) | the decoder alone | the words before it, through a causal mask (掩码) | predicting the next word (预测下一个词), so it can write (生成) |
#
# The surprise is how little differs. A decoder layer is masked self-attention, then
# cross-attention to the encoder's output, then the feed-forward network (paper §3.1). With
# no encoder there is nothing to cross-attend to; drop that sublayer and what is left is an
# encoder layer run with a causal mask. So all three are built from one class,
# `TransformerEncoderLayer` ([`transformer/encoder.py`](../transformer/encoder.py)); read
# [`transformer/bert.py`](../transformer/bert.py) and [`transformer/gpt.py`](../transformer/gpt.py)
# beside this lesson, and `examples/bert_and_gpt.py` for longer runs. (Where GPT led, a
# reader's comment under seed 004 spells out: ChatGPT, "Chat Generative Pre-training
# Transformer"; pre-training is 预训练.)
#
# Each model here is trained for a few seconds on the toy corpus of lesson 14: the
# translator on its Chinese-English pairs, BERT and GPT on the English side alone.

# %%
import math

import numpy as np
from matplotlib.figure import Figure

import tinytensor as tt
import tinytensor.functional as F
import transformer
from lesson_tools import device, show
from translator.corpus import build_corpus
from translator.data import Encoded, build_vocabularies, padded
from translator.tokens import Vocab, detokenize_en, tokenize_zh

dev = device()
tt.manual_seed(0)

corpus = build_corpus(0)
zh_vocab, plain = build_vocabularies(corpus["train"])
en_vocab = Vocab.from_list(plain.to_list() + ["<mask>"], unit="words")  # BERT needs a blank
MASK, PAD, V = en_vocab.encode(["<mask>"])[0], Vocab.pad_id, len(en_vocab)
train = Encoded.of(corpus["train"][:5000], zh_vocab, en_vocab)   # targets: <bos> ... <eos>
valid = Encoded.of(corpus["valid"][:256], zh_vocab, en_vocab)    # held out, for the losses
print(f"{len(train)} training pairs, {len(valid)} held out; {len(zh_vocab)} Chinese characters, {V} English tokens")

# %% [markdown]
# ## Three models, one block
#
# The same width for all (d_model 32, 2 heads, feed-forward 64, no dropout), so that the
# blocks can be compared.

# %%
SIZE = dict(d_model=32, nhead=2, dim_feedforward=64, dropout=0.0)
translator = transformer.Seq2SeqTransformer(len(zh_vocab), V, num_encoder_layers=1, num_decoder_layers=1,
                                            pad_id=PAD, **SIZE).to(dev)
bert = transformer.BERT(V, num_layers=2, pad_id=PAD, **SIZE).to(dev)
gpt = transformer.GPT(V, num_layers=2, **SIZE).to(dev)

stacks = {"translator's encoder": translator.transformer.encoder.layers, "BERT": bert.layers.layers,
          "GPT": gpt.layers.layers}
for name, layers in stacks.items():
    first = layers[0]
    print(f"{name:<21} {len(layers)} x {type(first).__name__}  "
          f"norm_first={first.norm_first}  activation={getattr(first.activation, '__name__', 'gelu (tanh)')}")
assert {type(layer) for layers in stacks.values() for layer in layers} == {transformer.TransformerEncoderLayer}

# %% [markdown]
# One class, three settings: post-norm as in the paper and BERT, pre-norm (`norm_first`,
# lesson 10) as in GPT-2; ReLU as in the paper, GELU as in BERT and GPT. The weights are the
# same in number in all three. One block holds the self-attention's W_Q, W_K, W_V and output
# projection, 4 d² + 4 d numbers with their biases (lesson 8), the feed-forward network's
# two layers, 2 d d_ff + d_ff + d, and two LayerNorms, 4 d:

# %%
d, d_ff = SIZE["d_model"], SIZE["dim_feedforward"]
by_hand = (4 * d * d + 4 * d) + (2 * d * d_ff + d_ff + d) + 4 * d
for name, layers in stacks.items():
    count = sum(p.numel() for p in layers[0].parameters())
    print(f"{name:<21} {count:,} parameters per block")
    assert count == by_hand, (name, count, by_hand)
print(f"by hand: 4d^2 + 4d + 2 d d_ff + d_ff + d + 4d = {by_hand:,}")

# A decoder layer is an encoder layer plus the cross-attention and its LayerNorm.
encoder_keys = set(translator.transformer.encoder.layers[0].state_dict())
decoder_keys = set(translator.transformer.decoder.layers[0].state_dict())
extra = sorted(decoder_keys - encoder_keys)
print("a decoder layer's extra weights:", extra)
assert encoder_keys < decoder_keys and {key.split(".")[0] for key in extra} == {"multihead_attn", "norm3"}

# %% [markdown]
# ## The mask is the difference
#
# BERT's layers run without a mask: every word sees the whole sentence. GPT's run with the
# causal mask of lesson 11: word t sees words 0..t. That is a property of the wiring, true
# before any training: change the last word of a sentence, and GPT's outputs at the earlier
# positions do not move at all, while BERT's all do.

# %%
def encode_en(text):
    return tt.tensor([en_vocab.encode(text.split())], device=dev)


with tt.no_grad():
    a, b = encode_en("<bos> I have a cat ."), encode_en("<bos> I have a cat ?")
    gpt_moved = abs(gpt(a)[0, :-1].numpy() - gpt(b)[0, :-1].numpy()).max()
    bert_moved = abs(bert(a)[0, :-1].numpy() - bert(b)[0, :-1].numpy()).max()
print(f"the last word changed: GPT's earlier outputs moved by {gpt_moved:.1e}, BERT's by {bert_moved:.2f}")
assert gpt_moved < 1e-6   # the causal mask gives the last key the weight 0: nothing of it arrives
assert bert_moved > 1e-3

# %% [markdown]
# ## BERT's masking: 15%, then 80 / 10 / 10
#
# BERT cannot learn to predict the next word: it would see it. It fills in blanks instead
# (BERT, §3.1): 15% of the tokens are chosen; of those, 80% become [MASK], 10% a random token
# and 10% stay as they are, so that the model cannot count on [MASK] marking exactly the words
# to fix. The labels are the original tokens at the chosen positions and -100 (not scored)
# elsewhere. `transformer.mask_tokens` does it; over 80,000 words (and 20,000 pads, which are
# never chosen) the shares must be those, within four binomial standard deviations. A random token can itself be [MASK] or the original
# word, each with chance 1/V.

# %%
ids = tt.cat([tt.randint(4, V - 1, (400, 200), device=dev),    # ordinary words, no specials
              tt.full((400, 50), PAD, dtype=tt.int64, device=dev)], 1)  # and padding, never chosen
inputs, labels = transformer.mask_tokens(ids, mask_id=MASK, vocab_size=V, special_ids=[PAD])
ids_np, inputs_np, labels_np = ids.numpy(), inputs.numpy(), labels.numpy()
chosen = labels_np != -100
words = ids_np != PAD
assert not (chosen & ~words).any() and (labels_np[chosen] == ids_np[chosen]).all()
n = chosen.sum()
shares = {"chosen": (n / words.sum(), 0.15, words.sum()),
          "-> [MASK]": ((inputs_np[chosen] == MASK).mean(), 0.8 + 0.1 / V, n),
          "-> kept": ((inputs_np[chosen] == ids_np[chosen]).mean(), 0.1 + 0.1 / V, n),
          "-> another word": (((inputs_np[chosen] != MASK) & (inputs_np[chosen] != ids_np[chosen])).mean(),
                              0.1 * (1 - 2 / V), n)}
for name, (share, p, trials) in shares.items():
    sigma = math.sqrt(p * (1 - p) / trials)
    print(f"{name:<16} {share:.4f}   expected {p:.4f} +- {4 * sigma:.4f}")
    assert abs(share - p) < 4 * sigma, name
assert (inputs_np[~chosen] == ids_np[~chosen]).all()           # the rest is left alone

# %% [markdown]
# ## Three objectives, one training loop
#
# What each model is asked, given a batch of sentences (the logits, the targets, and the
# label that is not scored):
#
# - the translator: from the Chinese and "<bos> I have a cat .", predict "I have a cat . <eos>";
# - GPT: from "<bos> I have a cat .", predict "I have a cat . <eos>", the same sentence one
#   word ahead, with no source at all;
# - BERT: from "I have <mask> cat .", predict "a" at the blank, nothing elsewhere.
#
# The loss is cross-entropy in all three. We check it on the held-out sentences against a
# log-softmax written out in NumPy, before and after training. An untrained model that guessed
# uniformly would score ln V; a trained one must do much better.

# %%
def translator_task(model, rows, data):
    src, tgt_in, tgt_out = data.batch(rows, dev)
    return model(src, tgt_in), tgt_out, PAD


def gpt_task(model, rows, data):
    ids = tt.tensor(padded([data.targets[i] for i in rows]), device=dev)
    return model(ids[:, :-1]), ids[:, 1:], PAD


def bert_task(model, rows, data):
    ids = tt.tensor(padded([data.targets[i][1:-1] for i in rows]), device=dev)  # no <bos>, <eos>
    inputs, labels = transformer.mask_tokens(ids, mask_id=MASK, vocab_size=V, special_ids=[PAD])
    return model(inputs), labels, -100


def loss_of(task, model, rows, data):
    logits, targets, ignore = task(model, rows, data)
    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=ignore)


def held_out_loss(task, model):
    """The loss on the held-out sentences (BERT's blanks drawn the same every time), checked by NumPy."""
    tt.manual_seed(1)
    model.eval()
    with tt.no_grad():
        logits, targets, ignore = task(model, list(range(len(valid))), valid)
        loss = F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), ignore_index=ignore).item()
    model.train()
    z, t = logits.numpy().reshape(-1, V).astype(np.float64), targets.numpy().reshape(-1)
    z, t = z[t != ignore], t[t != ignore]
    log_p = z - z.max(axis=1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(axis=1, keepdims=True))
    assert abs(loss - (-log_p[np.arange(len(t)), t].mean())) < 1e-4
    return loss


def fit(task, model, steps, seed):
    """Adam on random batches of 64 pairs; the loss of every step (read once, at the end)."""
    optimizer = tt.optim.Adam(model.parameters(), lr=3e-3, betas=(0.9, 0.98), eps=1e-9)
    rng = np.random.default_rng(seed)
    curve = []
    for _ in range(steps):
        loss = loss_of(task, model, rng.integers(0, len(train), 64).tolist(), train)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        curve.append(loss.detach())
    return tt.stack(curve).tolist()


runs = {"translator": (translator_task, translator, 200), "GPT": (gpt_task, gpt, 200),
        "BERT": (bert_task, bert, 400)}   # BERT scores only 15% of its tokens: it needs more steps
curves, before, after = {}, {}, {}
for seed, (name, (task, model, steps)) in enumerate(runs.items()):
    before[name] = held_out_loss(task, model)
    curves[name] = fit(task, model, steps, seed)
    after[name] = held_out_loss(task, model)
    print(f"{name:<10} held-out loss {before[name]:.2f} -> {after[name]:.2f} in {steps} steps   (ln V = {math.log(V):.2f})")
    assert after[name] < 0.5 * before[name] and after[name] < 0.6 * math.log(V)

# %%
figure = Figure(figsize=(7, 3.2))
axes = figure.subplots()
for name, curve in curves.items():
    axes.plot(range(1, len(curve) + 1), curve, label=name)
axes.axhline(math.log(V), color="grey", linestyle="--", label="ln V: a uniform guess")
axes.set(xlabel="step", ylabel="training loss (cross-entropy)", title="three objectives, one block")
axes.legend()
axes.grid(True, alpha=0.3)
show(figure, "15_losses.png")

# %% [markdown]
# All three start above ln V: an untrained model is not uniform but sure of random things,
# and cross-entropy punishes that. BERT's curve is the noisiest and the highest: only its
# blanks are scored, about one token in seven, and a blank is harder to fill than the next
# word is to guess when, as here, either side may be needed.

# %% [markdown]
# ## What each learned
#
# The translator translates; GPT continues a sentence with the likeliest word
# (`generate` with temperature 0); BERT fills a blank. Both GPT and BERT picked up the toy
# grammar's rule that a sentence beginning with "Do" ends with "?" (and that "a cup" is "a
# cup of"), seeing only English.

# %%
with tt.no_grad():
    src = tt.tensor([zh_vocab.encode(tokenize_zh("我有一只猫。"))], device=dev)
    out = transformer.greedy_decode(translator, src, max_len=12, bos_id=Vocab.bos_id, eos_id=Vocab.eos_id)
english = detokenize_en(en_vocab.decode(out[0].tolist()))
print(f"translator  我有一只猫。 -> {english}")
assert english == "I have a cat."


def gpt_next(prompt):
    ids = gpt.generate(encode_en("<bos> " + prompt), max_new_tokens=1, temperature=0.0)
    return en_vocab.to_list()[ids[0, -1].item()]


def bert_fill(text):
    bert.eval()
    with tt.no_grad():
        probs = bert(encode_en(text))[0, text.split().index("<mask>")].softmax(-1).numpy()
    return en_vocab.to_list()[int(probs.argmax())], probs


for prompt, want in [("Do you have a cat", "?"), ("Tomorrow he will drink a cup", "of")]:
    print(f"GPT         {prompt!r} -> {gpt_next(prompt)!r}")
    assert gpt_next(prompt) == want
for text, want in [("Do you have a cat <mask>", "?"), ("I have a cat <mask>", ".")]:
    print(f"BERT        {text!r} -> {bert_fill(text)[0]!r}")
    assert bert_fill(text)[0] == want

# %% [markdown]
# Now a blank that only the right-hand side can fill. In "<mask> you have a cat ?" the
# first word must be "Do": the lower-case "you" and the "?" say so. BERT reads both sides
# and finds it. GPT writes left to right; at the first word it has seen only <bos>, so all it
# can give is how often a sentence starts with "Do" in its training data, the same whatever
# follows, and that frequency is what it learnt.

# %%
word, bert_probs = bert_fill("<mask> you have a cat ?")
with tt.no_grad():
    gpt_probs = gpt(encode_en("<bos> Do you have a cat ?"))[0, 0].softmax(-1).numpy()
    gpt_probs_other = gpt(encode_en("<bos> I have a cat ."))[0, 0].softmax(-1).numpy()
do = en_vocab.encode(["Do"])[0]
starts_with_do = np.mean([en.split()[0] == "Do" for _, en in corpus["train"][:5000]])
print(f"BERT   P(Do | <mask> you have a cat ?) = {bert_probs[do]:.2f}  -> {word!r}")
print(f"GPT    P(Do | <bos>)                  = {gpt_probs[do]:.2f}  "
      f"(sentences of the training data that start with Do: {starts_with_do:.2f})")
assert word == "Do" and bert_probs[do] > 0.5
assert np.array_equal(gpt_probs, gpt_probs_other)              # the rest of the sentence is unseen
assert abs(gpt_probs[do] - starts_with_do) < 0.05

# %% [markdown]
# ## Exercise
#
# BERT and GPT differ in their mask, so give BERT's trained stack GPT's causal mask
# (`transformer.causal_mask(T)`, True where a position may not look) and ask it again to fill
# "<mask> you have a cat ?". Run BERT's pieces yourself: `bert.positions(bert.embed(ids))`,
# then `bert.layers(x, mask=...)`, then `bert.mlm_head`. With the mask, its guess at the first
# position can no longer depend on the rest: it must be the same for "<mask> have a cat .".
# Try it yourself first; the solution below is one way.

# %%
def bert_with_mask(text, mask):
    ids = encode_en(text)
    with tt.no_grad():
        logits = bert.mlm_head(bert.layers(bert.positions(bert.embed(ids)), mask=mask))
    return logits[0, 0].softmax(-1).numpy()


causal = transformer.causal_mask(6, device=dev)
question = bert_with_mask("<mask> you have a cat ?", causal)
statement = bert_with_mask("<mask> have a cat .", transformer.causal_mask(5, device=dev))
print(f"causal BERT: P(Do) = {question[do]:.2f} for the question, {statement[do]:.2f} for the statement")

# %% [markdown]
# ### Check
#
# With the causal mask the first position sees only itself, so the two sentences get the
# same guess; without it (`mask=None`) BERT is BERT again and the guesses differ.

# %%
assert np.allclose(question, statement, atol=1e-6)
assert np.allclose(bert_with_mask("<mask> you have a cat ?", None), bert_probs, atol=1e-6)
assert not np.allclose(bert_with_mask("<mask> have a cat .", None), bert_probs, atol=1e-3)
print("one mask turns the bidirectional encoder into a left-to-right one")
