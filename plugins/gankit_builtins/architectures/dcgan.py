"""DCGAN (Radford et al. 2016): transposed-conv generator, strided-conv discriminator.

One network per role for every resolution: a 4x4 (or 7x7) base doubled by each block, so 8, 16, 32,
64 px grow from 4 and 14, 28 px from 7.
"""

from __future__ import annotations

from torch import nn

from gankit import Architecture, DataDescription, GankitError, NetworkRequest

from . import conditioning


def _plan(data: DataDescription) -> tuple[int, int]:
    """(base size, number of doubling blocks) for the data's resolution."""
    if data.modality != "image" or len(data.shape) != 3 or data.shape[1] != data.shape[2]:
        raise GankitError(
            f"dcgan needs square images, but data {data.name!r} yields {data.modality} of shape {tuple(data.shape)}; "
            "use --arch mlp"
        )
    size = data.shape[-1]
    for base in (4, 7):
        blocks = 0
        while base * 2**blocks < size:
            blocks += 1
        if base * 2**blocks == size and blocks >= 1:
            return base, blocks
    raise GankitError(
        f"dcgan builds images of 4 or 7 px times a power of two (8, 14, 16, 28, 32, 64, ...); data {data.name!r} "
        f"is {size} px: pass --resolution 32 (or 64), or use --arch mlp"
    )


def _init(module: nn.Module) -> None:
    # The paper's initialization: N(0, 0.02) for convolutions, N(1, 0.02) for batch-norm scales.
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


class DCGAN(Architecture):
    def __init__(self, config):
        self.config = config

    def generator(self, data: DataDescription, z_dim: int) -> nn.Module:
        base, blocks = _plan(data)
        width = self.config.g_channels * 2 ** (blocks - 1)
        layers: list[nn.Module] = [
            nn.Unflatten(1, (z_dim, 1, 1)),
            nn.ConvTranspose2d(z_dim, width, base, 1, 0, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        ]
        for _ in range(blocks - 1):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(inplace=True),
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, data.channels, 4, 2, 1), nn.Tanh()]
        net = nn.Sequential(*layers)
        net.apply(_init)
        return net

    def build(self, request: NetworkRequest) -> nn.Module:
        """Also class-conditional: G(z, y) with a class embedding, D(x, y) with a projection."""
        data = request.data

        def parts() -> tuple[nn.Module, nn.Module, int]:
            layers = list(self.discriminator(data))
            width = layers[-2].in_channels
            return nn.Sequential(*layers[:-2]), nn.Sequential(*layers[-2:]), width

        return conditioning.build(
            request,
            "dcgan",
            lambda z_in: self.generator(data, z_in),
            parts,
            lambda: self.discriminator(data),
            self.config.embed_dim,
        )

    def discriminator(self, data: DataDescription) -> nn.Module:
        base, blocks = _plan(data)
        width = self.config.d_channels
        layers: list[nn.Module] = [nn.Conv2d(data.channels, width, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
        for _ in range(blocks - 1):
            layers.append(nn.Conv2d(width, width * 2, 4, 2, 1, bias=self.config.d_norm == "none"))
            if self.config.d_norm == "batch":
                layers.append(nn.BatchNorm2d(width * 2))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            width *= 2
        layers += [nn.Conv2d(width, 1, base, 1, 0), nn.Flatten(0)]
        net = nn.Sequential(*layers)
        net.apply(_init)
        return net
