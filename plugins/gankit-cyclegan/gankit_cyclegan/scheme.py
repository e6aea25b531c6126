"""The CycleGAN game (cycle_gan_model.py of the authors' code, rewritten for gankit's scheme API).

Each iteration, as optimize_parameters does it: both generators step on

    gan_weight * [L_G(D_b(G_ab(a))) + L_G(D_a(G_ba(b)))]                          adversarial
    + lambda_a * |G_ba(G_ab(a)) - a| + lambda_b * |G_ab(G_ba(b)) - b|             cycle (L1)
    + lambda_identity * (lambda_b * |G_ab(b) - b| + lambda_a * |G_ba(a) - a|)     identity (L1)

with the discriminators frozen; then both discriminators step on the loss's D term, each judging its
domain's real images against fakes drawn through a pool of past fakes (Shrivastava et al. 2017).

Names: ``d_a`` judges domain a and ``d_b`` domain b. (The authors' D_A judges B, the output of their
G_A; here each network is named by the domain it works on.)
"""

from __future__ import annotations

import random

import torch
import torch.nn.functional as F
from gankit import DataDescription, Field, FromData, GankitError, NetworkRequest, Option, Scheme
from torch import Tensor

DIRECTIONS = ("ab", "ba")


class ImagePool:
    """util/image_pool.py: until ``size`` fakes are stored, each new fake is stored and passed on; after
    that, each fake has an even chance to be passed on, or to replace a random stored fake, which is passed
    on instead. The choices come from Python's ``random`` (which gankit saves and restores), drawn as the
    authors draw them (``random.uniform(0, 1) > 0.5``, then ``random.randint(0, size - 1)``).

    The stored fakes are one tensor, ``images[:count]``, so the pool is saved (with its fill count) in
    the checkpoint as two tensors."""

    def __init__(self, size: int):
        self.size = size
        self.images: Tensor | None = None
        self.count = 0

    def query(self, fakes: Tensor) -> Tensor:
        fakes = fakes.detach()
        if self.size == 0:
            return fakes
        fakes = fakes.float()
        if self.images is None or self.images.shape[1:] != fakes.shape[1:]:
            self.images = fakes.new_zeros((self.size, *fakes.shape[1:]))
            self.count = 0
        elif self.images.device != fakes.device:
            self.images = self.images.to(fakes.device)
        out = fakes.clone()
        for i in range(len(fakes)):
            if self.count < self.size:
                self.images[self.count] = fakes[i]
                self.count += 1
            elif random.uniform(0, 1) > 0.5:
                j = random.randint(0, self.size - 1)
                out[i] = self.images[j]
                self.images[j] = fakes[i]
        return out

    def state(self, prefix: str) -> dict[str, Tensor]:
        if self.images is None:
            return {f"{prefix}_count": torch.tensor(0, dtype=torch.long)}
        return {f"{prefix}_images": self.images.clone(), f"{prefix}_count": torch.tensor(self.count, dtype=torch.long)}

    def load_state(self, state: dict[str, Tensor], prefix: str) -> None:
        images = state.get(f"{prefix}_images")
        count = int(state.get(f"{prefix}_count", torch.tensor(0)))
        if images is not None and (images.dim() < 1 or images.shape[0] != self.size):
            raise ValueError(
                f"the checkpoint's pool {prefix} holds {images.shape[0] if images.dim() else 0} images, "
                f"this run's pool_size is {self.size}"
            )
        if not 0 <= count <= (0 if images is None else self.size):
            raise ValueError(f"the checkpoint's pool {prefix} says it holds {count} images")
        self.images = None if images is None else images.clone()
        self.count = count


def _image(data: DataDescription, name: str) -> Field:
    if name not in data.fields or data.fields[name].kind != "image":
        images = [n for n, f in data.fields.items() if f.kind == "image"]
        raise GankitError(
            f"scheme 'cyclegan' needs unpaired images in fields 'a' and 'b'; data {data.name!r} has image fields "
            f"{', '.join(images) or 'none'} (try --data cyclegan-digits or --data cyclegan-folder)"
        )
    return data.fields[name]


