# %% [markdown]
# # Lesson 5: Training an MLP
#
# Lessons 1 to 4 computed gradients (梯度); now we use them. A multilayer perceptron
# (多层感知机, MLP) learns to read handwritten digits: forward a batch, measure how wrong it is with
# a loss function (损失函数), backpropagate (反向传播), and move every weight a little against its
# gradient. Seed 002 calls that last step the weight update (权重更新): the players of its
# 你画我猜 game, told where their description went wrong, describe better next round.
#
# The model is the Transformer's feed-forward block (前馈神经网络) of seed 004 and of "Attention
# Is All You Need" §3.3, `FFN(x) = max(0, x W1 + b1) W2 + b2`: two linear layers with a ReLU
# between them. Here it maps 64 pixels to 10 scores, one per digit.
#
# Read along: [`examples/train_digits.py`](../examples/train_digits.py) (the same training as a
# script), [`tinytensor/nn/linear.py`](../tinytensor/nn/linear.py),
# [`tinytensor/functional/loss.py`](../tinytensor/functional/loss.py) and
# [`tinytensor/optim/adam.py`](../tinytensor/optim/adam.py).

# %%
import math
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

import tinytensor as tt
from tinytensor import nn, optim
from tinytensor.data import DataLoader, TensorDataset
from lesson_tools import device, show

dev = device()
print("device:", dev)
start = time.perf_counter()

# %% [markdown]
# ## The data
#
# scikit-learn ships the UCI handwritten digits: 1,797 grey images of 8 × 8 pixels with values
# 0 to 16, so nothing is downloaded. We scale the pixels to [0, 1], shuffle with a fixed seed and
# keep 80% as the training set (训练集) and 20% as the test set (测试集), which the model never
# trains on: its accuracy (准确率) there says whether it learned digits or memorised images.

# %%
images, labels = load_digits(return_X_y=True)
order = np.random.default_rng(0).permutation(len(labels))
images, labels = images[order].astype(np.float32) / 16, labels[order].astype(np.int64)
cut = int(0.8 * len(labels))
train_x, train_y, test_x, test_y = images[:cut], labels[:cut], images[cut:], labels[cut:]
print(f"{len(train_y)} training and {len(test_y)} test images of {images.shape[1]} pixels")
assert (len(train_y), len(test_y), images.shape[1]) == (1437, 360, 64)
assert images.min() == 0 and images.max() == 1

fig, axes = plt.subplots(1, 10, figsize=(9, 1.4))
for digit, ax in enumerate(axes):  # the first training image of each digit
    ax.imshow(train_x[train_y == digit][0].reshape(8, 8), cmap="gray_r")
    ax.set_title(str(digit))
    ax.axis("off")
show(fig, "05_digits.png")

# %% [markdown]
# ## The model
#
# `nn.Linear(64, 128)` holds a weight `W` of shape (128, 64) and a bias of 128 (the bias is
# broadcast over the batch, and its gradient summed back: lesson 4). Its parameters number
# `64·128 + 128 + 128·10 + 10`.

# %%
def make_model():
    return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)).to(dev)


tt.manual_seed(0)  # the initial weights and the shuffling repeat
model = make_model()
count = sum(p.numel() for p in model.parameters())
print(model)
print("parameters:", count)
assert count == 64 * 128 + 128 + 128 * 10 + 10 == 9610

# %% [markdown]
# ## The loss before training
#
# Cross-entropy (交叉熵) is `-log p(right digit)`, with `p = softmax(scores)`. Written out in NumPy:
# `log p = s - log Σ exp(s)`, with the largest score subtracted first so `exp` cannot overflow.
# An untrained model gives the ten digits about the same probability, `1/10`, so its loss should
# be near `ln 10 = 2.3026`.

# %%
loss_fn = nn.CrossEntropyLoss()
train_images, train_labels = tt.tensor(train_x, device=dev), tt.tensor(train_y, device=dev)
test_images, test_labels = tt.tensor(test_x, device=dev), tt.tensor(test_y, device=dev)


