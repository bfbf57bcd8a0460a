"""tinytensor.functional: the fused functions layers are made of (as torch.nn.functional).

activation.py     softmax, log_softmax, logsumexp, gelu (relu, tanh, sigmoid are the pointwise ops')
normalization.py  layer_norm
dropout.py        dropout
linear.py         linear, y = x W^T + b as one node
embedding.py      embedding, one_hot
loss.py           cross_entropy, mse_loss
"""
from ..ops.pointwise import relu, sigmoid, tanh
from .activation import gelu, log_softmax, logsumexp, softmax
from .dropout import dropout
from .embedding import embedding, one_hot
from .linear import linear
from .loss import cross_entropy, mse_loss
from .normalization import layer_norm

__all__ = ["cross_entropy", "dropout", "embedding", "gelu", "layer_norm", "linear", "log_softmax",
           "logsumexp", "mse_loss", "one_hot", "relu", "sigmoid", "softmax", "tanh"]
