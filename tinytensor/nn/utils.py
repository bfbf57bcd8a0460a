"""tinytensor.nn.utils: PyTorch's home for clip_grad_norm_ (it lives in tinytensor/optim/clip.py)."""
from ..optim.clip import clip_grad_norm_

__all__ = ["clip_grad_norm_"]
