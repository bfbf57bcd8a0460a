"""Scoring translations: BLEU as the field reports it, exact match, and the worst examples.

BLEU (Papineni et al., 2002) compares each translation with its reference by
the n-grams (n = 1..4) they share, combined over the whole test set (corpus
level), with a penalty for translations shorter than their references. It is
computed with sacrebleu, as papers report it, and printed with sacrebleu's
signature (tokenizer, smoothing, version...), so that a figure can be compared
with another only when the signatures match:

    BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0 = 99.6 99.8/99.7/99.5/99.4 (...)

The toy grammar gives every sentence exactly one correct translation, so exact
match, the share of sentences translated word for word right, is meaningful
too, and is the stricter of the two.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass
class Score:
    bleu: float          # corpus BLEU, 0..100
    text: str            # sacrebleu's line, with the signature
    exact: float         # share of hypotheses equal to their reference, 0..1
    signature: str       # how the BLEU was computed: "nrefs:1|case:mixed|eff:no|tok:13a|..."

    def __str__(self) -> str:
        return f"{self.text}\nexact match = {self.exact:.2%}"


def score(hypotheses: Sequence[str], references: Sequence[str]) -> Score:
    """Corpus BLEU and exact match of ``hypotheses`` against one reference each."""
    if len(hypotheses) != len(references):
        raise ValueError(f"score: {len(hypotheses)} hypotheses but {len(references)} references")
    bleu = _sacrebleu().metrics.BLEU()
    result = bleu.corpus_score(list(hypotheses), [list(references)])
    exact = sum(h == r for h, r in zip(hypotheses, references)) / max(len(references), 1)
    signature = str(bleu.get_signature())
    return Score(result.score, result.format(signature=signature), exact, signature)


def worst(sources: Sequence[str], hypotheses: Sequence[str], references: Sequence[str],
          count: int = 10) -> list[tuple[float, str, str, str]]:
    """The ``count`` wrong translations with the lowest sentence BLEU: (bleu, source, output, reference)."""
    sacrebleu = _sacrebleu()
    wrong = [(sacrebleu.sentence_bleu(h, [r]).score, s, h, r)
             for s, h, r in zip(sources, hypotheses, references) if h != r]
    return sorted(wrong)[:count]


def _sacrebleu():
    try:
        import sacrebleu  # noqa: PLC0415 - only scoring needs it
    except ImportError:
        raise ImportError("BLEU is computed with sacrebleu: pip install sacrebleu "
                          "(or pip install -e '.[examples]')") from None
    return sacrebleu
