"""Sample pictures: image grids, and scatter plots for 2-D points (no plotting library needed)."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from gankit.components import DataDescription


def save_samples(samples: torch.Tensor, data: DataDescription, path: Path, real: torch.Tensor | None = None) -> None:
    """Save samples given in ``[-1, 1]``: a grid for images, a scatter over the real data for points."""
    from PIL import Image

    samples = samples.detach().float().cpu()
    if data.modality == "image":
        from torchvision.utils import make_grid

        grid = make_grid(
            samples.clamp(-1, 1),
            nrow=int(math.ceil(math.sqrt(len(samples)))),
            normalize=True,
            value_range=(-1, 1),
            pad_value=1.0,
        )
        picture = grid.mul(255).round().to(torch.uint8)
        # Small images (8x8 digits) are enlarged with whole pixels, so a grid is viewable as it is.
        factor = max(1, 384 // max(picture.shape[1:]))
        if factor > 1:
            picture = picture.repeat_interleave(factor, 1).repeat_interleave(factor, 2)
    else:
        picture = scatter(
            samples.reshape(len(samples), -1)[:, :2],
            None if real is None else real.float().cpu().reshape(len(real), -1)[:, :2],
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture.permute(1, 2, 0).contiguous().numpy()).save(path)


def scatter(points: torch.Tensor, background: torch.Tensor | None = None, size: int = 384) -> torch.Tensor:
    """A (3, size, size) uint8 picture of points in ``[-1, 1]^2``: real data in grey, samples in blue."""
    canvas = torch.full((3, size, size), 255, dtype=torch.uint8)

    def plot(pts: torch.Tensor, color: tuple[int, int, int]) -> None:
        pix = ((pts.clamp(-1, 1) + 1) / 2 * (size - 3)).round().long() + 1
        cols, rows = pix[:, 0], (size - 1) - pix[:, 1]
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                for ch, value in enumerate(color):
                    canvas[ch, (rows + dr).clamp(0, size - 1), (cols + dc).clamp(0, size - 1)] = value

    if background is not None:
        plot(background, (190, 190, 190))
    plot(points, (31, 90, 200))
    return canvas
