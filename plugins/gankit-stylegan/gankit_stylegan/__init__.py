"""StyleGAN2 (Karras et al. 2020) at small resolution, as a gankit plugin.

Registers architecture ``stylegan2`` (mapping network, modulated/demodulated convolutions in the
non-fused form, per-layer noise, skip generator; D with minibatch standard deviation), scheme
``stylegan2`` (style mixing, truncation and a style-mixing grid when sampling; it suggests gankit's
EMA of G with ramp-up and lazy regularization's lr/betas correction) and regularizer ``pl`` (lazy
path-length penalty on the generator, its running mean in checkpoints)::

    gankit run --arch stylegan2 --data digits --resolution 16
    gankit sample RUN --set truncation=0.7 -o samples.png
    gankit sample RUN --set mix=6 -n 36 -o mixing.png

Importing this module imports no torch: the networks live in :mod:`gankit_stylegan.networks`.

Every default below names its source. "cifar" is the ``cifar`` entry of ``cfg_specs`` in
stylegan2-ada-pytorch's ``train.py``; "loss.py", "networks.py" and "training_loop.py" are the files
of that repository (``training/``).
"""

from __future__ import annotations

import math
from pathlib import Path

import attrs
from gankit import hookimpl

__version__ = "0.1.0"

#: The CPU preset: ``gankit run --config <this file>`` trains on the embedded digits at 16x16.
CPU_PRESET = Path(__file__).parent / "presets" / "cpu16.toml"

_positive = attrs.validators.gt(0)
_non_negative = attrs.validators.ge(0)

# -- the cifar recipe -------------------------------------------------------------------------------

#: Learning rate of both networks: cifar ``lrate=0.0025``.
LR = 0.0025
#: Adam betas of both networks: ``train.py`` ``G_opt_kwargs``/``D_opt_kwargs`` ``betas=[0,0.99]``.
BETAS = (0.0, 0.99)
#: Lazy regularization intervals: ``training_loop.py`` ``G_reg_interval=4``, ``D_reg_interval=16``.
G_REG_INTERVAL = 4
D_REG_INTERVAL = 16
#: Minibatch size: cifar ``mb=64``.
BATCH_SIZE = 64
#: R1 gamma: cifar ``gamma=0.01``.
R1_GAMMA = 0.01
#: EMA half-life in thousands of images: cifar ``ema=500``.
EMA_KIMG = 500
#: EMA ramp-up: cifar ``ramp=0.05`` (training_loop.py ``ema_nimg = min(ema_nimg, cur_nimg * ema_rampup)``).
EMA_RAMPUP = 0.05
#: EMA decay per step: training_loop.py ``ema_beta = 0.5 ** (batch_size / ema_nimg)`` at cifar's batch
#: size, a half-life of 500000 / 64 = 7812.5 steps. gankit keeps the half-life in steps (the decay is
#: per step), so a different ``--batch-size`` keeps the same number of steps, not images; the ramp-up
#: (a half-life of at most ``ema_rampup`` times the steps taken) is training_loop.py's at any batch size.
EMA = 0.5 ** (BATCH_SIZE / (EMA_KIMG * 1000))

#: Run settings the architecture and the scheme suggest (explicit flags win). ``lazy_correction``
#: gives each optimizer of a lazily penalized network training_loop.py's ``mb_ratio`` correction,
#: ``lr * c`` and ``betas ** c`` with ``c = every / (every + 1)``, from that network's own interval:
#: G (``pl.every = 4``) gets 0.002 and (0, 0.99 ** 0.8), D (``r1.every = 16``) 0.0025 * 16/17 and
#: (0, 0.99 ** (16/17)), and they follow ``--set r1.every=...``/``pl.every=...``.
SUGGESTED: dict = {
    "arch": "stylegan2",
    "scheme": "stylegan2",
    "loss": "bce",  # loss.py: softplus(-D(G(z))) for G (non-saturating), softplus for D
    "bce.variant": "non-saturating",
    "regs": ("r1", "pl"),
    "r1.gamma": R1_GAMMA,
    "r1.every": D_REG_INTERVAL,
    "batch_size": BATCH_SIZE,
    "lr_g": LR,
    "lr_d": LR,
    "betas": BETAS,
    "lazy_correction": True,
    "n_critic": 1,  # training_loop.py alternates one G and one D phase
    "ema": EMA,
    "ema_rampup": EMA_RAMPUP,
}


