"""Lesson 2's exercise: exp and division for the Value engine, each with its send_back.

    exp_and_div(ns)          the solution: sets exp_value and div_value in the lesson's namespace
    check_exp_and_div(...)   the check: tanh from exp on the neuron, then each op against central differences
    wrong_exp_and_div(ns)    a likely mistake: the quotient's share for q without its minus sign
"""
import math

LECTURE = {"x1": -1.5, "w1": 1.0, "x2": 0.5, "w2": 0.0, "b": 0.5}


def exp_and_div(ns):
    Value = ns["Value"]

    def exp_value(v):
        e = math.exp(v.value)
        return Value(e, (v,), lambda g: (g * e,), "exp")                   # d e^v / dv = e^v

    def div_value(p, q):
        return Value(p.value / q.value, (p, q),
                     lambda g: (g / q.value, -g * p.value / q.value ** 2), "/")  # d(p/q)/dq = -p/q²

    ns["exp_value"], ns["div_value"] = exp_value, div_value


def check_exp_and_div(exp_value, div_value, Value, backward, neuron_values):
    for name, op in (("exp_value", exp_value), ("div_value", div_value)):
        assert callable(op), f"{name} must be a function that returns a Value, got {type(op).__name__}"
    v = neuron_values()
    n = v["x1"] * v["w1"] + v["x2"] * v["w2"] + v["b"]
    e = exp_value(2 * n)
    assert isinstance(e, Value), f"exp_value returned {type(e).__name__}, not a Value"
    o = div_value(e + (-1.0), e + 1.0)
    assert math.isclose(o.value, 1 / math.sqrt(2), rel_tol=1e-12), \
        f"(e^(2n) - 1) / (e^(2n) + 1) = {o.value:.6f}, not 1/sqrt(2): check the forward of exp_value and div_value"
    backward(o)
    for name, lecture in LECTURE.items():
        assert math.isclose(v[name].grad, lecture, rel_tol=1e-9, abs_tol=1e-12), \
            f"{name}.grad = {v[name].grad:.6f} through your exp and division; lesson 1 has {lecture}"
    for x, y in ((0.7, 1.3), (-1.2, 0.4), (2.0, -3.0)):
        _against_central_differences("exp_value", lambda a: exp_value(a), [x], Value, backward)
        _against_central_differences("div_value", lambda p, q: div_value(p, q), [x, y], Value, backward)
    return "the neuron's five gradients through exp and division, and both ops against central differences"


def _against_central_differences(name, op, numbers, Value, backward, h=1e-6):
    inputs = [Value(x) for x in numbers]
    out = op(*inputs)
    backward(out)
    for i, x in enumerate(numbers):
        up, down = list(numbers), list(numbers)
        up[i], down[i] = x + h, x - h
        numeric = (op(*map(Value, up)).value - op(*map(Value, down)).value) / (2 * h)
        assert math.isclose(inputs[i].grad, numeric, rel_tol=1e-6, abs_tol=1e-8), \
            (f"{name} at {numbers}: the gradient of input {i} is {inputs[i].grad:.6f}, central differences "
             f"say {numeric:.6f}: check its share in send_back")


def wrong_exp_and_div(ns):
    """The quotient's share for q as +g p / q²: the sign of d(1/q)/dq forgotten."""
    exp_and_div(ns)
    Value = ns["Value"]

    def div_value(p, q):
        return Value(p.value / q.value, (p, q), lambda g: (g / q.value, g * p.value / q.value ** 2), "/")

    ns["div_value"] = div_value
