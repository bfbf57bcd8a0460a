"""Optimizing a model's parameters, then saving and loading it, in the manner of PyTorch's beginner tutorials.

The train loop and the test loop of the optimization tutorial (cross-entropy,
SGD, progress lines formatted from tensors), on synthetic 8x8 digits;
then the save-and-load tutorial: a state_dict saved and loaded with
weights_only=True, and a checkpoint dict holding the model's and the
optimizer's state_dicts, from which training resumes exactly.
Written for PyTorch; run unchanged by tests/test_pytorch_programs.py.
"""
import os
import tempfile

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
device = torch.device("cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu")


def synthetic_digits(n, seed=0):
    """n 8x8 images of ten classes, pixels 0..16 like scikit-learn's digits: a pattern per class, noise."""
    rng = np.random.default_rng(seed)
    patterns = rng.random((10, 8, 8)) < 0.35
    labels = rng.integers(0, 10, n)
    images = np.clip(patterns[labels] * 12.0 + rng.normal(0.0, 8.0, (n, 8, 8)), 0, 16).round()
    return images, labels


digit_images, digit_labels = synthetic_digits(1800)
images = torch.tensor(digit_images, dtype=torch.float32).unsqueeze(1) / 16.0  # (N, 1, 8, 8)
labels = torch.tensor(digit_labels, dtype=torch.long)
training_data = TensorDataset(images[:1400], labels[:1400])
test_data = TensorDataset(images[1400:], labels[1400:])


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(64, 48),
            nn.ReLU(),
            nn.Linear(48, 48),
            nn.ReLU(),
            nn.Linear(48, 10),
        )

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))


learning_rate = 2e-2
batch_size = 64
epochs = 3
train_dataloader = DataLoader(training_data, batch_size=batch_size, shuffle=True)
test_dataloader = DataLoader(test_data, batch_size=batch_size)


def train_loop(dataloader, model, loss_fn, optimizer):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if batch % 5 == 0:
            loss, current = loss.item(), batch * batch_size + len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")


def test_loop(dataloader, model, loss_fn):
    model.eval()
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \n Accuracy: {(100 * correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
    return test_loss


model = NeuralNetwork().to(device)
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=0.9)
for t in range(epochs):
    print(f"Epoch {t + 1}\n-------------------------------")
    train_loop(train_dataloader, model, loss_fn, optimizer)
    test_loop(test_dataloader, model, loss_fn)
print("Done!")

with tempfile.TemporaryDirectory() as tmp:
    # Only the weights
    torch.save(model.state_dict(), os.path.join(tmp, "model_weights.pth"))
    model2 = NeuralNetwork().to(device)
    model2.load_state_dict(torch.load(os.path.join(tmp, "model_weights.pth"), weights_only=True))
    model2.eval()
    print("reloaded weights give the same test loss:")
    test_loop(test_dataloader, model2, loss_fn)

    # A checkpoint to resume from: model, optimizer, epoch, last loss
    X, y = next(iter(test_dataloader))
    last_loss = loss_fn(model(X), y)
    torch.save({
        "epoch": epochs,
        "model_state_dict": model.state_dict(),
        "optimizer_state_dict": optimizer.state_dict(),
        "loss": last_loss,
    }, os.path.join(tmp, "checkpoint.tar"))

    resumed = NeuralNetwork().to(device)
    resumed_optimizer = torch.optim.SGD(resumed.parameters(), lr=learning_rate, momentum=0.9)
    checkpoint = torch.load(os.path.join(tmp, "checkpoint.tar"), weights_only=True)
    resumed.load_state_dict(checkpoint["model_state_dict"])
    resumed_optimizer.load_state_dict(checkpoint["optimizer_state_dict"])
    print(f"resuming after epoch {checkpoint['epoch']}, loss {checkpoint['loss']:.6f}")
    print("momentum buffers restored:", len(resumed_optimizer.state_dict()["state"]))

    # One more step on the same batch from both: the same update
    for m, opt in ((model, optimizer), (resumed, resumed_optimizer)):
        m.train()
        loss = loss_fn(m(X), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
    gap = max((p - q).abs().max().item() for p, q in zip(model.parameters(), resumed.parameters()))
    print("largest difference after one more step:", gap)
