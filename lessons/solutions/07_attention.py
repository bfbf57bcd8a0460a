"""Lesson 7's exercise: the temperature at which attention becomes a dictionary lookup.

(How these files work: lessons/README.md, "How a lesson is built".)
"""
import math


def lookup(ns):
    pool_answer = ns["pool_answer"]  # (weights, retrieved value) for the query c q
    c = 1
    while pool_answer(c)[0][2] < 0.99:
        c += 1
    ns["c_lookup"], ns["lookup_value"] = c, pool_answer(c)[1]


def check_lookup(c_lookup, lookup_value, retrieve_by_hand, query, values):
    def weight_on_k3(scale):
        return retrieve_by_hand([scale * qi for qi in query])[0][2]

    assert c_lookup == int(c_lookup) and c_lookup >= 1, f"c_lookup = {c_lookup!r}: a whole number, 1 or more"
    assert weight_on_k3(c_lookup) >= 0.99, \
        f"with c = {c_lookup} the weight on k_3 is {weight_on_k3(c_lookup):.4f}, under 0.99: c is too small"
    assert weight_on_k3(c_lookup - 1) < 0.99, f"c = {c_lookup - 1} is enough already: find the smallest"
    expected = retrieve_by_hand([c_lookup * qi for qi in query])[1]
    assert math.isclose(lookup_value, expected, rel_tol=1e-5), \
        f"lookup_value = {lookup_value}, but c = {c_lookup} retrieves {expected:.4f}"
    return (f"from c = {c_lookup} on, attention is (almost) a dictionary lookup: it retrieves "
            f"{lookup_value:.3f}, v_3 = {values[2]}")


def wrong_lookup(ns):
    """One too small: the search stopped before the weight reached 0.99."""
    lookup(ns)
    ns["c_lookup"] -= 1
