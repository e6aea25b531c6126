"""CycleGAN for gankit (Zhu, Park, Isola & Efros 2017, "Unpaired Image-to-Image Translation using
Cycle-Consistent Adversarial Networks"), with the recipe of the authors' code
(github.com/junyanz/pytorch-CycleGAN-and-pix2pix)::

    gankit run --data cyclegan-digits                      # thin -> thick digits, 16x16, on a CPU
    gankit run --data cyclegan-folder --data-root horse2zebra --resolution 128
    gankit sample runs/<run> --input x.png -o out.png      # a -> b
    gankit sample runs/<run> --input y.png --set direction=ba -o out.png

    gankit eval runs/<run> --split test                    # cycle consistency on held-out images (cycle-l1)

This module registers the components and imports no torch (``gankit plugins`` stays fast); the
networks live in :mod:`gankit_cyclegan.networks`, the training step in :mod:`gankit_cyclegan.scheme`,
the data sources in :mod:`gankit_cyclegan.data`, the metric ``cycle-l1`` in :mod:`gankit_cyclegan.metric`.
"""

from __future__ import annotations

import attrs
from gankit import hookimpl

__version__ = "0.2.0"

_positive = attrs.validators.gt(0)
_non_negative = attrs.validators.ge(0)
_optional_positive = attrs.validators.optional(attrs.validators.gt(0))


@attrs.frozen
class CycleGANConfig:
    """Options of the architecture ``cyclegan`` and of the scheme ``cyclegan`` (``--set cyclegan.NAME=V``).

    One class serves both: gankit keeps one option table per component *name*, and the architecture
    and the scheme are both called ``cyclegan``, so each receives the other's options too.
    """

    # -- networks (architecture `cyclegan`) ----------------------------------------------------------
    #: Width of the ResNet generator's first layer (networks.py, define_G: ngf 64).
    ngf: int = attrs.field(default=64, validator=_positive)
    #: Width of the PatchGAN's first layer (define_D: ndf 64).
    ndf: int = attrs.field(default=64, validator=_positive)
    #: Residual blocks of the generator; None picks by resolution: 9 at 256 px and up (resnet_9blocks),
    #: 6 from 64 px (resnet_6blocks, the authors' choice for 128 px), and at smaller sizes just enough
    #: for the bottleneck (1/4 of the side) to be seen whole: 4 at 32 px, 2 at 16 px, 1 at 8 px.
    n_blocks: int | None = attrs.field(default=None, validator=attrs.validators.optional(_non_negative))
    #: Stride-2 layers of the PatchGAN; None picks by resolution: 3 from 64 px (the 70x70 PatchGAN,
    #: `--netD basic`), 2 at 32 px (a 34 px field, 6x6 patches), 1 below (a 16 px field, 6x6 patches at 16 px).
    n_layers_d: int | None = attrs.field(default=None, validator=_optional_positive)

    # -- training (scheme `cyclegan`) ------------------------------------------------------------------
    #: Weight of the cycle loss a -> b -> a (cycle_gan_model.py: --lambda_A 10).
    lambda_a: float = attrs.field(default=10.0, validator=_non_negative)
    #: Weight of the cycle loss b -> a -> b (--lambda_B 10).
    lambda_b: float = attrs.field(default=10.0, validator=_non_negative)
    #: Identity loss, as a fraction of the cycle weight of the domain it maps into (--lambda_identity 0.5:
    #: ||G_ab(b) - b|| gets 0.5 * lambda_b, ||G_ba(a) - a|| 0.5 * lambda_a).
    lambda_identity: float = attrs.field(default=0.5, validator=_non_negative)
    #: Past fakes kept per direction for the discriminators (train_options.py: --pool_size 50); 0: none.
    pool_size: int = attrs.field(default=50, validator=[_non_negative, attrs.validators.le(100_000)])
    #: Weight of each adversarial term in the generators' loss. 2, because gankit's `lsgan` generator
    #: loss is 0.5 * mean((D - 1)^2) while the authors' GANLoss('lsgan') is MSELoss(D, 1) = mean((D - 1)^2):
    #: with 2 the generators' loss is the original one exactly (the discriminators' already is). Use 1 with
    #: other losses.
    gan_weight: float = attrs.field(default=2.0, validator=_non_negative)


