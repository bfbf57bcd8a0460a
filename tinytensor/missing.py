"""What tinytensor lacks of PyTorch, and what to use instead: the answer to a missing name.

``import tinytensor as torch`` runs everyday PyTorch code. Where a program reaches
for a name tinytensor does not have, Python alone would say "module 'tinytensor'
has no attribute 'compile'", and the learner is left guessing. So each package
that stands for a torch module ends with

    __getattr__ = missing.names(__name__)

(Python calls a module's ``__getattr__`` only for a name the module lacks), and
the error names the torch name and what to use:

    >>> tinytensor.compile(model)
    MissingName: tinytensor has no torch.compile; remove it: tinytensor runs eagerly, op by op

``USE_INSTEAD`` holds the answers for well-known names; any other gets one that
names the module to look in and README's "Where tinytensor differs from PyTorch".
``MissingName`` is an AttributeError, so ``hasattr(F, "scaled_dot_product_attention")``,
the feature probe nanoGPT and others use, stays a plain True or False. Names that
start with an underscore get Python's own error at once: pickle, copy and IPython
probe modules for ``__path__``, ``_repr_html_`` and the like, expecting exactly that.
"""
from __future__ import annotations

import difflib
import sys
from typing import Callable, NoReturn

CONVOLUTION = "use nn.Linear on flattened inputs (tinytensor has no convolutions)"
POOLING = "use x.amax(dim) or x.mean(dim) over the dimensions to pool (tinytensor has no pooling layers)"
BATCH_NORM = "use nn.LayerNorm or F.layer_norm (tinytensor normalizes no batch statistics)"
ACTIVATION = "use nn.ReLU, nn.GELU, nn.Tanh or nn.Sigmoid (F.relu, F.gelu...), or write it from tensor ops"
RECURRENT = ("use nn.TransformerEncoder (attention instead of recurrence), or write the cell's equations "
             "with nn.Linear (tinytensor has no recurrent layers)")
L1 = "write (input - target).abs().mean() (L1), or use nn.MSELoss"
NO_AMP = "remove it and run in float32 (tinytensor has no mixed precision)"
OPTIMIZER = "use SGD, Adam, AdamW, RMSprop or Adagrad"
SCHEDULE = "use LambdaLR with the rule written as a function of the step (SequentialLR chains schedules)"
DATASETS = ("write a Dataset whose __getitem__ indexes into the parts, or torch.cat them into one "
            "TensorDataset")
TIMING = "time with time.perf_counter(), calling tinytensor.cuda.synchronize() first on the GPU"
POINT_TO_POINT = "use broadcast, all_reduce or all_gather (tinytensor.distributed has collectives only)"
COMPLEX = "keep the real and imaginary parts in two real tensors (tinytensor has no complex dtypes)"


def cupy_pool(call: str) -> str:
    return f"use cupy.get_default_memory_pool().{call} (tinytensor's GPU memory is CuPy's memory pool)"