def cross_entropy_numpy(scores, labels):
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_p[np.arange(len(labels)), labels].mean()


with tt.no_grad():
    initial_loss = loss_fn(model(train_images), train_labels).item()
    initial_scores = model(train_images).cpu().numpy()
print(f"initial loss {initial_loss:.4f}, ln 10 = {math.log(10):.4f}")
assert math.isclose(initial_loss, cross_entropy_numpy(initial_scores, train_y), rel_tol=1e-5)
assert abs(initial_loss - math.log(10)) < 0.15

# %% [markdown]
# ## Training
#
# A `DataLoader` deals the training set out in shuffled mini-batches (小批量) of 32. For each:
# forward, loss, `zero_grad()` (backward adds to `.grad`, so the last batch's gradient must go
# first), `backward()`, and the optimizer's `step()`. The optimizer (优化器) is Adam (Kingma & Ba, 2015), the one the paper trains the
# Transformer with (§5.3): gradient descent (梯度下降) that scales each weight's step by a running
# average of its own gradient's size. One pass over the data is an epoch (轮).

# %%
loader = DataLoader(TensorDataset(tt.tensor(train_x), tt.tensor(train_y)), batch_size=32, shuffle=True)
optimizer = optim.Adam(model.parameters(), lr=3e-3)
EPOCHS = 15


def train(model, update):
    """EPOCHS passes over the training set, calling update() after each backward.

    Returns the loss of every batch and the test loss after every epoch.
    """
    batch_losses, test_losses = [], []
    for _ in range(EPOCHS):
        for x, y in loader:
            loss = loss_fn(model(x.to(dev)), y.to(dev))
            model.zero_grad()
            loss.backward()
            update()
            batch_losses.append(loss.item())
        with tt.no_grad():
            test_losses.append(loss_fn(model(test_images), test_labels).item())
    return batch_losses, test_losses


batch_losses, test_losses = train(model, optimizer.step)
steps_per_epoch = len(loader)
epoch_losses = np.array(batch_losses).reshape(EPOCHS, steps_per_epoch).mean(axis=1)
print(f"{steps_per_epoch} steps per epoch (1437 / 32 rounded up)")
print(f"mean training loss: epoch 1 {epoch_losses[0]:.4f}, epoch {EPOCHS} {epoch_losses[-1]:.4f}")
print(f"test loss after epoch {EPOCHS}: {test_losses[-1]:.4f}")
assert steps_per_epoch == math.ceil(1437 / 32) == 45
assert epoch_losses[-1] < 0.1 * epoch_losses[0]
with tt.no_grad():
    final_test_loss = cross_entropy_numpy(model(test_images).cpu().numpy(), test_y)
assert math.isclose(test_losses[-1], final_test_loss, rel_tol=1e-5)

# %% [markdown]
# ## The loss curve
#
# Each batch's loss is noisy (32 images, reshuffled each epoch); its epoch mean falls smoothly.
# The mean is drawn at the epoch's end but averages the whole epoch, while the model was still
# improving, which is why it starts above the test loss. The test loss, on images the model never
# trained on, follows it down and then levels off: the model has learned most of what these
# 1,437 images can teach.

# %%
fig, ax = plt.subplots(figsize=(6.4, 4))
steps = np.arange(1, len(batch_losses) + 1)
epoch_ends = steps_per_epoch * np.arange(1, EPOCHS + 1)
ax.plot(steps, batch_losses, color="#90caf9", lw=0.8, label="training loss, each batch")
ax.plot(epoch_ends, epoch_losses, "o-", color="#1565c0", ms=4, label="training loss, epoch mean")
ax.plot(epoch_ends, test_losses, "s-", color="#e65100", ms=4, label="test loss, end of epoch")
ax.axhline(math.log(10), color="grey", ls=":", lw=1)
ax.text(steps[-1], math.log(10) * 0.95, "ln 10: guessing", ha="right", va="top", fontsize=8, color="grey")
ax.set_yscale("log")
ax.set_xlabel("training step (batch of 32)")
ax.set_ylabel("cross-entropy")
ax.set_title("An MLP learns the digits (Adam, lr 3e-3)")
ax.legend(loc="lower left")
show(fig, "05_loss_curve.png")

