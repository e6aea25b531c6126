"""Bundled architectures: ``mlp`` (the seed's fully connected G and D) and ``dcgan`` (convolutional)."""

from __future__ import annotations

import attrs

from gankit import hookimpl


def _widths(value: tuple[int, ...]) -> tuple[int, ...]:
    value = tuple(int(v) for v in value)
    if not value or any(v <= 0 for v in value):
        raise ValueError(f"layer widths must be positive integers, got {value!r}")
    return value


@attrs.frozen
class MLPConfig:
    #: Hidden widths of the generator, from noise to output.
    g_hidden: tuple[int, ...] = attrs.field(default=(256, 512, 1024), converter=_widths)
    #: Hidden widths of the discriminator, from input to score.
    d_hidden: tuple[int, ...] = attrs.field(default=(512, 256), converter=_widths)
    #: Slope of the discriminator's LeakyReLU.
    negative_slope: float = 0.2
    #: Size of the class embedding beside G's noise, for class-conditional schemes.
    embed_dim: int = attrs.field(default=32, validator=attrs.validators.gt(0))


@attrs.frozen
class DCGANConfig:
    #: Channels of the generator's last hidden layer; doubled at each lower resolution.
    g_channels: int = attrs.field(default=64, validator=attrs.validators.gt(0))
    #: Channels of the discriminator's first layer; doubled at each lower resolution.
    d_channels: int = attrs.field(default=64, validator=attrs.validators.gt(0))
    #: Normalization in the discriminator: "none" suits every loss and penalty; "batch" is the paper's.
    d_norm: str = attrs.field(default="none", validator=attrs.validators.in_(("none", "batch")))
    #: Size of the class embedding beside G's noise, for class-conditional schemes.
    embed_dim: int = attrs.field(default=32, validator=attrs.validators.gt(0))


@hookimpl
def gankit_register_architectures(register):
    register(
        "mlp",
        "gankit_builtins.architectures.mlp:MLP",
        config=MLPConfig,
        summary="fully connected G (ReLU, Tanh) and D (LeakyReLU); any data shape; class-conditional too",
    )
    register(
        "dcgan",
        "gankit_builtins.architectures.dcgan:DCGAN",
        config=DCGANConfig,
        summary="DCGAN conv G/D for images of 4 or 7 px times a power of two (8, 28, 32, 64, ...); class-conditional too",
    )
