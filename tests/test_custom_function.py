"""torch.autograd.Function as PyTorch writes one, and torch.autograd.backward, compared with PyTorch.

Each custom Function below is written once, against a module called ``torch``,
and defined twice: with PyTorch and with tinytensor in its place. The tests run
both and compare values, gradients (float64) and second derivatives; then the
errors, which say what PyTorch says. gradcheck and gradgradcheck are
tinytensor's, so they run on every device.
"""
from __future__ import annotations

import numpy as np
import pytest

import tinytensor as tt


def define(torch):
    """The custom Functions of the tests, written for a library called ``torch``."""

    class LegendrePolynomial3(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            (input,) = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    class ScaledProduct(torch.autograd.Function):
        """x * y * scale: a number among the inputs, and needs_input_grad respected."""

        @staticmethod
        def forward(ctx, x, y, scale):
            ctx.save_for_backward(x, y)
            ctx.scale = scale
            ctx.shape = x.shape  # any attribute, even one a graph node would have
            ctx.seen = ctx.needs_input_grad
            return x * y * scale

        @staticmethod
        def backward(ctx, grad_output):
            x, y = ctx.saved_tensors
            grad_x = grad_y = None
            if ctx.needs_input_grad[0]:
                grad_x = grad_output * y * ctx.scale
            if ctx.needs_input_grad[1]:
                grad_y = grad_output * x * ctx.scale
            return grad_x, grad_y, None

    class Exp(torch.autograd.Function):
        """Saves its own output: under create_graph that output depends on x through this node."""

        @staticmethod
        def forward(ctx, x):
            result = x.exp()
            ctx.save_for_backward(result)
            return result

        @staticmethod
        def backward(ctx, grad_output):
            (result,) = ctx.saved_tensors
            return grad_output * result

    class SinCosCount(torch.autograd.Function):
        """Several outputs: two floats, an integer count, a string; keyword arguments."""

        @staticmethod
        def forward(ctx, x, k, shift=None):
            ctx.k = k
            ctx.save_for_backward(x)
            ctx.needs = ctx.needs_input_grad
            out = x.sin() * k + (0 if shift is None else shift)
            return out, x.cos(), (x > 0).sum(), "a note"

        @staticmethod
        def backward(ctx, g_sin, g_cos, g_count, g_note):
            (x,) = ctx.saved_tensors
            ctx.received = (g_count.tolist(), g_note)
            grad_shift = g_sin if len(ctx.needs_input_grad) > 2 and ctx.needs_input_grad[2] else None
            return g_sin * x.cos() * ctx.k - g_cos * x.sin(), None, grad_shift

    class SortedWithIndices(torch.autograd.Function):
        """mark_non_differentiable: a float output that carries no gradient."""

        @staticmethod
        def forward(ctx, x):
            doubled, half = x * 2, x / 2
            ctx.mark_non_differentiable(half)
            return doubled, half

        @staticmethod
        def backward(ctx, g_doubled, g_half):
            ctx.received = g_half.tolist()
            return g_doubled * 2

    class Cube(torch.autograd.Function):
        """PyTorch 2's other way: forward without ctx, then setup_context."""

        @staticmethod
        def forward(x, power=3.0):
            return x ** power

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, power = inputs
            ctx.save_for_backward(x)
            ctx.power = power

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * ctx.power * x ** (ctx.power - 1), None

    return {f.__name__: f for f in (LegendrePolynomial3, ScaledProduct, Exp, SinCosCount,
                                    SortedWithIndices, Cube)}


OURS = define(tt)


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="PyTorch not installed: these checks compare with it")


@pytest.fixture(scope="module")
def theirs(torch):
    return define(torch)


def values(t):
    return np.asarray(t.detach().cpu().numpy())


def ctx_of(t):
    """The ctx t's custom Function wrote on. PyTorch's grad_fn is it; ours is the ``ctx`` of the
    node, t's grad_fn or, for one of several outputs, the node that t is a slice of."""
    if not isinstance(t, tt.Tensor):
        return t.grad_fn
    return next(node.ctx for node in reversed(tt.autograd.topological_order([t.grad_fn]))
                if isinstance(node, tt.autograd.custom_function.CustomFunctionNode))


PROBE = [-0.75, 0.1, 0.5, 1.25]


def test_legendre_polynomial_values_gradients_and_second_derivatives(torch, theirs):
    results = []
    for lib, functions in ((tt, OURS), (torch, theirs)):
        x = lib.tensor(PROBE, dtype=lib.float64, requires_grad=True)
        y = functions["LegendrePolynomial3"].apply(x)
        (first,) = lib.autograd.grad(y.sum(), x, create_graph=True)
        (second,) = lib.autograd.grad(first.sum(), x)
        results.append([values(y), values(first), values(second)])
        assert repr(y.grad_fn).startswith("<") and "LegendrePolynomial3Backward" in repr(y.grad_fn)
    for ours, reference in zip(*results):
        np.testing.assert_allclose(ours, reference, rtol=1e-12)
    x = np.array(PROBE)
    np.testing.assert_allclose(results[0][2], 15 * x, rtol=1e-12)  # P3'' = 15 x


