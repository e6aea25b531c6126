"""Bundled training schemes."""

from __future__ import annotations

from gankit import hookimpl


@hookimpl
def gankit_register_schemes(register):
    register(
        "unconditional",
        "gankit_builtins.schemes.unconditional:Unconditional",
        summary="one G and one D: n_critic discriminator steps, then one generator step",
    )
