"""The toy corpus: train, valid, test and long splits of the toy grammar, sampled stratified.

    corpus = build_corpus(seed=0)        # {"train": [(zh, en), ...], "valid": ..., "test": ..., "long": ...}
    write_tsv(corpus, "data/")           # train.tsv valid.tsv test.tsv long.tsv, one "zh<TAB>en" a line
    read_tsv("data/train.tsv")           # back to [(zh, en), ...]

How big the language is (grammar.count, exact; characters are Chinese, final punctuation counted):

    construction                all lengths   at most 18 chars
    statement               205,926,775,980     15,844,095,744
    negation                153,878,441,830      3,921,344,734
    negated_possession                  160                160
    question                205,926,775,980      5,677,370,484
    past                    103,278,671,940        153,316,752
    future                  103,278,671,940        153,316,752
    location                         29,211             29,211
    description                       4,160              4,160
    the whole grammar       772,289,371,201     25,749,477,997

That is very uneven, and a model's mistakes gather where the grammar is thin (面包 read as 包,
"an table", "a egg"): 没有 + a noun has 160 sentences in all and food nouns follow only 吃 and
喜欢, while the statements run to billions. Drawn from the whole grammar at random, the 160
would come up once in 160 million draws; drawn per construction but each sentence once, they
would be 160 pairs among 40,000, and the usual share for valid and test would take a big bite
out of them. So the sampling is stratified:

- every construction has a fixed share of each split (WEIGHTS): the verb constructions the
  most, negated possession the least, but still 1 in 17 pairs of train;
- inside a construction every choice is uniform over what the grammar allows at that point
  (subject, verb, each object's noun, its form), so every word comes up often however small
  its corner of the grammar; 一 (the a / an cases) and phrases without an adjective are
  favoured;
- train keeps repeats: a construction fills its quota however few sentences it has (each
  没有 sentence comes up about 16 times), and one that has no more sentences than its quota
  has all of them in train at least once, but for those held out;
- valid and test are picked uniformly among the distinct sentences drawn, at most 5% of a
  construction's sentences each, and leave train: a small construction or a small corner of a
  big one (S 吃面包。) gives valid and test about one in ten of its sentences, never most.

With the defaults train has 40,000 pairs, 30,775 of them distinct (seed 0); building all four
splits takes about a second.

No Chinese sentence is in two splits. Train, valid and test hold sentences of at most 18
characters; long holds sentences of 22 or more (joined objects with numbers and adjectives:
明天老师会卖两辆漂亮的自行车、三个白色的盒子和那张桌子。), made of the same words, to show what the
model does past the lengths it was trained on.
"""
from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from .grammar import (CLAUSE_VERBS, CONSTRUCTIONS, MAX_CHARS, count, every_sentence, generate, realize,
                      sample)

Pair = tuple[str, str]

SPLITS = ("train", "valid", "test", "long")
WEIGHTS = {"statement": 3, "negation": 2, "negated_possession": 1, "question": 3, "past": 2,
           "future": 2, "location": 2, "description": 2}   # shares of each split, by construction
HELD_OUT_SHARE = 0.05   # of a construction's distinct sentences, at most, in valid and again in test
LONG_MIN_CHARS = 22


def _allocate(total: int, weights: Sequence[float], caps: Sequence[int] | None = None) -> list[int]:
    """``total`` split in proportion to ``weights`` (largest remainders), none over its cap:
    what a capped share cannot take goes to the others in proportion."""
    caps = [total] * len(weights) if caps is None else caps
    shares = [0] * len(weights)
    open_, left, ideal = list(range(len(weights))), total, {}
    while open_:
        weight = sum(weights[i] for i in open_)
        ideal = {i: left * weights[i] / weight for i in open_}
        full = [i for i in open_ if ideal[i] >= caps[i]]
        if not full:
            break
        for i in full:
            shares[i], left = caps[i], left - caps[i]
        open_ = [i for i in open_ if i not in full]
    for i in open_:
        shares[i] = int(ideal[i])
    by_remainder = sorted(open_, key=lambda i: shares[i] - ideal[i])
    for i in by_remainder[:total - sum(shares)]:
        shares[i] += 1
    return shares


def _distinct(stream: Iterable[Pair], seen: set[Pair]) -> Iterator[Pair]:
    for pair in stream:
        if pair not in seen:
            seen.add(pair)
            yield pair