@attrs.frozen
class DigitsTaskConfig:
    #: "train" (80 %) or "test" (20 %): the builtin digits' stratified split (random_state 0).
    split: str = attrs.field(default="train", validator=attrs.validators.in_(("train", "test")))
    #: "stroke": thin (a) vs thick (b) strokes; "rotate": upright (a) vs turned a quarter (b).
    task: str = attrs.field(default="stroke", validator=attrs.validators.in_(("stroke", "rotate")))


@attrs.frozen
class FolderConfig:
    #: trainA/trainB ("train") or testA/testB ("test").
    split: str = attrs.field(default="train", validator=attrs.validators.in_(("train", "test")))
    #: 3 for RGB, 1 for grayscale.
    channels: int = attrs.field(default=3, validator=attrs.validators.in_((1, 3)))


@attrs.frozen
class CycleL1Config:
    #: Images of each domain scored: the data set's first this many (all when it has fewer).
    samples: int = attrs.field(default=10_000, validator=_positive)


#: The training recipe, each value from the authors' code (pinned by tests/test_cyclegan_recipe.py).
RECIPE = {
    # train_options.py: --lr 0.0002 for both Adam optimizers (cycle_gan_model.py builds optimizer_G over
    # G_A and G_B, optimizer_D over D_A and D_B, with the same lr).
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    # cycle_gan_model.py: Adam(..., betas=(opt.beta1, 0.999)), train_options.py: --beta1 0.5.
    "betas": (0.5, 0.999),
    # networks.py get_scheduler, lr_policy 'linear': constant for --n_epochs 100, then linear decay to zero
    # over --n_epochs_decay 100: the second half of the run.
    "lr_schedule": "linear",
    "lr_decay_start": 0.5,
    # train_options.py: --gan_mode lsgan (per-patch least squares; gankit's lsgan averages over patches).
    "loss": "lsgan",
    # No gradient penalty or spectral norm in the recipe.
    "regs": (),
    "n_critic": 1,
}


@hookimpl
def gankit_register_architectures(register):
    register(
        "cyclegan",
        "gankit_cyclegan.networks:CycleGANNetworks",
        config=CycleGANConfig,
        summary="ResNet translators with instance norm and PatchGAN discriminators (CycleGAN)",
        defaults={"scheme": "cyclegan", "loss": "lsgan", "regs": ()},
    )


@hookimpl
def gankit_register_schemes(register):
    register(
        "cyclegan",
        "gankit_cyclegan.scheme:CycleGAN",
        config=CycleGANConfig,
        summary="unpaired translation a <-> b: LSGAN, cycle and identity losses, pools of past fakes",
        defaults={"arch": "cyclegan"} | RECIPE,
    )


@hookimpl
def gankit_register_data_sources(register):
    register(
        "cyclegan-digits",
        "gankit_cyclegan.data:digits_task",
        config=DigitsTaskConfig,
        summary="scikit-learn's digits at 16 px, unpaired: thin vs thick strokes (or upright vs turned)",
        # A CPU preset (README, "Quality"): 16 px, narrow networks, batches of 16 (instance norm makes each
        # image's normalization its own, so a batch is 16 batch-1 gradients averaged).
        defaults={
            "arch": "cyclegan",
            "scheme": "cyclegan",
            "steps": 1500,
            "batch_size": 16,
            "sample_every": 250,
            "checkpoint_every": 500,
            "cyclegan.ngf": 16,
            "cyclegan.ndf": 16,
            "metrics": ("cycle-l1",),
        },
    )
    register(
        "cyclegan-folder",
        "gankit_cyclegan.data:folder",
        config=FolderConfig,
        summary="CycleGAN's layout: --data-root DIR with trainA/ trainB/ testA/ testB/, at --resolution",
        # train_options.py: --batch_size 1 and --n_epochs 100 + --n_epochs_decay 100.
        defaults={"arch": "cyclegan", "scheme": "cyclegan", "batch_size": 1, "epochs": 200.0, "metrics": ("cycle-l1",)},
    )


@hookimpl
def gankit_register_metrics(register):
    register(
        "cycle-l1",
        "gankit_cyclegan.metric:CycleL1",
        config=CycleL1Config,
        summary="cycle consistency: L1 of a -> b -> a and b -> a -> b to the originals ([-1, 1] units; CycleGAN runs)",
    )