USE_INSTEAD: dict[str, str] = {
    # torch
    "torch.compile": "remove it: tinytensor runs eagerly, op by op",
    "torch.jit": "remove torch.jit.script / torch.jit.trace: tinytensor runs the Python as written",
    "torch.autocast": NO_AMP,
    "torch.amp": NO_AMP,
    "torch.bfloat16": "use float32 (or float16)",
    "torch.complex64": COMPLEX,
    "torch.complex128": COMPLEX,
    "torch.cfloat": COMPLEX,
    "torch.vmap": "put the batch in a leading dimension (every op broadcasts over it), or loop in Python",
    "torch.func": "put the batch in a leading dimension, and take gradients with tinytensor.autograd.grad",
    "torch.fft": "use numpy.fft on x.numpy() (no gradient flows through it)",
    "torch.linalg": "use tinytensor.norm and matmul; for the rest, numpy.linalg on x.numpy() (no gradient)",
    "torch.conv1d": CONVOLUTION,
    "torch.conv2d": CONVOLUTION,
    "torch.addmm": "write beta * input + alpha * (mat1 @ mat2)",
    "torch.baddbmm": "write beta * input + alpha * (batch1 @ batch2)",
    "torch.sparse": "use dense tensors (tinytensor has no sparse layout)",
    "torch.quantization": "keep float32 (tinytensor has no quantization)",
    "torch.ao": "keep float32 (tinytensor has no quantization)",
    "torch.onnx": "save the weights with torch.save(model.state_dict(), path) instead",
    "torch.export": "save the weights with torch.save(model.state_dict(), path) instead",
    "torch.hub": "build the model from the transformer package (GPT, BERT, Transformer) and load_state_dict",
    "torch.mps": "use device 'cuda' (an NVIDIA GPU through CuPy) or 'cpu' (tinytensor has no MPS backend)",
    "torch.distributions": "sample with torch.multinomial, rand or randn, and score with F.log_softmax",
    "torch.profiler": TIMING,
    "torch.Size": "use a tuple: tinytensor's x.shape and x.size() are tuples",
    "torch.dtype": "compare dtypes with ==, e.g. x.dtype == torch.float32 (tinytensor's are NumPy dtypes)",
    "torch.finfo": "use numpy.finfo(x.dtype) (tinytensor's dtypes are NumPy dtypes)",
    "torch.iinfo": "use numpy.iinfo(x.dtype) (tinytensor's dtypes are NumPy dtypes)",
    "torch.set_default_dtype":
        "convert explicitly with .double() or .to(torch.float64): floats default to float32",
    "torch.get_default_dtype": "use torch.float32: tinytensor's floats default to it",
    "torch.use_deterministic_algorithms":
        "remove it: every op repeats bit for bit, but for a GPU's scatter-adds (the backward of indexing)",
    "torch.set_printoptions": "use numpy.set_printoptions: tinytensor prints through NumPy",
    "torch.testing": "compare with torch.allclose, or numpy.testing.assert_allclose on x.numpy()",
    "torch.repeat_interleave": "use x.unsqueeze(d + 1).expand(...).reshape(...)",
    # torch.nn
    "torch.nn.Conv1d": CONVOLUTION,
    "torch.nn.Conv2d": CONVOLUTION,
    "torch.nn.Conv3d": CONVOLUTION,
    "torch.nn.ConvTranspose1d": CONVOLUTION,
    "torch.nn.ConvTranspose2d": CONVOLUTION,
    "torch.nn.MaxPool1d": POOLING,
    "torch.nn.MaxPool2d": POOLING,
    "torch.nn.AvgPool1d": POOLING,
    "torch.nn.AvgPool2d": POOLING,
    "torch.nn.AdaptiveAvgPool1d": POOLING,
    "torch.nn.AdaptiveAvgPool2d": POOLING,
    "torch.nn.BatchNorm1d": BATCH_NORM,
    "torch.nn.BatchNorm2d": BATCH_NORM,
    "torch.nn.GroupNorm": BATCH_NORM,
    "torch.nn.InstanceNorm1d": BATCH_NORM,
    "torch.nn.RMSNorm":
        "use nn.LayerNorm, or write x * (x.square().mean(-1, keepdim=True) + eps).rsqrt() * w",
    "torch.nn.RNN": RECURRENT,
    "torch.nn.LSTM": RECURRENT,
    "torch.nn.GRU": RECURRENT,
    "torch.nn.RNNCell": RECURRENT,
    "torch.nn.LSTMCell": RECURRENT,
    "torch.nn.GRUCell": RECURRENT,
    "torch.nn.LeakyReLU": ACTIVATION,
    "torch.nn.SiLU": ACTIVATION,
    "torch.nn.ELU": ACTIVATION,
    "torch.nn.SELU": ACTIVATION,
    "torch.nn.Softplus": ACTIVATION,
    "torch.nn.Mish": ACTIVATION,
    "torch.nn.PReLU": ACTIVATION,
    "torch.nn.Hardtanh": ACTIVATION,
    "torch.nn.L1Loss": L1,
    "torch.nn.SmoothL1Loss": L1,
    "torch.nn.HuberLoss": L1,
    "torch.nn.DataParallel": "run one process per GPU with tinytensor.distributed (docs/distributed.md)",
    "torch.nn.EmbeddingBag": "use nn.Embedding, then .sum(1) or .mean(1) over the bag",
    "torch.nn.Unflatten": "use x.reshape(...) in the Module's forward",
    # torch.nn.functional
    "torch.nn.functional.conv1d": CONVOLUTION,
    "torch.nn.functional.conv2d": CONVOLUTION,
    "torch.nn.functional.max_pool1d": POOLING,
    "torch.nn.functional.max_pool2d": POOLING,
    "torch.nn.functional.avg_pool1d": POOLING,
    "torch.nn.functional.avg_pool2d": POOLING,
    "torch.nn.functional.adaptive_avg_pool2d": POOLING,
    "torch.nn.functional.batch_norm": BATCH_NORM,
    "torch.nn.functional.group_norm": BATCH_NORM,
    "torch.nn.functional.rms_norm":
        "use F.layer_norm, or write x * (x.square().mean(-1, keepdim=True) + eps).rsqrt()",
    "torch.nn.functional.leaky_relu": ACTIVATION,
    "torch.nn.functional.silu": ACTIVATION,
    "torch.nn.functional.elu": ACTIVATION,
    "torch.nn.functional.softplus": ACTIVATION,
    "torch.nn.functional.mish": ACTIVATION,
    "torch.nn.functional.relu6": ACTIVATION,
    "torch.nn.functional.softmin": "use F.softmax(-x, dim)",
    "torch.nn.functional.l1_loss": L1,
    "torch.nn.functional.smooth_l1_loss": L1,
    "torch.nn.functional.normalize": "write x / x.norm(dim=-1, keepdim=True).clamp(min=1e-12)",
    "torch.nn.functional.cosine_similarity":
        "write (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1)).clamp(min=1e-8)",
    "torch.nn.functional.multi_head_attention_forward": "use nn.MultiheadAttention",
    "torch.nn.functional.interpolate": "use indexing or x.repeat to resample (tinytensor has no image ops)",
    # torch.nn.init, torch.nn.utils
    "torch.nn.init.trunc_normal_": "use nn.init.normal_, then clamp_ to the bounds if they matter",
    "torch.nn.init.kaiming_normal_":
        "use nn.init.kaiming_uniform_, or nn.init.normal_(w, 0, gain / sqrt(fan_in))",
    "torch.nn.init.orthogonal_": "use nn.init.xavier_uniform_ or xavier_normal_",
    "torch.nn.utils.clip_grad_value_": "clamp each gradient: for p in params: p.grad.clamp_(-value, value)",
    "torch.nn.utils.rnn": "pad with torch.utils.data's pad_sequence and pass a key_padding_mask",
    "torch.nn.utils.weight_norm": "use the weight as it is (tinytensor has no reparametrizations)",
    "torch.nn.utils.parametrizations": "use the weight as it is (tinytensor has no reparametrizations)",
    # torch.optim, torch.optim.lr_scheduler
    "torch.optim.LBFGS": OPTIMIZER,
    "torch.optim.Adamax": OPTIMIZER,
    "torch.optim.NAdam": OPTIMIZER,
    "torch.optim.RAdam": OPTIMIZER,
    "torch.optim.Adadelta": OPTIMIZER,
    "torch.optim.SparseAdam": OPTIMIZER,
    "torch.optim.Rprop": OPTIMIZER,
    "torch.optim.ASGD": OPTIMIZER,
    "torch.optim.swa_utils": "average the weights yourself: keep a running mean of p.detach() per parameter",
    "torch.optim.lr_scheduler.CyclicLR": SCHEDULE,
    "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts": SCHEDULE,
    "torch.optim.lr_scheduler.PolynomialLR": SCHEDULE,
    "torch.optim.lr_scheduler.MultiplicativeLR": SCHEDULE,
    "torch.optim.lr_scheduler.ChainedScheduler": SCHEDULE,
    # torch.utils, torch.utils.data
    "torch.utils.checkpoint":
        "remove it (tinytensor keeps every activation); use a smaller batch if memory is short",
    "torch.utils.tensorboard": "print the numbers, or plot them with matplotlib",
    "torch.utils.data.WeightedRandomSampler": ("pass sampler=torch.multinomial(weights, num_samples, "
                                               "replacement=True).tolist() to the DataLoader"),
    "torch.utils.data.ConcatDataset": DATASETS,
    "torch.utils.data.ChainDataset": DATASETS,
    # torch.cuda
    "torch.cuda.amp": NO_AMP,
    "torch.cuda.empty_cache": cupy_pool("free_all_blocks()"),
    "torch.cuda.memory_allocated": cupy_pool("used_bytes()"),
    "torch.cuda.max_memory_allocated": cupy_pool("used_bytes(), which keeps no peak"),
    "torch.cuda.memory_reserved": cupy_pool("total_bytes()"),
    "torch.cuda.Event": TIMING,
    "torch.cuda.Stream": "remove it (tinytensor runs everything on CuPy's current stream)",
    "torch.cuda.stream": "remove it (tinytensor runs everything on CuPy's current stream)",
    "torch.cuda.get_device_properties": "use cupy.cuda.runtime.getDeviceProperties(index)",
    "torch.cuda.is_bf16_supported": "use float32 (bfloat16 is not a tinytensor dtype)",
    # torch.autograd
    "torch.autograd.Variable": "use a Tensor with requires_grad=True (as PyTorch itself has since 0.4)",
    "torch.autograd.functional": "call torch.autograd.grad for each output (create_graph=True for a Hessian)",
    "torch.autograd.forward_ad": "use reverse mode, torch.autograd.grad (tinytensor has no forward mode)",
    "torch.autograd.detect_anomaly":
        "remove it; to see each gradient as backward makes it, use t.register_hook",
    "torch.autograd.set_detect_anomaly":
        "remove it; to see each gradient as backward makes it, use t.register_hook",
    "torch.autograd.profiler": TIMING,
    # torch.distributed
    "torch.distributed.new_group": "use the default group (tinytensor.distributed has one process group)",
    "torch.distributed.send": POINT_TO_POINT,
    "torch.distributed.recv": POINT_TO_POINT,
    "torch.distributed.isend": POINT_TO_POINT,
    "torch.distributed.irecv": POINT_TO_POINT,
    "torch.distributed.rpc": POINT_TO_POINT,
    "torch.distributed.fsdp": "keep a whole model in each process and average the gradients with all_reduce",
    "torch.distributed.launch": "launch with mpiexec -n N python program.py (docs/distributed.md)",
    "torch.distributed.run": "launch with mpiexec -n N python program.py (docs/distributed.md)",
}

