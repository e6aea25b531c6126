"""Bundled regularizers of the discriminator: penalties (gp, r1) and weight constraints (sn, clip)."""

from __future__ import annotations

import attrs

from gankit import hookimpl

_positive = attrs.validators.gt(0)


@attrs.frozen
class GradientPenaltyConfig:
    #: lambda in Gulrajani et al. 2017.
    weight: float = attrs.field(default=10.0, validator=attrs.validators.ge(0))
    #: The gradient norm the penalty pulls toward.
    target: float = 1.0
    #: Penalize only norms above the target (one-sided, as the paper also discusses).
    one_sided: bool = False
    #: Apply on every n-th discriminator step, scaled by n (lazy regularization).
    every: int = attrs.field(default=1, validator=_positive)


@attrs.frozen
class R1Config:
    #: gamma in Mescheder et al. 2018: the penalty is gamma/2 * E ||grad D(x_real)||^2.
    gamma: float = attrs.field(default=10.0, validator=attrs.validators.ge(0))
    #: Apply on every n-th discriminator step, scaled by n; 16 is StyleGAN2's lazy interval.
    every: int = attrs.field(default=16, validator=_positive)


def _roles(value) -> tuple[str, ...]:
    value = (value,) if isinstance(value, str) else tuple(value)
    if not value or any(not isinstance(v, str) or not v for v in value):
        raise ValueError(f"networks must name network roles (discriminator, generator), got {value!r}")
    return value


@attrs.frozen
class SpectralNormConfig:
    #: Power iterations per forward pass (Miyato et al. 2018 use 1).
    power_iterations: int = attrs.field(default=1, validator=_positive)
    #: Roles of the networks to normalize: discriminators (SNGAN), or G too (SAGAN, BigGAN).
    networks: tuple[str, ...] = attrs.field(default=("discriminator",), converter=_roles)


@attrs.frozen
class ClipConfig:
    #: Weights are clamped to [-limit, limit] after each discriminator step.
    limit: float = attrs.field(default=0.01, validator=_positive)


@hookimpl
def gankit_register_regularizers(register):
    register(
        "gp",
        "gankit_builtins.regularizers.penalties:GradientPenalty",
        config=GradientPenaltyConfig,
        summary="WGAN-GP gradient penalty on real/fake interpolates",
    )
    register(
        "r1",
        "gankit_builtins.regularizers.penalties:R1",
        config=R1Config,
        summary="R1 penalty on real data gradients, lazy every 16 D steps",
    )
    register(
        "sn",
        "gankit_builtins.regularizers.weights:SpectralNorm",
        config=SpectralNormConfig,
        summary="spectral normalization of every D layer (G too with networks=discriminator,generator)",
    )
    register(
        "clip",
        "gankit_builtins.regularizers.weights:Clip",
        config=ClipConfig,
        summary="clamp D's weights after each step (original WGAN, with RMSprop)",
        # The original WGAN recipe (Arjovsky et al. 2017, Algorithm 1).
        defaults={"optimizer": "rmsprop", "lr_g": 5e-5, "lr_d": 5e-5, "n_critic": 5},
    )
