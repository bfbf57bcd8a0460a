"""Bad input gives an error that says what went wrong and how to fix it.

A learner's first contact with a library is often an error message. Each test
here makes one mistake and checks the message names what matters: both shapes
of a failed broadcast or matmul, the offending index, the device, the missing
package and how to install it. A message that only said "invalid input" would
fail these tests. Each message must be the same on every device: NumPy and CuPy
word their own errors differently, and CuPy keeps quiet where NumPy raises.
"""
import importlib.util
import re

import numpy as np
import pytest

import tinytensor as tt
import tinytensor.functional as F
from tinytensor import backend
from tinytensor.autograd import Function
from tinytensor.autograd import function as function_module


# ----------------------------------------------------------------------------
# Shapes
# ----------------------------------------------------------------------------
def test_broadcast_mismatch_names_both_shapes(device):
    with pytest.raises(ValueError, match=r"add.*\(2, 3\) and \(4,\)"):
        tt.ones(2, 3, device=device) + tt.ones(4, device=device)
    with pytest.raises(ValueError, match=r"mul.*\(2, 3\) and \(3, 2\)"):
        tt.ones(2, 3, device=device) * tt.ones(3, 2, device=device)


def test_matmul_mismatch_names_both_shapes_and_the_dimensions(device):
    with pytest.raises(ValueError, match=r"\(2, 3\) @ \(4, 5\).*\(3\).*\(4\)"):
        tt.ones(2, 3, device=device) @ tt.ones(4, 5, device=device)
    with pytest.raises(ValueError, match=r"\(3,\) @ \(4,\)"):
        tt.ones(3, device=device) @ tt.ones(4, device=device)


def test_matmul_of_a_scalar(device):
    with pytest.raises(ValueError, match=r"at least 1 dimension.*use \*"):
        tt.tensor(2.0, device=device) @ tt.ones(2, device=device)


def test_reshape_to_the_wrong_size(device):
    with pytest.raises(ValueError, match=r"reshape.*\(3,\).*size 3 into shape \(2,\s?2\)"):
        tt.ones(3, device=device).reshape(2, 2)


def test_axis_out_of_range(device):
    with pytest.raises(ValueError, match="axis 2 is out of range for a tensor with 1 dimensions"):
        tt.ones(3, device=device).sum(axis=2)


def test_index_out_of_range(device):
    with pytest.raises(IndexError, match=r"getitem: index 5 is out of range for dimension 0 of size 3"):
        tt.ones(3, device=device)[5]


def test_stack_of_different_shapes(device):
    with pytest.raises(ValueError, match=r"same shape.*\(2,\), \(3,\)"):
        tt.stack([tt.ones(3, device=device), tt.ones(2, device=device)])


def test_split_sizes_that_do_not_add_up(device):
    with pytest.raises(ValueError, match=r"sizes \[1, 1\] add up to 2.*length 3"):
        tt.ones(3, device=device).split([1, 1])


def test_permute_with_a_repeated_axis(device):
    with pytest.raises(ValueError, match=r"\(0, 0\) is not an ordering"):
        tt.ones(2, 3, device=device).permute(0, 0)


def test_layer_norm_shape_mismatch(device):
    with pytest.raises(ValueError, match=r"normalized_shape \(4,\).*\(2, 3\)"):
        F.layer_norm(tt.ones(2, 3, device=device), 4)


# ----------------------------------------------------------------------------
# Autograd misuse
# ----------------------------------------------------------------------------
def test_backward_on_a_non_scalar_needs_a_gradient(device):
    y = tt.ones(2, 3, requires_grad=True, device=device) * 2
    with pytest.raises(RuntimeError, match=r"one element.*shape \(2, 3\).*out.sum\(\)"):
        y.backward()


def test_backward_gradient_of_the_wrong_shape(device):
    y = tt.ones(2, 3, requires_grad=True, device=device) * 2
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\).*shape \(2, 3\)"):
        y.backward(tt.ones(3, device=device))


