"""The pix2pix game (Pix2PixModel.optimize_parameters in models/pix2pix_model.py): translate the source
once; D learns real (target, source) pairs against (G(source), source) pairs, its loss halved; then G
learns to fool D on its pairs while staying close to the target in L1."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from gankit import DataDescription, Field, FromData, GankitError, NetworkRequest, Scheme
from torch import Tensor

#: pix2pix halves D's loss, "which slows down the rate at which D learns relative to G" (the paper, 3.3):
#: loss_D = (loss_D_fake + loss_D_real) * 0.5 in pix2pix_model.py.
D_LOSS_SCALE = 0.5


def paired_fields(data: DataDescription) -> tuple[Field, Field]:
    """The data's ``source`` and ``target`` images; a one-line error for other data."""
    fields = data.fields
    if not all(name in fields and fields[name].kind == "image" for name in ("source", "target")):
        raise GankitError(
            f"scheme 'pix2pix' needs paired images in fields 'source' and 'target'; data {data.name!r} has "
            f"fields {', '.join(fields)} (try --data pix2pix-digits or --data pix2pix-folder)"
        )
    return fields["source"], fields["target"]


class Pix2Pix(Scheme):
    optimizers = {"generator": ("translator",), "discriminator": ("discriminator",)}
    ema_networks = ("translator",)

    def __init__(self, config):
        self.l1 = config.l1
        self.gan = config.gan

    def networks(self, data: DataDescription, z_dim: int) -> dict[str, NetworkRequest]:
        source, target = paired_fields(data)
        return {
            "translator": NetworkRequest("translator", data, {"source": source}, {"target": target}),
            # The judged image first and the condition after it, as penalties call D(x, *conditions); the
            # scores are per patch, their grid the architecture's to choose.
            "discriminator": NetworkRequest(
                "discriminator", data, {"target": target, "source": source}, {"scores": Field((), "scores")}
            ),
        }

    def generation_inputs(self, data: DataDescription, z_dim: int) -> dict:
        paired_fields(data)
        return {"source": FromData("source", target="target")}

    def generate(self, nets, inputs) -> Tensor:
        return nets["translator"](inputs["source"])

    def step(self, t) -> dict[str, Tensor]:
        G, D = t.nets["translator"], t.nets["discriminator"]
        for i in range(t.n_critic):
            batch = t.next_batch()
            source, target = batch["source"], batch["target"]
            # One forward of G per batch, as in the original: D learns on it detached, G's step reuses it
            # (the same dropout masks and BatchNorm statistics); only the last batch's graph is kept.
            with torch.set_grad_enabled(i == t.n_critic - 1), t.autocast():
                fake = G(source)
            with t.autocast():
                d_loss = D_LOSS_SCALE * t.loss.discriminator_loss(D(target, source), D(fake.detach(), source))
            penalty = t.discriminator_penalty(target, fake, D, conditions=(source,))
            t.optimize("discriminator", d_loss if penalty is None else d_loss + penalty)

        with t.frozen(D), t.autocast():
            real_scores = D(target, source) if t.loss.needs_real_scores else None
            adversarial = t.generator_loss(D(fake, source), real_scores)
        l1 = F.l1_loss(fake.float(), target.float())
        g_loss = self.gan * adversarial + self.l1 * l1
        penalty = t.generator_penalty(G, {"source": source})
        t.optimize("generator", g_loss if penalty is None else g_loss + penalty)
        return {"d_loss": d_loss.detach(), "g_loss": adversarial.detach(), "l1": l1.detach()}
