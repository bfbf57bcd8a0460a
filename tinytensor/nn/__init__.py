"""tinytensor.nn: Module and the layers models are built from (as torch.nn). Being written."""
