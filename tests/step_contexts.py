"""A StepContext over small real components (SGD, the wgan loss, a points data set) for engine tests."""

from __future__ import annotations

import torch
from torch import nn

from gankit import DataDescription, Regularizer, TensorDataset
from gankit.engine.amp import Precision
from gankit.engine.batches import BatchStream
from gankit.engine.step import StepContext
from gankit.plugins import registry

CPU = torch.device("cpu")


def step_context(regularizers: list[Regularizer], d: nn.Module | None = None, n_critic: int = 1) -> StepContext:
    """G maps 4-d noise to 2-d points; D defaults to a small MLP on those points."""
    data = TensorDataset(DataDescription("pts", (2,), "points"), torch.randn(32, 2))
    g = nn.Sequential(nn.Linear(4, 2))
    d = d or nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1), nn.Flatten(0))
    optimizers = {
        "discriminator": torch.optim.SGD(d.parameters(), lr=0.5),
        "generator": torch.optim.SGD(g.parameters(), lr=0.5),
    }
    return StepContext(
        nets={"generator": g, "discriminator": d},
        optimizers=optimizers,
        loss=registry().get("loss", "wgan").create(None),
        regularizers=regularizers,
        precision=Precision(CPU, "off"),
        batches=BatchStream(data, 8, CPU, seed=0),
        z_dim=4,
        n_critic=n_critic,
        device=CPU,
        optimized_networks={"discriminator": ("discriminator",), "generator": ("generator",)},
        discriminators=("discriminator",),
    )