# %% [markdown]
# ## Test accuracy
#
# The predicted digit is the one with the highest score. To check tinytensor's forward pass as
# well, we redo it in NumPy from the trained weights: `max(0, x W1ᵀ + b1) W2ᵀ + b2`.

# %%
with tt.no_grad():
    predictions = model(test_images).argmax(axis=1)
accuracy = (predictions == test_labels).float().mean().item()

weights = {name: p.detach().cpu().numpy() for name, p in model.named_parameters()}
hidden = np.maximum(0, test_x @ weights["0.weight"].T + weights["0.bias"])
scores_numpy = hidden @ weights["2.weight"].T + weights["2.bias"]
accuracy_numpy = (scores_numpy.argmax(axis=1) == test_y).mean()
print(f"test accuracy {accuracy:.2%} ({round(accuracy * 360)} of 360 digits)")
assert math.isclose(accuracy, accuracy_numpy, rel_tol=1e-6)
assert accuracy > 0.9

# %% [markdown]
# ## Exercise
#
# Take the optimizer away and write the weight update yourself: plain gradient descent,
# `w ← w - lr · dL/dw` for every parameter, in place and under `tt.no_grad()` (the update itself
# must not become part of the graph). Train a fresh model with it (lr 0.1) for the same epochs,
# and check that one step of yours does exactly what `optim.SGD(lr=0.1)` does. Try it yourself
# first; the cell below is one solution.

# %%
LR = 0.1


def gradient_descent_step(model):
    with tt.no_grad():
        for p in model.parameters():
            p -= LR * p.grad


tt.manual_seed(1)
sgd_model = make_model()
x0, y0 = tt.tensor(train_x[:32], device=dev), tt.tensor(train_y[:32], device=dev)
loss_fn(sgd_model(x0), y0).backward()
gradient_descent_step(sgd_model)  # one step on one batch, kept for the check
after_one_step = {name: p.detach().cpu().numpy().copy() for name, p in sgd_model.named_parameters()}

sgd_batch_losses, _ = train(sgd_model, lambda: gradient_descent_step(sgd_model))
with tt.no_grad():
    sgd_accuracy = (sgd_model(test_images).argmax(axis=1) == test_labels).float().mean().item()
print(f"hand-written gradient descent: mean loss of the first epoch {np.mean(sgd_batch_losses[:45]):.4f}, "
      f"of the last {np.mean(sgd_batch_losses[-45:]):.4f}; test accuracy {sgd_accuracy:.2%}")

# %% [markdown]
# ### Check
#
# The same start (seed 1), the same batch, one step of `optim.SGD`: every parameter must land
# where the hand-written step put it, and the hand-trained model must read the digits.

# %%
tt.manual_seed(1)
reference = make_model()
before = {name: p.detach().cpu().numpy().copy() for name, p in reference.named_parameters()}
reference_sgd = optim.SGD(reference.parameters(), lr=LR)
loss_fn(reference(x0), y0).backward()
reference_sgd.step()
for name, p in reference.named_parameters():
    np.testing.assert_allclose(after_one_step[name], p.detach().cpu().numpy(), rtol=0, atol=1e-7, err_msg=name)
    assert not np.allclose(after_one_step[name], before[name], rtol=0, atol=1e-6), f"{name} did not move"
sgd_losses = np.array(sgd_batch_losses).reshape(EPOCHS, steps_per_epoch).mean(axis=1)
assert math.isclose(np.mean(sgd_batch_losses[-45:]), sgd_losses[-1], rel_tol=1e-9)
assert sgd_losses[-1] < 0.2 * sgd_losses[0]
assert sgd_accuracy > 0.9
print(f"the hand step matches optim.SGD; whole lesson in {time.perf_counter() - start:.1f} s")
