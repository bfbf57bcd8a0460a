"""F.pad in its four modes: small paddings of a 3-D tensor against torch, gradients by
central differences (first and second order), and torch's errors."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import tinytensor as tt
import tinytensor.nn.functional as F

TORCH_REASON = "PyTorch is the reference for parity tests: pip install -e '.[torch]'"
MODES = ["constant", "reflect", "replicate", "circular"]


def wraps_past_the_cropped_part(pads: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    """Circular padding wider than what is left after cropping: torch copies unset memory there."""
    sizes = shape[::-1]
    return any(pads[2 * i + side] > sizes[i] + min(pads[2 * i + 1 - side], 0)
               for i in range(len(pads) // 2) for side in (0, 1))


@pytest.mark.parametrize("mode", MODES)
def test_small_paddings_match_torch(mode):
    """150 of the 2401 paddings by -3..3 on each side of two dimensions (each torch error costs ~10 ms)."""
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    x = np.arange(60.0).reshape(3, 4, 5)
    every = list(itertools.product(range(-3, 4), repeat=4))
    compared = 0
    for i in np.random.default_rng(MODES.index(mode)).choice(len(every), 150, replace=False):
        pads = every[i]
        try:
            expected = torch.nn.functional.pad(torch.tensor(x), pads, mode=mode)
        except (RuntimeError, NotImplementedError) as error:
            with pytest.raises(type(error)):
                F.pad(tt.tensor(x), pads, mode=mode)
            continue
        if mode == "circular" and wraps_past_the_cropped_part(pads, x.shape):
            with pytest.raises(RuntimeError, match="wrap around more than once"):
                F.pad(tt.tensor(x), pads, mode=mode)
            continue
        out = F.pad(tt.tensor(x), pads, mode=mode)
        assert out.shape == tuple(expected.shape) and np.array_equal(out.numpy(), expected.numpy()), pads
        compared += 1
    assert compared > 50


def test_constant_padding_of_any_rank_and_value_matches_torch(device):
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    cases = [(np.arange(4.0), (1, 2), None), (np.arange(6).reshape(2, 3), (1, 1), 2.5),
             (np.arange(24.0).reshape(1, 2, 3, 4), (1, 0, 0, 2, 1, 1, 2, 0), -1.0),
             (np.zeros((2, 3, 0)), (1, 1), None), (np.ones((2, 2, 2, 2, 2)), [1, 1], 7.0)]
    for array, pads, value in cases:
        out = F.pad(tt.tensor(array, device=device), pads, value=value)
        expected = torch.nn.functional.pad(torch.tensor(array), pads, value=value)
        assert out.dtype == tt.tensor(array).dtype and out.device == device       # an int stays int
        assert out.tolist() == expected.tolist()


@pytest.mark.parametrize("mode, pads", [("constant", (2, -1, 1, 3)), ("reflect", (2, 1, -1, 2)),
                                        ("replicate", (3, 0, 1, 2)), ("circular", (2, -1, 1, 3))])
def test_pad_gradcheck(mode, pads, device):
    x = tt.tensor(np.random.default_rng(0).standard_normal((2, 4, 5)), dtype=tt.float64, device=device,
                  requires_grad=True)
    fn = lambda x: F.pad(x, pads, mode=mode, value=None if mode != "constant" else 0.5) ** 2  # noqa: E731
    assert tt.gradcheck(fn, [x]) and tt.gradgradcheck(fn, [x])


def test_pad_gradient_matches_torch():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    x = np.random.default_rng(1).standard_normal((2, 3, 4))
    weights = np.random.default_rng(2).standard_normal((2, 6, 8))
    for mode in MODES:
        ours = tt.tensor(x, requires_grad=True)
        theirs = torch.tensor(x, requires_grad=True)
        (F.pad(ours, (2, 2, 1, 2), mode=mode) * tt.tensor(weights)).sum().backward()
        (torch.nn.functional.pad(theirs, (2, 2, 1, 2), mode=mode) * torch.tensor(weights)).sum().backward()
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12, err_msg=mode)


def test_bad_padding_is_explained():
    x = tt.zeros(1, 3, 4)
    with pytest.raises(RuntimeError, match=r"divisible by 2 .* got pad=\[1\]"):
        F.pad(x, (1,))
    with pytest.raises(RuntimeError, match="padding length 8 and input of dimension 3"):
        F.pad(x, (1,) * 8)
    with pytest.raises(NotImplementedError, match="unrecognised padding mode 'banana'; tinytensor has"):
        F.pad(x, (1, 1), mode="banana")
    with pytest.raises(RuntimeError, match="doesn't take in value argument"):
        F.pad(x, (1, 1), mode="reflect", value=3.0)
    with pytest.raises(RuntimeError, match=r"padding \(4, 0\) at dimension 2 of input \(1, 3, 4\)"):
        F.pad(x, (4, 0), mode="reflect")
    with pytest.raises(RuntimeError, match="negative size"):
        F.pad(x, (-3, -2))
    with pytest.raises(RuntimeError, match="non-empty dimension"):
        F.pad(tt.zeros(2, 3, 0), (1, 1), mode="replicate")
