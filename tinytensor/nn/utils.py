"""tinytensor.nn.utils: PyTorch's home for clip_grad_norm_ (it lives in tinytensor/optim/clip.py)."""
from .. import missing
from ..optim.clip import clip_grad_norm_

__all__ = ["clip_grad_norm_"]

__getattr__ = missing.names(__name__)  # a PyTorch name not here says what to use (missing.py)
