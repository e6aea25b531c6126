"""BigGAN's training game: class-conditional G(z, y) and D(x, y), ``n_critic`` discriminator steps per
generator step (StudioGAN's d_first order), an exponential moving average of G that starts after
``ema_start`` generator steps, and the truncation trick when sampling.

The average is a network of the scheme (``generator_ema``, built like G and trained by no optimizer),
so checkpoints, resume and ``gankit sample`` carry it like any network; gankit's own ``--ema`` is not
used by this scheme (it has no start step).
"""

from __future__ import annotations

import torch
from gankit import DataDescription, GankitError, Label, NetworkRequest, Noise, Option, Scheme
from torch import Tensor, nn

#: BigGAN's released sampler (BigGAN-PyTorch ``utils.sample``, the TF-Hub modules) draws
#: ``truncation * truncnorm(-2, 2)``.
TRUNCATION_BOUND = 2.0


def class_field(data: DataDescription) -> str:
    name = data.class_field()
    if name is None:
        raise GankitError(
            f"scheme 'biggan-scheme' needs data with class labels; {data.name!r} has fields "
            f"{', '.join(data.fields)} (try --data digits, mnist or cifar10)"
        )
    return name


def truncate(z: Tensor, psi: float) -> Tensor:
    """The truncation trick on standard normal noise ``z``.

    ``psi == 1``: ``z`` unchanged (the prior G was trained on). ``0 < psi < 1``: ``psi * t`` with ``t`` the
    normal truncated to [-2, 2], as BigGAN's released sampler. ``t`` is computed from ``z`` itself by
    the inverse CDF (``t = Phi^-1(Phi(-2) + Phi(z) (Phi(2) - Phi(-2)))``), which has exactly the law of
    resampling every ``|z| > 2`` but keeps each sample determined by its seeded noise and independent
    of the batch size; it is monotonic, so a sample moves smoothly as psi changes.
    """
    psi = float(psi)
    if not 0.0 < psi <= 1.0:
        raise GankitError(f"truncation must be in (0, 1] (1 turns it off), got {psi!r}")
    if psi == 1.0:
        return z
    x = z.double()
    low = torch.special.ndtr(torch.tensor(-TRUNCATION_BOUND, dtype=torch.float64, device=z.device))
    u = low + torch.special.ndtr(x) * (1.0 - 2.0 * low)
    t = torch.special.ndtri(u).clamp(-TRUNCATION_BOUND, TRUNCATION_BOUND)
    return (psi * t).to(z.dtype)


class BigGANScheme(Scheme):
    optimizers = {"discriminator": ("discriminator",), "generator": ("generator",)}
    #: gankit's --ema has no start step; the scheme keeps its own average (``generator_ema``).
    ema_networks = ()

    def __init__(self, config):
        self.config = config
        #: Generator steps taken (EMA updates made); in the checkpoint through state().
        self.updates = 0

    @property
    def uses_ema(self) -> bool:
        return self.config.ema_decay > 0

    def networks(self, data: DataDescription, z_dim: int) -> dict[str, NetworkRequest]:
        label = class_field(data)
        condition = {label: data.fields[label]}
        requests = {
            "generator": NetworkRequest.generator(data, z_dim, **condition),
            "discriminator": NetworkRequest.discriminator(data, **condition),
        }
        if self.uses_ema:
            requests["generator_ema"] = NetworkRequest.generator(data, z_dim, **condition)
        return requests

    def generation_inputs(self, data: DataDescription, z_dim: int) -> dict:
        return {
            "z": Noise((z_dim,)),
            "label": Label(data.fields[class_field(data)].num_classes),
            "truncation": Option(
                1.0, "truncation psi in (0, 1]: z = psi * N(0, 1) truncated to [-2, 2] (BigGAN); 1 = off"
            ),
        }

    def generate(self, nets: dict[str, nn.Module], inputs: dict) -> Tensor:
        G = nets["generator_ema"] if self.uses_ema else nets["generator"]
        return G(truncate(inputs["z"], inputs.get("truncation", 1.0)), inputs["label"])

    def step(self, t) -> dict[str, Tensor]:
        G, D = t.nets["generator"], t.nets["discriminator"]
        num_classes = t.data.fields[class_field(t.data)].num_classes

        for _ in range(t.n_critic):
            batch = t.next_batch()
            real, label = batch.x, batch.y
            # Fake labels drawn uniformly (StudioGAN's y_sampler "totally_random").
            fake_label = t.labels(num_classes)
            with torch.no_grad(), t.autocast():
                fake = G(t.noise(), fake_label)
            with t.autocast():
                d_loss = t.loss.discriminator_loss(D(real, label), D(fake, fake_label))
            t.optimize("discriminator", d_loss)

        z, fake_label = t.noise(), t.labels(num_classes)
        with t.frozen(D), t.autocast():
            real_scores = D(real, label) if t.loss.needs_real_scores else None
            g_loss = t.generator_loss(D(G(z, fake_label), fake_label), real_scores)
        penalty = t.generator_penalty(G, {"z": z, "label": fake_label})
        t.optimize("generator", g_loss if penalty is None else g_loss + penalty)

        metrics = {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}
        if penalty is not None:
            metrics["g_penalty"] = penalty.detach()
        if self.uses_ema:
            self._update_ema(t.nets["generator_ema"], G)
        self.updates += 1
        return metrics

    @torch.no_grad()
    def _update_ema(self, average: nn.Module, G: nn.Module) -> None:
        """StudioGAN utils/ema.py: decay 0 (a copy) for the first ``ema_start`` updates, then
        ``ema = lerp(G, ema, decay)`` for parameters and floating buffers (BN statistics, spectral norm's
        vectors); integer buffers (BN's batch count) are copied."""
        decay = 0.0 if self.updates < self.config.ema_start else self.config.ema_decay
        for mine, theirs in zip(average.parameters(), G.parameters(), strict=True):
            mine.copy_(theirs.lerp(mine, decay) if decay else theirs)
        for mine, theirs in zip(average.buffers(), G.buffers(), strict=True):
            mine.copy_(theirs.lerp(mine, decay) if decay and mine.is_floating_point() else theirs)

    def state(self) -> dict[str, Tensor]:
        return {"ema_updates": torch.tensor(self.updates, dtype=torch.int64)}

    def load_state(self, state: dict[str, Tensor]) -> None:
        if "ema_updates" in state:
            self.updates = int(state["ema_updates"])
