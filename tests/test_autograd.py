"""Autograd semantics: what backward does, beyond the values of single gradients.

These are the rules a learner relies on when training (and that PyTorch
follows): gradients accumulate into leaves, intermediates keep no .grad unless
asked, hooks can see and change gradients, no_grad records nothing, a graph
can be walked twice only with retain_graph, a tensor used twice gets both
contributions. It also checks the worked examples of the seed documents
(masked softmax, layer norm of (1, 3, 5)) and that a 100,000-op chain
backpropagates without hitting Python's recursion limit. Each rule is tested on
every device, the long chains (which test only the walker) on the CPU.
"""
import math
import sys
import threading

import numpy as np
import pytest

import tinytensor as tt
import tinytensor.functional as F
from tinytensor.autograd import grad


def leaf(values, dtype=tt.float64, device="cpu"):
    return tt.tensor(values, dtype=dtype, device=device, requires_grad=True)


# ----------------------------------------------------------------------------
# The graph walker
# ----------------------------------------------------------------------------
def test_a_chain_of_100000_ops():
    x = leaf(0.5)
    y = x
    for _ in range(100_000):
        y = y * 1.00001
    y.backward()
    assert x.grad.item() == pytest.approx(1.00001 ** 100_000, rel=1e-9)  # e^1.0 ~ 2.718
    assert y.item() == pytest.approx(0.5 * 1.00001 ** 100_000, rel=1e-9)


def test_a_deep_chain_under_autograd_grad():
    x = leaf(2.0)
    y = x
    for _ in range(100_000):
        y = y + 1e-5
    (g,) = grad(y, x)
    assert g.item() == 1.0
    assert y.item() == pytest.approx(3.0, rel=1e-9)


def test_diamond_graph_sums_both_paths(device):
    x = leaf(3.0, device=device)
    a, b = x * 2, x ** 2       # two paths from x ...
    (a * b).backward()         # ... d(2x * x^2)/dx = 6 x^2
    assert x.grad.item() == 54.0


def test_the_same_tensor_twice_in_one_op(device):
    x = leaf([1.0, -2.0], device=device)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, -4.0])


def test_gradients_accumulate_across_backward_calls(device):
    x = leaf([1.0, 2.0], device=device)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3 + 2, 3 + 4])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3, 3])


def test_leaf_grad_is_a_fresh_array(device):
    """Changing x.grad in place must not change anything in the graph (or the seed)."""
    x = leaf([1.0, 2.0], device=device)
    y = x.sum()
    y.backward(retain_graph=True)
    x.grad.array[:] = 100.0
    x.grad = None
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_intermediates_have_no_grad_unless_retained(device):
    x = leaf([1.0, 2.0], device=device)
    h = x * 2
    kept = x * 3
    kept.retain_grad()
    (h * kept).sum().backward()
    assert h.grad is None
    np.testing.assert_array_equal(kept.grad.numpy(), h.numpy())  # d(h * kept)/d kept = h
    np.testing.assert_array_equal(x.grad.numpy(), 2 * 3 * x.numpy() * 2)


def test_retain_grad_on_a_leaf_is_harmless(device):
    x = leaf([1.0], device=device)
    x.retain_grad()
    (x * 5).sum().backward()
    assert x.grad.item() == 5.0


def test_backward_with_a_gradient_for_a_non_scalar(device):
    x = leaf([1.0, 2.0, 3.0], device=device)
    y = x * x
    y.backward(gradient=tt.tensor([1.0, 0.5, -1.0], dtype=tt.float64, device=device))
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0, -6.0])


def test_backward_with_a_gradient_on_another_device_says_so(cuda):
    """It once failed inside CuPy: "Unsupported type <class 'numpy.ndarray'>"."""
    y = leaf([1.0, 2.0], device=cuda) * 2
    with pytest.raises(RuntimeError, match=r"backward: gradient is on cpu but the tensor is on cuda:0; "
                                           r"move it with .to\('cuda:0'\)"):
        y.backward(tt.ones(2, dtype=tt.float64))
    with pytest.raises(RuntimeError, match=r"grad: gradient is on cpu but the tensor is on cuda:0"):
        tt.autograd.grad(y, y, grad_outputs=[tt.ones(2, dtype=tt.float64)])


