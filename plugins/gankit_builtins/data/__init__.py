"""Bundled data sources: toy 2-D mixtures and scikit-learn's digits (embedded, nothing to download),
torchvision's MNIST, Fashion-MNIST and CIFAR-10 (from --data-root), and a folder of images."""

from __future__ import annotations

import attrs

from gankit import hookimpl

_SPLITS = attrs.validators.in_(("train", "test"))


@attrs.frozen
class ToyConfig:
    #: Standard deviation of each mode; None keeps the benchmark's value (ring8 0.02, grid25 0.05).
    std: float | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.gt(0)))


@attrs.frozen
class DigitsConfig:
    #: "all" 1,797 images; "train" and "test" are a fixed stratified 80/20 split.
    split: str = attrs.field(default="all", validator=attrs.validators.in_(("all", "train", "test")))


@attrs.frozen
class TorchvisionConfig:
    split: str = attrs.field(default="train", validator=_SPLITS)


@attrs.frozen
class FolderConfig:
    #: 3 for RGB, 1 for grayscale.
    channels: int = attrs.field(default=3, validator=attrs.validators.in_((1, 3)))


# 2-D toy sets, tuned to the VEEGAN/PacGAN quality targets (the `modes` metric: every mode captured and
# nearly every sample within 3 sigma of one) in one to two minutes on 2 CPU cores; measurements in
# docs/concepts.md ("Why the toy settings").
# - z_dim 2: from 64-d noise the 3x128 MLPs spread their samples almost evenly over the plane (at most 6 %
#   within 3 sigma after 8,000 steps); from 2-d noise they learn to cut the plane into clusters.
# - The default loss (bce, non-saturating) with R1 (gamma 0.1 on the [-1, 1]-scaled points, on every D step)
#   and a discriminator that learns faster than the generator (lr_d 1e-3, lr_g 4e-4, Adam betas (0, 0.99)):
#   the seed's rates (2e-4, betas (0.5, 0.999)) sharpen the clusters about twice as slowly, lr_g 1e-3 or a
#   256-wide generator collapses, gamma 1 or 10 keeps D too smooth to sharpen them (11-16 %, 2-3 %).
# - An EMA of G (0.999) for sampling: single generator snapshots jitter (40-95 % within 3 sigma from one
#   thousand steps to the next); the average does not.
# - --loss wgan suggests its own betas and n_critic; any --reg replaces the suggested r1 (`--loss wgan
#   --reg gp` trains with gp alone). With gp, the toy recipe's weight 0.1 (not the image setting 10, which
#   collapses here), applied lazily once per 5 D steps (once per wgan iteration): a third less time per
#   iteration, the same progress per iteration.
# - wgan.* (run settings for runs with wgan, refining wgan's own suggestions): an iteration of wgan (5 critic
#   steps) takes about 2.5 times as long as one of bce + r1, so wgan runs get their own budget of about the
#   same time; at wgan's rates (1e-4) 3 of 5 seeds missed a grid25 mode, at 3e-4 none did.
# - grid25: rates decaying linearly over the second half lift the ~95 % plateau (95.0 to 95.6 % over 5
#   seeds); on ring8 the decay spread the seeds (96.7-98.4 %) where constant rates give 97.2-97.4 %.
#: The recipe the toy sets and the digits share: a discriminator that learns faster than the generator,
#: R1 on every D step, and an EMA of G for sampling.
_RECIPE = {"lr_g": 4e-4, "lr_d": 1e-3, "betas": (0.0, 0.99), "ema": 0.999, "regs": ("r1",), "r1.every": 1}
_TOY_COMMON = _RECIPE | {
    "batch_size": 256,
    "z_dim": 2,
    "r1.gamma": 0.1,
    "gp.weight": 0.1,
    "gp.every": 5,
    "wgan.steps": 6000,
    "wgan.lr_g": 3e-4,
    "wgan.lr_d": 3e-4,
    "mlp.g_hidden": (128, 128, 128),
    "mlp.d_hidden": (128, 128, 128),
    "sample_every": 1000,
    "checkpoint_every": 2500,
}
#: Per data set: grid25 reaches 25 modes and over 95 % of samples within 3 sigma by 15,000 steps; ring8's
#: tighter modes (sigma 0.02 on a radius of 2) need a little longer for 97 %.
TOY_DEFAULTS = {
    "ring8": _TOY_COMMON | {"steps": 16000, "metrics": ("modes",)},
    "grid25": _TOY_COMMON | {"steps": 15000, "lr_schedule": "linear", "lr_decay_start": 0.5, "metrics": ("modes",)},
    "swissroll": _TOY_COMMON | {"steps": 15000},
}


@hookimpl
def gankit_register_data_sources(register):
    for name, summary in (
        ("ring8", "8 Gaussians on a circle of radius 2, std 0.02 (VEEGAN/PacGAN benchmark)"),
        ("grid25", "25 Gaussians on a 5x5 grid over [-4, 4], std 0.05 (VEEGAN/PacGAN benchmark)"),
    ):
        register(
            name, f"gankit_builtins.data.toy:{name}", config=ToyConfig, summary=summary, defaults=TOY_DEFAULTS[name]
        )
    register(
        "swissroll",
        "gankit_builtins.data.toy:swissroll",
        summary="2-D swiss roll, noise 0.25, scaled by 1/7.5 (WGAN-GP toy set)",
        defaults=TOY_DEFAULTS["swissroll"],
    )
    register(
        "digits",
        "gankit_builtins.data.digits:digits",
        config=DigitsConfig,
        summary="scikit-learn's 1,797 handwritten 8x8 digits, embedded (the default)",
        # The toy sets' recipe (docs/concepts.md, "Why the digits settings"): without a penalty the seed's
        # MLPs collapse to one or two digits; R1 (gamma 1, every step), a discriminator that learns faster
        # than the generator and an EMA of G cover all ten, and 3x256 MLPs match the real data's feature
        # statistics in half the time of the seed's. --reg replaces the r1.
        defaults=_RECIPE
        | {
            "steps": 5000,
            "batch_size": 64,
            "sample_every": 500,
            "metrics": ("digit-quality",),
            "r1.gamma": 1.0,
            "mlp.g_hidden": (256, 256, 256),
            "mlp.d_hidden": (256, 256, 256),
        },
    )
    for name, title, factory in (
        ("mnist", "MNIST", "torchvision_sets:mnist"),
        ("fashion-mnist", "Fashion-MNIST", "torchvision_sets:fashion_mnist"),
        ("cifar10", "CIFAR-10", "cifar:cifar10"),
    ):
        register(
            name,
            f"gankit_builtins.data.{factory}",
            config=TorchvisionConfig,
            summary=f"{title} from --data-root (torchvision's folder layout); --download to fetch it",
            defaults={"batch_size": 64, "epochs": 5.0},
        )
    register(
        "folder",
        "gankit_builtins.data.folder:folder",
        config=FolderConfig,
        summary="every image under --data-root, resized to --resolution (default 64)",
    )
