"""tinytensor.data: datasets, batching and shuffling (as torch.utils.data).

dataset.py       Dataset, TensorDataset
sampler.py       RandomSampler, BatchSampler, BucketBatchSampler (similar lengths together)
collate.py       default_collate, pad_sequence, pad_collate
dataloader.py    DataLoader
"""
from .collate import default_collate, pad_collate, pad_sequence
from .dataloader import DataLoader
from .dataset import Dataset, TensorDataset
from .distributed import DistributedSampler
from .sampler import BatchSampler, BucketBatchSampler, RandomSampler

__all__ = ["BatchSampler", "BucketBatchSampler", "DataLoader", "Dataset", "DistributedSampler", "RandomSampler",
           "TensorDataset", "default_collate", "pad_collate", "pad_sequence"]
