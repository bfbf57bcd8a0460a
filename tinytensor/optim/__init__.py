"""tinytensor.optim: optimizers and learning-rate schedules (as torch.optim). Being written."""