def test_backward_accepts_a_gradient_as_a_list(device):
    x = leaf([1.0, 2.0], device=device)
    (x * 2).backward([3.0, 4.0])
    np.testing.assert_array_equal(x.grad.numpy(), [6.0, 8.0])


def test_retain_graph_allows_a_second_backward(device):
    x = leaf([1.0, 2.0], device=device)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first, rtol=1e-15)
    np.testing.assert_allclose(first, np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0])), rtol=1e-14)


def test_backward_from_a_leaf(device):
    x = leaf(4.0, device=device)
    x.backward()
    assert x.grad.item() == 1.0


def test_unused_input_gets_no_grad(device):
    x, unused = leaf([1.0], device=device), leaf([2.0], device=device)
    (x * 2).sum().backward()
    assert unused.grad is None


# ----------------------------------------------------------------------------
# Hooks
# ----------------------------------------------------------------------------
def test_hook_on_a_leaf_sees_and_replaces_the_gradient(device):
    x = leaf([1.0, 2.0], device=device)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    handle = x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    np.testing.assert_array_equal(seen[0], [3.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [30.0, 30.0])

    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    assert len(seen) == 2


def test_hook_on_an_intermediate_changes_what_flows_back(device):
    x = leaf([1.0, 2.0], device=device)
    h = x * x
    handle = h.register_hook(lambda g: g * 0.5)
    (h * 4).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.5 * 4 * 2 * x.numpy())

    handle.remove()
    x.grad = None
    h = x * x
    (h * 4).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 4 * 2 * x.numpy())


def test_hook_returning_none_keeps_the_gradient(device):
    x = leaf([2.0], device=device)
    h = x * 3
    h.register_hook(lambda g: None)
    h.sum().backward()
    assert x.grad.item() == 3.0


HOOK_RESULTS = {  # what a careless hook returns instead of a gradient like the one it got
    "another shape": (lambda g: g[:2], RuntimeError, r"has changed the size of value: it returned shape \(2,\) "
                                                     r"for a gradient of shape \(3,\)"),
    "a sum": (lambda g: g.sum(), RuntimeError, r"has changed the size of value: it returned shape \(\) "),
    "another dtype": (lambda g: g.to(tt.float32), RuntimeError, r"has changed the type of value: it returned "
                                                                r"float32 for a gradient of float64"),
    "a number": (lambda g: 5.0, TypeError, r"expected a Tensor \(or None\), but the hook returned float"),
    "an array": (lambda g: g.numpy(), TypeError, r"expected a Tensor \(or None\), but the hook returned ndarray"),
}


@pytest.mark.parametrize("on", ["leaf", "intermediate"])
@pytest.mark.parametrize("case", HOOK_RESULTS)
def test_a_hook_must_return_a_gradient_like_the_one_it_got(case, on, device):
    """A hook returning another shape once filled .grad with it (or broadcast it on); PyTorch refuses."""
    hook, error, message = HOOK_RESULTS[case]
    x = leaf([1.0, 2.0, 3.0], device=device)
    y = x if on == "leaf" else x * 2
    y.register_hook(hook)
    with pytest.raises(error, match=r"hook '<lambda>' " + message if error is RuntimeError else message):
        (y * 2).sum().backward()
    assert x.grad is None


def test_a_grad_set_by_hand_must_fit_its_tensor(device):
    """w.grad = a tensor of another shape once went through, and an optimizer step broadcast it
    into the weights; PyTorch refuses it, and so here (another dtype and device too)."""
    w = leaf([1.0, 2.0], device=device)
    for bad, error, message in (
            (tt.ones(1, dtype=tt.float64, device=device), RuntimeError,
             r"grad: cannot assign a gradient of shape \(1,\) to a tensor of shape \(2,\)"),
            (tt.ones(2, dtype=tt.float32, device=device), RuntimeError,
             r"grad: cannot assign a gradient of dtype float32 to a tensor of dtype float64"),
            (np.ones(2), TypeError, r"grad: expected a Tensor or None, got ndarray"),
            (1.0, TypeError, r"grad: expected a Tensor or None, got float")):
        with pytest.raises(error, match=message):
            w.grad = bad
    other = "cpu" if device != "cpu" else None
    if other:
        with pytest.raises(RuntimeError, match=r"grad: cannot assign a gradient on cpu to a tensor on cuda"):
            w.grad = tt.ones(2, dtype=tt.float64)
    w.grad = tt.full((2,), 3.0, dtype=tt.float64, device=device)
    tt.optim.SGD([w], lr=1.0).step()
    assert w.tolist() == [-2.0, -1.0]
    w.grad = None
    assert w.grad is None


