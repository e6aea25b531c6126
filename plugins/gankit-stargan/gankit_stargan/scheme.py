"""StarGAN's training iteration (yunjey/stargan solver.py ``train()``), on gankit's step context.

Each iteration: ``n_critic`` discriminator steps, each on a fresh batch (real images x and their
domains c), then one generator step on the last of them:

* target domains c' are the batch's own domain vectors in a random order (solver.py: ``label_trg =
  label_org[randperm]``), so targets follow the data's mix of domains;
* D: adversarial loss on x and G(x, c') (the run's loss, ``wgan`` in the recipe) + the run's penalties
  (``gp``, on D's scores) + lambda_cls * classification of x's domains c by D's second head;
* G: adversarial loss on G(x, c') + lambda_cls * classification of the fake as c' + lambda_rec *
  |x - G(G(x, c'), c)| (reconstruction back to the original domains, L1) [+ lambda_id * |x - G(x, c)|,
  CycleGAN's identity loss, off in the recipe].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from gankit import Attributes, DataDescription, Field, FromData, GankitError, NetworkRequest, Scheme
from torch import Tensor


def attribute_field(data: DataDescription) -> str:
    """The data's domain field: the one of kind ``attributes``."""
    names = [n for n, f in data.fields.items() if f.kind == "attributes"]
    if len(names) != 1 or data.fields[data.main].kind != "image":
        have = ", ".join(f"{n} ({f.kind})" for n, f in data.fields.items())
        raise GankitError(
            f"scheme 'stargan' needs images with one attributes field (0/1 domain flags); {data.name!r} has {have} "
            "(try --data stargan-digits, or --data stargan-folder --data-root DIR)"
        )
    return names[0]


def classification_loss(logits: Tensor, target: Tensor, single: bool) -> Tensor:
    """solver.py classification_loss(): softmax cross-entropy of one-hot domains (RaFD), else binary
    cross-entropy summed over the attributes and averaged over the batch (CelebA)."""
    logits = logits.float()
    if single:
        return F.cross_entropy(logits, target.argmax(1))
    return F.binary_cross_entropy_with_logits(logits, target.float(), reduction="sum") / logits.shape[0]


class StarGAN(Scheme):
    optimizers = {"discriminator": ("discriminator",), "generator": ("generator",)}
    ema_networks = ("generator",)

    def __init__(self, config):
        self.config = config

    def networks(self, data: DataDescription, z_dim: int) -> dict[str, NetworkRequest]:
        image, domains = data.fields[data.main], data.fields[attribute_field(data)]
        return {
            "generator": NetworkRequest("translator", data, {"image": image, "target": domains}, {data.main: image}),
            "discriminator": NetworkRequest(
                "discriminator", data, {data.main: image}, {"scores": Field((), "scores"), "domains": domains}
            ),
        }

    def generation_inputs(self, data: DataDescription, z_dim: int) -> dict:
        return {"image": FromData(data.main), "target": Attributes.of(data.fields[attribute_field(data)])}

    def generate(self, nets, inputs) -> Tensor:
        return nets["generator"](inputs["image"], inputs["target"])

    def step(self, t) -> dict[str, Tensor]:
        G, D = t.nets["generator"], t.nets["discriminator"]
        cfg = self.config
        single = cfg.classification == "single"
        domains = attribute_field(t.data)

        for _ in range(t.n_critic):
            batch = t.next_batch()
            real, original = batch.x, batch[domains].to(batch.x.dtype)
            if cfg.flip:  # data_loader.py: T.RandomHorizontalFlip() on training images
                real = torch.where(t.uniform(1, 1, 1) < 0.5, real.flip(-1), real)
            # solver.py: rand_idx = torch.randperm(N); label_trg = label_org[rand_idx]
            target = original[torch.argsort(t.uniform(n=real.shape[0]))]
            with torch.no_grad(), t.autocast():
                fake = G(real, target)
            with t.autocast():
                real_scores, real_logits = D(real)
                fake_scores, _ = D(fake)
                d_adversarial = t.loss.discriminator_loss(real_scores, fake_scores)
            d_cls = classification_loss(real_logits, original, single)
            d_loss = d_adversarial + cfg.lambda_cls * d_cls
            penalty = t.discriminator_penalty(real, fake, D)  # gp: on D's first output, its scores
            t.optimize("discriminator", d_loss if penalty is None else d_loss + penalty)

        with t.frozen(D), t.autocast():
            fake = G(real, target)
            fake_scores, fake_logits = D(fake)
            real_scores = D(real)[0] if t.loss.needs_real_scores else None
            g_adversarial = t.generator_loss(fake_scores, real_scores)
            reconstruction = (real - G(fake, original)).abs().mean().float()  # solver.py g_loss_rec
            # Not in solver.py: CycleGAN's identity loss (Zhu et al. 2017), G at x's own domains gives x back.
            # Skipped at weight 0 (the recipe), so the published runs do the same work as before.
            identity = (real - G(real, original)).abs().mean().float() if cfg.lambda_id > 0 else None
        g_cls = classification_loss(fake_logits, target, single)
        g_loss = g_adversarial + cfg.lambda_rec * reconstruction + cfg.lambda_cls * g_cls
        if identity is not None:
            g_loss = g_loss + cfg.lambda_id * identity
        t.optimize("generator", g_loss)

        return {
            "d_loss": d_adversarial.detach(),
            "g_loss": g_adversarial.detach(),
            "d_cls": d_cls.detach(),
            "g_cls": g_cls.detach(),
            "rec": reconstruction.detach(),
        } | ({} if identity is None else {"idt": identity.detach()})
