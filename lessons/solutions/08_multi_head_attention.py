"""Lesson 8's exercise: a head that asks "where?" instead of "in what state?".

(How these files work: lessons/README.md, "How a lesson is built".)
"""
import numpy as np


def street_head(ns):
    W_K_street = ns["W_K"].copy()
    W_K_street[2, 2] = 0.0            # head 1 stops answering for a state
    W_K_street[1, 2] = ns["s"]        # ... and answers for a place
    ns["W_K_street"] = W_K_street


def check_street_head(W_K_street, W_Q, multi_head_attention, hand_params, X_it, sentence):
    assert np.shape(W_K_street) == (4, 4), f"W_K_street has shape {np.shape(W_K_street)}, not (4, 4)"
    _, A = multi_head_attention(X_it, hand_params(W_Q, np.asarray(W_K_street, dtype=float)), h=2)
    it, animal, street = (sentence.index(w) for w in ("it", "animal", "street"))
    head0, head1 = (int(A[0, head, it].cpu().numpy().argmax()) for head in (0, 1))
    assert head0 == animal, f"head 0 now looks at {sentence[head0]!r}: leave its columns (0-1) alone"
    assert head1 == street, \
        f"head 1 looks at {sentence[head1]!r}: its key column 2 must answer for street's place feature (row 1)"
    tired = sentence.index("tired")
    assert A[0, 1, it, tired].item() < 0.1, \
        f"head 1 still gives tired {A[0, 1, it, tired].item():.3f}: it still answers for a state (W_K[2, 2])"
    weight = A[0, 1, it, street].item()
    assert weight > 0.5, f"head 1 gives street only {weight:.3f}: make the street key as strong as s"
    return f'head 0: it -> animal, head 1: it -> street ({weight:.4f}): one head per question'


def wrong_street_head(ns):
    """The place key added, but the state key left: head 1 splits between street and tired."""
    W_K_street = ns["W_K"].copy()
    W_K_street[1, 2] = ns["s"]
    ns["W_K_street"] = W_K_street
