"""ModuleDict, ParameterList, ParameterDict, Module.apply, add_module and register_parameter,
with torch's state_dict keys, orders and errors."""
from __future__ import annotations

import numpy as np
import pytest

import tinytensor as tt
from tinytensor import nn

TORCH_REASON = "PyTorch is the reference for parity tests: pip install -e '.[torch]'"


def torch_or_skip():
    return pytest.importorskip("torch", reason=TORCH_REASON)


def small_gpt(lib):
    """A GPT-shaped tree written once for both libraries (nanoGPT keeps its layers in a ModuleDict)."""
    class Block(lib.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mlp = lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.GELU(), lib.nn.Linear(8, 4))

    class Model(lib.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = lib.nn.ModuleDict(dict(wte=lib.nn.Embedding(10, 4), wpe=lib.nn.Embedding(6, 4),
                                                      h=lib.nn.ModuleList([Block() for _ in range(2)]),
                                                      ln_f=lib.nn.LayerNorm(4)))
            self.lm_head = lib.nn.Linear(4, 10, bias=False)
            self.transformer.wte.weight = self.lm_head.weight   # weight tying
            self.scales = lib.nn.ParameterList([lib.nn.Parameter(lib.ones(4)), lib.zeros(2)])
            self.extra = lib.nn.ParameterDict({"gate": lib.nn.Parameter(lib.ones(3)), "bias": lib.zeros(1)})
    return Model()


def test_state_dict_keys_and_order_are_torchs():
    torch = torch_or_skip()
    ours, theirs = small_gpt(tt), small_gpt(torch)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [name for name, _ in ours.named_parameters()] == [name for name, _ in theirs.named_parameters()]
    assert [name for name, _ in ours.named_modules()] == [name for name, _ in theirs.named_modules()]
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())


def test_apply_visits_children_first_then_self_and_returns_self():
    torch = torch_or_skip()
    orders = []
    for lib in (tt, torch):
        model, seen = small_gpt(lib), []
        assert model.apply(lambda m: seen.append(type(m).__name__)) is model
        orders.append(seen)
    assert orders[0] == orders[1] and orders[0][-1] == "Model" and orders[0][0] == "Embedding"


def test_apply_initializes_as_in_the_tutorials():
    def init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.weight)
            if m.bias is not None:
                nn.init.ones_(m.bias)
    model = small_gpt(tt).apply(init_weights)
    assert model.lm_head.weight.sum().item() == 0 and model.transformer.wte.weight is model.lm_head.weight
    assert model.transformer.h[1].mlp[0].bias.tolist() == [1.0] * 8


def test_module_dict_behaves_as_a_dict_of_modules():
    d = nn.ModuleDict([("b", nn.Linear(2, 2)), ("a", nn.ReLU())])
    assert list(d) == list(d.keys()) == ["b", "a"] and len(d) == 2 and "a" in d and "z" not in d
    d["c"] = nn.Tanh()
    d.update({"a": nn.GELU(), "d": nn.Identity()})
    assert list(d) == ["b", "a", "c", "d"] and isinstance(d["a"], nn.GELU) and d.c is d["c"]
    assert isinstance(d.pop("b"), nn.Linear) and "b" not in d and list(d.state_dict()) == []
    assert [type(m).__name__ for m in d.values()] == ["GELU", "Tanh", "Identity"]
    del d["c"]
    assert [k for k, _ in d.items()] == ["a", "d"]
    d.clear()
    assert len(d) == 0


def test_module_dict_and_add_module_refuse_what_torch_refuses():
    torch = torch_or_skip()
    for lib in (tt, torch):
        d = lib.nn.ModuleDict()
        for key, error in (("a.b", KeyError), ("", KeyError), ("train", KeyError), (3, TypeError)):
            with pytest.raises(error):
                d[key] = lib.nn.ReLU()
        with pytest.raises(TypeError, match="is not a Module subclass"):
            d["x"] = lib.ones(2)
        with pytest.raises(KeyError):
            d["missing"]
        with pytest.raises(ValueError):
            d.update([("only_a_name",)])
    with pytest.raises(KeyError, match="attribute 'train' already exists in ModuleDict: choose another"):
        nn.ModuleDict({"train": nn.ReLU()})