@attrs.frozen
class StyleGAN2Config:
    """The options of architecture ``stylegan2`` and scheme ``stylegan2`` together (``--set
    stylegan2.w_dim=64``, ``--set arch.w_dim=64`` and ``--set scheme.style_mixing=0`` all land here).

    gankit keys component options by bare name across kinds (``ResolvedRun.component_configs``), so an
    architecture and a scheme that share a name receive one config object: with two config classes
    the architecture was handed the scheme's. One class for both makes that safe.
    """

    #: Size of the intermediate latent w (networks.py's default is 512 = z_dim; small here for CPUs).
    w_dim: int = attrs.field(default=128, validator=_positive)
    #: Layers of the mapping network z -> w: cifar ``map=2``.
    mapping_layers: int = attrs.field(default=2, validator=_positive)
    #: Learning-rate multiplier of the mapping layers: networks.py MappingNetwork ``lr_multiplier=0.01``.
    mapping_lr_multiplier: float = attrs.field(default=0.01, validator=_positive)
    #: Decay of the tracked mean w (for truncation): networks.py MappingNetwork ``w_avg_beta=0.995``.
    w_avg_beta: float = attrs.field(default=0.995, validator=[_non_negative, attrs.validators.lt(1)])
    #: Feature maps at resolution r are ``min(channel_base // r, channel_max)`` (train.py:
    #: ``channel_base = fmaps * 32768``, ``channel_max = 512``; cifar ``fmaps=1``). Small here for CPUs:
    #: ``--set arch.channel_base=32768 --set arch.channel_max=512 --set arch.w_dim=512`` is cifar's size.
    channel_base: int = attrs.field(default=2048, validator=_positive)
    channel_max: int = attrs.field(default=128, validator=_positive)
    #: Minibatch standard deviation group size: cifar ``mbstd=32`` (the largest divisor of the batch
    #: up to this is used, so any batch works).
    mbstd_group: int = attrs.field(default=32, validator=_positive)
    #: Feature groups of the minibatch standard deviation: networks.py ``mbstd_num_channels=1``.
    mbstd_channels: int = attrs.field(default=1, validator=_positive)

    # -- the scheme's options (see below why the architecture and the scheme share one config) --
    #: Probability of style mixing per sample in training: loss.py ``style_mixing_prob=0.9`` (the
    #: paper's; cifar turns mixing off, the issue asks for it on).
    style_mixing: float = attrs.field(default=0.9, validator=[_non_negative, attrs.validators.le(1)])


@attrs.frozen
class PathLengthConfig:
    #: Weight of the penalty: loss.py ``pl_weight=2`` (cifar sets 0; the issue asks for it on).
    weight: float = attrs.field(default=2.0, validator=_non_negative)
    #: Apply on every n-th generator step, scaled by n: training_loop.py ``G_reg_interval=4``.
    every: int = attrs.field(default=G_REG_INTERVAL, validator=_positive)
    #: Decay of the running mean of path lengths: loss.py ``pl_decay=0.01``.
    decay: float = attrs.field(default=0.01, validator=[attrs.validators.gt(0), attrs.validators.le(1)])
    #: The penalty is computed on batch // batch_shrink samples: loss.py ``pl_batch_shrink=2``.
    batch_shrink: int = attrs.field(default=2, validator=_positive)


def is_power_of_two(n: int) -> bool:
    return n >= 4 and not n & (n - 1)


def resolutions(resolution: int) -> list[int]:
    """Block resolutions of the networks, 4 to ``resolution``."""
    return [2**i for i in range(2, int(math.log2(resolution)) + 1)]


@hookimpl
def gankit_register_architectures(register):
    register(
        "stylegan2",
        "gankit_stylegan.architecture:StyleGAN2",
        config=StyleGAN2Config,
        summary="StyleGAN2: mapping net, modulated convs, per-layer noise; D with minibatch stddev (square 2^k images)",
        defaults=dict(SUGGESTED),
    )


@hookimpl
def gankit_register_schemes(register):
    register(
        "stylegan2",
        "gankit_stylegan.scheme:StyleGAN2Scheme",
        config=StyleGAN2Config,
        summary="StyleGAN2 training: style mixing, EMA with ramp-up, truncation and a style-mixing grid",
        defaults=dict(SUGGESTED),
    )


@hookimpl
def gankit_register_regularizers(register):
    register(
        "pl",
        "gankit_stylegan.path_length:PathLength",
        config=PathLengthConfig,
        summary="StyleGAN2 path-length penalty on the generator, lazy every 4 G steps, mean kept in checkpoints",
    )