def test_register_hook_needs_requires_grad(device):
    with pytest.raises(RuntimeError, match="does not require grad"):
        tt.tensor([1.0], device=device).register_hook(lambda g: g)


def test_post_accumulate_grad_hook_sees_the_accumulated_grad_once_per_backward(device):
    x = leaf([1.0, 2.0], device=device)
    seen = []
    handle = x.register_post_accumulate_grad_hook(lambda p: seen.append((p is x, p.grad.numpy().copy())))
    (x * 3 + x * x).sum().backward()  # x used twice: its gradient reaches .grad once, complete
    (x * 3).sum().backward()          # accumulated: the hook sees the sum
    tt.autograd.grad((x * 3).sum(), x)  # hands the gradient back, touches no .grad: no hook
    assert [same for same, _ in seen] == [True, True]
    np.testing.assert_array_equal(seen[0][1], [5.0, 7.0])
    np.testing.assert_array_equal(seen[1][1], [8.0, 10.0])
    handle.remove()
    (x * 3).sum().backward()
    assert len(seen) == 2


def test_post_accumulate_grad_hooks_as_torch():
    torch = pytest.importorskip("torch", reason="torch is the reference for the hooks' order")
    seen: dict[str, list] = {"tinytensor": [], "torch": []}
    for name, lib in (("tinytensor", tt), ("torch", torch)):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0], requires_grad=True)
        for t, label in ((a, "a"), (b, "b")):
            t.register_post_accumulate_grad_hook(lambda p, label=label: seen[name].append(
                (label, p.grad.tolist())))
        for _ in range(2):
            ((a * b).sum() * 2).backward()
    # what each hook saw, in order (the order between two leaves of one op is neither's promise)
    for label in ("a", "b"):
        assert ([g for name, g in seen["tinytensor"] if name == label] ==
                [g for name, g in seen["torch"] if name == label])
    assert len(seen["tinytensor"]) == len(seen["torch"]) == 4


def test_a_weights_gradient_reaches_grad_right_after_its_layer_not_at_the_end():
    """Backward reaches a layer's weight as soon as the layer's backward has run, before going
    deeper: DistributedDataParallel starts averaging it while backward computes the layers below."""
    rng = np.random.default_rng(0)
    x = tt.tensor(rng.normal(size=(4, 3)))
    w1, w2, w3 = (tt.tensor(rng.normal(size=(3, 3)), requires_grad=True) for _ in range(3))
    events = []
    for name, w in (("w1", w1), ("w2", w2), ("w3", w3)):
        w.register_post_accumulate_grad_hook(lambda p, name=name: events.append(name))
    h1 = tt.tanh(x @ w1)
    h1.register_hook(lambda g: events.append("h1"))
    h2 = tt.tanh(h1 @ w2)
    h2.register_hook(lambda g: events.append("h2"))
    (h2 @ w3).sum().backward()
    assert events == ["w3", "h2", "w2", "h1", "w1"]


@pytest.mark.parametrize("make, message", [
    (lambda: tt.tensor([1.0]), "cannot register a hook on a tensor that does not require grad"),
    (lambda: tt.tensor([1.0], requires_grad=True) * 2, "cannot be registered on non-leaf tensors"),
])
def test_post_accumulate_grad_hook_refusals(make, message):
    with pytest.raises(RuntimeError, match=message):
        make().register_post_accumulate_grad_hook(lambda p: None)


def test_queue_callback_runs_once_backward_has_finished(device):
    x, y = leaf([1.0], device=device), leaf([2.0], device=device)
    events = []

    def hook(p):
        events.append(("hook", p is x))
        if len(events) == 1:  # queued once, by the first leaf reached: runs after the last
            tt.autograd.queue_callback(lambda: events.append(("done", x.grad is not None and y.grad is not None)))
            tt.autograd.queue_callback(lambda: tt.autograd.queue_callback(lambda: events.append(("then", True))))
    x.register_post_accumulate_grad_hook(hook)
    y.register_post_accumulate_grad_hook(hook)
    (x * y).sum().backward()
    assert [kind for kind, _ in events] == ["hook", "hook", "done", "then"]
    assert events[2] == ("done", True)
    with pytest.raises(RuntimeError, match="final callbacks can only be installed during the backward pass"):
        tt.autograd.queue_callback(lambda: None)


