"""scikit-learn's 8x8 handwritten digits: embedded in the scikit-learn package, so nothing downloads."""

from __future__ import annotations

import torch

from gankit import DataDescription, TensorDataset


def digits(config, request=None) -> TensorDataset:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    images, labels = load_digits(return_X_y=True)
    if config.split != "all":
        train, test = train_test_split(range(len(labels)), test_size=0.2, stratify=labels, random_state=0)
        keep = train if config.split == "train" else test
        images, labels = images[keep], labels[keep]
    x = torch.as_tensor(images, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0 * 2 - 1
    description = DataDescription("digits", (1, 8, 8), "image", value_range=(0.0, 1.0), num_classes=10)
    return TensorDataset(description, x, torch.as_tensor(labels, dtype=torch.long))
