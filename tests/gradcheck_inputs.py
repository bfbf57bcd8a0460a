"""Inputs for gradient checks: float64 leaves, and values kept away from the points
where an op is not differentiable (0 for relu and abs, <= 0 for log and sqrt); and the
op tables the gradient tests share (test_gradcheck_ops.py for first derivatives,
test_gradcheck_second_order.py for second ones, test_torch_parity.py against torch)."""
import numpy as np

import tinytensor as tt
import tinytensor.functional as F


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


# name: (the op, the inputs it is differentiable at)
POINTWISE = {
    "exp": (lambda x: x.exp(), normal),
    "log": (lambda x: x.log(), positive),
    "sqrt": (lambda x: x.sqrt(), positive),
    "tanh": (lambda x: x.tanh(), normal),
    "sigmoid": (lambda x: x.sigmoid(), normal),
    "relu": (lambda x: x.relu(), away_from_zero),
    "abs": (lambda x: x.abs(), away_from_zero),
    "gelu": (F.gelu, normal),
    "gelu tanh": (lambda x: F.gelu(x, approximate="tanh"), normal),
    "sin": (lambda x: x.sin(), normal),
    "cos": (lambda x: x.cos(), normal),
    "erf": (lambda x: x.erf(), normal),
}

# Written with operators, so each runs on torch tensors too; tests give them positive
# operands, where a / b and a ** b (with d/db = a^b ln a) are defined
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "pow": lambda a, b: a ** b,
}
