"""tinytensor.data: Dataset and DataLoader (as torch.utils.data). Being written."""
