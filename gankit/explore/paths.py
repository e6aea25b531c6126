"""Walks through the latent space: slerp interpolation, traversals along directions, one latent across
every class, and the density of 2-D points."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from gankit.explore.pictures import _with_noise, noise_input, slerp
from gankit.inputs import Label

# ---------------------------------------------------------------- interpolation


def interpolate(model: Any, rows: int, steps: int, seed: int, from_data: Callable | None = None):
    """``rows`` slerp paths of ``steps`` latents between two noise draws: (samples, latents, endpoints),
    samples ``(rows * steps, ...)`` row by row, endpoints ``(start, end)`` each ``(rows, ...)``."""
    name = noise_input(model)
    z = model.fill_inputs(2 * rows, seed)[name]
    start, end = z[:rows], z[rows:]
    path = slerp(start, end, torch.linspace(0, 1, steps)).flatten(0, 1)
    values = _with_noise(model, path, steps, seed, from_data)
    return model.generate_all(values), path, (start, end)


# ---------------------------------------------------------------- traversals, classes, density


def traverse(model: Any, directions: torch.Tensor, distance: float, steps: int, seed: int, from_data=None):
    """One base latent moved along each direction (rows) by ``steps`` amounts in ``[-distance, distance]``."""
    name = noise_input(model)
    base = model.fill_inputs(1, seed)[name]
    alphas = torch.linspace(-distance, distance, steps)
    shape = base.shape[1:]
    z = base.reshape(1, 1, -1) + alphas[None, :, None] * directions[:, None, :]  # (rows, steps, z_numel)
    z = z.reshape(-1, *shape)
    values = _with_noise(model, z, len(z), seed, from_data)
    return model.generate_all(values)


def across_classes(model: Any, rows: int, seed: int, from_data=None) -> tuple[torch.Tensor, int] | str:
    """``rows`` latents, each generated in every class (a row per latent): (samples, classes)."""
    labels = [(n, k) for n, k in model.inputs.items() if isinstance(k, Label)]
    if not labels:
        return "the model takes no class label"
    label, kind = labels[0]
    name = noise_input(model)
    classes = kind.num_classes
    z = model.fill_inputs(rows, seed)[name].repeat_interleave(classes, 0)
    values = _with_noise(model, z, classes, seed, from_data)
    values[label] = torch.arange(classes).repeat(rows)
    return model.generate_all(values), classes


def density(samples: torch.Tensor, description: Any, modes: torch.Tensor | None, std: float | None, size: int = 384):
    """A heat map of points (data units) over the data's range, modes marked; and per-mode numbers."""
    from PIL import Image, ImageDraw

    lo, hi = description.value_range
    points = samples.reshape(len(samples), -1)[:, :2].double()
    bins = 128
    hist = torch.histogramdd(points.float(), bins=[bins, bins], range=[lo, hi, lo, hi]).hist  # (x, y)
    heat = (hist.log1p() / hist.log1p().max().clamp_min(1e-12)).T.flip(0)  # rows: y from top
    # White (no samples) to dark blue (most).
    low, high = torch.tensor([255.0, 255.0, 255.0]), torch.tensor([8.0, 48.0, 107.0])
    rgb = low + heat[..., None] * (high - low)
    picture = Image.fromarray(rgb.round().to(torch.uint8).numpy()).resize((size, size), Image.NEAREST)
    numbers: dict[str, Any] = {"bins": bins, "samples": len(points)}
    if modes is not None:
        draw = ImageDraw.Draw(picture)
        modes = modes.double().reshape(len(modes), -1)[:, :2]
        for mx, my in modes.tolist():
            px = (mx - lo) / (hi - lo) * size
            py = size - (my - lo) / (hi - lo) * size
            draw.ellipse([px - 5, py - 5, px + 5, py + 5], outline=(220, 40, 40), width=2)
        distance = torch.cdist(points, modes)
        nearest = distance.argmin(1)
        close = distance.min(1).values <= 3 * std if std else torch.ones(len(points), dtype=torch.bool)
        counts = torch.bincount(nearest[close], minlength=len(modes))
        numbers |= {
            "modes": modes.tolist(),
            "std": std,
            "per_mode_within_3_std": counts.tolist(),
            "modes_captured": int((counts > 0).sum()),
            "high_quality_fraction": float(close.double().mean()),
        }
    return picture, numbers
