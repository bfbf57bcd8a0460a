"""tinytensor.nn: Module and the layers models are built from (as torch.nn).

parameter.py      Parameter, a Tensor a Module learns
module.py         Module: the tree of layers, parameters(), state_dict(), train()/eval(), to()
init.py           weight initialization (Xavier, Kaiming), as torch.nn.init
linear.py         Linear, y = x W^T + b
embedding.py      Embedding, token id -> vector
normalization.py  LayerNorm
dropout.py        Dropout
activation.py     ReLU, GELU, Tanh, Sigmoid, Softmax, LogSoftmax, Flatten, Identity
container.py      ModuleList, Sequential, ModuleDict, ParameterList, ParameterDict
loss.py           CrossEntropyLoss, MSELoss, BCELoss, BCEWithLogitsLoss, KLDivLoss
utils.py          clip_grad_norm_ (from tinytensor.optim)
parallel/         DistributedDataParallel: one model, N processes (tinytensor.distributed)

``tinytensor.nn.functional`` is tinytensor.functional, under PyTorch's name.
"""
import sys

from .. import functional
from . import init, parallel, utils
from .activation import GELU, Flatten, Identity, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .dropout import Dropout
from .embedding import Embedding
from .linear import Linear
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, KLDivLoss, MSELoss
from .module import Module
from .normalization import LayerNorm
from .parameter import Parameter

# One module under two names, so `import tinytensor.nn.functional as F` works as in PyTorch.
sys.modules[__name__ + ".functional"] = functional

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "Dropout", "Embedding", "Flatten", "GELU",
           "Identity", "KLDivLoss", "LayerNorm", "Linear", "LogSoftmax", "MSELoss", "Module", "ModuleDict",
           "ModuleList", "Parameter", "ParameterDict", "ParameterList", "ReLU", "Sequential", "Sigmoid",
           "Softmax", "Tanh",
           "functional", "init", "parallel", "utils"]
