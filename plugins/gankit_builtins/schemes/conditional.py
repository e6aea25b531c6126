"""The class-conditional GAN game (Mirza & Osindero 2014; projection D of Miyato & Koyama 2018):
G(z, y) and D(x, y), n_critic discriminator steps, then one generator step."""

from __future__ import annotations

import torch
from torch import Tensor

from gankit import DataDescription, GankitError, Label, NetworkRequest, Noise, Scheme


def class_field(data: DataDescription) -> str:
    name = data.class_field()
    if name is None:
        raise GankitError(
            f"scheme 'conditional' needs data with class labels; {data.name!r} has fields "
            f"{', '.join(data.fields)} (try --data digits or --data mnist)"
        )
    return name


class Conditional(Scheme):
    optimizers = {"discriminator": ("discriminator",), "generator": ("generator",)}
    ema_networks = ("generator",)

    def __init__(self, config=None):
        pass

    def networks(self, data: DataDescription, z_dim: int) -> dict[str, NetworkRequest]:
        label = class_field(data)
        condition = {label: data.fields[label]}
        return {
            "generator": NetworkRequest.generator(data, z_dim, **condition),
            "discriminator": NetworkRequest.discriminator(data, **condition),
        }

    def generation_inputs(self, data: DataDescription, z_dim: int) -> dict:
        return {"z": Noise((z_dim,)), "label": Label.of(data.fields[class_field(data)])}

    def generate(self, nets, inputs) -> Tensor:
        return nets["generator"](inputs["z"], inputs["label"])

    def step(self, t) -> dict[str, Tensor]:
        G, D = t.nets["generator"], t.nets["discriminator"]

        for _ in range(t.n_critic):
            batch = t.next_batch()
            # D's fakes take the real batch's labels: D sees the classes as often in fakes as in reals, and
            # a penalty on real-fake interpolates (gp) stays within one class.
            real, label = batch.x, batch.y
            with torch.no_grad(), t.autocast():
                fake = G(t.noise(), label)
            with t.autocast():
                d_loss = t.loss.discriminator_loss(D(real, label), D(fake, label))
            penalty = t.discriminator_penalty(real, fake, D, conditions=(label,))
            t.optimize("discriminator", d_loss if penalty is None else d_loss + penalty)

        z, fake_label = t.noise(), t.labels(t.data.num_classes)
        with t.frozen(D), t.autocast():
            real_scores = D(real, label) if t.loss.needs_real_scores else None
            g_loss = t.generator_loss(D(G(z, fake_label), fake_label), real_scores)
        penalty = t.generator_penalty(G, {"z": z, "label": fake_label})
        t.optimize("generator", g_loss if penalty is None else g_loss + penalty)

        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}
