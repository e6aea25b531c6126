"""The seed's fully connected networks, shaped to any data: 2-D points, 8x8 digits, 28x28 MNIST."""

from __future__ import annotations

from torch import nn

from gankit import Architecture, DataDescription, NetworkRequest

from . import conditioning


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
        return nn.Sequential(*self._discriminator_layers(data))

    def _discriminator_layers(self, data: DataDescription) -> list[nn.Module]:
        widths = [data.numel, *self.config.d_hidden, 1]
        slope = self.config.negative_slope
        return [nn.Flatten(), *_layers(widths, nn.LeakyReLU, negative_slope=slope), nn.Flatten(0)]

    def build(self, request: NetworkRequest) -> nn.Module:
        """Also class-conditional: G(z, y) with a class embedding, D(x, y) with a projection."""
        data = request.data

        def parts() -> tuple[nn.Module, nn.Module, int]:
            layers = self._discriminator_layers(data)
            return nn.Sequential(*layers[:-2]), nn.Sequential(*layers[-2:]), self.config.d_hidden[-1]

        return conditioning.build(
            request,
            "mlp",
            lambda z_in: self.generator(data, z_in),
            parts,
            lambda: self.discriminator(data),
            self.config.embed_dim,
        )
