"""tinytensor.utils: PyTorch's torch.utils, so ``from torch.utils.data import DataLoader`` runs unchanged.

data    tinytensor.data under PyTorch's name (the classes live in tinytensor/data/)
"""
from .. import missing
from . import data

__all__ = ["data"]

__getattr__ = missing.names(__name__)  # a PyTorch name not here says what to use (missing.py)
