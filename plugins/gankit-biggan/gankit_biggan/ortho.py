"""BigGAN's orthogonal regularization of the generator (Brock et al. 2019, section 3.1)."""

from __future__ import annotations

import torch
from gankit import GeneratorPenaltyInputs, Regularizer
from torch import Tensor, nn


def off_diagonal_penalty(network: nn.Module) -> Tensor:
    """``1/2 * sum_W || W W^T * (1 - I) ||_F^2`` over the weights ``W`` (reshaped to ``(out, -1)``) of
    every parameter with two or more dimensions, except embedding tables.

    The paper writes ``beta * ||W^T W * (1 - I)||_F^2``; the released code (BigGAN-PyTorch ``utils.ortho``,
    StudioGAN ``misc.orthogonalize_model``) adds ``beta * 2 (W W^T * (1 - I)) W`` to each gradient, which is
    the gradient of this sum times beta: so beta = 1e-4 here means what it means in that code. Embeddings
    (G's shared class embedding, the code's blacklist) are skipped: they are tables of class vectors, not
    maps. Under spectral norm the raw weights (``parametrizations.weight.original``) are penalized, as the
    reference code does.
    """
    skip = {id(p) for m in network.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    total = None
    for p in network.parameters():
        if p.dim() < 2 or id(p) in skip or not p.requires_grad:
            continue
        w = p.float().reshape(p.shape[0], -1)
        gram = w @ w.t()
        off = gram - torch.diag_embed(torch.diagonal(gram))
        term = off.pow(2).sum()
        total = term if total is None else total + term
    if total is None:
        return torch.zeros(())
    return 0.5 * total


class Orthogonal(Regularizer):
    """``weight * off_diagonal_penalty(G)`` added to G's loss on each generator step."""

    targets = ("generator",)

    def __init__(self, config):
        self.config = config
        self.every = config.every

    def generator_penalty(self, inputs: GeneratorPenaltyInputs) -> Tensor | None:
        if self.config.weight == 0:
            return None
        return self.config.weight * off_diagonal_penalty(inputs.generator)
