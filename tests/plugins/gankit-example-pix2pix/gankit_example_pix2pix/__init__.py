"""Paired translation from outside gankit (Isola et al. 2017, in miniature): a data source of
(source, target) pairs, an architecture that builds a translator and a PatchGAN discriminator on the
pair, and a scheme with an L1 term. The scheme suggests its architecture and data::

    gankit run --scheme pix2pix                  # = --arch p2p --data digits-pairs
    gankit sample RUN --input digit.png -o out.png
"""

import attrs

from gankit import hookimpl


@attrs.frozen
class PairsConfig:
    #: How the source is made from the digit: "flip" (mirrored left to right) or "mask" (bottom half erased).
    degrade: str = attrs.field(default="flip", validator=attrs.validators.in_(("flip", "mask")))


@attrs.frozen
class Pix2PixConfig:
    #: Weight of the L1 distance between translation and target (lambda in the paper).
    l1: float = attrs.field(default=100.0, validator=attrs.validators.ge(0))


@hookimpl
def gankit_register_data_sources(register):
    register(
        "digits-pairs",
        "gankit_example_pix2pix.components:digit_pairs",
        config=PairsConfig,
        summary="scikit-learn digits as (degraded digit, digit) pairs (example plugin)",
    )


@hookimpl
def gankit_register_architectures(register):
    register("p2p", "gankit_example_pix2pix.components:Pix2PixNets", summary="small conv translator and PatchGAN D")


@hookimpl
def gankit_register_schemes(register):
    register(
        "pix2pix",
        "gankit_example_pix2pix.components:Pix2Pix",
        config=Pix2PixConfig,
        summary="paired translation: conditional adversarial loss on patches plus L1 (example plugin)",
        defaults={"arch": "p2p", "data": "digits-pairs"},
    )