def test_backward_on_a_tensor_without_grad(device):
    with pytest.raises(RuntimeError, match="does not require grad"):
        tt.ones(2, device=device).sum().backward()


def test_requires_grad_on_an_integer_tensor(device):
    with pytest.raises(TypeError, match=r"only floating point.*int64.*x.float\(\)"):
        tt.tensor([1, 2], requires_grad=True, device=device)
    with pytest.raises(TypeError, match="only floating point"):
        tt.arange(3, device=device).requires_grad_()


def test_backward_twice_through_a_freed_graph(device):
    x = tt.ones(2, requires_grad=True, device=device)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="a second time.*freed.*retain_graph=True"):
        y.backward()


def test_retain_grad_on_a_tensor_without_grad(device):
    with pytest.raises(RuntimeError, match="does not require grad"):
        tt.ones(2, device=device).retain_grad()


# ----------------------------------------------------------------------------
# Devices
# ----------------------------------------------------------------------------
def test_device_mismatch_message(monkeypatch):
    """The check itself, with ``same_device`` told to say no (no GPU needed)."""
    monkeypatch.setattr(backend, "same_device", lambda a, b: False)
    a, b = tt.ones(2), tt.ones(2)
    with pytest.raises(RuntimeError, match=r"add: expected all tensors on the same device, got cpu "
                                           r"and cpu\. Move one with \.to\('cpu'\)"):
        function_module._check_same_device("add", (a, b))


def test_device_mismatch_on_a_gpu(cuda):
    a, b = tt.ones(2, device=cuda), tt.ones(2, device="cpu")
    with pytest.raises(RuntimeError, match=r"same device, got cuda:0 and cpu.*\.to\('cuda:0'\)"):
        a + b
    with pytest.raises(RuntimeError, match="same device"):
        a @ tt.ones(2, 2)


@pytest.mark.skipif(importlib.util.find_spec("cupy") is not None,
                    reason="CuPy is installed here, so 'cuda' does not fail for want of it")
def test_cuda_without_cupy_says_how_to_install_it():
    with pytest.raises(RuntimeError, match=r"'cuda' is not available: CuPy is not installed.*pip install"):
        tt.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match="CuPy is not installed"):
        tt.tensor([1.0]).to("cuda")
    assert not tt.cuda_is_available()


@pytest.mark.parametrize("spec, message", [("gpu", "use 'cpu', 'cuda' or 'cuda:N'"),
                                           ("cpu:0", "use 'cpu', 'cuda' or 'cuda:N'"),
                                           ("cuda:x", "index after 'cuda:' must be a number")])
def test_bad_device_string(spec, message):
    with pytest.raises(ValueError, match=f"unknown device '{re.escape(spec)}': .*{re.escape(message)}"):
        tt.zeros(2, device=spec)
    with pytest.raises(ValueError, match="unknown device"):
        tt.Device(spec)


# ----------------------------------------------------------------------------
# Functionals
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("ids, bad", [([0, 5], 5), ([-1, 0], -1)])
def test_embedding_index_out_of_range(ids, bad, device):
    with pytest.raises(IndexError, match=rf"index {bad} is out of range for a table of 3 rows \(valid: 0..2\)"):
        F.embedding(ids, tt.ones(3, 2, device=device)).tolist()  # on a GPU the read raises


def test_embedding_of_float_ids(device):
    with pytest.raises(TypeError, match=r"indices must be integers, got dtype float32.*\.long\(\)"):
        F.embedding(tt.tensor([0.0, 1.0], device=device), tt.ones(3, 2, device=device))


def test_cross_entropy_target_shape(device):
    with pytest.raises(ValueError, match=r"logits of shape \(3, 4\).*targets of shape \(3,\), got \(2,\)"):
        F.cross_entropy(tt.ones(3, 4, device=device), [0, 1])
    with pytest.raises(ValueError, match=r"targets of shape \(2, 5\), got \(2,\)"):
        F.cross_entropy(tt.ones(2, 4, 5, device=device), [0, 1])


