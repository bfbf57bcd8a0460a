"""Lesson 11's exercise: the mask read back from the model's behaviour, and with the mask transposed.

(How these files work: lessons/README.md, "How a lesson is built".)
"""
import numpy as np


def influence_of(decode, inputs, mask):
    """(5, 5) booleans: True where changing token j moves output position t by more than 1e-6."""
    full = decode(inputs, mask=mask)
    result = np.zeros((len(inputs), len(inputs)), dtype=bool)
    for j in range(len(inputs)):
        changed = list(inputs)
        changed[j] = 5 if changed[j] != 5 else 0
        result[:, j] = np.abs(decode(changed, mask=mask) - full).max(axis=1) > 1e-6
    return result


def influence(ns):
    causal_mask, decode, inputs = ns["causal_mask"], ns["decode"], ns["decoder_input"]
    ns["influence"] = influence_of(decode, inputs, causal_mask)
    ns["influence_mT"] = influence_of(decode, inputs, lambda n, device: causal_mask(n, device=device).mT)


def check_influence(influence, influence_mT, allowed):
    for name, value in (("influence", influence), ("influence_mT", influence_mT)):
        assert np.shape(value) == (5, 5), f"{name} has shape {np.shape(value)}, not (5, 5)"
    assert (np.asarray(influence) == allowed).all(), \
        f"influence should be the lower triangle (token j reaches position t when j <= t), got\n{np.asarray(influence, dtype=int)}"
    assert (np.asarray(influence_mT) == allowed.T).all(), \
        f"with the mask transposed, token j reaches position t when j >= t; got\n{np.asarray(influence_mT, dtype=int)}"
    return "the causal mask's influence is the lower triangle, the transposed mask's the upper one"


def wrong_influence(ns):
    """The axes swapped: influence[j, t] instead of influence[t, j]."""
    influence(ns)
    ns["influence"], ns["influence_mT"] = ns["influence"].T, ns["influence_mT"].T