def test_queue_callback_belongs_to_the_innermost_backward():
    x = leaf([1.0])
    z = leaf([2.0])
    events = []

    def hook(p):  # runs a backward of its own, whose callback runs when that one ends
        events.append("outer hook")
        with tt.enable_grad():  # backward runs its hooks with grad mode off
            (z * 3).sum().backward()
        events.append("inner backward returned")
        tt.autograd.queue_callback(lambda: events.append("outer callback"))
    z.register_post_accumulate_grad_hook(lambda p: tt.autograd.queue_callback(lambda: events.append("inner callback")))
    x.register_post_accumulate_grad_hook(hook)
    (x * 2).sum().backward()
    assert events == ["outer hook", "inner callback", "inner backward returned", "outer callback"]


# ----------------------------------------------------------------------------
# Grad mode
# ----------------------------------------------------------------------------
def test_no_grad_records_nothing(device):
    x = leaf([1.0, 2.0], device=device)
    with tt.no_grad():
        y = x * 2
        assert not tt.is_grad_enabled()
    assert tt.is_grad_enabled()
    assert y.grad_fn is None and not y.requires_grad and y.is_leaf


def test_no_grad_and_enable_grad_as_decorators(device):
    x = leaf([1.0], device=device)

    @tt.no_grad()
    def evaluate(t):
        return t * 2, tt.is_grad_enabled()

    @tt.enable_grad()
    def train(t):
        return t * 2, tt.is_grad_enabled()

    y, enabled = evaluate(x)
    assert not enabled and y.grad_fn is None
    with tt.no_grad():
        z, enabled = train(x)
        assert not tt.is_grad_enabled()  # restored after the decorated call
    assert enabled and z.grad_fn is not None and z.requires_grad
    assert tt.is_grad_enabled()


def test_grad_mode_contexts_nest_and_restore(device):
    with tt.no_grad():
        with tt.enable_grad():
            assert tt.is_grad_enabled()
            with tt.no_grad():
                assert not tt.is_grad_enabled()
            assert tt.is_grad_enabled()
        assert not tt.is_grad_enabled()
        with tt.set_grad_enabled(True):
            assert tt.is_grad_enabled()
    assert tt.is_grad_enabled()


def test_grad_mode_is_restored_after_an_exception(device):
    with pytest.raises(ZeroDivisionError), tt.no_grad():
        _ = 1 / 0
    assert tt.is_grad_enabled()


# Grad mode is per thread, as PyTorch's (issue 17): once it was one switch for the whole
# process, so a no_grad in one thread stopped the recording of every other.
def _in_threads(*bodies, timeout=30.0):
    """Run each body in a thread of its own, all at once; re-raise the first failure here."""
    errors = []

    def run(body):
        try:
            body()
        except BaseException as error:  # noqa: BLE001 - handed to the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(body,), name=body.__name__) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a thread hung"
    if errors:
        raise errors[0]


def test_no_grad_in_one_thread_leaves_another_recording(device):
    x = leaf([1.0, 2.0], device=device)
    inside, outside = threading.Event(), threading.Event()
    seen = {}

    def evaluating():
        with tt.no_grad():
            inside.set()
            assert outside.wait(10)
            seen["evaluating"] = (tt.is_grad_enabled(), (x * 2).requires_grad)

    def training():
        assert inside.wait(10)  # the other thread is inside its no_grad now
        seen["training"] = (tt.is_grad_enabled(), (x * 2).requires_grad)
        outside.set()

    _in_threads(evaluating, training)
    assert seen == {"evaluating": (False, False), "training": (True, True)}
    assert tt.is_grad_enabled()


