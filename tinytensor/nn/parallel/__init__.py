"""tinytensor.nn.parallel: DistributedDataParallel, one model trained by N processes (as torch.nn.parallel).

distributed.py teaches it: why the ranks' averaged gradient is the whole batch's, buckets,
and how their all-reduces overlap backward. It runs on tinytensor.distributed's process group.
"""
from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
