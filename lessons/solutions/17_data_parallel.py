"""Lesson 17's exercise: averaging the gradients of unequal shards into the whole batch's gradient.

    combine(ns)          the solution: sets the learner's ``combine`` in the lesson's namespace
    check_combine(...)   the check: its parameters are the names it reads from the lesson
    wrong_combine(ns)    a likely mistake, planted by the tests to prove the check fails
"""
import numpy as np


def combine(ns):
    def combine(grads, sizes):
        # grads[r] is the mean over sizes[r] examples: times sizes[r], it is their sum
        return sum(g * n for g, n in zip(grads, sizes)) / sum(sizes)
    ns["combine"] = combine


def check_combine(combine, unequal, whole):
    got = np.asarray(combine(unequal, [2, 6]))
    assert got.shape == whole.shape, f"combine gave shape {got.shape}, the gradient has {whole.shape}"
    assert np.allclose(got, whole, rtol=1e-12, atol=1e-15), (
        f"off by {np.abs(got - whole).max():.4f} on the 2- and 6-example shards: each shard's gradient "
        f"is a mean over its own examples; weigh it by how many it has")
    rng = np.random.default_rng(1)
    examples = rng.normal(size=(10, 3))  # the "gradients" of 10 examples, cut 1, 4, 5
    sizes = [1, 4, 5]
    means = [part.mean(axis=0) for part in np.split(examples, np.cumsum(sizes)[:-1])]
    assert np.allclose(combine(means, sizes), examples.mean(axis=0)), "wrong on shards of 1, 4 and 5 examples"
    return "the mean of the shards' means, each weighed by its share of the examples, is the batch's mean"


def wrong_combine(ns):
    """The plain mean of the shards' means: right only when the shards are equal."""
    ns["combine"] = lambda grads, sizes: sum(grads) / len(grads)
