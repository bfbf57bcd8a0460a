"""Train a small classifier on handwritten digits with tinytensor, as one would with PyTorch.

    python examples/train_digits.py                  # CPU: about 98% test accuracy in ~2 s of training
    python examples/train_digits.py --device cuda    # on the GPU (needs CuPy)
    python examples/train_digits.py --quick          # 3 epochs, a smoke test

The data is scikit-learn's copy of the UCI handwritten digits: 1,797 grey 8x8
images of the digits 0-9, shipped with scikit-learn, so nothing is downloaded.
Each image is 64 numbers, and the model is a multilayer perceptron:

    64 pixels -> Linear -> ReLU -> Dropout -> Linear -> 10 scores (one per digit)

trained with cross-entropy, Adam and mini-batches from a shuffling DataLoader.
Every piece is tinytensor's: nn, optim, data.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import tinytensor as tt
from tinytensor import nn, optim
from tinytensor.data import DataLoader, TensorDataset

try:
    from tqdm import tqdm
except ImportError:  # the progress bar is a nicety: without tqdm, plain prints per epoch
    tqdm = None


def load_digits(seed: int) -> tuple[TensorDataset, TensorDataset]:
    """The digits, pixels scaled to [0, 1], split 80/20 into training and test sets."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise SystemExit("This example needs scikit-learn for its bundled digits: "
                         "pip install scikit-learn (or pip install -e \".[examples]\" in your "
                         "tinytensor checkout)") from None
    images, labels = sklearn_digits(return_X_y=True)
    order = np.random.default_rng(seed).permutation(len(labels))
    images, labels = images[order].astype(np.float32) / 16.0, labels[order].astype(np.int64)
    cut = int(0.8 * len(labels))
    return (TensorDataset(tt.tensor(images[:cut]), tt.tensor(labels[:cut])),
            TensorDataset(tt.tensor(images[cut:]), tt.tensor(labels[cut:])))


def make_model() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.1), nn.Linear(128, 10))


def train_epoch(model: nn.Module, loader: DataLoader, optimizer: optim.Optimizer, device: str,
                description: str) -> float:
    """One pass over the training set; returns the mean loss.

    The losses are summed on the device and read every 20 batches, for the
    progress bar: reading each one would make the host wait for the GPU.
    """
    model.train()
    loss_fn = nn.CrossEntropyLoss()
    batches = tqdm(loader, desc=description, leave=False) if tqdm else loader
    total = tt.zeros((), device=device)
    for batch, (images, labels) in enumerate(batches, 1):
        loss = loss_fn(model(images.to(device)), labels.to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total = total + loss.detach()
        if tqdm and batch % 20 == 0:
            batches.set_postfix(loss=f"{total.item() / batch:.3f}", refresh=False)
    return total.item() / len(loader)


@tt.no_grad()
def accuracy(model: nn.Module, dataset: TensorDataset, device: str) -> float:
    """The fraction of images whose highest score is the right digit (no dropout, no graph)."""
    model.eval()
    images, labels = dataset.tensors
    predictions = model(images.to(device)).argmax(axis=1)
    return (predictions == labels.to(device)).float().mean().item()


def main(argv: list[str] | None = None) -> float:
    """Train and return the test accuracy; ``argv`` as on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cuda" if tt.cuda_is_available() else "cpu")
    parser.add_argument("--quick", action="store_true", help="3 epochs: a smoke test")
    args = parser.parse_args(argv)
    epochs = 3 if args.quick else args.epochs

    tt.manual_seed(args.seed)  # the weights, the dropout masks and the shuffling all repeat
    train_set, test_set = load_digits(args.seed)
    loader = DataLoader(train_set, batch_size=32, shuffle=True)
    model = make_model().to(args.device)
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    print(f"{len(train_set)} training and {len(test_set)} test images, on {args.device}")

    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        loss = train_epoch(model, loader, optimizer, args.device, f"epoch {epoch}/{epochs}")
        print(f"epoch {epoch:2d}  loss {loss:.4f}  test accuracy {accuracy(model, test_set, args.device):.2%}")
    test_accuracy = accuracy(model, test_set, args.device)
    print(f"test accuracy {test_accuracy:.2%} after {epochs} epochs in {time.perf_counter() - start:.1f} s")
    return test_accuracy


if __name__ == "__main__":
    main()