def test_a_callback_queued_in_one_thread_runs_at_the_end_of_that_threads_backward():
    """Two threads' backwards at once: each callback runs before its own backward returns,
    never at the end of the other's (where a DDP would read .grad before averaging it)."""
    a, b = leaf([1.0]), leaf([2.0])
    a_inside, b_inside, a_returned = threading.Event(), threading.Event(), threading.Event()
    ran_in = {}

    def a_hook(p):  # a's backward began first; it queues its callback once b's has begun too
        a_inside.set()
        assert b_inside.wait(10)
        tt.autograd.queue_callback(lambda: ran_in.setdefault("a", threading.current_thread().name))

    def b_hook(p):  # b's backward stays under way until a's has returned
        tt.autograd.queue_callback(lambda: ran_in.setdefault("b", threading.current_thread().name))
        b_inside.set()
        assert a_returned.wait(10)

    a.register_post_accumulate_grad_hook(a_hook)
    b.register_post_accumulate_grad_hook(b_hook)

    def thread_a():
        (a * 2).sum().backward()
        a_returned.set()
        assert ran_in.get("a") == "thread_a"  # before its backward returned, in its own thread

    def thread_b():
        assert a_inside.wait(10)
        (b * 2).sum().backward()
        assert ran_in.get("b") == "thread_b"

    _in_threads(thread_a, thread_b)


def test_overlapping_no_grad_blocks_in_two_threads_restore_each_their_own(device):
    # A enters, B enters, A leaves, B leaves: with one global switch B restored the
    # "off" it found when it entered, and recording stayed off for good.
    steps = [threading.Event() for _ in range(3)]

    def a():
        with tt.no_grad():
            steps[0].set()
            assert steps[1].wait(10)
        steps[2].set()
        assert tt.is_grad_enabled()

    def b():
        assert steps[0].wait(10)
        with tt.no_grad():
            steps[1].set()
            assert steps[2].wait(10)
        assert tt.is_grad_enabled()

    _in_threads(a, b)
    assert tt.is_grad_enabled()
    assert (leaf([1.0], device=device) * 2).requires_grad


def test_a_backward_in_one_thread_does_not_stop_another_threads_recording(device):
    # The engine switches grad mode off while it walks the graph; a forward pass in
    # another thread at that moment must still be recorded.
    x, w = leaf([1.0, 2.0], device=device), leaf([3.0, 4.0], device=device)
    in_backward, forward_done = threading.Event(), threading.Event()
    seen = {}

    def backward():
        h = x * 3
        h.register_hook(lambda g: (in_backward.set(), forward_done.wait(10), None)[-1])
        h.sum().backward()

    def forward():
        assert in_backward.wait(10)
        y = (w * w).sum()
        seen["recorded"] = y.requires_grad and y.grad_fn is not None
        forward_done.set()
        y.backward()

    _in_threads(backward, forward)
    assert seen == {"recorded": True}
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    np.testing.assert_array_equal(w.grad.numpy(), [6.0, 8.0])


def test_observe_watches_the_backward_of_its_own_thread(device):
    """The pictures watch a backward with ``observe``; another thread's backward at the same
    time must not appear in the picture."""
    from tinytensor.autograd import Function, observe
    mine, theirs = leaf([1.0, 2.0], device=device), leaf([3.0, 4.0], device=device)
    watching, done = threading.Event(), threading.Event()
    seen = []

    def watch():
        with observe(lambda node, grad, sent: seen.append(node)):
            watching.set()
            assert done.wait(10)
            (mine * 2).sum().backward()

    def other():
        assert watching.wait(10)
        (theirs.exp() * 3).sum().backward()
        done.set()

    _in_threads(watch, other)
    assert [node.name if isinstance(node, Function) else "leaf" for node in seen] == ["sum", "mul", "leaf"]
    assert seen[-1] is mine


def test_a_new_thread_starts_with_grad_enabled_as_in_pytorch():
    """PyTorch's grad mode does not follow a thread it starts: the thread records, whatever its parent's mode."""
    torch = pytest.importorskip("torch", reason="torch is the reference for a new thread's grad mode")

    def modes(no_grad, is_grad_enabled, set_grad_enabled):
        seen = []
        observe = lambda: seen.append(is_grad_enabled())  # noqa: E731
        with no_grad():
            _in_threads(observe)
        set_grad_enabled(False)
        try:
            _in_threads(observe)
            seen.append(is_grad_enabled())
        finally:
            set_grad_enabled(True)
        return seen

    ours = modes(tt.no_grad, tt.is_grad_enabled, tt.set_grad_enabled)
    assert ours == modes(torch.no_grad, torch.is_grad_enabled, torch.set_grad_enabled) == [True, True, False]