@pytest.mark.parametrize("name, make, arity", [
    ("LegendrePolynomial3", lambda f: f.apply, 1),
    ("ScaledProduct", lambda f: lambda x, y: f.apply(x, y, 0.5), 2),
    ("Exp", lambda f: f.apply, 1),
    ("Cube", lambda f: f.apply, 1),
    ("SinCosCount", lambda f: lambda x, s: f.apply(x, 2.0, shift=s)[:2], 2),
])
def test_custom_functions_pass_gradcheck_and_gradgradcheck(name, make, arity, device):
    """Each backward is written with Tensor ops, so it is differentiable again."""
    fn = make(OURS[name])
    inputs = [tt.randn(3, dtype=tt.float64, device=device, requires_grad=True) for _ in range(arity)]
    assert tt.autograd.gradcheck(fn, inputs)
    assert tt.autograd.gradgradcheck(fn, inputs)


def test_a_number_among_the_inputs_and_needs_input_grad(torch, theirs):
    results = []
    for lib, functions in ((tt, OURS), (torch, theirs)):
        u = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        v = lib.tensor([3.0, -1.0], dtype=lib.float64)
        out = functions["ScaledProduct"].apply(u, v, 0.5)
        lib.autograd.backward(out.sum())
        results.append([values(out), values(u.grad), v.grad])
        assert ctx_of(out).seen == (True, False, False) and tuple(ctx_of(out).shape) == (2,)
    np.testing.assert_allclose(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1])
    assert results[0][2] is None and results[1][2] is None


def test_needs_input_grad_counts_keyword_arguments_as_pytorch(torch, theirs):
    seen = []
    for lib, functions in ((tt, OURS), (torch, theirs)):
        x = lib.tensor([0.3, -1.2], dtype=lib.float64, requires_grad=True)
        shift = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        outputs = functions["SinCosCount"].apply(x, 2.0, shift=shift)
        without = functions["SinCosCount"].apply(x, 2.0)
        seen.append((outputs[0].grad_fn is not None, len(outputs), outputs[3]))
        (outputs[0].sum() + without[0].sum()).backward()
        seen.append((values(x.grad).tolist(), values(shift.grad).tolist()))
    assert seen[0] == seen[2]
    np.testing.assert_allclose(seen[1][0], seen[3][0], rtol=1e-12)
    np.testing.assert_allclose(seen[1][1], seen[3][1], rtol=1e-12)


def test_several_outputs_each_carry_their_own_gradient(torch, theirs, device):
    results = []
    for lib, functions, where in ((tt, OURS, device), (torch, theirs, "cpu")):
        x = lib.tensor([0.3, -1.2, 2.0], dtype=lib.float64, requires_grad=True, device=where)
        s, c, count, note = functions["SinCosCount"].apply(x, 2.0)
        assert s.requires_grad and c.requires_grad and not count.requires_grad and note == "a note"
        assert count.dtype == lib.int64 and count.item() == 2
        (s.sum() * 3 + (c * c).sum()).backward()
        results.append([values(s), values(c), values(x.grad)])
        x.grad = None
        s, c, _, _ = functions["SinCosCount"].apply(x, 2.0)
        c.sum().backward()  # the unused output's gradient comes as zeros
        results[-1].append(values(x.grad))
    for ours, reference in zip(*results):
        np.testing.assert_allclose(ours, reference, rtol=1e-12)


def test_what_backward_receives_for_outputs_without_gradient(torch, theirs):
    """An integer output's gradient is zeros, a non-Tensor's None, a float marked
    non-differentiable zeros too; the marked output does not require grad."""
    received = []
    for lib, functions in ((tt, OURS), (torch, theirs)):
        x = lib.tensor([0.3, -1.2], dtype=lib.float64, requires_grad=True)
        s, _, _, _ = functions["SinCosCount"].apply(x, 2.0)
        doubled, half = functions["SortedWithIndices"].apply(x)
        assert doubled.requires_grad and not half.requires_grad
        lib.autograd.backward([s.sum(), doubled.sum()])
        received.append((ctx_of(s).received, ctx_of(doubled).received, values(x.grad).tolist()))
    assert received[0][:2] == received[1][:2] == ((0, None), [0.0, 0.0])
    np.testing.assert_allclose(received[0][2], received[1][2], rtol=1e-12)


