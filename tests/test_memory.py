"""Memory: a node keeps only what its backward reads, and backward frees that, unless
retain_graph=True asks to keep it.

Every op keeps what its backward will read (its inputs, sometimes its output,
dropout's mask, layer_norm's mean and sigma, log_softmax's output). A training
loop that kept them after backward would grow with every step. The test holds only
weak references to those arrays (NumPy arrays support weakref) and keeps alive just
the loss and the leaves: after backward, every intermediate array must be gone.
The graph's structure (``grad_fn.parents``) is kept, for the pictures.
"""
import gc
import os
import platform
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path

import numpy as np
import pytest

import tinytensor as tt
import tinytensor.functional as F
from tinytensor.autograd import grad


def build(seed=0):
    """A small network; returns the loss, the leaves, and weak refs to every array the graph keeps."""
    tt.manual_seed(seed)
    x = tt.randn(4, 3)
    w1 = tt.randn(3, 5, requires_grad=True)
    w2 = tt.randn(5, 3, requires_grad=True)
    gamma = tt.ones(5, requires_grad=True)
    target = tt.tensor([0, 2, 1, 1])

    h = x @ w1
    n = F.layer_norm(h, 5, gamma)       # keeps its input, the mean and sigma
    a = F.gelu(n)
    d = F.dropout(a, 0.3)                # keeps a mask as big as a (not a itself)
    e = d.tanh().exp()                   # tanh and exp keep their outputs
    m = e.masked_fill(e > 1.5, 0.0)      # where keeps its condition
    logits = m @ w2
    loss = F.cross_entropy(logits, target, label_smoothing=0.1)  # keeps log p and the row weights

    intermediates = [h, n, d, e, m, logits]
    refs = [weakref.ref(t.array) for t in intermediates]
    refs += [weakref.ref(d.grad_fn.saved.keep), weakref.ref(m.grad_fn.saved)]
    refs += [weakref.ref(array) for array in (loss.grad_fn.saved, *n.grad_fn.saved)]
    refs += [weakref.ref(node.out_data) for node in (e.grad_fn, loss.grad_fn.parents[0])]  # exp, log_softmax
    return loss, (w1, w2, gamma), refs


def test_a_dropout_input_is_freed_by_the_forward():
    """Dropout's backward reads only its mask, so the graph does not keep its input alive."""
    x = tt.randn(8, 8, requires_grad=True)
    a = x * 3.0                          # mul keeps x and 3.0, not its result
    a_data = weakref.ref(a.array)
    d = F.dropout(a, 0.5)
    del a
    gc.collect()
    assert a_data() is None
    d.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.where(d.numpy() != 0, 3.0 * 2.0, 0.0))


def alive(refs):
    gc.collect()
    return [i for i, ref in enumerate(refs) if ref() is not None]


def test_the_arrays_are_alive_before_backward():
    _loss, _leaves, refs = build()
    assert alive(refs) == list(range(len(refs)))  # the graph holds them: the test can see them


def test_backward_frees_every_saved_array():
    loss, leaves, refs = build()
    loss.backward()
    assert alive(refs) == []
    assert all(leaf.grad is not None for leaf in leaves)
    assert loss.item() > 0  # the loss itself stays


def test_retain_graph_keeps_them_and_a_second_backward_agrees():
    loss, leaves, refs = build()
    loss.backward(retain_graph=True)
    assert alive(refs) == list(range(len(refs)))
    first = [leaf.grad.numpy().copy() for leaf in leaves]
    for leaf in leaves:
        leaf.grad = None
    loss.backward()
    for leaf, g in zip(leaves, first):
        np.testing.assert_array_equal(leaf.grad.numpy(), g)
    assert alive(refs) == []


def test_autograd_grad_frees_them_too():
    loss, leaves, refs = build()
    grad(loss, list(leaves))
    assert alive(refs) == []


def test_create_graph_keeps_them_for_the_second_backward():
    loss, leaves, refs = build()
    grad(loss, list(leaves), create_graph=True)
    assert len(alive(refs)) == len(refs)


def test_the_graph_structure_survives_backward():
    loss, leaves, _refs = build()
    loss.backward()
    seen, stack = set(), [loss.grad_fn]
    while stack:  # walk from the loss down to the leaves
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(getattr(node, "parents", ()))
    for leaf in leaves:
        assert id(leaf) in seen
    assert len(seen) > 10


def test_a_training_loop_does_not_accumulate_graphs():
    """Each step's graph dies with its loss: the number of live arrays stays flat."""
    tt.manual_seed(0)
    w = tt.randn(8, 8, requires_grad=True)
    x = tt.randn(16, 8)
    refs = []
    for _ in range(5):
        h = (x @ w).tanh()
        refs.append(weakref.ref(h.array))
        loss = (h * h).mean()
        loss.backward()
        w.grad = None
        del h, loss
    assert alive(refs) == []


# ----------------------------------------------------------------------------
# The one process-wide setting: glibc's malloc keeps freed blocks (backend/memory.py)
# ----------------------------------------------------------------------------
MALLOPT_SPY = textwrap.dedent("""
    import ctypes
    calls = []

    class SpyLibc:  # stands for the C library: records mallopt(parameter, value)
        def __init__(self, name):
            pass

        def mallopt(self, parameter, value):
            calls.append((parameter, value))
            return 1

    ctypes.CDLL = SpyLibc
    import tinytensor
    print(calls)
    calls.clear()
    print(tinytensor.backend.keep_freed_memory(False), calls)
""")


def _import_with_a_spy(switch):
    env = {k: v for k, v in os.environ.items() if k != "TINYTENSOR_KEEP_FREED_MEMORY"}
    if switch is not None:
        env["TINYTENSOR_KEEP_FREED_MEMORY"] = switch
    result = subprocess.run([sys.executable, "-c", MALLOPT_SPY], capture_output=True, text=True, env=env,
                            cwd=Path(__file__).resolve().parent.parent, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="malloc is changed only where the C library is glibc")
def test_import_keeps_freed_memory_unless_the_switch_says_0():
    mmap, trim = -3, -1  # glibc's M_MMAP_THRESHOLD, M_TRIM_THRESHOLD
    at_import, undone = _import_with_a_spy(None)
    assert at_import == str([(mmap, 32 * 2 ** 20), (trim, 64 * 2 ** 20)])
    assert undone == "True " + str([(mmap, 128 * 1024), (trim, 128 * 1024)])  # glibc's defaults again
    at_import, _ = _import_with_a_spy("0")
    assert at_import == "[]"
