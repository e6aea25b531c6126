"""scikit-learn's 8x8 handwritten digits: embedded in the scikit-learn package, so nothing downloads
(read through :mod:`gankit.digits`, which keeps them in gankit's cache).

``--resolution`` resizes them once, at load (16 or 32 px for convolutional networks)."""

from __future__ import annotations

import torch

from gankit import DataDescription, GankitError, TensorDataset
from gankit import digits as embedded_digits

#: Enlarging 8x8 pictures further only costs memory and time.
MAX_RESOLUTION = 128


def resized(x: torch.Tensor, size: int) -> torch.Tensor:
    """Bilinear resize of images in [-1, 1] to ``size`` pixels per side (``--resolution 16`` for
    convolutional families); antialiased when shrinking."""
    out = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=size < x.shape[-1])
    return out.clamp(-1, 1)


def digits(config, request=None) -> TensorDataset:
    images, labels, _ = embedded_digits.load(config.split)
    x = torch.as_tensor(images, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0 * 2 - 1
    size = (request.resolution if request is not None else None) or 8
    if size > MAX_RESOLUTION:
        raise GankitError(f"--resolution {size} is too large for the 8x8 digits; use at most {MAX_RESOLUTION}")
    if size != 8:
        x = resized(x, size)
    description = DataDescription("digits", (1, size, size), "image", value_range=(0.0, 1.0), num_classes=10)
    return TensorDataset(description, x, torch.as_tensor(labels, dtype=torch.long))
