"""A PyTorch name tinytensor lacks answers in one line with what to use (tinytensor/missing.py).

"tinytensor has no torch.X; use Y": for the well-known names of missing.USE_INSTEAD, each
checked to be a real PyTorch name, and for any other name, pointing to the module's names
and README. Still an AttributeError, so hasattr() and feature probes work; private and
dunder names get Python's plain error, as pickle, copy and IPython expect.
"""
from __future__ import annotations

import copy
import importlib
import importlib.util
import pickle
from pathlib import Path

import pytest

import tinytensor as tt
from tinytensor import missing
from tinytensor.missing import USE_INSTEAD, MissingName

ROOT = Path(__file__).resolve().parent.parent
TORCH_REASON = "PyTorch is the reference for parity tests: pip install -e '.[torch]'"

# Every tinytensor module that stands for a torch module, under the torch name a program writes
MODULES = {
    "torch": "tinytensor", "torch.nn": "tinytensor.nn", "torch.nn.functional": "tinytensor.nn.functional",
    "torch.nn.init": "tinytensor.nn.init", "torch.nn.utils": "tinytensor.nn.utils",
    "torch.optim": "tinytensor.optim", "torch.optim.lr_scheduler": "tinytensor.optim.lr_scheduler",
    "torch.utils": "tinytensor.utils", "torch.utils.data": "tinytensor.utils.data",
    "torch.cuda": "tinytensor.cuda", "torch.autograd": "tinytensor.autograd",
    "torch.distributed": "tinytensor.distributed", "torch.accelerator": "tinytensor.accelerator",
    "torch.backends": "tinytensor.backends", "torch.backends.cudnn": "tinytensor.backends.cudnn",
}


def lookup(torch_name: str):
    """Look ``torch.a.b.X`` up where a program does: X in the tinytensor module standing for torch.a.b."""
    module, _, name = torch_name.rpartition(".")
    return getattr(importlib.import_module(MODULES[module]), name)


@pytest.mark.parametrize("torch_name", sorted(USE_INSTEAD))
def test_each_well_known_missing_name_says_what_to_use(torch_name):
    with pytest.raises(MissingName) as error:
        lookup(torch_name)
    assert str(error.value) == f"tinytensor has no {torch_name}; {USE_INSTEAD[torch_name]}"
    assert len(str(error.value)) < 200


def test_every_name_in_the_table_is_a_real_pytorch_name():
    torch = pytest.importorskip("torch", reason=TORCH_REASON)
    invented = []
    for torch_name in USE_INSTEAD:
        module, _, name = torch_name.rpartition(".")
        if not hasattr(importlib.import_module(module), name) and importlib.util.find_spec(torch_name) is None:
            invented.append(torch_name)  # neither an attribute nor a submodule (found, not run: tensorboard)
    assert torch.__name__ == "torch" and not invented, f"not PyTorch names: {invented}"


def test_every_answer_says_what_to_do():
    verbs = ("use ", "remove ", "write ", "keep ", "pass ", "put ", "build ", "sample ", "save ", "print ",
             "compare ", "convert ", "time ", "call ", "clamp ", "average ", "pad ", "launch ", "run ")
    vague = [name for name, use in USE_INSTEAD.items() if not use.startswith(verbs)]
    assert not vague, f"answers that do not start with what to do: {vague}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_any_other_missing_name_points_to_the_modules_names_and_readme(module):
    with pytest.raises(MissingName) as error:
        lookup(f"{module}.no_such_name")
    real = MODULES[module] if module != "torch.nn.functional" else "tinytensor.functional"
    assert str(error.value) == (f"tinytensor has no {module}.no_such_name; use one of {real}'s names "
                                f"(dir({real})), or see README's \"Where tinytensor differs from PyTorch\"")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## Where tinytensor differs from PyTorch" in readme


def test_a_misspelt_name_gets_the_nearest_real_one():
    with pytest.raises(MissingName, match=r"tinytensor has no torch.nn.Linera; did you mean tinytensor.nn.Linear\?"):
        tt.nn.Linera


def test_hasattr_and_feature_probes_still_work():
    F = tt.nn.functional
    assert hasattr(F, "scaled_dot_product_attention") and not hasattr(F, "conv2d")
    assert not hasattr(tt, "compile") and hasattr(tt, "manual_seed")
    assert getattr(tt.nn, "Conv2d", None) is None
    assert issubclass(MissingName, AttributeError)


@pytest.mark.parametrize("name", ["__path__", "__wrapped__", "_repr_html_", "_private"])
def test_private_names_get_pythons_plain_error(name):
    module = tt.nn if name != "__path__" else tt.cuda  # a plain module has no __path__
    with pytest.raises(AttributeError) as error:
        getattr(module, name)
    assert type(error.value) is AttributeError
    assert str(error.value) == f"module {module.__name__!r} has no attribute {name!r}"


def test_tensors_and_modules_still_copy_and_pickle():
    x = tt.tensor([1.0, 2.0])
    assert copy.deepcopy(x).tolist() == pickle.loads(pickle.dumps(x)).tolist() == [1.0, 2.0]
    assert pickle.loads(pickle.dumps(tt.nn.Linear(2, 3))).weight.shape == (3, 2)


def test_a_missing_name_inside_a_backends_submodule_answers_too():
    with pytest.raises(MissingName, match=r"tinytensor has no torch.backends.cudnn.flags; use one of"):
        tt.backends.cudnn.flags


def test_the_one_line_for_a_name_through_the_helper():
    assert missing.use_instead("torch.compile", "tinytensor") == \
        "tinytensor has no torch.compile; remove it: tinytensor runs eagerly, op by op"
