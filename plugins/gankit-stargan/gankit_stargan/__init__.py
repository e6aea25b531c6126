"""gankit-stargan: StarGAN (Choi et al. 2018), one generator translating images between many domains.

::

    gankit run --arch stargan --data stargan-digits            # embedded 3-attribute digits task
    gankit sample RUN --input digit.png --set target=1,0,1 -o out.png
    gankit run --arch stargan --data stargan-folder --data-root DIR   # DIR/<domain>/*.png (RaFD layout)
    gankit eval RUN --split test                               # there and back: metric domain-cycle-l1

gankit imports this module whenever it lists plugins, so it holds only the hooks, the options and the
recipe's numbers; the networks, the scheme and the data sources (which import torch) are named as
``"module:attribute"`` strings and load only when a run uses them.

The recipe is that of the authors' code, github.com/yunjey/stargan (commit 94dd002, files ``main.py``,
``solver.py``, ``model.py``, ``data_loader.py``); each number below names its source.
"""

from __future__ import annotations

import attrs
from gankit import hookimpl

#: The embedded task's attributes, in the order of the ``attributes`` field and of ``--set target=...``.
#: Appearance attributes, as CelebA's hair colours and RaFD's expressions are: each can be seen where it
#: happens. Rotation and inversion were tried and dropped (README, "Quality").
DIGIT_ATTRIBUTES = ("dimmed", "framed", "thick")

_positive = attrs.validators.gt(0)
_non_negative = attrs.validators.ge(0)


def _optional_positive(instance, attribute, value):
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ValueError(f"{attribute.name} must be a positive integer or None, got {value!r}")


@attrs.frozen
class StarGANConfig:
    """Options of both the ``stargan`` architecture and the ``stargan`` scheme (``--set stargan.NAME=V``).

    One class for both: gankit keeps one options table per component name, and the two share theirs.
    """

    #: Filters in G's first layer (main.py --g_conv_dim 64).
    g_conv_dim: int = attrs.field(default=64, validator=_positive)
    #: Residual blocks in G's bottleneck (main.py --g_repeat_num 6).
    g_repeat_num: int = attrs.field(default=6, validator=_non_negative)
    #: Filters in D's first layer (main.py --d_conv_dim 64).
    d_conv_dim: int = attrs.field(default=64, validator=_positive)
    #: Strided convolutions in D; None: as many as leave a 2x2 map, as main.py's 6 do at 128 px.
    d_repeat_num: int | None = attrs.field(default=None, validator=_optional_positive)
    #: Weight of the domain classification terms (main.py --lambda_cls 1).
    lambda_cls: float = attrs.field(default=1.0, validator=_non_negative)
    #: Weight of the reconstruction L1 term (main.py --lambda_rec 10).
    lambda_rec: float = attrs.field(default=10.0, validator=_non_negative)
    #: Weight of an identity L1 term |x - G(x, c)| at x's own domains c. NOT StarGAN's recipe (0 there): it
    #: is CycleGAN's identity loss (Zhu et al. 2017, --lambda_identity), here an absolute weight. Without it,
    #: on the small digits task G paints one template per domain and hides its input, so stargan-digits
    #: suggests 5 (README, "Quality").
    lambda_id: float = attrs.field(default=0.0, validator=_non_negative)
    #: "multi": independent attributes, binary cross-entropy summed over them (solver.py, CelebA);
    #: "single": one domain per image, softmax cross-entropy (solver.py, RaFD).
    classification: str = attrs.field(default="multi", validator=attrs.validators.in_(("multi", "single")))
    #: Random horizontal flips of the real batches (data_loader.py's T.RandomHorizontalFlip in training).
    #: Off by default: mirrored digits are in none of the digits task's domains; stargan-folder turns it on.
    flip: bool = False


@attrs.frozen
class DigitDomainsConfig:
    #: "train" and "test" are scikit-learn digits' stratified 80/20 split (as --data digits); "all" both.
    split: str = attrs.field(default="train", validator=attrs.validators.in_(("train", "test", "all")))


@attrs.frozen
class FolderConfig:
    #: 3 for RGB, 1 for grayscale.
    channels: int = attrs.field(default=3, validator=attrs.validators.in_((1, 3)))
    #: Side of the centred square cut before resizing (data_loader.py: 256 for RaFD, 178 for CelebA);
    #: None cuts the largest one.
    crop: int | None = attrs.field(default=None, validator=_optional_positive)


