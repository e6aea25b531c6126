"""The plain GAN game: n_critic discriminator steps on real and fake batches, then one generator step."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit import Architecture, DataDescription, Scheme


class Unconditional(Scheme):
    optimizers = {"discriminator": ("discriminator",), "generator": ("generator",)}
    ema_networks = ("generator",)

    def __init__(self, config=None):
        self.reuse_fakes = bool(config and config.reuse_fakes)

    def build(self, arch: Architecture, data: DataDescription, z_dim: int) -> dict[str, nn.Module]:
        return {"generator": arch.generator(data, z_dim), "discriminator": arch.discriminator(data)}

    def step(self, t) -> dict[str, Tensor]:
        G, D = t.nets["generator"], t.nets["discriminator"]

        for i in range(t.n_critic):
            real = t.next_batch().x
            # With reuse_fakes, the last D step's fakes keep their graph so that G's step can score them.
            keep_graph = self.reuse_fakes and i == t.n_critic - 1
            with torch.set_grad_enabled(keep_graph), t.autocast():
                fake = G(t.noise())
            with t.autocast():
                d_loss = t.loss.discriminator_loss(D(real), D(fake.detach()))
            penalty = t.discriminator_penalty(real, fake, D)
            t.optimize("discriminator", d_loss if penalty is None else d_loss + penalty)

        with t.frozen(D), t.autocast():
            if not self.reuse_fakes:
                fake = G(t.noise())
            g_loss = t.loss.generator_loss(D(fake))
        t.optimize("generator", g_loss)

        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}
