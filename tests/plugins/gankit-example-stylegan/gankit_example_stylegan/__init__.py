"""A StyleGAN2-style model from outside gankit (Karras et al. 2020, in miniature): a mapping network
z -> w, modulated and demodulated convolutions, a truncation option when generating, and the lazy
path-length regularizer of the generator, whose running mean is saved in checkpoints::

    gankit run --scheme stylegan --arch style --reg pl --reg r1
    gankit sample RUN --set truncation=0.5 -o samples.png
"""

import attrs

from gankit import hookimpl


@attrs.frozen
class StyleConfig:
    #: Size of the intermediate latent w.
    w_dim: int = attrs.field(default=32, validator=attrs.validators.gt(0))
    #: Feature maps of every synthesis layer.
    channels: int = attrs.field(default=16, validator=attrs.validators.gt(0))


@attrs.frozen
class PathLengthConfig:
    #: Weight of the penalty (StyleGAN2 uses 2).
    weight: float = attrs.field(default=2.0, validator=attrs.validators.ge(0))
    #: Apply on every n-th generator step, scaled by n (StyleGAN2's lazy interval is 4).
    every: int = attrs.field(default=4, validator=attrs.validators.gt(0))
    #: How fast the running mean of path lengths follows the batches.
    decay: float = attrs.field(default=0.01, validator=[attrs.validators.gt(0), attrs.validators.le(1)])


@hookimpl
def gankit_register_architectures(register):
    register(
        "style",
        "gankit_example_stylegan.components:Style",
        config=StyleConfig,
        summary="mapping net and modulated convolutions (G), a small conv D (example plugin)",
    )


@hookimpl
def gankit_register_regularizers(register):
    register(
        "pl",
        "gankit_example_stylegan.components:PathLength",
        config=PathLengthConfig,
        summary="StyleGAN2 path-length penalty on the generator, lazy every 4 G steps (example plugin)",
    )


@hookimpl
def gankit_register_schemes(register):
    register(
        "stylegan",
        "gankit_example_stylegan.components:StyleGAN",
        summary="the plain game with a truncation option when generating (example plugin)",
        defaults={"arch": "style"},
    )