# The torch module each tinytensor module stands for, where the name is not simply torch + the rest.
TORCH_MODULE = {"tinytensor.functional": "torch.nn.functional", "tinytensor.data": "torch.utils.data"}


class MissingName(AttributeError):
    """A PyTorch name tinytensor does not have; the message says what to use instead."""


def torch_module(module: str) -> str:
    """'tinytensor.nn' -> 'torch.nn': the torch module that ``module`` stands for."""
    return TORCH_MODULE.get(module, "torch" + module[len("tinytensor"):])


def use_instead(torch_name: str, module: str) -> str:
    """One line: 'tinytensor has no torch.X; use Y' (``module``: the tinytensor module looked in)."""
    use = USE_INSTEAD.get(torch_name)
    if use is None:
        name = torch_name.rsplit(".", 1)[-1]
        close = difflib.get_close_matches(name, _public_names(module), n=1)
        use = (f"did you mean {module}.{close[0]}? " if close else "") + (
            f"use one of {module}'s names (dir({module})), or see README's \"Where tinytensor "
            f"differs from PyTorch\"")
    return f"tinytensor has no {torch_name}; {use}"


def names(module: str) -> Callable[[str], NoReturn]:
    """The ``__getattr__`` of ``module``: every name it lacks raises MissingName, saying what to use."""
    def __getattr__(name: str) -> NoReturn:
        if name.startswith("_"):
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        raise MissingName(use_instead(f"{torch_module(module)}.{name}", module))
    return __getattr__


def _public_names(module: str) -> list[str]:
    found = sys.modules.get(module)
    return list(getattr(found, "__all__", [n for n in dir(found) if not n.startswith("_")]))
