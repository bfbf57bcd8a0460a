# %% [markdown]
# # Lesson 13: The training loop
#
# Lesson 12 assembled the Transformer with random weights. Training finds the weights: show
# the model a batch of sentence pairs, measure how wrong its predictions are (the loss, 损失
# 函数), compute the gradient of the loss with respect to every weight (backpropagation,
# 反向传播, lesson 2), and move each weight a small step against its gradient. Seed 002 puts
# it as the players of 你画我猜 "一直在磨合": the weight update (权重更新) after every round.
# The whole loop, as the project's translator runs it, is six lines:
#
#     logits = model(src, tgt_in)                       teacher forcing: the target, shifted right
#     loss = cross_entropy(logits, tgt_out,             label smoothing; padding ignored
#                          ignore_index=pad, label_smoothing=0.1)
#     optimizer.zero_grad(); loss.backward()            the gradients (lesson 2)
#     clip_grad_norm_(model.parameters(), 1.0)          no step longer than a limit
#     lr = rate(step)                                   warm-up, then 1/sqrt(step)
#     optimizer.step()                                  Adam
#
# Each line hides a decision of "Attention Is All You Need" §5 (Training): batches of
# sentences of similar length (§5.1), Adam with a learning rate that warms up and then decays
# (§5.3), label smoothing (§5.4). We take them one at a time, write each out and check it
# against tinytensor's, and run the loop on a task that learns in seconds: writing a word
# backwards. Then we find the same six lines in the translator's `Trainer.step`, and check
# that one step of ours *is* one step of it.
#
# Words (术语): teacher forcing (教师强制), padding (填充), mask (掩码), cross-entropy
# (交叉熵), label smoothing (标签平滑), learning rate (学习率), warm-up (预热), gradient
# clipping (梯度裁剪), optimizer (优化器), batch (批次).

# %%
import inspect
import math
import random
from pathlib import Path

import numpy as np

import tinytensor as tt
import tinytensor.functional as F
import transformer
import visualize
from lesson_tools import checks, device, exercise, show
from transformer import Seq2SeqTransformer, greedy_decode, padding_mask, record_attention
from translator.configs import PRESETS
from translator.data import Encoded
from translator.train import Trainer
from translator.translate import Translator
from visualize.gradient_flow import new_figure

dev = device()
print("device:", dev)

# %% [markdown]
# ## A task that learns in seconds: writing words backwards
#
# The source is a "word" of 3 to 5 letters from a to h, the target the same letters reversed:
# "chafe" -> "efahc". Small enough to learn in 150 steps, yet it needs everything a
# translation needs: the decoder must find, for each letter it writes, the right letter of the
# source (the t-th from the end), through cross-attention.
#
# Each word becomes token ids: 0 is the padding token `<pad>`, 1 `<bos>` (begin), 2 `<eos>`
# (end), 3.. the letters. A batch holds words of different lengths, so the shorter rows are
# padded with `<pad>` to the longest. The held-out words (held back from training, to test on)
# are never trained on.

# %%
PAD, BOS, EOS = 0, 1, 2
LETTERS = "abcdefgh"
VOCAB = ["<pad>", "<bos>", "<eos>", *LETTERS]
V = len(VOCAB)
SHORTEST, LONGEST = 3, 5


def random_words(rng, n):
    return ["".join(rng.choice(LETTERS) for _ in range(rng.randint(SHORTEST, LONGEST))) for _ in range(n)]


def padded(rows):
    longest = max(len(row) for row in rows)
    return [row + [PAD] * (longest - len(row)) for row in rows]


def batch(words):
    """(src (B, S), tgt (B, T)): the words' letters, and "<bos> reversed <eos>", padded with <pad>."""
    letters = [[VOCAB.index(c) for c in word] for word in words]
    targets = [[BOS, *row[::-1], EOS] for row in letters]
    return tt.tensor(padded(letters), device=dev), tt.tensor(padded(targets), device=dev)


held_out = random_words(random.Random(1), 300)
src, tgt = batch(["chafe", "bad", "face"])
print("src\n", src.cpu().numpy(), "\ntgt\n", tgt.cpu().numpy())

