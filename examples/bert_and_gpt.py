"""BERT and GPT from the translator's own layers, each trained for seconds on the toy corpus's English.

    python examples/bert_and_gpt.py gpt      # writes English left to right: "Tomorrow he will drink a cup" -> "of ..."
    python examples/bert_and_gpt.py bert     # fills in blanks: "Two cats <mask> on the table ." -> "are"

The seeds contrast three ways of stacking the same Transformer layers:

    encoder-decoder   the translator (transformer/seq2seq.py): reads Chinese, writes English
    encoder only      BERT (transformer/bert.py): every word sees the whole sentence; learns by
                      filling in masked words
    decoder only      GPT (transformer/gpt.py): every word sees the words before it; learns by
                      predicting the next word, and so can write

Both models here are two TransformerEncoderLayers wide 64: GPT's with a causal mask, BERT's
without. The sentences are the English side of the toy corpus (translator/), which
ships with the project, so nothing is downloaded. ``--device cuda`` runs on the GPU.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import tinytensor as tt
import tinytensor.functional as F
import transformer
from translator.corpus import build_corpus
from translator.tokens import Vocab, detokenize_en, tokenize_en

MASK = "<mask>"
GPT_PROMPTS = ["Tomorrow he will drink a cup", "Yesterday Xiaoming", "Do you", "The teacher does not"]
BERT_QUERIES = ["The cat <mask> on the table .", "Two cats <mask> on the table .",
                "Do you have a cat <mask>", "Xiaoming has a cat <mask>", "I have <mask> apple ."]


def english(count: int, seed: int) -> tuple[list[list[str]], Vocab]:
    """``count`` tokenized English sentences of the toy corpus, and their vocabulary (with <mask>)."""
    sentences = [tokenize_en(en) for _, en in build_corpus(seed)["train"][:count]]
    vocab = Vocab.build(sentences)
    return sentences, Vocab.from_list(vocab.to_list() + [MASK], unit="words")


def batch_of(sentences: list[list[int]], device: str) -> tt.Tensor:
    """Id lists padded with <pad> (id 0) into one (B, longest) tensor."""
    longest = max(len(s) for s in sentences)
    return tt.tensor([s + [Vocab.pad_id] * (longest - len(s)) for s in sentences], device=device)


def train(model: tt.nn.Module, loss_of: "callable", data: list[list[int]], steps: int, seed: int,
          device: str) -> tuple[float, float]:
    """Adam on random batches of 64 sentences; returns the loss of the first and the last steps.

    The losses stay on the device and are read only when printed: reading each
    one would make the host wait for the GPU at every step.
    """
    optimizer = tt.optim.Adam(model.parameters(), lr=3e-3, betas=(0.9, 0.98), eps=1e-9)
    rng = np.random.default_rng(seed)
    losses = []
    for step in range(1, steps + 1):
        loss = loss_of(model, batch_of([data[i] for i in rng.integers(0, len(data), 64)], device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
        if step % 50 == 0 or step == 1:
            print(f"step {step:4d}  loss {losses[-1].item():.3f}")
    return losses[0].item(), tt.stack(losses[-10:]).mean().item()


def gpt_loss(model: transformer.GPT, ids: tt.Tensor) -> tt.Tensor:
    """Next-token cross-entropy: the logits at position t score token t + 1."""
    logits = model(ids[:, :-1])
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1),
                           ignore_index=Vocab.pad_id)


def run_gpt(args: argparse.Namespace) -> dict:
    sentences, vocab = english(args.sentences, args.seed)
    data = [[vocab.bos_id] + vocab.encode(s) + [vocab.eos_id] for s in sentences]
    model = transformer.GPT(len(vocab), d_model=64, nhead=4, num_layers=2, dim_feedforward=128,
                            dropout=0.0).to(args.device)
    first, last = train(model, gpt_loss, data, args.steps, args.seed, args.device)
    written = {}
    for prompt in GPT_PROMPTS:
        ids = tt.tensor([[vocab.bos_id] + vocab.encode(tokenize_en(prompt))], device=args.device)
        out = model.generate(ids, max_new_tokens=8, temperature=0.0)  # greedy: the likeliest words
        written[prompt] = detokenize_en(vocab.decode(out[0, 1:].tolist()))
        print(f"  {prompt!r:34} -> {written[prompt]!r}")
    return {"first_loss": first, "last_loss": last, "written": written}


def bert_loss(model: transformer.BERT, ids: tt.Tensor, vocab: Vocab) -> tt.Tensor:
    """Cross-entropy at the masked positions only (labels are -100 elsewhere)."""
    inputs, labels = transformer.mask_tokens(ids, mask_id=vocab.encode([MASK])[0], vocab_size=len(vocab),
                                             special_ids=[vocab.pad_id])
    logits = model(inputs)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


def run_bert(args: argparse.Namespace) -> dict:
    sentences, vocab = english(args.sentences, args.seed)
    data = [vocab.encode(s) for s in sentences]
    model = transformer.BERT(len(vocab), d_model=64, nhead=4, num_layers=2, dim_feedforward=128,
                             dropout=0.0, pad_id=vocab.pad_id).to(args.device)
    first, last = train(model, lambda m, ids: bert_loss(m, ids, vocab), data, args.steps, args.seed, args.device)
    filled = {}
    model.eval()
    with tt.no_grad():
        for query in BERT_QUERIES:
            tokens = query.split()
            logits = model(tt.tensor([vocab.encode(tokens)], device=args.device))[0, tokens.index(MASK)]
            top = logits.softmax(-1).topk(3)
            guesses = [(vocab.decode([i])[0], p) for i, p in zip(top.indices.tolist(), top.values.tolist())]
            filled[query] = guesses[0][0]
            print(f"  {query!r:34} -> " + ", ".join(f"{word} {p:.0%}" for word, p in guesses))
    return {"first_loss": first, "last_loss": last, "filled": filled}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=["gpt", "bert"])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--sentences", type=int, default=20_000, help="how many corpus sentences to use")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda" if tt.cuda_is_available() else "cpu")
    args = parser.parse_args(argv)
    tt.manual_seed(args.seed)
    start = time.perf_counter()
    result = run_gpt(args) if args.model == "gpt" else run_bert(args)
    print(f"{args.model}: loss {result['first_loss']:.2f} -> {result['last_loss']:.2f} in "
          f"{time.perf_counter() - start:.1f} s on {args.device}")
    return result


if __name__ == "__main__":
    main()
