"""tinytensor.optim: optimizers and learning-rate schedules (as torch.optim).

optimizer.py      Optimizer: param groups, zero_grad, step, state_dict
sgd.py            SGD, with momentum, Nesterov and weight decay
adam.py           Adam
adamw.py          AdamW: Adam with decoupled weight decay
clip.py           clip_grad_norm_ (PyTorch has it as torch.nn.utils.clip_grad_norm_)
lr_scheduler.py   LambdaLR, TransformerWarmup, CosineWithWarmup
"""
from . import lr_scheduler
from .adam import Adam
from .adamw import AdamW
from .clip import clip_grad_norm_
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "clip_grad_norm_", "lr_scheduler"]
