"""Multi-domain translation from outside gankit (Choi et al. 2018, in miniature): digits carrying two
attribute flags (mirrored, inverted), one generator G(image, target domains), and a discriminator
that returns both real/fake scores and attribute logits::

    gankit run --scheme stargan --arch star --data digits-domains
    gankit sample RUN --set domains=1,0 -o mirrored.png
"""

import attrs

from gankit import hookimpl


@attrs.frozen
class StarGANConfig:
    #: Weight of the attribute classification terms.
    classification: float = attrs.field(default=1.0, validator=attrs.validators.ge(0))
    #: Weight of the reconstruction (back to the original domains) L1 term.
    reconstruction: float = attrs.field(default=10.0, validator=attrs.validators.ge(0))


@hookimpl
def gankit_register_data_sources(register):
    register(
        "digits-domains",
        "gankit_example_stargan.components:digit_domains",
        summary="scikit-learn digits, each mirrored and/or inverted, with those two flags (example plugin)",
    )


@hookimpl
def gankit_register_architectures(register):
    register(
        "star", "gankit_example_stargan.components:StarNets", summary="attribute-conditioned translator, two-headed D"
    )


@hookimpl
def gankit_register_schemes(register):
    register(
        "stargan",
        "gankit_example_stargan.components:StarGAN",
        config=StarGANConfig,
        summary="one generator translating between attribute domains (example plugin)",
        defaults={"arch": "star", "data": "digits-domains"},
    )
