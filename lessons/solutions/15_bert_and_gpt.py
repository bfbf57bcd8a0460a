"""Lesson 15's exercise: BERT's trained stack run with GPT's causal mask.

(How these files work: lessons/README.md, "How a lesson is built".)
"""
import numpy as np

import tinytensor as tt
import transformer


def causal_bert(ns):
    bert, encode_en = ns["bert"], ns["encode_en"]

    def bert_with_mask(text, mask):
        ids = encode_en(text)
        with tt.no_grad():
            logits = bert.mlm_head(bert.layers(bert.positions(bert.embed(ids)), mask=mask))
        return logits[0, 0].softmax(-1).cpu().numpy()

    ns["bert_with_mask"] = bert_with_mask


def check_causal_bert(bert_with_mask, bert_probs, do, dev):
    question = bert_with_mask("<mask> you have a cat ?", transformer.causal_mask(6, device=dev))
    statement = bert_with_mask("<mask> have a cat .", transformer.causal_mask(5, device=dev))
    assert np.shape(question) == np.shape(bert_probs), \
        f"bert_with_mask returns shape {np.shape(question)}: the probabilities at position 0, one per word"
    assert np.allclose(np.asarray(question).sum(), 1.0, atol=1e-5), "return softmax probabilities"
    assert np.allclose(bert_with_mask("<mask> you have a cat ?", None), bert_probs, atol=1e-6), \
        "with mask=None it must be BERT itself: embed, then positions, then the layers, then mlm_head"
    assert np.allclose(question, statement, atol=1e-6), "with the causal mask the first position sees only itself"
    assert not np.allclose(bert_with_mask("<mask> have a cat .", None), bert_probs, atol=1e-3)
    return (f"causal BERT gives P(Do) = {question[do]:.2f} for both sentences (BERT itself: "
            f"{bert_probs[do]:.2f}): one mask turns the bidirectional encoder into a left-to-right one")


def wrong_causal_bert(ns):
    """The positions forgotten: BERT's layers fed the bare embedding."""
    bert, encode_en = ns["bert"], ns["encode_en"]

    def bert_with_mask(text, mask):
        with tt.no_grad():
            logits = bert.mlm_head(bert.layers(bert.embed(encode_en(text)), mask=mask))
        return logits[0, 0].softmax(-1).cpu().numpy()

    ns["bert_with_mask"] = bert_with_mask
