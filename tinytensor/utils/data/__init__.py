"""tinytensor.utils.data: tinytensor.data under PyTorch's name, torch.utils.data.

Every class and function has one home, in tinytensor/data/; this package only
re-exports them. Its submodules too (``torch.utils.data.sampler``,
``.dataset``, ``.dataloader``, ``.distributed``), so ``from torch.utils.data.sampler import
SubsetRandomSampler`` finds the same class.
"""
import sys

from ... import missing
from ...data import *  # noqa: F403 - the whole public surface, nothing of its own
from ...data import __all__, collate, dataloader, dataset, distributed, sampler

for _name, _module in (("collate", collate), ("dataloader", dataloader), ("dataset", dataset),
                       ("distributed", distributed), ("sampler", sampler)):
    sys.modules[f"{__name__}.{_name}"] = _module


__getattr__ = missing.names(__name__)  # a PyTorch name not here says what to use (missing.py)
