"""Lesson 6's exercise: an RNN with a skip path, and where its gradient goes.

(How these files work: lessons/README.md, "How a lesson is built".)
"""
import numpy as np


def residual_rnn(ns):
    rnn_step = ns["rnn_step"]

    def residual_rnn_step(h, x):
        return h + rnn_step(h, x)

    ns["residual_rnn_step"] = residual_rnn_step


def check_residual_rnn(residual_rnn_step, step_gradient_norms, bptt_numpy):
    norms = step_gradient_norms(residual_rnn_step)
    assert np.allclose(norms, bptt_numpy(skip=True)[0], rtol=1e-4, atol=0), \
        "these are not the norms of h_t = h_{t-1} + tanh(x_t W_xh + h_{t-1} W_hh + b)"
    growth = norms[0] / norms[-1]
    assert 5 < growth < 20, f"step 1 gets {growth:.2f} times step 30's"   # the answer below says 11
    return (f"with the skip, step 30 gets {norms[-1]:.2f} and step 1 {norms[0]:.2f}: "
            f"{growth:.1f} times more, {growth ** (1 / 29):.3f} a step")


def wrong_residual_rnn(ns):
    """The skip added after the tanh's input instead of around it: still a plain RNN."""
    rnn_step = ns["rnn_step"]

    def residual_rnn_step(h, x):
        return rnn_step(h + h, x)

    ns["residual_rnn_step"] = residual_rnn_step
