"""A third-party plugin as a user would publish it: an architecture and a scheme with two generators
and two discriminators, registered through the ``gankit`` entry-point group."""

from gankit import hookimpl


@hookimpl
def gankit_register_architectures(register):
    register("tiny", "gankit_testplugin.components:Tiny", summary="a one-hidden-layer MLP from a test plugin")


@hookimpl
def gankit_register_schemes(register):
    register("twin", "gankit_testplugin.components:Twin", summary="two generators, each with its own discriminator")
