"""Lesson 9's exercise: learning PE(pos) -> PE(pos + 7) by least squares, on 1000 and on 100 positions.

(How these files work: lessons/README.md, "How a lesson is built".)
"""
import numpy as np

K = 7


def fit_rotation(ns):
    table = ns["table"]
    ns["M_fit"] = np.linalg.lstsq(table[:-K], table[K:], rcond=None)[0].T
    ns["M_fit_100"] = np.linalg.lstsq(table[:100 - K], table[K:100], rcond=None)[0].T


def check_fit_rotation(M_fit, M_fit_100, table, rotation, d_model):
    for name, M in (("M_fit", M_fit), ("M_fit_100", M_fit_100)):
        assert np.shape(M) == (d_model, d_model), f"{name} has shape {np.shape(M)}, not ({d_model}, {d_model})"
    assert np.allclose(table[:-K] @ M_fit.T, table[K:], atol=1e-8), \
        "M_fit does not send PE(pos) to PE(pos + 7): lstsq(table[:-7], table[7:]) gives A, and the map is A.T"
    assert np.allclose(M_fit, rotation(K), atol=1e-6), "M_fit fits the table but is not M_7"
    assert np.allclose(table[:100 - K] @ M_fit_100.T, table[K:100], atol=1e-8), \
        "M_fit_100 must fit the pairs of the first 100 positions: table[:93] -> table[7:100]"
    off = np.abs(M_fit_100 - rotation(K)).max()
    assert off > 0.5, f"M_fit_100 is within {off:.2g} of M_7: was it fitted on table[:100] only?"
    far = np.abs(table[:-K] @ M_fit_100.T - table[K:]).max()
    assert 1e-3 < far < 0.1
    return (f"M_fit is M_7 to {np.abs(M_fit - rotation(K)).max():.0e}; M_fit_100 fits its 93 pairs as well, "
            f"but is {off:.2f} away from M_7, and {far:.3f} off by position 1000")


def wrong_fit_rotation(ns):
    """A, not its transpose: lstsq solves P A = Q, so the map on column vectors is A.T."""
    table = ns["table"]
    ns["M_fit"] = np.linalg.lstsq(table[:-K], table[K:], rcond=None)[0]
    ns["M_fit_100"] = np.linalg.lstsq(table[:100 - K], table[K:100], rcond=None)[0]
