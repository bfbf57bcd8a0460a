"""nn.Module: registration, dotted names, train/eval, to(), state_dict, repr, module scopes."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import tinytensor as tt
from tinytensor import nn
from tinytensor.autograd import topological_order
from tinytensor.autograd.function import Function


class Block(nn.Module):
    def __init__(self, dim: int = 4, hidden: int = 8) -> None:
        super().__init__()
        self.linear1 = nn.Linear(dim, hidden)
        self.act = nn.ReLU()
        self.dropout = nn.Dropout(0.5)
        self.linear2 = nn.Linear(hidden, dim)

    def forward(self, x: tt.Tensor) -> tt.Tensor:
        return x + self.linear2(self.dropout(self.act(self.linear1(x))))


class Model(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.layers = nn.ModuleList([Block(), Block()])
        self.head = nn.Sequential(nn.LayerNorm(4), nn.Linear(4, 10))
        self.register_buffer("positions", tt.arange(3))

    def forward(self, ids: tt.Tensor) -> tt.Tensor:
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


def scopes(out: tt.Tensor) -> set[str]:
    return {node.scope for node in topological_order([out.grad_fn]) if isinstance(node, Function)}


# ----------------------------------------------------------------------------
# Parameter
# ----------------------------------------------------------------------------
def test_parameter_is_a_tensor_that_requires_grad() -> None:
    p = nn.Parameter(tt.ones(3))
    assert isinstance(p, tt.Tensor) and p.requires_grad and p.is_leaf
    assert not nn.Parameter(tt.ones(3), requires_grad=False).requires_grad
    (p * 2 + tt.ones(3) * p).sum().backward()
    np.testing.assert_allclose(p.grad.numpy(), [3, 3, 3])
    assert repr(p).startswith("Parameter containing:\ntensor([1., 1., 1.]")


# ----------------------------------------------------------------------------
# Registration and walking the tree
# ----------------------------------------------------------------------------
def test_attribute_assignment_registers_parameters_modules_and_buffers() -> None:
    model = Model()
    assert [name for name, _ in model.named_parameters()] == [
        "embed.weight",
        "layers.0.linear1.weight", "layers.0.linear1.bias", "layers.0.linear2.weight", "layers.0.linear2.bias",
        "layers.1.linear1.weight", "layers.1.linear1.bias", "layers.1.linear2.weight", "layers.1.linear2.bias",
        "head.0.weight", "head.0.bias", "head.1.weight", "head.1.bias"]
    assert len(list(model.parameters())) == 13
    assert [name for name, _ in model.named_children()] == ["embed", "layers", "head"]
    assert list(model.children()) == [model.embed, model.layers, model.head]
    assert [name for name, _ in model.named_modules()][:5] == ["", "embed", "layers", "layers.0",
                                                               "layers.0.linear1"]
    assert len(list(model.modules())) == 1 + 1 + 1 + 2 * 5 + 3
    assert [name for name, _ in model.named_buffers()] == ["positions"]
    assert model.positions.dtype == tt.int64
    assert len(list(model.layers[0].parameters(recurse=False))) == 0


def test_plain_attributes_are_not_registered() -> None:
    layer = nn.Linear(2, 3, bias=False)
    layer.scale = 2.0
    layer.cache = tt.ones(2)  # a plain Tensor is not a Parameter: not learned, not saved
    assert layer.bias is None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    assert list(layer.state_dict()) == ["weight"]


def test_reassigning_and_deleting_members() -> None:
    layer = nn.Linear(2, 3, bias=False)
    layer.bias = nn.Parameter(tt.zeros(3))  # replaces the plain None
    assert layer.bias is layer._parameters["bias"]
    layer.bias = None  # None takes it out of the tree
    assert layer.bias is None and [n for n, _ in layer.named_parameters()] == ["weight"]
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'weight'"):
        layer.weight = tt.ones(3, 2)
    del layer.weight
    assert list(layer.parameters()) == []
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'weight'"):
        layer.weight


def test_shared_weights_are_listed_once_but_saved_under_both_names() -> None:
    model = Model()
    model.head[1].weight = model.embed.weight  # weight tying: (10, 4) in both
    names = [name for name, _ in model.named_parameters()]
    assert "embed.weight" in names and "head.1.weight" not in names
    state = model.state_dict()
    assert "embed.weight" in state and "head.1.weight" in state


def test_assigning_before_super_init_is_a_clear_error() -> None:
    class Forgetful(nn.Module):
        def __init__(self) -> None:
            self.linear = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\).*super\(\).__init__\(\)"):
        Forgetful()


def test_a_module_without_forward_says_so() -> None:
    with pytest.raises(NotImplementedError, match="Module has no forward"):
        nn.Module()(tt.ones(2))


def test_buffers_register_and_persist() -> None:
    module = nn.Module()
    module.register_buffer("table", tt.ones(2, 3))
    module.register_buffer("scratch", tt.zeros(2), persistent=False)
    assert list(module.parameters()) == []
    assert [name for name, _ in module.named_buffers()] == ["table", "scratch"]
    assert list(module.state_dict()) == ["table"]
    module.table = tt.zeros(2, 3)  # assigning a Tensor to a buffer's name updates the buffer
    assert module.state_dict()["table"].sum().item() == 0
    with pytest.raises(TypeError, match="register_buffer: 'x' must be a Tensor"):
        module.register_buffer("x", [1, 2])
    with pytest.raises(KeyError, match="may not contain '.'"):
        module.register_buffer("a.b", tt.ones(1))


# ----------------------------------------------------------------------------
# train / eval, zero_grad, to
# ----------------------------------------------------------------------------
def test_train_and_eval_set_the_flag_everywhere_and_change_dropout() -> None:
    model = Model()
    ids = tt.tensor([[1, 2, 3]])
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    np.testing.assert_array_equal(model(ids).numpy(), model(ids).numpy())  # no dropout: repeatable
    model.train()
    assert all(m.training for m in model.modules())
    assert not np.array_equal(model(ids).numpy(), model(ids).numpy())  # a new mask each call


def test_zero_grad_sets_grads_to_none() -> None:
    model = Model()
    model(tt.tensor([[1, 2]])).sum().backward()
    assert all(p.grad is not None for p in model.layers.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_to_dtype_keeps_the_same_parameter_objects(device) -> None:
    model = Model().to(device)
    model(tt.tensor([[1, 2]], device=device)).sum().backward()
    before = list(model.parameters())
    assert model.to(tt.float64) is model
    assert [id(p) for p in model.parameters()] == [id(p) for p in before]
    assert all(p.dtype == tt.float64 and p.grad.dtype == tt.float64 for p in model.parameters())
    assert model.positions.dtype == tt.int64  # only floating tensors are cast
    assert model(tt.tensor([[1, 2]], device=device)).dtype == tt.float64


def test_to_device_moves_parameters_buffers_and_runs_there(device: str) -> None:
    model = Model().to(device)
    assert all(p.device == device for p in model.parameters())
    assert model.positions.device == device
    out = model(tt.tensor([[1, 2, 3]], device=device))
    assert out.device == device
    out.sum().backward()
    assert model.embed.weight.grad.device == device
    model.to("cpu")
    assert all(p.device == "cpu" and p.grad.device == "cpu" for p in model.parameters())


# ----------------------------------------------------------------------------
# state_dict / load_state_dict
# ----------------------------------------------------------------------------
def test_state_dict_round_trip(device) -> None:
    source, target = Model().to(device).eval(), Model().to(device).eval()
    ids = tt.tensor([[1, 2, 3]], device=device)
    assert not np.allclose(source(ids).numpy(), target(ids).numpy())
    state = source.state_dict()
    # as PyTorch: a module's own parameters and buffers, then its children's
    assert list(state)[:3] == ["positions", "embed.weight", "layers.0.linear1.weight"]
    assert all(not t.requires_grad for t in state.values())
    weight = target.embed.weight
    assert target.load_state_dict(state) == ([], [])
    assert target.embed.weight is weight  # copied in place: an optimizer's references stay valid
    np.testing.assert_array_equal(source(ids).numpy(), target(ids).numpy())
    state["embed.weight"].array[0, 0] = 123.0  # a copy, not a link between the two models
    assert target.embed.weight.array[0, 0] != 123.0


def test_load_state_dict_across_devices_and_dtypes(device: str) -> None:
    source = Model().to(tt.float64)
    target = Model().to(device)
    target.load_state_dict(source.state_dict())
    assert target.embed.weight.device == device and target.embed.weight.dtype == tt.float32
    np.testing.assert_allclose(target.embed.weight.numpy(), source.embed.weight.numpy(), rtol=1e-6)


def test_load_state_dict_names_missing_keys() -> None:
    state = Model().state_dict()
    del state["head.1.bias"], state["embed.weight"]
    with pytest.raises(RuntimeError, match=r'for Model:\n\tMissing key\(s\) in state_dict: '
                                           r'"embed.weight", "head.1.bias"\.'):
        Model().load_state_dict(state)


def test_load_state_dict_names_unexpected_keys() -> None:
    state = Model().state_dict()
    state["layers.2.linear1.weight"] = tt.ones(8, 4)
    with pytest.raises(RuntimeError, match=r'Unexpected key\(s\) in state_dict: "layers.2.linear1.weight"'):
        Model().load_state_dict(state)


def test_load_state_dict_names_shape_mismatches_and_copies_nothing(device) -> None:
    state = Model().state_dict()
    state["head.1.weight"] = tt.ones(3, 4, device=device)
    target = Model().to(device)
    before = target.embed.weight.numpy().copy()
    with pytest.raises(RuntimeError, match=r"size mismatch for head.1.weight: copying a param with "
                                           r"shape \(3, 4\) from checkpoint, the shape in current "
                                           r"model is \(10, 4\)"):
        target.load_state_dict(state, strict=False)  # a wrong shape is an error even when not strict
    np.testing.assert_array_equal(target.embed.weight.numpy(), before)


def test_load_state_dict_not_strict_reports_what_did_not_match() -> None:
    state = Model().state_dict()
    del state["positions"]
    state["extra"] = tt.ones(1)
    missing, unexpected = Model().load_state_dict(state, strict=False)
    assert (missing, unexpected) == (["positions"], ["extra"])


# ----------------------------------------------------------------------------
# repr, copies, nn.functional
# ----------------------------------------------------------------------------
def test_repr_is_a_tree_with_parameter_counts() -> None:
    text = repr(Model())
    assert text.startswith("Model(\n  (embed): Embedding(10, 4)  # 40 params\n  (layers): ModuleList(\n"
                           "    (0): Block(\n"
                           "      (linear1): Linear(in_features=4, out_features=8, bias=True)  # 40 params\n"
                           "      (act): ReLU()\n      (dropout): Dropout(p=0.5)\n")
    assert "    )  # 76 params\n" in text
    assert text.endswith("\n    (1): Linear(in_features=4, out_features=10, bias=True)  # 50 params\n"
                         "  )  # 58 params\n)  # 250 params")


def test_deepcopy_makes_an_independent_model(device) -> None:
    model = Model().to(device)
    clone = copy.deepcopy(model)
    assert clone.embed.weight.device == device
    clone.embed.weight.array[...] = 0
    assert model.embed.weight.numpy().any()
    assert [n for n, _ in clone.named_parameters()] == [n for n, _ in model.named_parameters()]


def test_nn_functional_is_tinytensor_functional() -> None:
    import tinytensor.nn.functional as F  # noqa: PLC0415 - the import itself is under test

    assert F is tt.functional and nn.functional is tt.functional


# ----------------------------------------------------------------------------
# Module scopes: ops record the dotted path of the module that ran them
# ----------------------------------------------------------------------------
def test_ops_record_the_module_path_they_ran_in() -> None:
    model = Model()
    out = model(tt.tensor([[1, 2, 3]]))
    found = scopes(out)
    assert {"embed", "layers.0.linear1", "layers.0.act", "layers.0.dropout", "layers.0.linear2",
            "layers.0", "layers.1.linear1", "head.0", "head.1"} <= found
    assert "" not in found  # the root pushes nothing, and every op here runs in some layer


def test_a_root_module_pushes_no_scope() -> None:
    layer = nn.Linear(2, 3)
    assert scopes(layer(tt.ones(1, 2))) == {""}


def test_a_module_list_filled_after_registration_still_names_its_items() -> None:
    model = nn.Module()
    model.blocks = nn.ModuleList()
    model.blocks.append(nn.Linear(2, 2))
    assert scopes(model.blocks[0](tt.ones(1, 2))) == {"blocks.0"}
    blocks = model.blocks
    del model.blocks  # taken out of the tree: a root again
    assert scopes(blocks[0](tt.ones(1, 2))) == {"0"}