# %% [markdown]
# ## Teacher forcing: the target, shifted (教师强制)
#
# The decoder learns to write the target one token at a time, each from the ones before it.
# In training we know the whole target, so every position learns at once: the decoder is given
# the target without its last token, `tgt_in = <bos> y1 .. y_n`, and position t must predict the
# next one, `tgt_out[t]`, from `tgt_out = y1 .. y_n <eos>` (seed 004: the decoder gets
# "<Begin> I have a cat" and must produce "I have a cat <end>"). The causal mask (lesson 11)
# keeps each position from reading the answer it is asked for. That is teacher forcing: each
# position is given the correct previous tokens, not the model's own guesses.

# %%
tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]                 # (B, T - 1) each
for t, (given, wanted) in enumerate(zip(tgt_in[0].tolist(), tgt_out[0].tolist())):
    print(f"position {t}: given {VOCAB[given]:>6} -> predict {VOCAB[wanted]}")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("tgt_in and tgt_out are the target shifted by one") as check:
    check.equal("tgt_in = <bos> y1..yn", tgt_in[0].tolist(), [BOS] + [VOCAB.index(c) for c in "efahc"])
    check.equal("tgt_out = y1..yn <eos>", tgt_out[0].tolist(), [VOCAB.index(c) for c in "efahc"] + [EOS])
    check.equal("tgt_in[t + 1] = tgt_out[t]", tgt_in[:, 1:].tolist(), tgt_out[:, :-1].tolist())

# %% [markdown]
# ## Padding, and the masks that hide it (填充, 掩码)
#
# "bad" is padded to the length of "chafe": `b a d <pad> <pad>`. The pads are not
# letters, and three things must keep them from changing anything:
#
# * **the source's key padding mask.** In the encoder's self-attention and the decoder's
#   cross-attention, no query may attend to a pad key. `padding_mask(src, PAD)`, (B, S), is
#   True at the pads, and the model adds -∞ to those scores (lesson 11's mechanism). Then a word
#   encoded in a padded batch is encoded exactly as it would be alone.
# * **the target needs none.** In the decoder's self-attention the pads of `tgt_in` come after
#   the real tokens, and the causal mask already keeps every real position from seeing a later
#   one. The pad positions themselves compute something meaningless...
# * **...which the loss ignores.** A target `tgt_out[t]` that is `<pad>` is not a word to
#   predict: `ignore_index=PAD` leaves those positions out of the loss, both from the sum and
#   from the count it is averaged over. Otherwise the model would be rewarded for predicting
#   pads after the end, and a batch's loss would depend on how much padding it happened to have.
#
# We check the first with an untrained model: "bad" alone, and "bad" in the padded batch.

# %%
tt.manual_seed(0)
model = Seq2SeqTransformer(V, V, d_model=32, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
                           dim_feedforward=64, dropout=0.0, pad_id=PAD).to(dev)
print("padding mask of the batch (True = a pad key):\n", padding_mask(src, PAD).cpu().numpy())

with tt.no_grad():
    alone = model.encode(batch(["bad"])[0])[0]                       # (3, d_model)
    in_batch = model.encode(src)[1, :3]                              # "bad", in the padded batch
    x = model.positions(model.src_embed(src))                        # the encoder's input, (B, S, d_model)
    unmasked = model.transformer.encoder(x)[1, :3]                   # the same, without the mask
