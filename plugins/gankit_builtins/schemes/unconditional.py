"""The plain GAN game: n_critic discriminator steps on real and fake batches, then one generator step."""

from __future__ import annotations

import torch
from torch import Tensor

from gankit import DataDescription, NetworkRequest, Scheme


class Unconditional(Scheme):
    optimizers = {"discriminator": ("discriminator",), "generator": ("generator",)}
    ema_networks = ("generator",)

    def __init__(self, config=None):
        self.reuse_fakes = bool(config and config.reuse_fakes)

    def networks(self, data: DataDescription, z_dim: int) -> dict[str, NetworkRequest]:
        return {
            "generator": NetworkRequest.generator(data, z_dim),
            "discriminator": NetworkRequest.discriminator(data),
        }

    def step(self, t) -> dict[str, Tensor]:
        G, D = t.nets["generator"], t.nets["discriminator"]

        for i in range(t.n_critic):
            real = t.next_batch().x
            # With reuse_fakes, the last D step's fakes keep their graph so that G's step can score them.
            keep_graph = self.reuse_fakes and i == t.n_critic - 1
            z = t.noise()
            with torch.set_grad_enabled(keep_graph), t.autocast():
                fake = G(z)
            with t.autocast():
                real_scores, fake_scores = t.score(D, real, fake.detach())  # one call when D allows it
                d_loss = t.loss.discriminator_loss(real_scores, fake_scores)
            penalty = t.discriminator_penalty(real, fake, D)
            t.optimize("discriminator", d_loss if penalty is None else d_loss + penalty)

        with t.frozen(D), t.autocast():
            if not self.reuse_fakes:
                z = t.noise()
                fake = G(z)
            # Relativistic losses compare with the reals' scores in G's step too.
            real_scores = D(real) if t.loss.needs_real_scores else None
            g_loss = t.generator_loss(D(fake), real_scores)
        penalty = t.generator_penalty(G, {"z": z})
        t.optimize("generator", g_loss if penalty is None else g_loss + penalty)

        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}
