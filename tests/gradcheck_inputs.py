"""Inputs for gradient checks: float64 leaves, and values kept away from the points
where an op is not differentiable (0 for relu and abs, <= 0 for log and sqrt)."""
import numpy as np

import tinytensor as tt


def leaf(values, device):
    """A float64 leaf that requires grad, on ``device``."""
    return tt.tensor(np.asarray(values, dtype=np.float64), device=device, requires_grad=True)


def normal(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def positive(shape, seed=0):
    """Values in [0.5, 2): safe for log, sqrt, division and a ** b."""
    return np.random.default_rng(seed).uniform(0.5, 2.0, shape)


def away_from_zero(shape, seed=0):
    """Values with 0.2 <= |x| < 2 and random signs: safe for relu, abs, 1/x."""
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.2, 2.0, shape)