print(f"'bad' in the batch against alone: with the mask {(in_batch - alone).abs().max().item():.1e}, "
      f"without {(unmasked - alone).abs().max().item():.1e}")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("masks: the source's padding changes nothing, a target padding mask would change nothing, "
            "the loss ignores the pads") as check:
    check.close("with the mask, 'bad' is encoded as alone", in_batch, alone, rtol=0, atol=1e-5)
    check.true("without it, the pads change 'bad'", (unmasked - alone).abs().max().item() > 1e-2)
    with tt.no_grad():
        memory = model.encode(src)
        y = model.positions(model.tgt_embed(tgt_in))
        causal = transformer.causal_mask(tgt_in.shape[1], device=dev)
        plain = model.transformer.decoder(y, memory, tgt_mask=causal, memory_key_padding_mask=padding_mask(src, PAD))
        masked = model.transformer.decoder(y, memory, tgt_mask=causal, memory_key_padding_mask=padding_mask(src, PAD),
                                           tgt_key_padding_mask=padding_mask(tgt_in, PAD))
    real = (tgt_in != PAD).cpu().numpy()
    check.close("a target key padding mask changes no real position", masked.cpu().numpy()[real],
                plain.cpu().numpy()[real], rtol=0, atol=1e-5)
    with tt.no_grad():
        logits = model(src, tgt_in)
        batch_loss = F.cross_entropy(logits.reshape(-1, V), tgt_out.reshape(-1), ignore_index=PAD).item()
        one_by_one = []  # each word alone, unpadded: its loss summed over its own tokens
        for word in ["chafe", "bad", "face"]:
            s, t = batch([word])
            one_by_one.append((F.cross_entropy(model(s, t[:, :-1])[0], t[0, 1:], reduction="sum").item(),
                               len(word) + 1))
        not_ignored = F.cross_entropy(logits.reshape(-1, V), tgt_out.reshape(-1)).item()
    check.close("ignore_index: the batch's loss = the words' own, per real token", batch_loss,
                sum(loss for loss, _ in one_by_one) / sum(n for _, n in one_by_one), rtol=1e-5)
    check.true("counting the pads would change it", abs(not_ignored - batch_loss) > 1e-3)

# %% [markdown]
# ## Label-smoothed cross-entropy (交叉熵, 标签平滑; §5.4)
#
# At each position the model gives a distribution p over the V tokens (the softmax of its
# logits). Cross-entropy compares it with a target distribution q: `-Σ_k q_k log p_k`. With q
# the one-hot of the right token y that is `-log p_y`, small when the model is sure and right.
#
# §5.4: "During training, we employed label smoothing of value ε_ls = 0.1. This hurts
# perplexity, as the model learns to be more unsure, but improves accuracy and BLEU score."
# The target is no longer one-hot: a share ε of its mass is spread evenly over all V tokens,
#
#     q_k = (1 - ε) · [k = y] + ε / V
#
# so the right token gets 1 - ε + ε/V and every other ε/V. (This is Szegedy et al.'s, whom the
# paper cites, and PyTorch's `label_smoothing`; some implementations leave the pad token out
# of the spread.) A one-hot target rewards pushing the right logit ever higher; a smoothed one
# is met exactly at p = q, so the logits stay finite and the model keeps some doubt.

# %%
def smoothed_cross_entropy(logits, target, eps=0.1, pad=PAD):
    """-Σ_k q_k log p_k with q = (1 - eps) one-hot + eps / V, averaged over the positions whose
    target is not pad. logits (N, V), target (N,)."""
    log_p = F.log_softmax(logits, -1)                                    # (N, V)
    one_hot = F.one_hot(target, logits.shape[-1]).to(logits.dtype)       # (N, V)
    q = (1 - eps) * one_hot + eps / logits.shape[-1]
    per_position = -(q * log_p).sum(-1)                                  # (N,)
    real = (target != pad).to(logits.dtype)                              # 1 at the words, 0 at the pads
    return (per_position * real).sum() / real.sum()


logits = model(src, tgt_in).reshape(-1, V)
ours = smoothed_cross_entropy(logits, tgt_out.reshape(-1))
theirs = F.cross_entropy(logits, tgt_out.reshape(-1), ignore_index=PAD, label_smoothing=0.1)
print(f"ours {ours.item():.6f}, F.cross_entropy(..., label_smoothing=0.1) {theirs.item():.6f}")


def draw_targets(eps=0.1, right="e"):
    """The target distribution q of one position, one-hot and smoothed, on a log scale (0 is not drawn)."""
    figure, _ = new_figure((8, 2.6), layout="constrained")
    axes = figure.subplots(1, 2, sharey=True)
    y = VOCAB.index(right)
    for ax, e, title in ((axes[0], 0.0, "one-hot"), (axes[1], eps, f"smoothed, ε = {eps}")):
        q = np.full(V, e / V)
        q[y] += 1 - e
        ax.bar(range(V), q, color=["#c62828" if k == y else "#1565c0" for k in range(V)])
        ax.set_xticks(range(V), VOCAB, rotation=90, fontsize=8)
        ax.set_title(f"{title}: {right!r} gets {q[y]:.3f}, every other token {e / V:.4f}", fontsize=9)
    axes[0].set(ylabel="q (log scale)", yscale="log", ylim=(1e-3, 2))
    return figure


