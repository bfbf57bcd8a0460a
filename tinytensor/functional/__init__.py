"""tinytensor.functional: the fused functions layers are made of (as torch.nn.functional).

activation.py     softmax, log_softmax, logsumexp, logsigmoid, gelu (relu, tanh, sigmoid are the
                  pointwise ops')
normalization.py  layer_norm
dropout.py        dropout
linear.py         linear, y = x W^T + b as one node
embedding.py      embedding, one_hot
loss.py           cross_entropy, nll_loss, mse_loss, binary_cross_entropy(_with_logits), kl_div
padding.py        pad
attention.py      scaled_dot_product_attention: softmax(Q K^T / sqrt(d_k) + mask) V as one node
"""
from .. import missing
from ..ops.pointwise import relu, sigmoid, tanh
from .activation import gelu, log_softmax, logsigmoid, logsumexp, softmax
from .attention import scaled_dot_product_attention
from .dropout import dropout
from .embedding import embedding, one_hot
from .linear import linear
from .loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, kl_div, mse_loss,
                   nll_loss)
from .normalization import layer_norm
from .padding import pad

__all__ = ["binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "dropout",
           "embedding", "gelu", "kl_div", "layer_norm", "linear", "log_softmax", "logsigmoid", "logsumexp",
           "mse_loss", "nll_loss", "one_hot", "pad", "relu", "scaled_dot_product_attention", "sigmoid",
           "softmax", "tanh"]


__getattr__ = missing.names(__name__)  # a PyTorch name not here says what to use (missing.py)
