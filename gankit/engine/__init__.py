"""The training engine: everything around a scheme's step (devices, AMP, EMA, data, checkpoints)."""