show(draw_targets(), "13_label_smoothing.png")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("our smoothed loss = F.cross_entropy(label_smoothing=, ignore_index=), q sums to 1, "
            "the paper's eps 0.1") as check:
    for eps in (0.0, 0.1, 0.3):
        check.close(f"eps = {eps}", smoothed_cross_entropy(logits, tgt_out.reshape(-1), eps),
                    F.cross_entropy(logits, tgt_out.reshape(-1), ignore_index=PAD, label_smoothing=eps),
                    rtol=1e-5)
    check.close("eps = 0 is -log p_y over the real tokens", smoothed_cross_entropy(logits, tgt_out.reshape(-1), 0.0),
                -F.log_softmax(logits, -1)[tt.arange(len(logits), device=dev), tgt_out.reshape(-1)]
                [tgt_out.reshape(-1) != PAD].mean(), rtol=1e-5)
    check.close("q sums to 1", (1 - 0.1) + V * 0.1 / V, 1.0, rtol=1e-15)
    check.equal("the translator's presets smooth with the paper's eps", {c.label_smoothing for c in PRESETS.values()},
                {0.1})

# %% [markdown]
# ## The learning rate: warm up, then decay (学习率, 预热; §5.3)
#
# §5.3: Adam with β1 = 0.9, β2 = 0.98, ε = 10⁻⁹, and a learning rate that changes every step:
#
#     lrate = d_model^-0.5 · min(step^-0.5, step · warmup_steps^-1.5)
#
# "This corresponds to increasing the learning rate linearly for the first warmup_steps
# training steps, and decreasing it thereafter proportionally to the inverse square root of
# the step number. We used warmup_steps = 4000." Why start small? Adam divides each step by a
# running estimate of the gradient's size, and in the first steps that estimate rests on a
# handful of gradients: steps can be erratic and large just when the weights are random and
# the post-norm stack (lesson 10) is most fragile. Why decay? Later, smaller steps settle into
# a minimum instead of bouncing around it. The peak, at step = warmup_steps, is
# d_model^-0.5 · warmup_steps^-0.5: wider models get smaller steps.

# %%
def rate(step, d_model, warmup_steps):
    """The learning rate of step (counted from 1), §5.3."""
    return d_model ** -0.5 * min(step ** -0.5, step * warmup_steps ** -1.5)


def draw_schedule():
    figure, _ = new_figure((7.5, 3.2), layout="constrained")
    ax = figure.subplots()
    steps = np.arange(1, 100_001, 50)
    for d_model, warmup, style in ((512, 4000, "-"), (512, 1000, ":"), (512, 16000, "--"), (1024, 4000, "-.")):
        ax.plot(steps, [rate(s, d_model, warmup) for s in steps], style,
                label=f"d_model {d_model}, warmup {warmup}" + (" (the paper's base model)" if
                                                                (d_model, warmup) == (512, 4000) else ""))
    ax.axvline(4000, color="grey", lw=0.8)
    ax.annotate(f"peak {rate(4000, 512, 4000):.1e} at step 4000", (4000, rate(4000, 512, 4000)),
                xytext=(12000, 1.05 * rate(4000, 512, 4000)), fontsize=9, arrowprops={"arrowstyle": "->"})
    ax.set(xlabel="step", ylabel="learning rate", title="lrate = d_model^-0.5 · min(step^-0.5, step · warmup^-1.5)")
    ax.legend(fontsize=8)
    return figure


show(draw_schedule(), "13_warmup.png")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("rate = tinytensor's TransformerWarmup; linear up to the peak, then 1/sqrt(step)") as check:
    for d_model, warmup, steps in ((512, 4000, 20), (32, 40, 150)):   # the paper's first steps; ours, whole
        optimizer = tt.optim.Adam([tt.zeros(1, requires_grad=True)], lr=1.0)
        schedule = tt.optim.lr_scheduler.TransformerWarmup(optimizer, d_model=d_model, warmup_steps=warmup)
        used = []
        for step in range(1, steps + 1):
            used.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            schedule.step()
        check.close(f"d_model {d_model}, warmup {warmup}: steps 1..{steps}", used,
                    [rate(step, d_model, warmup) for step in range(1, steps + 1)], rtol=1e-15)
    check.close("linear in the warm-up", rate(2000, 512, 4000), 2 * rate(1000, 512, 4000), rtol=1e-12)
    check.close("1/sqrt(step) after it", rate(16000, 512, 4000), rate(4000, 512, 4000) / 2, rtol=1e-12)
    check.close("the peak", rate(4000, 512, 4000), 512 ** -0.5 * 4000 ** -0.5, rtol=1e-15)