def test_threads_training_and_evaluating_at_once_match_a_serial_run(device):
    """Several threads at once, each a forward, a backward and a no_grad evaluation, many
    times over; each sees its own mode, and every gradient equals the serial run's."""
    rng = np.random.default_rng(0)
    inputs = [rng.standard_normal((4, 3)) for _ in range(4)]
    weight = rng.standard_normal((3, 2))
    rounds = 60

    def work(i, check_modes):
        w = tt.tensor(weight, requires_grad=True, device=device)
        x = tt.tensor(inputs[i], device=device)
        evaluations = []
        for _ in range(rounds):
            loss = F.softmax(x @ w, dim=-1).log().sum() * (i + 1)
            if check_modes:
                assert tt.is_grad_enabled() and loss.requires_grad
            loss.backward()
            with tt.no_grad():
                evaluations.append((x @ w).sum().item())
                if check_modes:
                    assert not tt.is_grad_enabled() and not (x @ w).requires_grad
            if check_modes:
                assert tt.is_grad_enabled()
        return w.grad.numpy(), evaluations

    serial = [work(i, check_modes=False) for i in range(len(inputs))]
    threaded = [None] * len(inputs)

    def body(i):
        return lambda: threaded.__setitem__(i, work(i, check_modes=True))

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, in the middle of ops and of backward
    try:
        _in_threads(*[body(i) for i in range(len(inputs))])
    finally:
        sys.setswitchinterval(switch)
    for (grad_s, evals_s), (grad_t, evals_t) in zip(serial, threaded):
        np.testing.assert_array_equal(grad_t, grad_s)
        assert evals_t == evals_s
    assert tt.is_grad_enabled()


def test_no_graph_when_no_input_requires_grad(device):
    a, b = tt.tensor([1.0, 2.0], device=device), tt.tensor([3.0, 4.0], device=device)
    for y in (a * b, (a @ b), F.softmax(a), a.exp().sum(), a[0], tt.concat([a, b])):
        assert y.grad_fn is None and not y.requires_grad


def test_a_graph_is_recorded_when_one_input_requires_grad(device):
    a, b = tt.tensor([1.0, 2.0], device=device), leaf([3.0, 4.0], tt.float32, device=device)
    y = a * b
    assert y.requires_grad and y.grad_fn is not None and not y.is_leaf
    y.sum().backward()
    assert a.grad is None
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 2.0])


def test_detach_cuts_the_graph_and_shares_memory(device):
    x = leaf([1.0, 2.0], device=device)
    h = x * 2
    d = h.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    assert d.array is h.array  # the same array, on any device
    (h * d).sum().backward()  # d is a constant: d(h * d)/dx = 2 d
    np.testing.assert_array_equal(x.grad.numpy(), 2 * d.numpy())


def test_requires_grad_and_is_leaf(device):
    x = tt.tensor([1.0, 2.0], device=device)
    assert x.is_leaf and not x.requires_grad
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 2
    assert not y.is_leaf
    x.requires_grad_(False)
    assert not x.requires_grad and (x * 2).grad_fn is None
    with pytest.raises(RuntimeError, match="only leaf tensors"):
        y.requires_grad_(False)


def test_autograd_grad_does_not_touch_dot_grad(device):
    x, w = leaf([1.0, 2.0], device=device), leaf([3.0, -1.0], device=device)
    h = x * w
    h.retain_grad()
    gx, gw = grad((h * h).sum(), [x, w])
    np.testing.assert_array_equal(gx.numpy(), 2 * h.numpy() * w.numpy())
    np.testing.assert_array_equal(gw.numpy(), 2 * h.numpy() * x.numpy())
    assert x.grad is None and w.grad is None and h.grad is None


def test_autograd_grad_with_respect_to_an_intermediate(device):
    x = leaf([1.0, 2.0], device=device)
    h = x * 3
    (gh,) = grad((h ** 2).sum(), h)
    np.testing.assert_array_equal(gh.numpy(), 2 * h.numpy())


