"""Lesson 13's exercise: the floor of the label-smoothed loss, the entropy of the smoothed target.

    loss_floor(ns)          the solution: sets p_right and loss_floor in the lesson's namespace
    check_loss_floor(...)   the check: against F.cross_entropy on logits that predict q exactly, and the run
    wrong_loss_floor(ns)    a likely mistake: the smoothing spread over the V - 1 wrong tokens only
"""
import math

import numpy as np

import tinytensor as tt
import tinytensor.functional as F

EPS = 0.1


def loss_floor(ns):
    V = ns["V"]
    ns["p_right"] = 1 - EPS + EPS / V                     # the right token's share of q
    other = EPS / V                                       # each of the other V - 1 tokens'
    ns["loss_floor"] = -(ns["p_right"] * math.log(ns["p_right"]) + (V - 1) * other * math.log(other))


def check_loss_floor(p_right, loss_floor, V, history):
    for name, value in (("p_right", p_right), ("loss_floor", loss_floor)):
        assert isinstance(value, (int, float)), f"{name} must be a number, got {type(value).__name__}"
    q = np.full((1, V), EPS / V)
    q[0, 3] = 1 - EPS + EPS / V                           # the smoothed target of a position whose token is 3
    logits = tt.tensor(np.log(q))                         # a model that predicts q exactly
    assert math.isclose(p_right, F.softmax(logits, -1)[0, 3].item(), rel_tol=1e-9), \
        (f"p_right = {p_right:.6f}: with label smoothing the right token keeps 1 - ε and also gets its "
         f"share ε / V of the spread mass")
    best = F.cross_entropy(logits, tt.tensor([3]), label_smoothing=EPS).item()
    assert math.isclose(loss_floor, best, rel_tol=1e-9), \
        (f"loss_floor = {loss_floor:.6f}, but a model predicting q exactly has loss {best:.6f}: it is "
         f"-Σ q_k log q_k over all {V} tokens")
    last = history[-1][0]
    assert loss_floor <= last + 1e-6, f"the run's last loss {last:.4f} is below your floor {loss_floor:.4f}"
    return (f"p_right = {p_right:.4f}, floor {loss_floor:.4f}; the run ended at {last:.4f}, "
            f"{last - loss_floor:.3f} above it")


def wrong_loss_floor(ns):
    """ε spread over the V - 1 wrong tokens only, the right one keeping exactly 1 - ε."""
    V = ns["V"]
    ns["p_right"] = 1 - EPS
    other = EPS / (V - 1)
    ns["loss_floor"] = -(ns["p_right"] * math.log(ns["p_right"]) + (V - 1) * other * math.log(other))
