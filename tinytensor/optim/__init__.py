"""tinytensor.optim: optimizers and learning-rate schedules (as torch.optim).

optimizer.py      Optimizer: param groups, zero_grad, step, state_dict
sgd.py            SGD, with momentum, Nesterov and weight decay
adam.py           Adam
adamw.py          AdamW: Adam with decoupled weight decay
rmsprop.py        RMSprop, optionally centered and with momentum
adagrad.py        Adagrad
clip.py           clip_grad_norm_ (PyTorch has it as torch.nn.utils.clip_grad_norm_)
lr_scheduler.py   LambdaLR, StepLR, MultiStepLR, ConstantLR, LinearLR, ExponentialLR, CosineAnnealingLR,
                  OneCycleLR, SequentialLR, ReduceLROnPlateau; TransformerWarmup, CosineWithWarmup
"""
from .. import missing
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam
from .adamw import AdamW
from .clip import clip_grad_norm_
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "clip_grad_norm_", "lr_scheduler"]

__getattr__ = missing.names(__name__)  # a PyTorch name not here says what to use (missing.py)
