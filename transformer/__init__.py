"""transformer: the model of "Attention Is All You Need", built only from tinytensor.

Empty for now: it will be assembled from tinytensor.nn's layers (embedding +
positional encoding, multi-head attention, Add & Norm, feed-forward, encoder
and decoder stacks) in a later step.
"""
