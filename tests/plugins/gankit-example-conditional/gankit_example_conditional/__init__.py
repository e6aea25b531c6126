"""A class-conditional GAN from outside gankit: an architecture that builds G(z, label) and a
projection D(x, label) from the scheme's network requests, and a relativistic loss whose generator
term needs the real samples' scores. It trains with gankit's bundled ``conditional`` scheme::

    gankit run --scheme conditional --arch cond-mlp --loss rsgan --data digits
"""

import attrs

from gankit import hookimpl


@attrs.frozen
class CondMLPConfig:
    #: Width of the hidden layers of G and D.
    hidden: int = attrs.field(default=64, validator=attrs.validators.gt(0))
    #: Size of G's class embedding.
    embedding: int = attrs.field(default=16, validator=attrs.validators.gt(0))


@hookimpl
def gankit_register_architectures(register):
    register(
        "cond-mlp",
        "gankit_example_conditional.components:CondMLP",
        config=CondMLPConfig,
        summary="MLPs conditioned on a class: embedding into G, projection D (example plugin)",
    )


@hookimpl
def gankit_register_losses(register):
    register(
        "rsgan",
        "gankit_example_conditional.components:RelativisticStandard",
        summary="relativistic standard GAN loss: D(real) - D(fake) paired per sample (example plugin)",
    )