# %% [markdown]
# ## Gradient clipping (梯度裁剪)
#
# One unlucky batch, or the first steps of a random model, can give a gradient many times
# longer than usual, and a step along it throws the weights far from where they were learning.
# Clipping looks at all the gradients of the model as one long vector: if its length (the
# global norm) is above `max_norm`, every gradient is scaled down by the same factor, so the
# direction is kept and only the length is capped. The paper does not mention clipping; its
# batches of about 25,000 source and 25,000 target tokens (§5.1) give steady gradients. Small
# batches, like ours and the translator's, are steadier with it.

# %%
def clip_gradients(parameters, max_norm):
    """Scale every gradient by min(1, max_norm / total norm); return the total norm before."""
    grads = [p.grad for p in parameters if p.grad is not None]
    total = math.sqrt(sum((g * g).sum().item() for g in grads))
    scale = min(1.0, max_norm / (total + 1e-6))
    for p in parameters:
        if p.grad is not None:
            p.grad = p.grad * scale
    return total


model.zero_grad()
smoothed_cross_entropy(model(src, tgt_in).reshape(-1, V), tgt_out.reshape(-1)).backward()
before = [p.grad.clone() for p in model.parameters()]
norm = clip_gradients(list(model.parameters()), 0.5)
after = math.sqrt(sum((p.grad * p.grad).sum().item() for p in model.parameters()))
print(f"global norm {norm:.3f} -> {after:.3f} after clipping to 0.5")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("our clipping = tt.optim.clip_grad_norm_, direction kept") as check:
    for p, g in zip(model.parameters(), before):
        p.grad = g.clone()
    library_norm = tt.optim.clip_grad_norm_(model.parameters(), 0.5)
    check.close("the norm it returns", library_norm.item(), norm, rtol=1e-6)
    ours_clipped = [g * min(1.0, 0.5 / (norm + 1e-6)) for g in before]
    for (name, p), g in zip(model.named_parameters(), ours_clipped):
        check.close(name, p.grad, g, rtol=1e-5, atol=1e-9)
    check.close("length capped at 0.5", after, 0.5 if norm > 0.5 else norm, rtol=1e-5)

# %% [markdown]
# ## The loop
#
# Every piece together. One step: teacher forcing, the label-smoothed loss with the pads
# ignored, backward, clipping, the learning rate of this step, Adam's update. From here on the
# loss is tinytensor's `F.cross_entropy`, which we just checked computes ours (in one fused op,
# faster). We train on 150 batches of 128 fresh random words, with a warm-up of 40 steps
# (a small model, a short run), and keep the loss, the learning rate and the gradient's norm.

# %%
def train_step(model, optimizer, src, tgt, step, *, warmup_steps, label_smoothing=0.1, max_norm=1.0):
    """One step of training on the batch (src, tgt); returns the loss and the gradient's norm."""
    model.train()
    tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]                           # teacher forcing
    logits = model(src, tgt_in)                                         # (B, T, V)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1),
                           ignore_index=model.pad_id, label_smoothing=label_smoothing)
    optimizer.zero_grad()                                               # .grad adds up (lesson 2)
    loss.backward()
    norm = tt.optim.clip_grad_norm_(model.parameters(), max_norm)
    for group in optimizer.param_groups:
        group["lr"] = rate(step, model.transformer.d_model, warmup_steps)
    optimizer.step()
    return loss, norm


STEPS, WARMUP, BATCH = 150, 40, 128
rng = random.Random(0)
tt.manual_seed(0)
model = Seq2SeqTransformer(V, V, d_model=32, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
                           dim_feedforward=64, dropout=0.0, pad_id=PAD).to(dev)
