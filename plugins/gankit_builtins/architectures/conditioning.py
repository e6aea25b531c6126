"""Class conditioning shared by the bundled architectures: a class embedding beside G's noise, and a
projection discriminator (Miyato & Koyama 2018) on D's features."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from gankit import NetworkRequest, UnsupportedRequest


class EmbeddedGenerator(nn.Module):
    """``G(z, y) = net([z, embed(y)])``: the class enters as a learned embedding next to the noise."""

    def __init__(self, net: nn.Module, num_classes: int, embed_dim: int):
        super().__init__()
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.net = net

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        return self.net(torch.cat([z, self.embed(y).to(z.dtype)], 1))


class ProjectionDiscriminator(nn.Module):
    """``D(x, y) = head(h) + <embed(y), pool(h)>`` with ``h = features(x)``: the class is compared with
    the features by an inner product rather than concatenated to the input, which conditions D
    far more strongly (the projection discriminator of SNGAN and BigGAN)."""

    def __init__(self, features: nn.Module, head: nn.Module, width: int, num_classes: int):
        super().__init__()
        self.features = features
        self.head = head
        self.embed = nn.Embedding(num_classes, width)
        nn.init.normal_(self.embed.weight, 0.0, 0.02)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        h = self.features(x)
        pooled = h.sum(dim=tuple(range(2, h.dim()))) if h.dim() > 2 else h
        return self.head(h) + (self.embed(y).to(pooled.dtype) * pooled).sum(1)


def class_condition(request: NetworkRequest, arch: str) -> tuple[str, int] | None:
    """The request's class-label input (name, classes), ``None`` when it has none; refuse anything else."""
    data = request.data
    conditions = {n: f for n, f in request.inputs.items() if n not in ("z", data.main)}
    classes = {n: f for n, f in conditions.items() if f.kind == "class"}
    inputs = request.inputs
    generator = request.role == "generator" and "z" in inputs and data.main not in inputs
    discriminator = request.role == "discriminator" and data.main in inputs and "z" not in inputs
    if (
        not (generator or discriminator)
        or len(conditions) != len(classes)
        or len(classes) > 1
        or len(request.outputs) != 1
    ):
        raise UnsupportedRequest(
            f"{arch} builds generators from noise and discriminators of {data.main!r}, each optionally "
            f"conditioned on one class label, not {request.describe()}"
        )
    if not classes:
        return None
    name, field = next(iter(classes.items()))
    return name, int(field.num_classes)


def build(
    request: NetworkRequest,
    arch: str,
    generator: Callable[[int], nn.Module],
    discriminator_parts: Callable[[], tuple[nn.Module, nn.Module, int]],
    plain_discriminator: Callable[[], nn.Module],
    embed_dim: int,
) -> nn.Module:
    """A network for ``request``: ``generator(z_in)`` builds G for noise of ``z_in`` features;
    ``discriminator_parts()`` gives D's (features, head, feature width) for the projection."""
    condition = class_condition(request, arch)
    if request.role == "generator":
        if condition is None:
            return generator(request.z_dim)
        return EmbeddedGenerator(generator(request.z_dim + embed_dim), condition[1], embed_dim)
    if condition is None:
        return plain_discriminator()
    features, head, width = discriminator_parts()
    return ProjectionDiscriminator(features, head, width, condition[1])