@pytest.mark.parametrize("target, bad", [([0, 1, 4], "4"), ([0, -1, 1], "-1")])
def test_cross_entropy_target_out_of_range(target, bad, device):
    with pytest.raises(IndexError, match=rf"cross_entropy: target {bad} is out of range for 4 classes "
                                         rf"\(ignore_index=-100\) \(valid: 0..3\)"):
        F.cross_entropy(tt.ones(3, 4, device=device), target).item()  # on a GPU the read raises


def test_cross_entropy_ignored_targets_may_be_out_of_range(device):
    loss = F.cross_entropy(tt.ones(3, 4, device=device), [0, 7, 1], ignore_index=7)
    assert loss.item() == pytest.approx(np.log(4))


def test_cross_entropy_bad_reduction_and_smoothing(device):
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        F.cross_entropy(tt.ones(3, 4, device=device), [0, 1, 1], reduction="avg")
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 1.5"):
        F.cross_entropy(tt.ones(3, 4, device=device), [0, 1, 1], label_smoothing=1.5)


def test_linear_names_the_shapes_that_do_not_fit():
    with pytest.raises(ValueError, match=r"linear: input of shape \(2, 3\) needs a weight of shape "
                                         r"\(out_features, 3\), got \(4, 5\)"):
        F.linear(tt.ones(2, 3), tt.ones(4, 5))
    with pytest.raises(ValueError, match=r"linear: bias must have shape \(4,\), got \(3,\)"):
        F.linear(tt.ones(2, 5), tt.ones(4, 5), tt.ones(3))


def test_gelu_names_its_two_forms():
    with pytest.raises(ValueError, match="approximate must be 'none'.*or 'tanh', got 'erf'"):
        F.gelu(tt.ones(3), approximate="erf")


def test_dropout_probability_out_of_range(device):
    with pytest.raises(ValueError, match=r"p must be a probability in \[0, 1\], got 1.5"):
        F.dropout(tt.ones(2, device=device), 1.5)


def test_item_of_many_elements(device):
    with pytest.raises(ValueError, match=r"one element.*shape \(2,\)"):
        tt.ones(2, device=device).item()


# ----------------------------------------------------------------------------
# gradcheck itself
# ----------------------------------------------------------------------------
class SquareWithABug(Function):
    """x^2 whose backward is right everywhere except element 2, which is off by exactly 1."""

    def forward(self, a):
        return a * a

    def backward(self, grad):
        (x,) = self.operands  # arrays: gradcheck's backward is an ordinary one
        bug = x * 0
        bug[2] = 1.0
        return (grad * x * 2 + bug,)


def test_gradcheck_failure_names_the_input_the_element_and_both_values(device):
    a = tt.tensor([0.5, 1.0, -1.5, 2.0], dtype=tt.float64, requires_grad=True, device=device)
    b = tt.tensor([1.0, -2.0, 0.3, 0.7], dtype=tt.float64, requires_grad=True, device=device)
    with pytest.raises(tt.GradcheckError) as failure:
        tt.gradcheck(lambda a, b: a * b + SquareWithABug()(b), [a, b])
    message = str(failure.value)
    assert re.search(r"input 1 \(shape \(4,\)\) at element \(2,\)", message), message
    values = re.search(r"backward gives (?:np\.float64\()?(-?[\d.e+-]+)\)?, "
                       r"finite differences give (?:np\.float64\()?(-?[\d.e+-]+)", message)
    assert values, message
    backward_value, numeric_value = float(values.group(1)), float(values.group(2))
    assert backward_value - numeric_value == pytest.approx(1.0, abs=1e-6)


def test_gradcheck_passes_the_same_function_without_the_bug(device):
    class Square(SquareWithABug):
        def backward(self, grad):
            return (grad * self.operands[0] * 2,)

    b = tt.tensor([1.0, -2.0, 0.3, 0.7], dtype=tt.float64, requires_grad=True, device=device)
    assert tt.gradcheck(lambda b: Square()(b), [b])