def test_a_saved_output_is_differentiated_through_the_node(torch, theirs, device):
    results = []
    for lib, functions, where in ((tt, OURS, device), (torch, theirs, "cpu")):
        x = lib.tensor([0.5, -1.0], dtype=lib.float64, requires_grad=True, device=where)
        (first,) = lib.autograd.grad(functions["Exp"].apply(x).sum(), x, create_graph=True)
        (second,) = lib.autograd.grad(first.sum(), x)
        results.append([values(first), values(second)])
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], np.exp([0.5, -1.0]), rtol=1e-12)


def test_setup_context_style(torch, theirs):
    results = []
    for lib, functions in ((tt, OURS), (torch, theirs)):
        x = lib.tensor([0.5, -2.0], dtype=lib.float64, requires_grad=True)
        y = functions["Cube"].apply(x) + functions["Cube"].apply(x, 2.0)
        y.sum().backward()
        results.append([values(y), values(x.grad)])
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


def test_forward_runs_without_recording_and_no_grad_gives_no_graph(torch, theirs):
    for lib, functions in ((tt, OURS), (torch, theirs)):
        x = lib.tensor([0.5, 1.0], requires_grad=True)
        with lib.no_grad():
            y = functions["LegendrePolynomial3"].apply(x)
        assert not y.requires_grad and y.grad_fn is None
        y = functions["LegendrePolynomial3"].apply(lib.tensor([0.5, 1.0]))  # nothing requires grad
        assert not y.requires_grad and y.grad_fn is None

    class Peek(tt.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            Peek.inside = (tt.is_grad_enabled(), ctx.needs_input_grad)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2
    Peek.apply(tt.ones(2, requires_grad=True))
    assert Peek.inside == (False, (True,))


def test_a_gradient_of_a_broadcast_shape_is_summed_and_cast_as_pytorch(torch):
    results = []
    for lib in (tt, torch):
        class Spread(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 1.0

            @staticmethod
            def backward(ctx, g):
                return (g * lib.ones(4, 1, 3, dtype=lib.float64)).to(lib.float64)  # (4, 1, 3)
        x = lib.ones(1, 3, requires_grad=True)  # float32
        Spread.apply(x).sum().backward()
        results.append((values(x.grad), x.grad.dtype == lib.float32))
    np.testing.assert_allclose(results[0][0], results[1][0])
    assert results[0][1] and results[1][1]


@pytest.mark.parametrize("returned, message", [
    ("one", r"function BadBackward returned an incorrect number of gradients \(expected 2, got 1\)"),
    ("three", r"function BadBackward returned an incorrect number of gradients \(expected 2, got 3\)"),
    ("number", r"function BadBackward returned a gradient different than None at position 2, but the "
               r"corresponding forward input was not a"),
    ("shape", r"Function BadBackward returned an invalid gradient at index 0 - got \[3\] but expected "
              r"shape compatible with \[2\]"),
])
def test_a_wrong_backward_gets_pytorchs_error(returned, message, torch):
    for lib in (tt, torch):
        class Bad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x, k):
                return x * k

            @staticmethod
            def backward(ctx, g):
                return {"one": (g,), "three": (g, None, g), "number": (g, g),
                        "shape": (lib.ones(3), None)}[returned]
        x = lib.ones(2, requires_grad=True)
        with pytest.raises(RuntimeError, match=message):
            Bad.apply(x, 2.0).sum().backward()


def test_trailing_nones_beyond_the_inputs_are_allowed(torch):
    for lib in (tt, torch):
        class Extra(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 3

            @staticmethod
            def backward(ctx, g):
                return g * 3, None, None
        x = lib.ones(2, requires_grad=True)
        Extra.apply(x).sum().backward()
        assert x.grad.tolist() == [3.0, 3.0]


def test_saved_tensors_are_freed_by_backward_and_guarded_against_in_place_writes(device):
    P3 = OURS["LegendrePolynomial3"]
    x = tt.tensor([0.5, 1.0], dtype=tt.float64, requires_grad=True, device=device)
    y = P3.apply(x * 1.0)
    y.sum().backward()
    with pytest.raises(RuntimeError, match="backward through legendre_polynomial3 a second time"):
        y.sum().backward()
    x2 = tt.tensor([0.5, 1.0], dtype=tt.float64, device=device)
    w = tt.ones(2, dtype=tt.float64, requires_grad=True, device=device)
    y = P3.apply(x2 * w)
    ctx = y.grad_fn.ctx
    y.sum().backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        ctx.saved_tensors
    h = x2 * 2.0
    out = OURS["ScaledProduct"].apply(w, h, 1.0)  # saves h, which needs no grad
    h.mul_(3)
    with pytest.raises(RuntimeError, match="modified by an in-place operation after the forward pass"):
        out.sum().backward()


def test_misuse_is_explained():
    P3 = OURS["LegendrePolynomial3"]
    with pytest.raises(TypeError, match=r"LegendrePolynomial3\(\)\(\.\.\.\).*LegendrePolynomial3\.apply"):
        P3()(tt.ones(2, requires_grad=True))
    with pytest.raises(TypeError, match=r"Mul\.apply: Mul is written tinytensor's way.*Mul\(\)\(\.\.\.\)"):
        tt.ops.arithmetic.Mul.apply(tt.ones(2), tt.ones(2))

    class SavesANumber(tt.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 2.0)
            return x * 2

    with pytest.raises(TypeError, match="save_for_backward can only save Tensors.*argument 1 is a float"):
        SavesANumber.apply(tt.ones(2, requires_grad=True))
    with pytest.raises(TypeError, match=r"ScaledProduct\.apply: missing a required argument: 'scale'"):
        OURS["ScaledProduct"].apply(tt.ones(2), tt.ones(2))


def test_once_differentiable_runs_backward_once_and_refuses_a_second_time(torch):
    results = []
    for lib in (tt, torch):
        from_function = lib.autograd.function.once_differentiable

        class Cube(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            @from_function
            def backward(ctx, g):
                ctx.grad_mode = lib.is_grad_enabled()
                (x,) = ctx.saved_tensors
                return g * 3 * x ** 2

        x = lib.tensor([2.0, -1.0], dtype=lib.float64, requires_grad=True)
        y = Cube.apply(x)
        y.sum().backward()
        (g,) = lib.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)  # seed of ones: no graph
        v = lib.ones(2, dtype=lib.float64, requires_grad=True)
        (h,) = lib.autograd.grad(Cube.apply(x), x, grad_outputs=v, create_graph=True)
        with pytest.raises(RuntimeError, match="differentiate twice a function that was marked with "
                                               "@once_differentiable"):
            h.sum().backward()
        results.append((values(x.grad).tolist(), values(g).tolist(), g.requires_grad, h.requires_grad,
                        ctx_of(y).grad_mode))
    assert results[0] == results[1] == ([12.0, 3.0], [12.0, 3.0], False, True, False)


def test_an_attribute_error_in_a_custom_backward_is_left_as_it_is():
    class Typo(tt.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensor  # the typo
            return g * 2

    with pytest.raises(AttributeError, match="saved_tensor") as error:
        Typo.apply(tt.ones(2, requires_grad=True)).sum().backward()
    assert "arrays" not in str(error.value)


# ----------------------------------------------------------------------------
# torch.autograd.backward
# ----------------------------------------------------------------------------
def test_autograd_backward_with_several_tensors_and_gradients(torch):
    results = []
    for lib in (tt, torch):
        x = lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        a, b = x * w, (x ** 2).sum()
        lib.autograd.backward([a, b], grad_tensors=[lib.tensor([1.0, 0.0, 2.0], dtype=lib.float64), None])
        results.append([values(x.grad), values(w.grad)])
        hidden = x * w
        loss = (hidden ** 2).sum()
        x.grad = w.grad = None
        lib.autograd.backward(loss, inputs=[w, hidden])  # only these: w (a leaf) and a non-leaf
        assert x.grad is None
        results[-1] += [values(w.grad), values(hidden.grad)]
        (g,) = lib.autograd.grad((x ** 3).sum(), x, create_graph=True)
        x.grad = None
        lib.autograd.backward(g.sum(), inputs=x)  # second derivative: 6x
        results[-1].append(values(x.grad))
    for ours, reference in zip(*results):
        np.testing.assert_allclose(ours, reference, rtol=1e-12)


def test_tensor_backward_takes_inputs_too(torch):
    results = []
    for lib in (tt, torch):
        x = lib.tensor([1.0, 2.0], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([3.0, 4.0], dtype=lib.float64, requires_grad=True)
        (x * w).sum().backward(inputs=[x])
        results.append((values(x.grad).tolist(), w.grad))
    assert results[0] == results[1] == ([3.0, 4.0], None)


def test_autograd_backward_errors():
    x = tt.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="backward: element 1 of outputs does not require grad"):
        tt.autograd.backward([x.sum(), tt.ones(1).sum()])
    with pytest.raises(RuntimeError, match="backward: inputs is empty"):
        tt.autograd.backward(x.sum(), inputs=[])
    with pytest.raises(ValueError, match="backward: 2 outputs but 1 grad_tensors"):
        tt.autograd.backward([x * 2, x * 3], grad_tensors=[tt.ones(2)])
    with pytest.raises(RuntimeError, match="gradient can be left out only for a tensor with one element"):
        tt.autograd.backward(x * 2)
