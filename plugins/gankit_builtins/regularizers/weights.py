"""Constraints on the discriminator's weights: spectral normalization and clipping."""

from __future__ import annotations

import torch
from torch import nn

from gankit import Regularizer


class SpectralNorm(Regularizer):
    def __init__(self, config):
        self.config = config
        self.targets = tuple(config.networks)

    def wrap_discriminator(self, discriminator: nn.Module) -> nn.Module:
        return self.wrap(discriminator, "discriminator")

    def wrap(self, network: nn.Module, role: str) -> nn.Module:
        from torch.nn.utils.parametrizations import spectral_norm

        for module in list(network.modules()):
            if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)):
                spectral_norm(module, n_power_iterations=self.config.power_iterations)
        return network


class Clip(Regularizer):
    def __init__(self, config):
        self.limit = config.limit

    @torch.no_grad()
    def after_discriminator_step(self, discriminator: nn.Module) -> None:
        params = [p for p in discriminator.parameters()]
        torch._foreach_clamp_min_(params, -self.limit)
        torch._foreach_clamp_max_(params, self.limit)