def test_autograd_grad_unused_input(device):
    x, unused = leaf([1.0], device=device), leaf([2.0], device=device)
    with pytest.raises(RuntimeError, match="allow_unused"):
        grad((x * 2).sum(), [x, unused])
    gx, gu = grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gx.item() == 2.0 and gu is None


def test_autograd_grad_with_grad_outputs(device):
    x = leaf([1.0, 2.0], device=device)
    (g,) = grad(x * x, x, grad_outputs=tt.tensor([1.0, -1.0], dtype=tt.float64, device=device))
    np.testing.assert_array_equal(g.numpy(), [2.0, -4.0])


# ----------------------------------------------------------------------------
# The seed documents' worked examples
# ----------------------------------------------------------------------------
def test_masked_softmax_row(device):
    scores = tt.tensor([[1.0, 2.0, 3.0, 4.0]], device=device)
    mask = tt.tensor([[False, False, True, True]], device=device)
    weights = F.softmax(scores.masked_fill(mask, float("-inf")), axis=-1)
    e, e2 = math.e, math.e ** 2
    np.testing.assert_allclose(weights.numpy(), [[e / (e + e2), e2 / (e + e2), 0.0, 0.0]], rtol=1e-6)
    np.testing.assert_allclose(weights.numpy(), [[0.2689, 0.7311, 0.0, 0.0]], atol=5e-5)
    assert weights.numpy()[0, 2:].tolist() == [0.0, 0.0]  # exactly zero, not tiny


def test_masked_softmax_sends_no_gradient_to_masked_positions(device):
    scores = leaf([[1.0, 2.0, 3.0, 4.0]], device=device)
    mask = tt.tensor([[False, False, True, True]], device=device)
    weights = F.softmax(scores.masked_fill(mask, float("-inf")), axis=-1)
    (weights * tt.tensor([[1.0, 2.0, 3.0, 4.0]], dtype=tt.float64, device=device)).sum().backward()
    grads = scores.grad.numpy()
    assert np.isfinite(grads).all()
    assert grads[0, 2:].tolist() == [0.0, 0.0]
    assert abs(grads[0, 0]) > 0.1


def test_layer_norm_of_1_3_5(device):
    x = tt.tensor([1.0, 3.0, 5.0], dtype=tt.float64, device=device)
    assert x.mean().item() == 3.0
    assert math.sqrt(x.var(correction=0).item()) == pytest.approx(1.63, abs=5e-3)
    y = F.layer_norm(x, 3, eps=1e-12)
    np.testing.assert_allclose(y.numpy(), [-1.2247, 0.0, 1.2247], atol=5e-5)
    np.testing.assert_allclose(y.numpy(), [-math.sqrt(1.5), 0.0, math.sqrt(1.5)], rtol=1e-9, atol=1e-12)


def test_softmax_rows_sum_to_one(device):
    x = tt.randn(5, 7, device=device) * 10
    for axis in (-1, 0):
        sums = F.softmax(x, axis=axis).sum(axis=axis).numpy()
        np.testing.assert_allclose(sums, np.ones_like(sums), rtol=1e-6)


def test_an_integer_result_carries_no_gradient(device):
    """x.long() is a step function: its derivative is 0, so the graph stops there (as PyTorch)."""
    x = tt.tensor([1.5, 2.5], requires_grad=True, device=device)
    assert not x.long().requires_grad
    assert not (x > 2).requires_grad


def test_reductions_of_nothing_on_every_device(device):
    """x.mean().backward() of an empty x once raised ZeroDivisionError (tests/test_torch_parity.py
    compares these with PyTorch on the CPU)."""
    x = leaf(np.zeros((2, 0)), device=device)
    for y, value in ((x.mean(), [math.nan]), (x.mean(1), [math.nan] * 2), (x.sum(), [0.0]),
                     (F.logsumexp(x, 1), [-math.inf] * 2), (F.softmax(x, 1), [])):
        np.testing.assert_array_equal(y.numpy().reshape(-1), value)
        y.sum().backward()
        assert x.grad.shape == (2, 0)
    with pytest.warns(UserWarning, match=r"var: degrees of freedom <= 0 \(1 values, correction=1\)"):
        one = leaf([3.0], device=device)
        one.var().backward()
    assert math.isnan(one.grad.item())
