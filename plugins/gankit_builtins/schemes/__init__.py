"""Bundled training schemes."""

from __future__ import annotations

import attrs

from gankit import hookimpl


@attrs.frozen
class UnconditionalConfig:
    #: G's step scores the fake batch of the last D step instead of drawing fresh noise: one G forward
    #: fewer per iteration (n_critic instead of n_critic + 1), as in PyTorch's DCGAN example. About 11 %
    #: less time per step for the MLPs on MNIST; G's step then sees the very fakes D just learned from.
    reuse_fakes: bool = False


@hookimpl
def gankit_register_schemes(register):
    register(
        "unconditional",
        "gankit_builtins.schemes.unconditional:Unconditional",
        config=UnconditionalConfig,
        summary="one G and one D: n_critic discriminator steps, then one generator step",
    )
    register(
        "conditional",
        "gankit_builtins.schemes.conditional:Conditional",
        summary="class-conditional G(z, y) and D(x, y); samples one row per class",
    )
