"""gankit-biggan: class-conditional BigGAN (Brock et al. 2019) at small resolutions.

Registers the architecture ``biggan``, the regularizer ``ortho`` (BigGAN's orthogonal regularization of
G) and the scheme ``biggan`` (the class-conditional game, with the truncation trick at sampling; G is
averaged by gankit's EMA). ``gankit run --arch biggan`` brings in the rest of the recipe, the EMA's
decay and start step included.

gankit imports this module whenever it lists plugins, so it holds only the hooks and the options
(no torch); the components load from ``"module:attribute"`` strings when a run uses them.

Defaults follow PyTorch-StudioGAN's CIFAR-10 BigGAN (``src/configs/CIFAR10/BigGAN.yaml``, with the
defaults that file leaves to ``src/config.py``); each value names its source.
"""

from __future__ import annotations

from pathlib import Path

import attrs
from gankit import hookimpl

_positive = attrs.validators.gt(0)

#: The CPU preset: a TOML run config for ``gankit run --config`` (see the README).
CPU_PRESET = Path(__file__).parent / "presets" / "cpu-digits16.toml"


#: DiffAugment's transforms (Zhao et al. 2020), in the order its reference code applies them.
AUGMENTATIONS = ("color", "translation", "cutout")


def _augmentations(value) -> tuple[str, ...]:
    names = tuple(v.strip() for v in value.split(",") if v.strip()) if isinstance(value, str) else tuple(value)
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"augment: unknown transform {unknown[0]!r}; choose from {', '.join(AUGMENTATIONS)}")
    return names


@attrs.frozen
class BigGANConfig:
    #: G's base width; every G block has 4x this many channels. StudioGAN BigGAN.yaml: g_conv_dim 96.
    g_channels: int = attrs.field(default=96, validator=_positive)
    #: D's base width; every D block has 2x this many channels. StudioGAN BigGAN.yaml: d_conv_dim 96.
    d_channels: int = attrs.field(default=96, validator=_positive)
    #: Size of G's shared class embedding. StudioGAN BigGAN.yaml: g_shared_dim 128.
    shared_dim: int = attrs.field(default=128, validator=_positive)
    #: Self-attention at half the data resolution in G and D. StudioGAN BigGAN.yaml: apply_attn True,
    #: attn_g_loc [2] and attn_d_loc [1], which at 32 px are the 16x16 stages.
    attention: bool = True
    #: Spectral norm inside G and D (not the ``sn`` regularizer; see the README). StudioGAN BigGAN.yaml:
    #: apply_g_sn True, apply_d_sn True; eps 1e-6 as StudioGAN's utils/ops.py.
    spectral_norm: bool = True
    #: Weight initialization: "ortho" (StudioGAN src/config.py: g_init and d_init "ortho") or "default"
    #: (PyTorch's own).
    init: str = attrs.field(default="ortho", validator=attrs.validators.in_(("ortho", "default")))
    #: DiffAugment policy: transforms applied to every image D sees in training, real and fake alike
    #: (Zhao et al. 2020; StudioGAN's apply_diffaug, False in BigGAN.yaml, so none by default), e.g.
    #: "color,translation,cutout", the reference code's policy for CIFAR-10.
    augment: tuple[str, ...] = attrs.field(default=(), converter=_augmentations)


@attrs.frozen
class OrthoConfig:
    #: beta of BigGAN's orthogonal regularization (Brock et al. 2019, section 3.1: 1e-4; BigGAN-PyTorch's
    #: --G_ortho). 0 turns it off.
    weight: float = attrs.field(default=1e-4, validator=attrs.validators.ge(0))
    #: Apply on every n-th generator step, scaled by n.
    every: int = attrs.field(default=1, validator=_positive)


#: What ``--arch biggan`` suggests to the run (explicit flags win). Sources: StudioGAN
#: src/configs/CIFAR10/BigGAN.yaml (adv_loss hinge, z_dim 80, g_ema_decay, g_ema_start) and
#: src/config.py's OPTIMIZATION defaults that the CIFAR-10 file keeps (batch_size 64, g_lr = d_lr 2e-4,
#: beta1 0.5, beta2 0.999, d_updates_per_step 5); orthogonal regularization from Brock et al. 2019.
ARCH_DEFAULTS = {
    "loss": "hinge",
    "scheme": "biggan",
    "regs": ("ortho",),
    "z_dim": 80,
    "batch_size": 64,
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    "betas": (0.5, 0.999),
    "n_critic": 5,
    # gankit's EMA of G (the scheme's ema_networks). StudioGAN BigGAN.yaml: apply_g_ema True,
    # g_ema_decay 0.9999 (the decay per update).
    "ema": 0.9999,
    # StudioGAN BigGAN.yaml: g_ema_start 1000; utils/ema.py copies G (decay 0) while the step is below it.
    # StudioGAN counts G steps (worker.py updates the average once per G step, after the
    # d_updates_per_step D steps); gankit's ema_start counts iterations, and one iteration of the
    # scheme is one G step, so the first 1000 G steps copy G in both.
    "ema_start": 1000,
}


@hookimpl
def gankit_register_architectures(register):
    register(
        "biggan",
        "gankit_biggan.networks:BigGAN",
        config=BigGANConfig,
        summary="BigGAN: hierarchical z + shared class embedding into conditional BN, residual blocks, "
        "self-attention, projection D, spectral norm (images of 8, 16, 28, 32, 64 px)",
        defaults=dict(ARCH_DEFAULTS),
    )


@hookimpl
def gankit_register_regularizers(register):
    register(
        "ortho",
        "gankit_biggan.ortho:Orthogonal",
        config=OrthoConfig,
        summary="BigGAN's orthogonal regularization of G's weights (off-diagonal, beta 1e-4)",
    )


@hookimpl
def gankit_register_schemes(register):
    # The same name as the architecture: gankit gives each kind its own config (the scheme has none), and
    # ``--set biggan.x=...`` reaches the architecture's options.
    register(
        "biggan",
        "gankit_biggan.scheme:BigGANScheme",
        summary="class-conditional G(z, y), D(x, y), n_critic D steps per G step; gankit's EMA of G; "
        "truncation at sampling",
    )
