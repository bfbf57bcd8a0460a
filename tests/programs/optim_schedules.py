"""Optimizers and learning-rate schedules, in the manner of the torch.optim documentation's examples.

One small binary classifier (its weights in a ParameterDict, its layers in a
ParameterList), trained with each optimizer; every scheduler stepped once per
epoch and its rates printed; schedulers chained with SequentialLR; one
ReduceLROnPlateau driven by a validation loss; a learning rate changed by
hand in param_groups; the binary cross-entropy family.
Written for PyTorch; run unchanged by tests/test_pytorch_programs.py.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim import lr_scheduler

torch.manual_seed(0)
torch.cuda.manual_seed_all(0)

# Two interleaved half-moons, drawn deterministically
t = torch.linspace(0, 3.14159, 64)
upper = torch.stack([torch.cos(t), torch.sin(t)], dim=1)
lower = torch.stack([1 - torch.cos(t), 0.5 - torch.sin(t)], dim=1)
inputs = torch.cat([upper, lower]) + 0.1 * torch.sin(torch.arange(128.0)).unsqueeze(1)
targets = torch.cat([torch.zeros(64), torch.ones(64)])


class Classifier(nn.Module):
    """Two hidden layers kept in a ParameterList, the output layer in a ParameterDict."""

    def __init__(self, hidden=16):
        super().__init__()
        self.hidden = nn.ParameterList([nn.Parameter(torch.randn(2, hidden) * 0.5),
                                        nn.Parameter(torch.randn(hidden, hidden) * 0.25)])
        self.out = nn.ParameterDict({"weight": nn.Parameter(torch.randn(hidden, 1) * 0.25),
                                     "bias": nn.Parameter(torch.zeros(1))})

    def forward(self, x):
        for w in self.hidden:
            x = torch.tanh(x @ w)
        return (x @ self.out["weight"] + self.out["bias"]).squeeze(1)


criterion = nn.BCEWithLogitsLoss()
start = Classifier().state_dict()


def train(optimizer_class, scheduler_class=None, epochs=6, **kwargs):
    model = Classifier()
    model.load_state_dict(start)
    optimizer = optimizer_class(model.parameters(), **kwargs)
    scheduler = scheduler_class(optimizer) if scheduler_class else None
    rates = []
    for epoch in range(epochs):
        for batch in range(2):
            x, y = inputs[batch::2], targets[batch::2]
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        rates.append(optimizer.param_groups[0]["lr"])
        if scheduler is not None:
            scheduler.step()
    return loss.item(), rates


optimizers = [
    ("SGD", torch.optim.SGD, dict(lr=0.5, momentum=0.9, nesterov=True)),
    ("Adam", torch.optim.Adam, dict(lr=0.05)),
    ("AdamW", torch.optim.AdamW, dict(lr=0.05, weight_decay=0.1)),
    ("RMSprop", torch.optim.RMSprop, dict(lr=0.01, alpha=0.9)),
    ("RMSprop momentum", torch.optim.RMSprop, dict(lr=0.005, momentum=0.5, centered=True)),
    ("Adagrad", torch.optim.Adagrad, dict(lr=0.2)),
    ("Adagrad decayed", torch.optim.Adagrad, dict(lr=0.2, lr_decay=0.01, weight_decay=0.01)),
]
for name, optimizer_class, kwargs in optimizers:
    loss, _ = train(optimizer_class, **kwargs)
    print(f"{name:>16}: final loss {loss:.5f}")

schedules = {
    "StepLR": lambda opt: lr_scheduler.StepLR(opt, step_size=3, gamma=0.5),
    "MultiStepLR": lambda opt: lr_scheduler.MultiStepLR(opt, milestones=[2, 5], gamma=0.1),
    "ExponentialLR": lambda opt: lr_scheduler.ExponentialLR(opt, gamma=0.8),
    "LinearLR": lambda opt: lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=4),
    "CosineAnnealingLR": lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=6, eta_min=0.01),
    "LambdaLR": lambda opt: lr_scheduler.LambdaLR(opt, lr_lambda=lambda epoch: 0.9 ** epoch),
    "SequentialLR": lambda opt: lr_scheduler.SequentialLR(
        opt, schedulers=[lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=3),
                         lr_scheduler.ExponentialLR(opt, gamma=0.7)], milestones=[3]),
}
for name, make in schedules.items():
    loss, rates = train(torch.optim.SGD, make, lr=0.4)
    print(f"{name:>17}: loss {loss:.5f}, rates {[round(r, 5) for r in rates]}")

# OneCycleLR steps once per batch
model = Classifier()
model.load_state_dict(start)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
scheduler = lr_scheduler.OneCycleLR(optimizer, max_lr=1.0, steps_per_epoch=2, epochs=5)
rates = []
for epoch in range(5):
    for batch in range(2):
        optimizer.zero_grad()
        loss = criterion(model(inputs[batch::2]), targets[batch::2])
        loss.backward()
        optimizer.step()
        rates.append(scheduler.get_last_lr()[0])
        scheduler.step()
print(f"OneCycleLR: loss {loss.item():.5f}, rates {[round(r, 5) for r in rates]}")
print("momentum follows the cycle:", round(optimizer.param_groups[0]["momentum"], 5))

# ReduceLROnPlateau watches a validation loss that stops improving
model = Classifier()
model.load_state_dict(start)
optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=1)
for epoch, val_loss in enumerate([1.0, 0.8, 0.81, 0.82, 0.79, 0.80, 0.80, 0.80]):
    scheduler.step(val_loss)
    print(f"epoch {epoch}: val loss {val_loss}, lr {optimizer.param_groups[0]['lr']}")

# A rate set by hand, mid-training, for one param group
model = Classifier()
model.load_state_dict(start)
optimizer = torch.optim.Adam([{"params": model.hidden.parameters()},
                              {"params": model.out.parameters(), "lr": 0.01}], lr=0.05)
for step in range(6):
    if step == 3:
        for group in optimizer.param_groups:
            group["lr"] *= 0.1
    optimizer.zero_grad()
    loss = criterion(model(inputs), targets)
    loss.backward()
    optimizer.step()
    print(f"step {step}: loss {loss.item():.5f}, rates {[g['lr'] for g in optimizer.param_groups]}")

# The binary cross-entropy family agrees with itself
logits = model(inputs).detach()
probs = torch.sigmoid(logits)
print(f"BCEWithLogitsLoss {criterion(logits, targets).item():.6f}",
      f"F.binary_cross_entropy_with_logits {F.binary_cross_entropy_with_logits(logits, targets).item():.6f}",
      f"F.binary_cross_entropy {F.binary_cross_entropy(probs, targets).item():.6f}",
      f"nn.BCELoss {nn.BCELoss()(probs, targets).item():.6f}")
weighted = nn.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0]), reduction="sum")
print(f"pos_weight, summed: {weighted(logits, targets).item():.5f}")
print("parameters:", [name for name, _ in model.named_parameters()])
