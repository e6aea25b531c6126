"""BigGAN's training game: class-conditional G(z, y) and D(x, y), ``n_critic`` discriminator steps per
generator step (StudioGAN's d_first order), and the truncation trick when sampling.

The moving average of G is gankit's: ``ema_networks`` names G, the run settings ``ema`` and
``ema_start`` that ``--arch biggan`` suggests set it (StudioGAN's g_ema_decay, g_ema_start), and the
engine hands the average to :meth:`BigGANScheme.generate` as ``nets["generator"]``. One iteration
of this scheme is one generator step, so gankit's ``ema_start`` (iterations) counts G steps as
StudioGAN's g_ema_start does.
"""

from __future__ import annotations

import copy

import torch
from gankit import DataDescription, GankitError, Label, NetworkRequest, Noise, Option, Scheme
from torch import Tensor, nn

#: BigGAN's "standing statistics" (BigGAN-PyTorch ``utils.accumulate_standing_stats``, 16 accumulations):
#: batch norm statistics recomputed from this many batches of the sampling network's own outputs.
STANDING_BATCHES = 16
STANDING_BATCH_SIZE = 64
#: The standing batches' noise and labels come from this seed, so sampling stays reproducible.
STANDING_SEED = 0

#: BigGAN's released sampler (BigGAN-PyTorch ``utils.sample``, the TF-Hub modules) draws
#: ``truncation * truncnorm(-2, 2)``.
TRUNCATION_BOUND = 2.0


def class_field(data: DataDescription) -> str:
    name = data.class_field()
    if name is None:
        raise GankitError(
            f"scheme 'biggan' needs data with class labels; {data.name!r} has fields "
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
    #: gankit's EMA (``ema``, ``ema_start``): checkpoints carry it under ``ema`` and sampling uses it.
    ema_networks = ("generator",)

    def __init__(self, config=None):
        #: The scheme has no options (truncation is a generation input); ``config`` is None.
        self.config = config
        self._shapes: tuple[int, int] | None = None  # (z_dim, classes), known once generation_inputs ran
        self._standing: tuple[tuple, nn.Module] | None = None  # (key of the weights, the copy)

    def networks(self, data: DataDescription, z_dim: int) -> dict[str, NetworkRequest]:
        label = class_field(data)
        condition = {label: data.fields[label]}
        return {
            "generator": NetworkRequest.generator(data, z_dim, **condition),
            "discriminator": NetworkRequest.discriminator(data, **condition),
        }

    def generation_inputs(self, data: DataDescription, z_dim: int) -> dict:
        self._shapes = (z_dim, data.fields[class_field(data)].num_classes)
        return {
            "z": Noise((z_dim,)),
            "label": Label.of(data.fields[class_field(data)]),
            "truncation": Option(
                1.0, "truncation psi in (0, 1]: z = psi * N(0, 1) truncated to [-2, 2] (BigGAN); 1 = off"
            ),
        }

    def generate(self, nets: dict[str, nn.Module], inputs: dict) -> Tensor:
        G = nets["generator"]  # the EMA of G when ``ema`` > 0 (the engine's copy), else G itself
        return self.standing(G)(truncate(inputs["z"], inputs.get("truncation", 1.0)), inputs["label"])

    @torch.no_grad()
    def standing(self, G: nn.Module) -> nn.Module:
        """``G`` in eval mode with BigGAN's standing statistics: a copy whose batch norms hold the mean
        and variance of its own activations over ``STANDING_BATCHES`` seeded batches (z ~ N(0, 1),
        uniform labels), computed once per state of ``G``'s weights. ``G`` itself is not changed.

        Why: running statistics, even averaged alongside the weights as gankit's EMA does, describe
        the activations of the weights G had along the way, not those of the final average; BigGAN-PyTorch
        recomputes them before sampling (``--use_standing_stats``), as here. A network in training mode
        (batch statistics) or without batch norm is returned as it is.
        """
        norms = [m for m in G.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if G.training or not norms or self._shapes is None:
            return G
        tensors = [*G.parameters(), *G.buffers()]
        key = (id(G), tuple((t.device, t.data_ptr(), t._version) for t in tensors))
        if self._standing is not None and self._standing[0] == key:
            return self._standing[1]
        standing = copy.deepcopy(G)
        for m in standing.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.reset_running_stats()
                m.momentum = None  # a plain average over the batches
                m.train()  # only the norms: spectral norm keeps G's vectors (no power iteration)
        z_dim, classes = self._shapes
        device, dtype = tensors[0].device, tensors[0].dtype
        generator = torch.Generator().manual_seed(STANDING_SEED)
        for _ in range(STANDING_BATCHES):
            z = torch.randn(STANDING_BATCH_SIZE, z_dim, generator=generator).to(device, dtype)
            label = torch.randint(classes, (STANDING_BATCH_SIZE,), generator=generator).to(device)
            standing(z, label)
        standing.eval()
        self._standing = (key, standing)
        return standing

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
                # Two passes, as StudioGAN's: one pass over both (BigGAN-PyTorch's G_D) is 5 % faster, but
                # it halves spectral norm's power iterations, and the preset scored worse on 3 of 3 seeds.
                d_loss = t.loss.discriminator_loss(D(real, label), D(fake, fake_label))
            # A user's --reg r1 or gp: under the real batch's labels (StudioGAN scores its gradient
            # penalty's interpolates with the real labels too).
            penalty = t.discriminator_penalty(real, fake, D, conditions=(label,))
            t.optimize("discriminator", d_loss if penalty is None else d_loss + penalty)

        z, fake_label = t.noise(), t.labels(num_classes)
        with t.frozen(D), t.autocast():
            real_scores = D(real, label) if t.loss.needs_real_scores else None
            g_loss = t.generator_loss(D(G(z, fake_label), fake_label), real_scores)
        penalty = t.generator_penalty(G, {"z": z, "label": fake_label})
        t.optimize("generator", g_loss if penalty is None else g_loss + penalty)

        metrics = {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}
        if penalty is not None:
            metrics["g_penalty"] = penalty.detach()
        return metrics
