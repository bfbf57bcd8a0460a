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
loss.py           CrossEntropyLoss, NLLLoss, MSELoss, BCELoss, BCEWithLogitsLoss, KLDivLoss
utils.py          clip_grad_norm_ (from tinytensor.optim)
parallel/         DistributedDataParallel: one model, N processes (tinytensor.distributed)

``tinytensor.nn.functional`` is tinytensor.functional, under PyTorch's name.

MultiheadAttention, Transformer, TransformerEncoder(Layer) and TransformerDecoder(Layer)
are where a PyTorch user looks for them, ``nn.Transformer``, but they are the model's
(transformer/), which is built on this package. ``__getattr__`` below imports them on
first use: the one place the engine reaches up to the model (tests/test_layers.py knows
it), never at import, so ``import tinytensor`` alone loads no model code.
"""
import sys
from typing import Any

from .. import functional, missing
from . import init, parallel, utils
from .activation import GELU, Flatten, Identity, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .dropout import Dropout
from .embedding import Embedding
from .linear import Linear
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, KLDivLoss, MSELoss, NLLLoss
from .module import Module
from .normalization import LayerNorm
from .parameter import Parameter

# One module under two names, so `import tinytensor.nn.functional as F` works as in PyTorch.
sys.modules[__name__ + ".functional"] = functional

FROM_THE_MODEL = ("MultiheadAttention", "Transformer", "TransformerDecoder", "TransformerDecoderLayer",
                  "TransformerEncoder", "TransformerEncoderLayer")

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "Dropout", "Embedding", "Flatten", "GELU",
           "Identity", "KLDivLoss", "LayerNorm", "Linear", "LogSoftmax", "MSELoss", "Module", "ModuleDict",
           "ModuleList", "NLLLoss", "Parameter", "ParameterDict", "ParameterList", "ReLU", "Sequential",
           "Sigmoid", "Softmax", "Tanh",
           "functional", "init", "parallel", "utils"] + list(FROM_THE_MODEL)


def __getattr__(name: str) -> Any:
    """nn.Transformer and friends from the model package, imported on first use; any other
    name tinytensor lacks says what to use instead (missing.py)."""
    if name in FROM_THE_MODEL:
        import transformer  # noqa: PLC0415 - the one import up the layers, on first use (see above)
        return getattr(transformer, name)
    return missing.names(__name__)(name)