def test_gradcheck_needs_float64_and_an_input_that_requires_grad():
    with pytest.raises(ValueError, match=r"input 0 is float32.*float64.*\.double\(\)"):
        tt.gradcheck(lambda x: x * 2, [tt.ones(2, requires_grad=True)])
    with pytest.raises(ValueError, match="no input requires grad"):
        tt.gradcheck(lambda x: x * 2, [tt.ones(2, dtype=tt.float64)])


# ----------------------------------------------------------------------------
# Found in review: inputs that used to give a silent wrong answer
# ----------------------------------------------------------------------------
def test_permute_rejects_out_of_range_axes(device):
    with pytest.raises(ValueError, match="axis 2 is out of range for a tensor with 2 dimensions"):
        tt.ones(2, 3, device=device).permute(1, 2)


def test_grad_needs_one_grad_output_per_output(device):
    w = tt.ones(2, requires_grad=True, device=device)
    with pytest.raises(ValueError, match="grad: 2 outputs but 1 grad_outputs"):
        tt.autograd.grad([w * 2, w * 3], w, grad_outputs=[tt.ones(2, device=device)])


@pytest.mark.parametrize("ids, bad", [([0, 5], "5"), ([0, -1], "-1")])
def test_one_hot_out_of_range(ids, bad, device):
    with pytest.raises(IndexError, match=rf"one_hot: class {bad} is out of range for 3 classes"):
        F.one_hot(tt.tensor(ids, device=device), 3).tolist()  # on a GPU the read raises


def test_mse_loss_rejects_mismatched_shapes_and_unknown_reductions(device):
    with pytest.raises(ValueError, match=r"mse_loss: input shape \(4, 1\) and target shape \(4,\) differ"):
        F.mse_loss(tt.ones(4, 1, device=device), tt.ones(4, device=device))
    with pytest.raises(ValueError, match="mse_loss: reduction must be 'mean', 'sum' or 'none', got 'avg'"):
        F.mse_loss(tt.ones(4, device=device), tt.ones(4, device=device), reduction="avg")


def test_tensor_of_tensors_gives_numbers_and_objects_are_refused(device):
    numbers = [tt.tensor(1.0, device=device), tt.tensor(2.0, device=device)]
    assert tt.tensor(numbers, device=device).tolist() == [1.0, 2.0]
    with pytest.raises(TypeError, match="tensor: cannot make a tensor of dtype object"):
        tt.tensor([object()], device=device)


def test_var_of_integers_is_refused_like_mean(device):
    with pytest.raises(TypeError, match="var: needs a floating point tensor, got int64"):
        tt.arange(4, device=device).var()


def test_matmul_with_an_array_operand(device):
    assert (tt.ones(2, 3, device=device) @ np.ones((3, 1))).shape == (2, 1)


def test_truth_value_of_many_elements_is_ambiguous(device):
    with pytest.raises(RuntimeError, match=r"bool\(\): the truth value of a tensor of shape \(2,\) is ambiguous"):
        bool(tt.ones(2, device=device) > 0)


@pytest.mark.parametrize("cut", [lambda x: x.split(0), lambda x: x.chunk(0)])
def test_split_and_chunk_need_positive_sizes(cut, device):
    with pytest.raises(ValueError, match="must be positive, got 0"):
        cut(tt.ones(4, device=device))


def test_dropout_of_integers_is_refused(device):
    with pytest.raises(TypeError, match="dropout: needs a floating point tensor, got int64"):
        F.dropout(tt.arange(4, device=device), 0.5)


def test_clip_of_integers_by_a_float_gives_floats(device):
    assert tt.tensor([0, 1, 2], device=device).clip(0.5).tolist() == [0.5, 1.0, 2.0]


def test_an_op_given_neither_a_tensor_nor_an_array_says_so():
    with pytest.raises(TypeError, match=r"exp: expected a Tensor, got list; make one with tinytensor.tensor"):
        tt.exp([1.0, 2.0])