class CycleGAN(Scheme):
    # cycle_gan_model.py: optimizer_G over G_A and G_B together, optimizer_D over D_A and D_B together.
    optimizers = {"generator": ("g_ab", "g_ba"), "discriminator": ("d_a", "d_b")}
    # The authors keep no average; with --ema the translators get one and generate with it.
    ema_networks = ("g_ab", "g_ba")

    def __init__(self, config):
        self.config = config
        self.pools = {"a": ImagePool(config.pool_size), "b": ImagePool(config.pool_size)}

    def networks(self, data: DataDescription, z_dim: int) -> dict[str, NetworkRequest]:
        a, b = _image(data, "a"), _image(data, "b")
        scores = {"scores": Field((), "scores")}
        return {
            "g_ab": NetworkRequest("translator", data, {"a": a}, {"b": b}),
            "g_ba": NetworkRequest("translator", data, {"b": b}, {"a": a}),
            "d_a": NetworkRequest("discriminator", data, {"a": a}, scores),
            "d_b": NetworkRequest("discriminator", data, {"b": b}, scores),
        }

    def generation_inputs(self, data: DataDescription, z_dim: int) -> dict:
        for name in ("a", "b"):
            _image(data, name)
        return {
            "image": FromData("a"),
            "direction": Option("ab", "ab translates a -> b with g_ab; ba translates b -> a with g_ba"),
        }

    def generate(self, nets, inputs) -> Tensor:
        direction = inputs.get("direction", "ab")
        if direction not in DIRECTIONS:
            raise GankitError(f"direction must be ab (a -> b) or ba (b -> a), got {direction!r}")
        return nets["g_ab" if direction == "ab" else "g_ba"](inputs["image"])

    def state(self) -> dict[str, Tensor]:
        return self.pools["a"].state("pool_a") | self.pools["b"].state("pool_b")

    def load_state(self, state: dict[str, Tensor]) -> None:
        for name, pool in self.pools.items():
            pool.load_state(state, f"pool_{name}")

    def step(self, t) -> dict[str, Tensor]:
        cfg = self.config
        G_ab, G_ba, D_a, D_b = (t.nets[n] for n in ("g_ab", "g_ba", "d_a", "d_b"))
        batch = t.next_batch()  # one batch from each stream: unrelated a's and b's
        real_a, real_b = batch["a"], batch["b"]

        with t.frozen(D_a), t.frozen(D_b), t.autocast():
            fake_b, fake_a = G_ab(real_a), G_ba(real_b)
            adversarial = self._generator_loss(t, D_b, fake_b, real_b) + self._generator_loss(t, D_a, fake_a, real_a)
            cycle = cfg.lambda_a * F.l1_loss(G_ba(fake_b), real_a) + cfg.lambda_b * F.l1_loss(G_ab(fake_a), real_b)
            g_loss = cfg.gan_weight * adversarial + cycle
            if cfg.lambda_identity > 0:
                identity = cfg.lambda_identity * (
                    cfg.lambda_b * F.l1_loss(G_ab(real_b), real_b) + cfg.lambda_a * F.l1_loss(G_ba(real_a), real_a)
                )
                g_loss = g_loss + identity
        for G, inputs in ((G_ab, {"a": real_a}), (G_ba, {"b": real_b})):
            penalty = t.generator_penalty(G, inputs)
            if penalty is not None:
                g_loss = g_loss + penalty
        t.optimize("generator", g_loss)

        # The authors query the pool of fake B's first (backward_D_A), then that of fake A's.
        pooled_b = self.pools["b"].query(fake_b)
        pooled_a = self.pools["a"].query(fake_a)
        with t.autocast():
            d_loss = t.loss.discriminator_loss(D_a(real_a), D_a(pooled_a)) + t.loss.discriminator_loss(
                D_b(real_b), D_b(pooled_b)
            )
        for real, fake, D in ((real_a, pooled_a, D_a), (real_b, pooled_b, D_b)):
            penalty = t.discriminator_penalty(real, fake, D)
            if penalty is not None:
                d_loss = d_loss + penalty
        t.optimize("discriminator", d_loss)
        metrics = {"d_loss": d_loss.detach(), "g_adversarial": adversarial.detach(), "cycle": cycle.detach()}
        if cfg.lambda_identity > 0:
            metrics["identity"] = identity.detach()
        return metrics

    @staticmethod
    def _generator_loss(t, D, fake: Tensor, real: Tensor) -> Tensor:
        return t.generator_loss(D(fake), D(real) if t.loss.needs_real_scores else None)
