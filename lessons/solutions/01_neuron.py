"""Lesson 1's exercise: tanh written with exponentials, the same gradients through more ops.

Each exercise of a lesson has three functions here (lesson_tools.exercise reads them):

    tanh_from_exp(ns)           the solution: sets the learner's names in the lesson's namespace
    check_tanh_from_exp(...)    the check: its parameters are the names it reads from the lesson;
                                returns what it found, or raises AssertionError with a hint
    wrong_tanh_from_exp(ns)     a likely mistake, planted by the tests to prove the check fails
"""
import math

LECTURE = {"x1": -1.5, "w1": 1.0, "x2": 0.5, "w2": 0.0, "b": 0.5}


def tanh_from_exp(ns):
    leaves, _ = ns["neuron"]()
    n = leaves["x1"] * leaves["w1"] + leaves["x2"] * leaves["w2"] + leaves["b"]
    e = (2 * n).exp()
    o3 = (e - 1) / (e + 1)
    o3.backward()
    ns["leaves3"], ns["o3"] = leaves, o3


def check_tanh_from_exp(leaves3, o3, op_names):
    assert math.isclose(o3.item(), 1 / math.sqrt(2), rel_tol=1e-12), \
        f"o3 = {o3.item():.6f}, not 1/sqrt(2) = 0.707107: is it (e^(2n) - 1) / (e^(2n) + 1)?"
    for name, lecture in LECTURE.items():
        grad = leaves3[name].grad
        assert grad is not None, f"{name}.grad is None: call o3.backward() on o3 built from leaves3"
        assert math.isclose(grad.item(), lecture, rel_tol=1e-9, abs_tol=1e-12), \
            f"{name}.grad = {grad.item():.6f}, the lecture has {lecture}"
    ops = op_names(o3)
    assert "tanh" not in ops, "o3 uses tanh itself: write it with .exp()"
    return (f"the same five gradients through {len(ops)} ops ({', '.join(sorted(ops))}) "
            f"instead of tanh's 5")


def wrong_tanh_from_exp(ns):
    """exp(n) in place of exp(2n): tanh(n / 2), a different function."""
    leaves, _ = ns["neuron"]()
    n = leaves["x1"] * leaves["w1"] + leaves["x2"] * leaves["w2"] + leaves["b"]
    e = n.exp()
    o3 = (e - 1) / (e + 1)
    o3.backward()
    ns["leaves3"], ns["o3"] = leaves, o3
