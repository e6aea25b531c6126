"""Gradient penalties on the discriminator's input gradients (need a double backward)."""

from __future__ import annotations

import torch
from torch import Tensor

from gankit import PenaltyInputs, Regularizer


class GradientPenalty(Regularizer):
    """lambda * E[(||grad D(x_hat)|| - target)^2], x_hat on lines between real and fake samples."""

    def __init__(self, config):
        self.config = config
        self.every = config.every

    def discriminator_penalty(self, inputs: PenaltyInputs) -> Tensor:
        real, fake = inputs.real.detach(), inputs.fake.detach()
        alpha = inputs.uniform(*(1,) * (real.dim() - 1)).to(real.dtype)
        mixed = torch.lerp(fake, real, alpha).requires_grad_(True)
        with inputs.autocast():
            scores = inputs.scores(mixed)
        grad = inputs.input_gradients(scores, mixed)
        excess = grad.flatten(1).norm(dim=1) - self.config.target
        if self.config.one_sided:
            excess = excess.clamp(min=0)
        return self.config.weight * excess.pow(2).mean()


class R1(Regularizer):
    """gamma/2 * E ||grad D(x_real)||^2."""

    def __init__(self, config):
        self.config = config
        self.every = config.every

    def discriminator_penalty(self, inputs: PenaltyInputs) -> Tensor:
        real = inputs.real.detach().requires_grad_(True)
        with inputs.autocast():
            scores = inputs.scores(real)
        grad = inputs.input_gradients(scores, real)
        return 0.5 * self.config.gamma * grad.flatten(1).pow(2).sum(1).mean()