def _stratum(rng: random.Random, stream: Iterator[Pair], every: list[Pair], n_train: int,
             n_valid: int, n_test: int) -> tuple[list[Pair], list[Pair], list[Pair]]:
    """One construction's train, valid and test pairs.

    Train starts as ``every`` (all the construction's sentences, when it has no more than its
    quota; else nothing) and draws up to n_train, repeats and all, so the construction fills its
    quota however few sentences it has. Valid and test are picked uniformly among the distinct
    sentences so far (a sentence drawn ten times is no likelier to be held out than one drawn
    once); they leave train, and new draws of sentences not held out take their place.
    """
    pool = every + list(itertools.islice(stream, max(0, n_train - len(every))))
    distinct = list(dict.fromkeys(pool))
    missing = max(0, n_valid + n_test - len(distinct))
    distinct += itertools.islice(_distinct(stream, set(distinct)), missing)
    held_out = sample(rng, distinct, n_valid + n_test)
    held = set(held_out)
    train = [pair for pair in pool if pair not in held]
    train += itertools.islice((pair for pair in stream if pair not in held), n_train - len(train))
    return train, held_out[:n_valid], held_out[n_valid:]


def _every(construction: str, n_train: int) -> list[Pair]:
    """All the construction's sentences, if they fit in its train quota (else none)."""
    if count(construction, MAX_CHARS) > n_train:
        return []
    return [realize(sentence) for sentence in every_sentence(construction, MAX_CHARS)]


def _stream(rng: random.Random, construction: str, **lengths: int | None) -> Iterator[Pair]:
    """A generator with a seed of its own: constructions drawn from one seed would move in step
    (我吃一个苹果。 in one, 我吃一个苹果吗？ in the next)."""
    return generate(int(rng.random() * 2 ** 32), construction, **lengths)


def build_corpus(seed: int = 0, n_train: int = 40_000, n_valid: int = 1_000, n_test: int = 1_000,
                 n_long: int = 500) -> dict[str, list[Pair]]:
    """The four splits, each a list of (zh, en) pairs in random order; the same for the same seed."""
    weights = [WEIGHTS[c] for c in CONSTRUCTIONS]
    caps = [int(HELD_OUT_SHARE * count(c, MAX_CHARS)) for c in CONSTRUCTIONS]
    for name, n in (("n_valid", n_valid), ("n_test", n_test)):
        if n > sum(caps):
            raise ValueError(f"{name}={n}: valid and test may take at most {sum(caps)} pairs each "
                             f"({HELD_OUT_SHARE:.0%} of each construction)")
    rng = random.Random(seed)
    corpus: dict[str, list[Pair]] = {name: [] for name in SPLITS}
    quotas = zip(CONSTRUCTIONS, _allocate(n_train, weights), _allocate(n_valid, weights, caps),
                 _allocate(n_test, weights, caps))
    for construction, to_train, to_valid, to_test in quotas:
        splits = _stratum(rng, _stream(rng, construction), _every(construction, to_train),
                          to_train, to_valid, to_test)
        for name, pairs in zip(("train", "valid", "test"), splits):
            corpus[name] += pairs
    long_quotas = _allocate(n_long, [WEIGHTS[c] for c in CLAUSE_VERBS])
    for construction, n in zip(CLAUSE_VERBS, long_quotas):
        stream = _stream(rng, construction, min_chars=LONG_MIN_CHARS, max_chars=None)
        corpus["long"] += itertools.islice(_distinct(stream, set()), n)
    return {name: sample(rng, pairs, len(pairs)) for name, pairs in corpus.items()}


def write_tsv(corpus: dict[str, list[Pair]], out_dir: str | Path) -> list[Path]:
    """Each split as ``out_dir/<split>.tsv``: UTF-8, one "zh<TAB>en" line a pair, no header."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, pairs in corpus.items():
        bad = [pair for pair in pairs if any(not text or "\t" in text or "\n" in text for text in pair)]
        if bad:
            raise ValueError(f"{name}: a pair with an empty side, a tab or a newline cannot be "
                             f"written as TSV: {bad[0]!r}")
        path = out / f"{name}.tsv"
        path.write_text("".join(f"{zh}\t{en}\n" for zh, en in pairs), encoding="utf-8")
        paths.append(path)
    return paths


def read_tsv(path: str | Path) -> list[Pair]:
    """The (zh, en) pairs of a file written by write_tsv (or by hand: Windows line ends are fine);
    ValueError naming the file and line of a line that is not UTF-8, or not two non-empty fields
    separated by one tab."""
    pairs = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                raise ValueError(f"{path}, line {number}: not UTF-8 ({error.reason} at byte {error.start + 1}); "
                                 f"convert it first, e.g. iconv -f GBK -t UTF-8") from None
            fields = line.split("\t")
            if len(fields) != 2 or not all(fields):
                raise ValueError(f"{path}, line {number}: expected 'zh<TAB>en', got {line!r}")
            pairs.append((fields[0], fields[1]))
    return pairs
