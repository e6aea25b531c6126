"""gankit-pix2pix: paired image-to-image translation (Isola et al. 2017, "Image-to-Image Translation
with Conditional Adversarial Networks"), after the authors' PyTorch code
(junyanz/pytorch-CycleGAN-and-pix2pix: models/pix2pix_model.py, models/networks.py, options/*.py).

It registers:

* architecture ``pix2pix``: a U-Net translator with skip connections and dropout, as deep as the
  resolution allows (down to a 1x1 bottleneck, as ``unet_256`` at 256 px), and a PatchGAN
  discriminator on the (output, input) pair with per-patch logits ``(N, 1, h, w)``;
* scheme ``pix2pix``: D on real pairs vs translated pairs, G with the adversarial term plus
  lambda * L1 to the target; ``gankit sample RUN --input PATH`` translates images;
* data ``pix2pix-digits``: scikit-learn's digits resized to 16 px (``--resolution``), as (edge map or
  masked digit -> digit) pairs with the digit's class kept as ``label``, split 80/20 (``split``);
* data ``pix2pix-folder``: pix2pix's aligned layout, ``--data-root DIR`` holding ``train/`` and
  ``test/`` (and ``val/``) images with A on the left and B on the right;
* metric ``paired-l1``: the outputs' L1 to the targets beside the inputs' own (``gankit eval RUN
  --split test``), the metric both data sets suggest.

This module imports no torch: the components are named as ``"module:attribute"`` strings.
"""

from __future__ import annotations

import attrs
from gankit import hookimpl


def _positive(instance, attribute, value):
    if value <= 0:
        raise ValueError(f"{attribute.name} must be positive, got {value!r}")


def _non_negative(instance, attribute, value):
    if value < 0:
        raise ValueError(f"{attribute.name} must be at least 0, got {value!r}")


@attrs.frozen
class Pix2PixConfig:
    """The options of the pix2pix recipe, shared by the architecture and the scheme.

    Both are registered as ``pix2pix``, and gankit keeps one option table per component name, so
    ``--set pix2pix.ngf=32``, ``--set arch.ngf=32`` and ``--set scheme.l1=10`` all land here.
    """

    # -- networks (architecture) --
    #: Channels of the U-Net's first layer, doubled per level up to 8x (``--ngf 64``, base_options.py).
    ngf: int = attrs.field(default=64, validator=_positive)
    #: Channels of the PatchGAN's first layer, doubled per layer up to 8x (``--ndf 64``, base_options.py).
    ndf: int = attrs.field(default=64, validator=_positive)
    #: Stride-2 layers of the PatchGAN (``--n_layers_D``; ``netD basic`` is 3, a 70x70 patch at 256 px).
    #: 0 sizes it to the resolution: log2(resolution) - 5, between 1 and 3 (3 at 256 px, 1 at 16 or 32 px).
    d_layers: int = attrs.field(default=0, validator=[_non_negative, attrs.validators.le(6)])
    #: Normalization of G and D: "batch" in pix2pix (pix2pix_model.py sets norm='batch'), "instance", "none".
    norm: str = attrs.field(default="batch", validator=attrs.validators.in_(("batch", "instance", "none")))
    #: Dropout 0.5 in the decoder next to the bottleneck (on unless ``--no_dropout``, base_options.py).
    dropout: bool = True
    #: Weights ~ N(0, init_gain), BatchNorm scales ~ N(1, init_gain) (``--init_type normal --init_gain 0.02``).
    init_gain: float = attrs.field(default=0.02, validator=_positive)
    # -- training (scheme) --
    #: Weight of the L1 distance between translation and target (``--lambda_L1 100``, pix2pix_model.py).
    l1: float = attrs.field(default=100.0, validator=_non_negative)
    #: Weight of G's adversarial term (1 in pix2pix); 0 trains an L1-only U-Net, the paper's "L1" ablation.
    gan: float = attrs.field(default=1.0, validator=_non_negative)


@attrs.frozen
class DigitsTaskConfig:
    #: What the translator starts from: "edges" (the outline around the strokes, like edges2shoes) or
    #: "mask" (the digit with a square of half its side erased, an inpainting task).
    degrade: str = attrs.field(default="edges", validator=attrs.validators.in_(("edges", "mask")))
    #: Which part of the fixed, class-stratified 80/20 split: "train" (1437 digits) or "test" (360).
    split: str = attrs.field(default="train", validator=attrs.validators.in_(("train", "test")))


@attrs.frozen
class PairedL1Config:
    #: Pairs scored: the data set's first this many (all of them when it has fewer; 360 in the digits' test split).
    samples: int = attrs.field(default=10_000, validator=_positive)