optimizer = tt.optim.Adam(model.parameters(), lr=rate(1, 32, WARMUP), betas=(0.9, 0.98), eps=1e-9)
unseen = set(held_out)
history, trained_on = [], set()
for step in range(1, STEPS + 1):
    words = [word for word in random_words(rng, BATCH) if word not in unseen]   # never a held-out word
    trained_on.update(words)
    src, tgt = batch(words)
    loss, norm = train_step(model, optimizer, src, tgt, step, warmup_steps=WARMUP)
    history.append((loss.item(), optimizer.param_groups[0]["lr"], norm.item()))
print("loss after 1, 50, 100, 150 steps:", [round(history[i][0], 3) for i in (0, 49, 99, 149)])

# %% [markdown]
# The test: the held-out words, which no training batch contained, reversed by the trained
# model with greedy decoding (each step takes the most likely token and feeds it back; lesson
# 14 takes decoding apart). A word counts only when every letter and the `<eos>` are right.

# %%
def reverse(model, words):
    """The model's reversal of each word, by greedy decoding, as strings."""
    out = greedy_decode(model, batch(words)[0], max_len=LONGEST + 1, bos_id=BOS, eos_id=EOS).tolist()
    return ["".join(VOCAB[i] for i in row[:row.index(EOS)]) if EOS in row else "?" for row in out]


answers = reverse(model, held_out)
accuracy = sum(answer == word[::-1] for answer, word in zip(answers, held_out)) / len(held_out)
print(f"exact match on {len(held_out)} held-out words: {accuracy:.1%}")
for word, answer in list(zip(held_out, answers))[:6]:
    print(f"  {word:>6} -> {answer:<6} {'right' if answer == word[::-1] else 'wrong'}")

# %% [markdown]
# The curves of the run. The loss falls fast, then levels off, well above 0: with label
# smoothing no model can reach 0 (the exercise asks where the floor is). The learning rate
# climbs for 40 steps, then decays. The gradient's norm, before clipping, starts well above
# the limit of 1 and crosses it again and again while the loss falls fastest: each of those
# steps was shortened to length 1. As the loss levels off, the gradients shrink below it.

# %%
def draw_run(history, warmup_steps):
    figure, _ = new_figure((11, 3), layout="constrained")
    steps = np.arange(1, len(history) + 1)
    for ax, values, title in zip(figure.subplots(1, 3), zip(*history),
                                 ("loss (label-smoothed)", "learning rate", "gradient norm, before clipping")):
        ax.plot(steps, values)
        ax.set(xlabel="step", title=title)
    axes = figure.axes
    axes[1].axvline(warmup_steps, color="grey", lw=0.8)
    axes[2].axhline(1.0, color="#c62828", lw=0.8, label="max_norm")
    axes[2].legend(fontsize=8)
    return figure


clipped = sum(norm > 1.0 for _, _, norm in history)
print(f"clipping shortened {clipped} of the {STEPS} steps")
show(draw_run(history, WARMUP), "13_run.png")

# %% [markdown]
# What did it learn? The cross-attention of the trained model while it reverses "chafe":
# to write the t-th letter it reads the t-th letter from the end, the anti-diagonal, in at
# least one head. Nothing told it to: the gradient found it.

# %%
word = "chafe"
src1, tgt1 = batch([word])
model.eval()                                                                # no dropout (there is none here)
with tt.no_grad(), record_attention(model) as hooks:
    model(src1, tgt1[:, :-1])
cross = hooks["transformer.decoder.layers.0.multihead_attn"].weights[0]    # (heads, T, S)
show(visualize.plot_attention(cross, x_tokens=list(word), y_tokens=[VOCAB[i] for i in tgt1[0, 1:].tolist()],
                              title=f"Cross-attention after {STEPS} steps, writing {word[::-1]!r}"),
     "13_cross_attention.png")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks(f"the loop learnt: held-out exact match {accuracy:.1%}, the loss fell, clipping acted early") as check:
    check.true("held-out exact match at least 90%", accuracy >= 0.9)
    check.equal("no held-out word was trained on", set(held_out) & trained_on, set())
    check.true("the loss fell to a third", history[-1][0] < history[0][0] / 3)
    check.true("the first steps' gradients were clipped", max(n for _, _, n in history[:30]) > 1.0)
    check.close("the learning rate followed the schedule", [lr for _, lr, _ in history],
                [rate(s, 32, WARMUP) for s in range(1, STEPS + 1)], rtol=1e-15)
    reads = cross.cpu().numpy().argmax(-1)[:, :len(word)]               # (heads, letters written)
    check.true("some head reads the anti-diagonal", any((row == np.arange(len(word))[::-1]).mean() >= 0.8
                                                        for row in reads))

