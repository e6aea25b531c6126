"""Bundled adversarial losses, all on the discriminator's raw scores (logits)."""

from __future__ import annotations

import attrs

from gankit import hookimpl


@attrs.frozen
class BCEConfig:
    #: "non-saturating" (G maximizes log D(G(z)), the usual choice) or "minimax" (G minimizes
    #: log(1 - D(G(z))), the original game).
    variant: str = attrs.field(default="non-saturating", validator=attrs.validators.in_(("non-saturating", "minimax")))


@attrs.frozen
class RaGANConfig:
    #: "bce" (RaSGAN, the paper's main form) or "lsgan" (RaLSGAN).
    variant: str = attrs.field(default="bce", validator=attrs.validators.in_(("bce", "lsgan")))


# Learning rates and betas as published: WGAN-GP (Gulrajani et al. 2017, Algorithm 1) for wgan,
# DCGAN (Radford et al. 2016) for the others.
WGAN_DEFAULTS = {"n_critic": 5, "lr_g": 1e-4, "lr_d": 1e-4, "betas": (0.5, 0.9)}


@hookimpl
def gankit_register_losses(register):
    register(
        "bce",
        "gankit_builtins.losses.adversarial:BCE",
        config=BCEConfig,
        summary="binary cross-entropy on logits (Goodfellow et al. 2014)",
    )
    register(
        "wgan",
        "gankit_builtins.losses.adversarial:Wasserstein",
        summary="Wasserstein critic loss (Arjovsky et al. 2017); pair with --reg gp or clip",
        defaults=WGAN_DEFAULTS,
    )
    register("hinge", "gankit_builtins.losses.adversarial:Hinge", summary="hinge loss (Lim & Ye 2017; SNGAN, BigGAN)")
    register(
        "ragan",
        "gankit_builtins.losses.adversarial:RelativisticAverage",
        config=RaGANConfig,
        summary="relativistic average loss, BCE or least squares (Jolicoeur-Martineau 2019)",
    )
    register(
        "lsgan",
        "gankit_builtins.losses.adversarial:LeastSquares",
        summary="least-squares loss with targets 0/1 (Mao et al. 2017)",
    )