def test_parameter_list_makes_tensors_parameters_sharing_memory():
    torch = torch_or_skip()
    plain = tt.ones(2, 3)
    params = nn.ParameterList([plain])
    params.append(nn.Parameter(tt.zeros(4)))
    params += [tt.full((1,), 5.0)]
    assert len(params) == 3 and all(isinstance(p, nn.Parameter) and p.requires_grad for p in params)
    params[0].array[0, 0] = 7.0
    assert plain.numpy()[0, 0] == 7.0                             # the same memory, as PyTorch's
    assert list(params.state_dict()) == list(torch.nn.ParameterList(
        [torch.ones(2, 3), torch.zeros(4), torch.ones(1)]).state_dict()) == ["0", "1", "2"]
    assert params[-1].item() == 5.0 and len(params[1:]) == 2 and params[1:][0] is params[1]
    params[1] = tt.ones(4)
    assert params[1].tolist() == [1.0] * 4
    with pytest.raises(IndexError, match="index 3 is out of range for 3 parameters"):
        params[3]
    with pytest.raises(TypeError, match="holds tensors"):
        params.append("not a tensor")
    assert "Parameter containing: [float32 of size 2x3]" in repr(params)


def test_parameter_dict_and_register_parameter():
    torch = torch_or_skip()
    d = nn.ParameterDict({"w": tt.ones(2), "b": nn.Parameter(tt.zeros(1))})  # a plain dict: sorted, as torch
    d["s"] = tt.full((3,), 2.0)
    assert list(d) == ["b", "w", "s"] and isinstance(d["w"], nn.Parameter) and d.get("zz") is None
    assert list(nn.ParameterDict([("w", tt.ones(1)), ("b", tt.ones(1))])) == ["w", "b"]   # pairs: as given
    theirs = torch.nn.ParameterDict({"w": torch.ones(2), "b": torch.zeros(1)})
    theirs["s"] = torch.ones(3)
    assert list(d.state_dict()) == list(theirs.state_dict())
    assert d.pop("b").tolist() == [0.0] and "b" not in d and len(d) == 2
    model = nn.Module()
    model.register_parameter("alpha", nn.Parameter(tt.ones(1)))
    model.register_parameter("beta", None)
    assert [n for n, _ in model.named_parameters()] == ["alpha"] and model.beta is None
    with pytest.raises(TypeError, match="nn.Parameter or None required"):
        model.register_parameter("gamma", tt.ones(1))
    with pytest.raises(KeyError, match="contain"):
        model.register_parameter("a.b", nn.Parameter(tt.ones(1)))
    with pytest.raises(KeyError):
        d["missing"]


def test_a_model_built_from_containers_trains_as_torchs():
    """The same GPT-shaped tree, the same weights, one Adam step: the same loss and weights after."""
    torch = torch_or_skip()
    ours, theirs = small_gpt(tt).double(), small_gpt(torch).double()
    ours.load_state_dict({k: tt.tensor(v.detach().numpy()) for k, v in theirs.state_dict().items()})

    def loss_of(lib, model):
        ids = lib.tensor([[1, 2, 3], [4, 5, 6]])
        x = model.transformer.wte(ids) + model.transformer.wpe(lib.arange(3))
        for block in model.transformer.h:
            x = x + block.mlp(x)
        x = model.transformer.ln_f(x) * model.scales[0] + model.extra["gate"].sum()
        return model.lm_head(x).logsumexp(-1).mean() + model.scales[1].sum() + model.extra["bias"].sum()
    for lib, model in ((tt, ours), (torch, theirs)):
        opt = lib.optim.Adam(model.parameters(), lr=0.01)
        loss_of(lib, model).backward()
        opt.step()
    assert loss_of(tt, ours).item() == pytest.approx(loss_of(torch, theirs).item(), rel=1e-12)
    for (name, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.numpy(), q.detach().numpy(), rtol=1e-9, atol=1e-12, err_msg=name)