@attrs.frozen
class DomainCycleL1Config:
    #: Images scored: the data set's first this many (all when it has fewer; 360 in stargan-digits' test split).
    samples: int = attrs.field(default=10_000, validator=_positive)


#: The recipe of StarGAN's code, as run settings the architecture and the scheme suggest.
RECIPE = {
    "scheme": "stargan",
    "loss": "wgan",  # solver.py: d_loss_real = -mean(out_src), d_loss_fake = mean(out_src), WGAN-GP
    "regs": ("gp",),  # solver.py gradient_penalty(): (||dD(x_hat)/dx_hat|| - 1)^2 on real/fake interpolates
    "gp.weight": 10.0,  # main.py --lambda_gp 10
    "n_critic": 5,  # main.py --n_critic 5: one G update per 5 D updates
    "lr_g": 1e-4,  # main.py --g_lr 0.0001
    "lr_d": 1e-4,  # main.py --d_lr 0.0001
    "betas": (0.5, 0.999),  # main.py --beta1 0.5 --beta2 0.999 (wgan's own suggestion is WGAN-GP's (0.5, 0.9))
    "lr_schedule": "linear",  # solver.py: both rates decay linearly to 0 over the last num_iters_decay iterations
    "lr_decay_start": 0.5,  # main.py --num_iters 200000 --num_iters_decay 100000: the second half
    "batch_size": 16,  # main.py --batch_size 16
}

#: The embedded task's CPU preset (for stargan runs on stargan-digits; README, "Quality"): G and D a
#: quarter of the paper's width with 2 residual blocks, 2,000 steps at about 11 steps/s on one idle CPU core.
DIGITS_PRESET = {
    "stargan.g_conv_dim": 16,
    "stargan.d_conv_dim": 16,
    "stargan.g_repeat_num": 2,
    # CycleGAN's identity weight, --lambda_identity 0.5 x --lambda_A 10 (cycle_gan_model.py): without
    # it G answers every digit with another one (README, "Quality").
    "stargan.lambda_id": 5.0,
    "stargan.steps": 2000,
    "stargan.sample_every": 500,
    "stargan.checkpoint_every": 500,
}


@hookimpl
def gankit_register_data_sources(register):
    register(
        "stargan-digits",
        "gankit_stargan.data:digit_domains",
        config=DigitDomainsConfig,
        summary="scikit-learn digits at 16 px with 3 attributes (dimmed, framed, thick); split=train|test",
        # The data brings its family's scheme (and the scheme its architecture), as pix2pix's and CycleGAN's do.
        defaults={"scheme": "stargan", "metrics": ("domain-cycle-l1",)} | DIGITS_PRESET,
    )
    register(
        "stargan-folder",
        "gankit_stargan.data:domain_folder",
        config=FolderConfig,
        summary="a folder per domain, --data-root DIR with DIR/<domain>/*.png (StarGAN's RaFD layout)",
        # One domain per image (RaFD): softmax classification; the training transform's random flips.
        defaults={
            "scheme": "stargan",
            "stargan.classification": "single",
            "stargan.flip": True,
            "metrics": ("domain-cycle-l1",),
        },
    )


@hookimpl
def gankit_register_architectures(register):
    register(
        "stargan",
        "gankit_stargan.networks:StarGANArchitecture",
        config=StarGANConfig,
        summary="StarGAN's G(image, domains) with instance norm and residual blocks; PatchGAN D with a domain classifier",
        defaults=RECIPE,
    )


@hookimpl
def gankit_register_schemes(register):
    register(
        "stargan",
        "gankit_stargan.scheme:StarGAN",
        config=StarGANConfig,
        summary="multi-domain translation: adversarial + domain classification + reconstruction (StarGAN)",
        # The scheme comes last among the suggesting components, so it repeats the recipe (wgan's betas
        # would otherwise win over the architecture's).
        defaults={k: v for k, v in RECIPE.items() if k != "scheme"} | {"arch": "stargan"},
    )


@hookimpl
def gankit_register_metrics(register):
    register(
        "domain-cycle-l1",
        "gankit_stargan.metric:DomainCycleL1",
        config=DomainCycleL1Config,
        summary="L1 of G(G(x, target), own) to x over every pair of domains ([-1, 1] units; StarGAN runs)",
    )
