"""The 2-D benchmarks of the mode-collapse literature, sampled fresh for every batch."""

from __future__ import annotations

import math

import torch

from gankit import DataDescription, Dataset


class GaussianMixture(Dataset):
    """Equal-weight isotropic Gaussians; ``modes`` and ``std`` are what mode-coverage metrics score."""

    def __init__(self, name: str, modes: torch.Tensor, std: float, half_width: float):
        self.modes = modes
        self.std = std
        self.description = DataDescription(name, (2,), "points", value_range=(-half_width, half_width))
        self._scale = half_width

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        which = torch.randint(len(self.modes), (n,), generator=generator)
        points = self.modes[which] + self.std * torch.randn(n, 2, generator=generator)
        return points / self._scale


def ring8(config, request=None) -> GaussianMixture:
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    modes = (2.0 * torch.stack([angles.cos(), angles.sin()], 1)).float()
    return GaussianMixture("ring8", modes, config.std or 0.02, half_width=2.5)


def grid25(config, request=None) -> GaussianMixture:
    ticks = torch.arange(-4.0, 5.0, 2.0)
    modes = torch.cartesian_prod(ticks, ticks)
    return GaussianMixture("grid25", modes, config.std or 0.05, half_width=5.0)


class SwissRoll(Dataset):
    def __init__(self) -> None:
        self.description = DataDescription("swissroll", (2,), "points", value_range=(-2.5, 2.5))

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        # scikit-learn's make_swiss_roll (x and z coordinates), noise 0.25, divided by 7.5 as in WGAN-GP.
        t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=generator))
        points = torch.stack([t * t.cos(), t * t.sin()], 1) + 0.25 * torch.randn(n, 2, generator=generator)
        return points / 7.5 / 2.5


def swissroll(config=None, request=None) -> SwissRoll:
    return SwissRoll()
