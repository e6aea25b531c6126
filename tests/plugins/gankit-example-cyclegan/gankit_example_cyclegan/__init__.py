"""Unpaired translation from outside gankit (Zhu et al. 2017, in miniature): a data source with two
independent streams (digits 0-4 upright, digits 5-9 turned a quarter), two translators, two
discriminators, a cycle-consistency loss, and an image pool of past fakes that survives a resume::

    gankit run --scheme cyclegan --arch cycle --data digits-unpaired
    gankit sample RUN --input digit.png -o out.png      # a -> b
"""

import attrs

from gankit import hookimpl


@attrs.frozen
class CycleGANConfig:
    #: Weight of the cycle-consistency (L1) terms.
    cycle: float = attrs.field(default=10.0, validator=attrs.validators.ge(0))
    #: Past fakes kept per domain for the discriminators (0 turns the pool off).
    pool: int = attrs.field(default=50, validator=attrs.validators.ge(0))


@hookimpl
def gankit_register_data_sources(register):
    register(
        "digits-unpaired",
        "gankit_example_cyclegan.components:unpaired_digits",
        summary="scikit-learn digits 0-4 (a) and 5-9 turned 90 degrees (b), unpaired (example plugin)",
    )


@hookimpl
def gankit_register_architectures(register):
    register(
        "cycle", "gankit_example_cyclegan.components:CycleNets", summary="small conv translators and discriminators"
    )


@hookimpl
def gankit_register_schemes(register):
    register(
        "cyclegan",
        "gankit_example_cyclegan.components:CycleGAN",
        config=CycleGANConfig,
        summary="unpaired translation a <-> b with cycle loss and an image pool (example plugin)",
        defaults={"arch": "cycle", "data": "digits-unpaired", "loss": "lsgan"},
    )
