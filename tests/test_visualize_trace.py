"""trace_backward: every gradient of one backward pass, in the engine's own order."""
import tinytensor as tt
from tinytensor.autograd import observe
from visualize import trace_backward


def graph():
    x = tt.tensor([0.5, -1.0, 2.0], requires_grad=True)
    w = tt.tensor([1.5, 2.0, -0.5], requires_grad=True)
    h = (x * w).tanh()
    h.retain_grad()
    y = (h * h + x).sum()
    return x, w, h, y


def test_the_trace_holds_the_engines_order_and_fills_grad_as_backward_does():
    x, w, h, y = graph()
    seen = []
    with observe(lambda node, grad, sent: seen.append(node)):
        trace = trace_backward(y)
    assert trace.order == seen and len(trace) == len(seen) and list(trace) == seen
    plain_x, plain_w, plain_h, plain_y = graph()
    plain_y.backward()
    assert (x.grad.numpy() == plain_x.grad.numpy()).all() and (w.grad.numpy() == plain_w.grad.numpy()).all()


def test_the_trace_has_every_tensors_gradient_leaves_and_intermediates():
    x, w, h, y = graph()
    trace = trace_backward(y)
    for tensor in (x, w, h):
        assert (trace[tensor].numpy() == tensor.grad.numpy()).all()
    assert trace[y].item() == 1.0
    assert trace[h.grad_fn] is trace[h]  # by node or by tensor


def test_the_trace_keeps_what_each_op_sent_to_each_input():
    x, w, h, y = graph()
    trace = trace_backward(y)
    add = y.grad_fn.parents[0]             # h * h + x
    to_square, to_x = trace.sent[add]
    assert (to_x.numpy() == 1).all()        # d(a + x)/dx = 1
    square = add.parents[0]
    first, second = trace.sent[square]      # h * h: h receives h*g twice...
    assert ((first + second).numpy() == h.grad.numpy()).all()  # ...and its gradient is their sum


def test_a_graph_already_freed_fails_with_the_engines_own_message():
    x, w, h, y = graph()
    y.backward()
    try:
        trace_backward(y)
    except RuntimeError as error:
        assert "retain_graph=True" in str(error)
    else:
        raise AssertionError("a second backward through a freed graph must fail")


def test_a_leafs_gradient_is_complete_when_its_last_user_has_sent_its_share():
    """What the trace knows when: at its last user's step the messages sent to x already sum to x.grad."""
    x, w, h, y = graph()
    trace = trace_backward(y)
    complete, step = trace.complete_at(), {node: k for k, node in enumerate(trace.order, 1)}
    assert complete[y.grad_fn] == 1                       # the seed
    for leaf in (x, w):
        users = [k for k, node in enumerate(trace.order, 1) if any(p is leaf for p in getattr(node, "parents", ()))]
        assert complete[leaf] == max(users) < step[leaf]  # before the engine's walk reaches the leaf
        arrived = sum((message.numpy() for k, node in enumerate(trace.order[:complete[leaf]], 1)
                       if hasattr(node, "parents")
                       for parent, message in zip(node.parents, trace.sent[node]) if parent is leaf), 0)
        assert (arrived == leaf.grad.numpy()).all()       # x is used twice (x * w and + x): both arrived