# %% [markdown]
# ## The translator: the same loop
#
# The project's translator (`python -m translator train`) trains with this loop, at a larger
# scale: 40,000 Chinese-English sentence pairs, batches of about `batch_tokens` target tokens
# of sentences of similar length (§5.1, "sentence pairs were batched together by approximate
# sequence length", so that little of a batch is padding), evaluation and checkpoints. Its
# `Trainer` sets up the data, the model, Adam and the schedule; its `step` is our six lines.
# The line numbers below are found now with `inspect`, in the source you have.

# %%
ROOT = Path(transformer.__file__).resolve().parent.parent


def where(obj, text):
    """'file:line' of the first line of obj's source that contains text."""
    lines, first = inspect.getsourcelines(obj)
    offset = next(i for i, line in enumerate(lines) if text in line)
    return f"{Path(inspect.getsourcefile(obj)).resolve().relative_to(ROOT)}:{first + offset}"


lines, first = inspect.getsourcelines(Trainer.step)
print(where(Trainer.step, "def step"))
for number, line in enumerate(lines, start=first):
    print(f"{number:4d}  {line.rstrip()}")
print()
for what, obj, text in [("the batch, padded", Trainer.step, "train_data.batch"),
                        ("teacher forcing: tgt[:, :-1], tgt[:, 1:]", Encoded.batch, "tgt[:, :-1], tgt[:, 1:]"),
                        ("the source's padding mask", transformer.seq2seq.Seq2SeqTransformer.encode, "padding_mask"),
                        ("the loss: ignore_index, label_smoothing", Trainer.step, "ignore_index=Vocab.pad_id"),
                        ("clipping", Trainer.step, "clip_grad_norm_"),
                        ("Adam's betas and eps (§5.3)", Trainer.__post_init__, "optim.Adam"),
                        ("the warm-up schedule", Trainer.__post_init__, "TransformerWarmup"),
                        ("  ...its formula", tt.optim.lr_scheduler.TransformerWarmup.get_lr, "min(step ** -0.5")]:
    print(f"{what:<42} {where(obj, text)}")

# %% [markdown]
# One check that this is not a resemblance but the same computation: a fresh `Trainer` of the
# tiny preset (d_model 32, 2 heads, 1 + 1 layers; its data and vocabularies built from the
# corpus, a few seconds), one `Trainer.step` on its first batch; then the model put back as it
# was, and one step of our `train_step` on the same batch, with our own Adam and our `rate`.
# Every weight after the two steps must be equal, bit for bit. (`Trainer.step` calls the model
# as `self.data_parallel`: the model itself in one process, the model wrapped in
# `DistributedDataParallel` when several train it together, lesson 17.)

# %%
trainer = Trainer(PRESETS["tiny"].with_overrides(batch_tokens=1024), out="lesson-13-run", device=dev,
                  seed=0, progress_bar=False)                          # nothing is written to lesson-13-run/
config = trainer.config
batches = trainer.train_data.batches(config.batch_tokens, seed=0)
start = {name: p.detach().clone() for name, p in trainer.model.state_dict().items()}
trainer.step(batches[0])
after_trainer = {name: p.detach().clone() for name, p in trainer.model.state_dict().items()}

