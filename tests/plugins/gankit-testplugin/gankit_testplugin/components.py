import torch
from torch import nn

from gankit import Architecture, Scheme


class Tiny(Architecture):
    def __init__(self, config=None):
        pass

    def generator(self, data, z_dim):
        return nn.Sequential(
            nn.Linear(z_dim, 32), nn.ReLU(), nn.Linear(32, data.numel), nn.Tanh(), nn.Unflatten(1, data.shape)
        )

    def discriminator(self, data):
        return nn.Sequential(
            nn.Flatten(), nn.Linear(data.numel, 32), nn.LeakyReLU(0.2), nn.Linear(32, 1), nn.Flatten(0)
        )


class Twin(Scheme):
    """Two generators share the data; each is judged by its own discriminator."""

    optimizers = {"generator": ("g1", "g2"), "discriminator": ("d1", "d2")}
    discriminators = ("d1", "d2")
    ema_networks = ("g1", "g2")

    def __init__(self, config=None):
        pass

    def build(self, arch, data, z_dim):
        return {
            "g1": arch.generator(data, z_dim),
            "g2": arch.generator(data, z_dim),
            "d1": arch.discriminator(data),
            "d2": arch.discriminator(data),
        }

    def step(self, t):
        pairs = [(t.nets["g1"], t.nets["d1"]), (t.nets["g2"], t.nets["d2"])]
        real = t.next_batch().x
        d_loss = 0
        for G, D in pairs:
            with torch.no_grad():
                fake = G(t.noise())
            d_loss = d_loss + t.loss.discriminator_loss(D(real), D(fake))
        t.optimize("discriminator", d_loss)
        g_loss = sum(t.loss.generator_loss(D(G(t.noise()))) for G, D in pairs)
        t.optimize("generator", g_loss)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    def sample(self, nets, noise):
        half = len(noise) // 2
        return torch.cat([nets["g1"](noise[:half]), nets["g2"](noise[half:])])
