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


# 2-D toy sets: the WGAN-GP toy recipe's batch (256) and penalty weight (0.1, not the image setting 10),
# three 128-wide layers instead of the seed's 1024-wide generator (2-D points need no more, and narrow
# layers buy iterations), and a fast EMA of G for sampling. With wgan+gp on grid25, 3,500 iterations
# take about 50 s on 2 CPU cores; measurements in docs/concepts.md.
TOY_DEFAULTS = {
    "batch_size": 256,
    "steps": 3500,
    "ema": 0.99,
    "sample_every": 250,
    "checkpoint_every": 500,
    "gp.weight": 0.1,
    "mlp.g_hidden": (128, 128, 128),
    "mlp.d_hidden": (128, 128, 128),
}


@hookimpl
def gankit_register_data_sources(register):
    for name, summary in (
        ("ring8", "8 Gaussians on a circle of radius 2, std 0.02 (VEEGAN/PacGAN benchmark)"),
        ("grid25", "25 Gaussians on a 5x5 grid over [-4, 4], std 0.05 (VEEGAN/PacGAN benchmark)"),
    ):
        defaults = TOY_DEFAULTS | {"metrics": ("modes",)}
        register(name, f"gankit_builtins.data.toy:{name}", config=ToyConfig, summary=summary, defaults=defaults)
    register(
        "swissroll",
        "gankit_builtins.data.toy:swissroll",
        summary="2-D swiss roll, noise 0.25, scaled by 1/7.5 (WGAN-GP toy set)",
        defaults=TOY_DEFAULTS,
    )
    register(
        "digits",
        "gankit_builtins.data.digits:digits",
        config=DigitsConfig,
        summary="scikit-learn's 1,797 handwritten 8x8 digits, embedded (the default)",
        # Without a penalty the seed's MLPs collapse to one or two digits here within 3,000 steps; a light
        # R1 on every step keeps all ten (docs/concepts.md). --reg replaces it.
        defaults={
            "steps": 3000,
            "batch_size": 64,
            "sample_every": 500,
            "metrics": ("digit-quality",),
            "regs": ("r1",),
            "r1.gamma": 1.0,
            "r1.every": 1,
        },
    )
    for name, title in (("mnist", "MNIST"), ("fashion-mnist", "Fashion-MNIST"), ("cifar10", "CIFAR-10")):
        register(
            name,
            f"gankit_builtins.data.torchvision_sets:{name.replace('-', '_')}",
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