translation_model = trainer.model
translation_model.load_state_dict(start)
our_optimizer = tt.optim.Adam(translation_model.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
src, tgt_in, tgt_out = trainer.train_data.batch(batches[0], dev)
tgt = tt.cat([tgt_in[:, :1], tgt_out], 1)          # <bos> then tgt_out: the padded target, whole again
train_step(translation_model, our_optimizer, src, tgt, 1, warmup_steps=config.warmup_steps,
           label_smoothing=config.label_smoothing, max_norm=config.clip_norm)
differences = [(p.detach() - after_trainer[name]).abs().max().item()
               for name, p in translation_model.state_dict().items()]
print(f"first batch: {tuple(src.shape)} source, {tuple(tgt_in.shape)} target, "
      f"{(tgt_out == translation_model.pad_id).to(tt.float32).mean().item():.0%} of its targets padding")
print(f"largest difference between Trainer.step and our train_step over {len(differences)} tensors: "
      f"{max(differences)}")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("one step of ours = one Trainer.step, bit for bit; the cited lines hold what they are cited for") as check:
    check.equal("every weight equal", max(differences), 0.0)
    check.true("the step moved the weights",
               max((after_trainer[k] - start[k]).abs().max().item() for k in start) > 0)
    source = inspect.getsource(Trainer.step)
    for piece in ("self.data_parallel(src, tgt_in)", "label_smoothing=self.config.label_smoothing",
                  "ignore_index=Vocab.pad_id", "loss.backward()", "clip_grad_norm_", "self.optimizer.step()",
                  "self.scheduler.step()", "self.optimizer.zero_grad()"):
        check.true(f"Trainer.step has {piece}", piece in source)
    check.true("Adam with the paper's betas", "betas=(0.9, 0.98), eps=1e-9" in inspect.getsource(Trainer.__post_init__))

# %% [markdown]
# ## The shortcut: a trained translator
#
# Training the translator well takes a minute or two (the README's `python -m translator train`,
# the small preset: four epochs, about a minute of training on a 2-core CPU), and writes
# `runs/zh-en/best.npz`. If that
# file exists, we load it. If not, we go on with the loop above on the tiny preset, for 150
# steps (a third of an epoch, seconds), and watch 我有一只猫。 along the way.

# %%
CHECKPOINT = ROOT / "runs" / "zh-en" / "best.npz"
SENTENCE = "我有一只猫。"

if CHECKPOINT.exists():
    translator = Translator.load(CHECKPOINT, device=dev)
    print(f"loaded {CHECKPOINT} ({translator.config.name} preset)")
else:
    translator = trainer.translator                                   # the model our step just trained
    for step in range(2, 151):
        src, tgt_in, tgt_out = trainer.train_data.batch(batches[step - 1], dev)
        train_step(translation_model, our_optimizer, src, tt.cat([tgt_in[:, :1], tgt_out], 1), step,
                   warmup_steps=config.warmup_steps, label_smoothing=config.label_smoothing,
                   max_norm=config.clip_norm)
        if step in (25, 50, 100, 150):
            print(f"after {step:3d} steps: {SENTENCE} -> {translator.translate(SENTENCE)}")

EXAMPLES = {"我有一只猫。": "I have a cat.", "她不喜欢猫。": "She does not like cats.",
            "你有一只猫吗？": "Do you have a cat?", "昨天我买了一本书。": "Yesterday I bought a book."}
translations = translator.translate(list(EXAMPLES))
for (zh, want), got in zip(EXAMPLES.items(), translations):
    print(f"{zh:<10} -> {got:<28} {'right' if got == want else 'wrong, want ' + want}")

# %% tags=["check"] jupyter={"source_hidden": true}
with checks("the trained translator writes 我有一只猫。 right, and most of the examples") as check:
    check.equal(SENTENCE, translations[0], "I have a cat.")
    check.true("at least 3 of the 4 examples exactly right",
               sum(got == want for got, want in zip(translations, EXAMPLES.values())) >= 3)

# %% [markdown]
# ## Exercise
#
# The reversal model's loss levelled off a little above 0.5 and never approached 0, though it reverses
# almost every word. Label smoothing sets a floor: the best any model can do at a position is
# to predict p = q exactly, and then the loss is `-Σ_k q_k log q_k`, the entropy of q.
#
# For our vocabulary of V = 11 tokens and ε = 0.1, compute
#
# * `p_right`: the probability the best possible model gives the right token;
# * `loss_floor`: its label-smoothed loss per token, the floor.
#
# Write each with `math` from V and ε (not by reading the curve). The check compares them with
# `F.cross_entropy` on logits that predict q exactly, and with the run's last loss.

# %% tags=["exercise"]
p_right = ...     # your answer: a number
loss_floor = ...  # your answer: a number

# %% tags=["check"]
exercise(globals(), "13_training_loop", "loss_floor")