@attrs.frozen
class FolderConfig:
    #: Sub-folder of ``--data-root`` to read: "train", "val" or "test".
    split: str = attrs.field(default="train", validator=attrs.validators.in_(("train", "val", "test")))
    #: "AtoB" translates the left half into the right one, "BtoA" the other way (``--direction``).
    direction: str = attrs.field(default="AtoB", validator=attrs.validators.in_(("AtoB", "BtoA")))
    #: 1 (grayscale) or 3 (RGB); 0 chooses 1 when every image is grayscale, else 3.
    channels: int = attrs.field(default=0, validator=attrs.validators.in_((0, 1, 3)))


#: The run settings of the pix2pix recipe, suggested by the architecture (explicit flags win).
RECIPE = {
    "scheme": "pix2pix",
    # gan_mode 'vanilla' (pix2pix_model.py): BCE on D's logits, per patch.
    "loss": "bce",
    # No regularizer in pix2pix.
    "regs": (),
    # --lr 0.0002 (train_options.py), for G and D alike (pix2pix_model.py builds both Adams with opt.lr).
    "lr_g": 2e-4,
    "lr_d": 2e-4,
    # Adam with betas (opt.beta1, 0.999), --beta1 0.5 (train_options.py, pix2pix_model.py).
    "betas": (0.5, 0.999),
    # One D step, then one G step (Pix2PixModel.optimize_parameters).
    "n_critic": 1,
    # --n_epochs 100 at the initial rate + --n_epochs_decay 100 decaying linearly to 0 (--lr_policy linear,
    # train_options.py and networks.get_scheduler): 200 epochs, linear decay over the second half.
    "epochs": 200,
    "lr_schedule": "linear",
    "lr_decay_start": 0.5,
    # --batch_size 1 in the original (base_options.py); the paper used 1 or 4 "noting little difference".
    # Here 16: the original generates in train mode (BatchNorm on the test batch itself, dropout on),
    # gankit generates in eval mode, where BatchNorm uses running statistics, which a batch of one image
    # of 16x16 pixels (2x2 at the deepest normalized layer) estimates badly; and on a CPU a step of 16
    # tiny images costs little more than a step of one.
    "batch_size": 16,
    # No weight averaging in pix2pix.
    "ema": 0.0,
}


#: The CPU preset that pix2pix-digits suggests for pix2pix runs.
DIGITS_PRESET = {"pix2pix.ngf": 32, "pix2pix.ndf": 32, "pix2pix.epochs": 20.0}


@hookimpl
def gankit_register_data_sources(register):
    register(
        "pix2pix-digits",
        "gankit_pix2pix.data:digits_task",
        config=DigitsTaskConfig,
        summary="scikit-learn digits at 16 px (--resolution) as (edge map or masked digit, digit) pairs, "
        "80/20 split (split=train|test); class kept as label",
        # The embedded task's CPU preset for pix2pix runs (README, "Quality"): half-width networks and 20
        # epochs (1,800 steps of 16) instead of 200, the rates decaying over the second half as in the recipe.
        defaults={"scheme": "pix2pix", "metrics": ("paired-l1",)} | DIGITS_PRESET,
    )
    register(
        "pix2pix-folder",
        "gankit_pix2pix.data:aligned_folder",
        config=FolderConfig,
        summary="pix2pix's aligned pairs: --data-root DIR with train/ and test/ images, A left | B right",
        defaults={"scheme": "pix2pix", "metrics": ("paired-l1",)},
    )


@hookimpl
def gankit_register_architectures(register):
    register(
        "pix2pix",
        "gankit_pix2pix.networks:Pix2PixArchitecture",
        config=Pix2PixConfig,
        summary="pix2pix's U-Net translator (skips, dropout) and PatchGAN D on (output, input) pairs; "
        "power-of-two sizes from 8 px",
        defaults=dict(RECIPE),
    )


@hookimpl
def gankit_register_schemes(register):
    register(
        "pix2pix",
        "gankit_pix2pix.scheme:Pix2Pix",
        config=Pix2PixConfig,
        summary="paired translation: D on (target, source) vs (G(source), source) pairs, G with GAN + 100 * L1",
        defaults={"arch": "pix2pix", "loss": "bce", "data": "pix2pix-digits"},
    )


@hookimpl
def gankit_register_metrics(register):
    register(
        "paired-l1",
        "gankit_pix2pix.metric:PairedL1",
        config=PairedL1Config,
        summary="L1 of a translator's outputs to the targets, beside the inputs' own (pixel units; paired data)",
    )
