"""The classic adversarial losses and the relativistic average one. D's scores are logits; each loss is a
mean over the batch."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from gankit import GankitError, Loss


class BCE(Loss):
    """-log sigmoid(real) - log(1 - sigmoid(fake)), written with softplus to stay finite."""

    def __init__(self, config):
        self.minimax = config.variant == "minimax"

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        if self.minimax:
            return -F.softplus(fake_scores).mean()  # minimize log(1 - D(G(z)))
        return F.softplus(-fake_scores).mean()  # maximize log D(G(z))


class Wasserstein(Loss):
    def __init__(self, config=None):
        pass

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return fake_scores.mean() - real_scores.mean()

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        return -fake_scores.mean()


class Hinge(Loss):
    def __init__(self, config=None):
        pass

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return F.relu(1 - real_scores).mean() + F.relu(1 + fake_scores).mean()

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        return -fake_scores.mean()


class LeastSquares(Loss):
    def __init__(self, config=None):
        pass

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return 0.5 * ((real_scores - 1) ** 2).mean() + 0.5 * (fake_scores**2).mean()

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        return 0.5 * ((fake_scores - 1) ** 2).mean()


class RelativisticAverage(Loss):
    """RaGAN (Jolicoeur-Martineau 2019): D judges whether a real sample is more realistic than the average
    fake (and a fake less than the average real); G plays the same game the other way round, so it
    needs the real scores too. With the standard (BCE) or least-squares form."""

    needs_real_scores = True

    def __init__(self, config):
        self.least_squares = config.variant == "lsgan"

    def _pair(self, a: Tensor, b: Tensor) -> Tensor:
        """The loss for scores ``a`` that should beat the average of ``b``, and ``b`` that should lose."""
        a_rel, b_rel = a - b.mean(), b - a.mean()
        if self.least_squares:
            return ((a_rel - 1) ** 2).mean() + ((b_rel + 1) ** 2).mean()
        return F.softplus(-a_rel).mean() + F.softplus(b_rel).mean()

    def discriminator_loss(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return self._pair(real_scores, fake_scores)

    def generator_loss(self, fake_scores: Tensor, real_scores: Tensor | None = None) -> Tensor:
        if real_scores is None:
            raise GankitError(
                "loss 'ragan' needs the real samples' scores in the generator's step, and this run's scheme "
                "passed none (a scheme must honour Loss.needs_real_scores); choose another --loss"
            )
        return self._pair(fake_scores, real_scores.detach())
