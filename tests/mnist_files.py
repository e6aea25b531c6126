"""Writes small MNIST-format data sets: the IDX files torchvision reads, with real digit shapes."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np


def write_mnist(root: Path, count: int = 64, folder: str = "MNIST", seed: int = 0) -> Path:
    """Write ``count`` 28x28 images (scikit-learn's digits, upscaled) as DIR/<folder>/raw/*-ubyte."""
    from sklearn.datasets import load_digits

    digits, labels = load_digits(return_X_y=True)
    pick = np.random.default_rng(seed).integers(0, len(labels), count)
    small = (digits[pick].reshape(count, 8, 8) * (255 / 16)).astype(np.uint8)
    images = np.zeros((count, 28, 28), np.uint8)
    images[:, 2:26, 2:26] = small.repeat(3, axis=1).repeat(3, axis=2)
    raw = Path(root) / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for split in ("train", "t10k"):
        (raw / f"{split}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 2051, count, 28, 28) + images.tobytes())
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 2049, count) + labels[pick].astype(np.uint8).tobytes()
        )
    return raw
