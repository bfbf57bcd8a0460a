"""Datasets and DataLoaders, in the manner of PyTorch's beginner tutorial.

A custom Dataset with a transform and a target transform (one-hot through
scatter_), a DataLoader that shuffles, TensorDataset, random_split with a
seeded Generator, Subset, the samplers, and a DataLoader with workers, pinned
memory and a collate function that pads with F.pad. The images are
synthetic 8x8 digits made with NumPy (no download).
Written for PyTorch; run unchanged by tests/test_pytorch_programs.py.
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import (DataLoader, Dataset, RandomSampler, SequentialSampler, Subset, TensorDataset,
                              random_split)

torch.manual_seed(0)
torch.cuda.manual_seed_all(0)

def synthetic_digits(n, seed=0):
    """n 8x8 images of ten classes, pixels 0..16 like scikit-learn's digits: a pattern per class, noise."""
    rng = np.random.default_rng(seed)
    patterns = rng.random((10, 8, 8)) < 0.35
    labels = rng.integers(0, 10, n)
    images = np.clip(patterns[labels] * 12.0 + rng.normal(0.0, 8.0, (n, 8, 8)), 0, 16).round()
    return images, labels


images, targets = synthetic_digits(1800)
labels_map = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


class DigitImageDataset(Dataset):
    """Images as (1, 8, 8) float tensors scaled to [0, 1], with optional transforms."""

    def __init__(self, images, labels, transform=None, target_transform=None):
        self.images, self.labels = images, labels
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        image = torch.tensor(self.images[idx], dtype=torch.float32).reshape(1, 8, 8) / 16.0
        label = int(self.labels[idx])
        if self.transform:
            image = self.transform(image)
        if self.target_transform:
            label = self.target_transform(label)
        return image, label


training_data = DigitImageDataset(images[:1500], targets[:1500])
test_data = DigitImageDataset(
    images[1500:], targets[1500:],
    target_transform=lambda y: torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1))
print("sizes:", len(training_data), len(test_data))

for i in range(3):
    sample_idx = torch.randint(len(training_data), size=(1,)).item()
    img, label = training_data[sample_idx]
    print(f"sample {sample_idx}: {labels_map[label]}, mean ink {img.mean().item():.4f}")
img, target = test_data[0]
print("one-hot target:", target.tolist())

train_dataloader = DataLoader(training_data, batch_size=64, shuffle=True)
test_dataloader = DataLoader(test_data, batch_size=64, shuffle=True)
train_features, train_labels = next(iter(train_dataloader))
print(f"Feature batch shape: {tuple(train_features.size())}")
print(f"Labels batch shape: {tuple(train_labels.size())}")
img = train_features[0].squeeze()
label = train_labels[0]
print(f"Label: {label}, as a word: {labels_map[label]}, image {tuple(img.shape)}")
print("first labels:", train_labels[:10].tolist())
print("batches per epoch:", len(train_dataloader), len(test_dataloader))
epoch_sum = sum(x.sum().item() for x, _ in train_dataloader)
print(f"sum of all pixels seen in one epoch: {epoch_sum:.4f}")

# Whole arrays as a dataset, split at random, indexed by slices
X = torch.tensor(images.reshape(-1, 64), dtype=torch.float32) / 16.0
y = torch.tensor(targets)
full = TensorDataset(X, y)
xb, yb = full[3:6]
print("slice of a TensorDataset:", tuple(xb.shape), yb.tolist())
train_set, val_set = random_split(full, [0.8, 0.2], generator=torch.Generator().manual_seed(42))
print("random_split:", len(train_set), len(val_set), type(train_set).__name__)
print("validation labels:", [int(val_set[i][1]) for i in range(8)])
first_hundred = Subset(full, range(100))
print("Subset:", len(first_hundred), int(first_hundred[99][1]))

print("SequentialSampler:", list(SequentialSampler(range(5))))
loader = DataLoader(full, batch_size=32, sampler=RandomSampler(full, replacement=True, num_samples=96))
print("with replacement:", [tuple(b[1].shape) for b in loader])
loader = DataLoader(train_set, batch_size=100, shuffle=True, generator=torch.Generator().manual_seed(1))
print("seeded shuffle, first labels:", next(iter(loader))[1][:10].tolist())


def pad_collate(batch):
    """Rows of different lengths padded on the right with -1, plus their lengths."""
    longest = max(len(row) for row, _ in batch)
    rows = [F.pad(row, (0, longest - len(row)), value=-1.0) for row, _ in batch]
    return torch.stack(rows), torch.tensor([len(row) for row, _ in batch]), torch.stack([t for _, t in batch])


ragged = [(torch.arange(float(n % 5 + 1)), torch.tensor(n)) for n in range(12)]
loader = DataLoader(ragged, batch_size=4, collate_fn=pad_collate, num_workers=2, pin_memory=True)
for padded, lengths, targets in loader:
    print("padded batch:", tuple(padded.shape), lengths.tolist(), targets.tolist(), padded[-1].tolist())
print("F.pad on two sides:", F.pad(torch.ones(2, 2), (1, 1, 1, 0)).tolist())
print("numpy in, tensor out:", torch.as_tensor(np.arange(3)).tolist())
