"""``--compile``: torch.compile the networks a scheme trains, where inductor can train them.

Inductor compiles forward and backward, but not a backward of a backward: gradient penalties (gp, r1)
differentiate D's input gradient, so a discriminator they act on stays eager while the rest compiles.
Compiled modules share their parameters with the originals, so checkpoints, EMA and sampling are
unchanged.
"""

from __future__ import annotations

import logging

import attrs
import torch
from torch import nn


@attrs.frozen
class CompileReport:
    compiled: tuple[str, ...]
    #: Network name -> why it stayed eager.
    eager: dict[str, str]

    def describe(self) -> str:
        text = f"compiled {', '.join(self.compiled) or 'nothing'}"
        if self.eager:
            text += "; eager: " + ", ".join(f"{name} ({why})" for name, why in self.eager.items())
        return text


def compile_networks(
    nets: dict[str, nn.Module], discriminators: tuple[str, ...], double_backward_by: tuple[str, ...]
) -> tuple[dict[str, nn.Module], CompileReport]:
    """``nets`` with each network torch.compiled, except discriminators that ``double_backward_by``
    (the regularizers that take gradients of D's input gradient) need eager."""
    # Every compiled module shares one wrapper function, and a GAN step calls each network in several
    # variants (with and without grad, D frozen, fp32 real and bf16 fake batches under AMP): dynamo's
    # default of 8 graphs per function would fall back to eager after the first few.
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, 64)
    compiled: dict[str, nn.Module] = {}
    eager: dict[str, str] = {}
    for name, network in nets.items():
        if name in discriminators and double_backward_by:
            verb = "needs" if len(double_backward_by) == 1 else "need"
            eager[name] = f"{', '.join(double_backward_by)} {verb} double backward, which inductor cannot compile"
            compiled[name] = network
        else:
            compiled[name] = torch.compile(network)
    # Inductor's C++ toolchain probe warns about CUDA_HOME on CPU-only machines; it is not ours to fix.
    logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    return compiled, CompileReport(tuple(n for n in nets if n not in eager), eager)
