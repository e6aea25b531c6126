"""The seed's fully connected networks, shaped to any data: 2-D points, 8x8 digits, 28x28 MNIST."""

from __future__ import annotations

from torch import nn

from gankit import Architecture, DataDescription


def _layers(widths: list[int], activation: type[nn.Module], **kwargs) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for n_in, n_out in zip(widths[:-2], widths[1:-1]):
        layers += [nn.Linear(n_in, n_out), activation(**kwargs)]
    return layers + [nn.Linear(widths[-2], widths[-1])]


class MLP(Architecture):
    def __init__(self, config):
        self.config = config

    def generator(self, data: DataDescription, z_dim: int) -> nn.Module:
        widths = [z_dim, *self.config.g_hidden, data.numel]
        return nn.Sequential(*_layers(widths, nn.ReLU), nn.Tanh(), nn.Unflatten(1, data.shape))

    def discriminator(self, data: DataDescription) -> nn.Module:
        widths = [data.numel, *self.config.d_hidden, 1]
        slope = self.config.negative_slope
        return nn.Sequential(nn.Flatten(), *_layers(widths, nn.LeakyReLU, negative_slope=slope), nn.Flatten(0))
