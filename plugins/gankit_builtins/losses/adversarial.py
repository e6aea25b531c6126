"""The four classic adversarial losses. D's scores are logits; each loss is a mean over the batch."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from gankit import Loss


class BCE(Loss):
    """-log sigmoid(real) - log(1 - sigmoid(fake)), written with softplus to stay finite."""

    def __init__(self, config):
        self.minimax = config.variant == "minimax"

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        if self.minimax:
            return -F.softplus(fake_scores).mean()  # minimize log(1 - D(G(z)))
        return F.softplus(-fake_scores).mean()  # maximize log D(G(z))


class Wasserstein(Loss):
    def __init__(self, config=None):
        pass

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return fake_scores.mean() - real_scores.mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return -fake_scores.mean()


class Hinge(Loss):
    def __init__(self, config=None):
        pass

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return -fake_scores.mean()


class LeastSquares(Loss):
    def __init__(self, config=None):
        pass

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return 0.5 * ((real_scores - 1) ** 2).mean() + 0.5 * (fake_scores**2).mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return 0.5 * ((fake_scores - 1) ** 2).mean()
