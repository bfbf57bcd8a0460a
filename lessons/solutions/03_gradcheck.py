"""Lesson 3's exercise: softplus as a tt.autograd.Function, its backward proved by gradcheck.

(How these files work: lessons/README.md, "How a lesson is built".)
"""
import numpy as np

import tinytensor as tt


def softplus(ns):
    class Softplus(tt.autograd.Function):
        def forward(self, a):
            return tt.backend.xp_of(a).logaddexp(0, a)

        def backward(self, grad):
            return (grad * self.inputs[0].sigmoid(),)

    ns["Softplus"] = Softplus


def check_softplus(Softplus, dev, torch):
    tt.manual_seed(2)
    u = (tt.randn(4, 3, dtype=tt.float64, device=dev) * 3).requires_grad_()  # about -9..9
    u_numpy = u.detach().cpu().numpy()
    values = Softplus()(u).detach().cpu().numpy()
    assert np.allclose(values, np.log1p(np.exp(u_numpy)), rtol=1e-12), \
        "the forward is not log(1 + e^x): compare it with np.log1p(np.exp(x))"
    try:
        tt.gradcheck(lambda u: Softplus()(u), [u])
    except tt.GradcheckError as error:
        raise AssertionError(f"the backward is wrong (softplus' derivative is the sigmoid): {error}") from None
    u.grad = None
    Softplus()(u).sum().backward()
    assert np.allclose(u.grad.cpu().numpy(), 1 / (1 + np.exp(-u_numpy)), rtol=1e-12)
    if torch is not None:
        assert np.allclose(values, torch.nn.functional.softplus(torch.tensor(u_numpy)).numpy(), rtol=1e-12)
    return "softplus passes gradcheck and agrees with NumPy" + (" and PyTorch" if torch else "")


def wrong_softplus(ns):
    """The derivative of log(1 + e^x) taken as e^x: the chain rule's 1 / (1 + e^x) forgotten."""
    class Softplus(tt.autograd.Function):
        def forward(self, a):
            return tt.backend.xp_of(a).logaddexp(0, a)

        def backward(self, grad):
            return (grad * self.inputs[0].exp(),)

    ns["Softplus"] = Softplus
