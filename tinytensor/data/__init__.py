"""tinytensor.data: datasets, batching and shuffling (as torch.utils.data, also reachable under that name).

dataset.py       Dataset, IterableDataset, TensorDataset, Subset, random_split
sampler.py       Sampler, SequentialSampler, RandomSampler, SubsetRandomSampler, BatchSampler,
                 BucketBatchSampler (similar lengths together)
collate.py       default_collate, default_convert, pad_sequence, pad_collate
dataloader.py    DataLoader, get_worker_info
distributed.py   DistributedSampler (each process of a data-parallel job its share)
"""
from .. import missing
from .collate import default_collate, default_convert, pad_collate, pad_sequence
from .dataloader import DataLoader, get_worker_info
from .dataset import Dataset, IterableDataset, Subset, TensorDataset, random_split
from .distributed import DistributedSampler
from .sampler import (BatchSampler, BucketBatchSampler, RandomSampler, Sampler, SequentialSampler,
                      SubsetRandomSampler)

__all__ = ["BatchSampler", "BucketBatchSampler", "DataLoader", "Dataset", "DistributedSampler",
           "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "Subset", "SubsetRandomSampler",
           "TensorDataset", "default_collate", "default_convert", "get_worker_info", "pad_collate",
           "pad_sequence", "random_split"]


__getattr__ = missing.names(__name__)  # a PyTorch name not here says what to use (missing.py)
