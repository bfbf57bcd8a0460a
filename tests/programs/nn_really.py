"""From raw tensors to nn.Module, optim and DataLoader, in the manner of "What is torch.nn really?".

Logistic regression on synthetic 8x8 digits written first with nothing
but tensors (hand-made log_softmax, negative log-likelihood by fancy
indexing, updates under no_grad), then refactored step by step: F.cross_entropy,
nn.Module with nn.Parameter, nn.Linear, optim.SGD, TensorDataset, DataLoader,
a validation set, fit() and get_data(), nn.Sequential with a Lambda layer, a
wrapped DataLoader with preprocessing.
Written for PyTorch; run unchanged by tests/test_pytorch_programs.py.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn, optim
from torch.utils.data import DataLoader, TensorDataset


def synthetic_digits(n, seed=0):
    """n 8x8 images of ten classes, pixels 0..16 like scikit-learn's digits: a pattern per class, noise."""
    rng = np.random.default_rng(seed)
    patterns = rng.random((10, 8, 8)) < 0.35
    labels = rng.integers(0, 10, n)
    images = np.clip(patterns[labels] * 12.0 + rng.normal(0.0, 8.0, (n, 8, 8)), 0, 16).round()
    return images, labels


images, targets = synthetic_digits(1800)
data = (images.reshape(-1, 64) / 16.0).astype(np.float32)
x_train, y_train, x_valid, y_valid = data[:1300], targets[:1300], data[1300:], targets[1300:]
x_train, y_train, x_valid, y_valid = map(torch.tensor, (x_train, y_train, x_valid, y_valid))
n, c = x_train.shape
print(tuple(x_train.shape), y_train.min().item(), y_train.max().item(), n, c)

torch.manual_seed(0)
weights = torch.randn(64, 10) / math.sqrt(64)
weights.requires_grad_()
bias = torch.zeros(10, requires_grad=True)


def log_softmax(x):
    return x - x.exp().sum(-1).log().unsqueeze(-1)


def model(xb):
    return log_softmax(xb @ weights + bias)


bs = 64
xb = x_train[0:bs]
preds = model(xb)
print(f"first prediction: {[round(v, 4) for v in preds[0].tolist()[:4]]}, shape {tuple(preds.shape)}")


def nll(input, target):
    return -input[range(target.shape[0]), target].mean()


loss_func = nll
yb = y_train[0:bs]
print(f"initial loss {loss_func(preds, yb).item():.4f}")


def accuracy(out, yb):
    preds = torch.argmax(out, dim=1)
    return (preds == yb).float().mean()


print(f"initial accuracy {accuracy(preds, yb).item():.4f}")

lr = 0.5
epochs = 2
for epoch in range(epochs):
    for i in range((n - 1) // bs + 1):
        start_i = i * bs
        end_i = start_i + bs
        xb = x_train[start_i:end_i]
        yb = y_train[start_i:end_i]
        pred = model(xb)
        loss = loss_func(pred, yb)
        loss.backward()
        with torch.no_grad():
            weights -= weights.grad * lr
            bias -= bias.grad * lr
            weights.grad.zero_()
            bias.grad.zero_()
print(f"by hand: loss {loss_func(model(xb), yb).item():.4f}, accuracy {accuracy(model(xb), yb).item():.4f}")

# F.cross_entropy does log_softmax and the negative log-likelihood in one
loss_func = F.cross_entropy


def model(xb):
    return xb @ weights + bias


print(f"with F.cross_entropy: {loss_func(model(xb), yb).item():.4f}")


class DigitsLogistic(nn.Module):
    def __init__(self):
        super().__init__()
        self.weights = nn.Parameter(torch.randn(64, 10) / math.sqrt(64))
        self.bias = nn.Parameter(torch.zeros(10))

    def forward(self, xb):
        return xb @ self.weights + self.bias


model = DigitsLogistic()
print(f"Module, before training: {loss_func(model(xb), yb).item():.4f}")


def fit():
    for epoch in range(epochs):
        for i in range((n - 1) // bs + 1):
            start_i = i * bs
            end_i = start_i + bs
            xb = x_train[start_i:end_i]
            yb = y_train[start_i:end_i]
            loss = loss_func(model(xb), yb)
            loss.backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= p.grad * lr
                model.zero_grad()


fit()
print(f"Module, after training: {loss_func(model(xb), yb).item():.4f}")


class DigitsLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(64, 10)

    def forward(self, xb):
        return self.lin(xb)


def get_model():
    model = DigitsLinear()
    return model, optim.SGD(model.parameters(), lr=lr)


model, opt = get_model()
print(f"nn.Linear, before training: {loss_func(model(xb), yb).item():.4f}")
train_ds = TensorDataset(x_train, y_train)
for epoch in range(epochs):
    for i in range((n - 1) // bs + 1):
        xb, yb = train_ds[i * bs: i * bs + bs]
        pred = model(xb)
        loss = loss_func(pred, yb)
        loss.backward()
        opt.step()
        opt.zero_grad()
print(f"optim + TensorDataset: {loss_func(model(xb), yb).item():.4f}")

valid_ds = TensorDataset(x_valid, y_valid)


def get_data(train_ds, valid_ds, bs):
    return (DataLoader(train_ds, batch_size=bs, shuffle=True), DataLoader(valid_ds, batch_size=bs * 2))


def loss_batch(model, loss_func, xb, yb, opt=None):
    loss = loss_func(model(xb), yb)
    if opt is not None:
        loss.backward()
        opt.step()
        opt.zero_grad()
    return loss.item(), len(xb)


def fit(epochs, model, loss_func, opt, train_dl, valid_dl):
    for epoch in range(epochs):
        model.train()
        for xb, yb in train_dl:
            loss_batch(model, loss_func, xb, yb, opt)
        model.eval()
        with torch.no_grad():
            losses, nums = zip(*[loss_batch(model, loss_func, xb, yb) for xb, yb in valid_dl])
        val_loss = np.sum(np.multiply(losses, nums)) / np.sum(nums)
        print(epoch, f"{val_loss:.6f}")


train_dl, valid_dl = get_data(train_ds, valid_ds, bs)
model, opt = get_model()
fit(epochs, model, loss_func, opt, train_dl, valid_dl)


class Lambda(nn.Module):
    def __init__(self, func):
        super().__init__()
        self.func = func

    def forward(self, x):
        return self.func(x)


def preprocess(x, y):
    return x.view(-1, 1, 8, 8).to(dev), y.to(dev)


class WrappedDataLoader:
    def __init__(self, dl, func):
        self.dl, self.func = dl, func

    def __len__(self):
        return len(self.dl)

    def __iter__(self):
        for b in self.dl:
            yield self.func(*b)


dev = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
train_dl, valid_dl = get_data(train_ds, valid_ds, bs)
train_dl = WrappedDataLoader(train_dl, preprocess)
valid_dl = WrappedDataLoader(valid_dl, preprocess)
model = nn.Sequential(
    Lambda(lambda x: x.view(x.size(0), -1)),
    nn.Linear(64, 32),
    nn.ReLU(),
    nn.Linear(32, 10),
)
model.to(dev)
opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
fit(epochs, model, loss_func, opt, train_dl, valid_dl)
