"""The framework tax of the family packages in plugins/: each family's training step written by hand.

benchmarks/throughput.py's `tax` section times gankit's `Trainer.train_step` against a plain PyTorch loop
of the identical algorithm; this module holds the plain loops of the five families (biggan, stylegan2,
pix2pix, cyclegan, stargan) and their rows. Each plain loop starts from copies of its trainer's networks
(built by the family package's own architecture), builds its own optimizers with the trainer's settings
(Adam, fused, the same rates and betas, StyleGAN2's lazy correction included), shuffles the same embedded
data with the same seeds, and writes out the scheme's losses, penalties (lazy R1 and path length, ortho,
GP), image pool, learning-rate schedule and EMA of G. Drawing the same random numbers in the same order,
two steps of a plain loop and of gankit from one seed end with the same weights (``check_equivalence``).
"""

from __future__ import annotations

import argparse
import copy
import math
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: D's and G's terms of the adversarial losses the recipes use (as gankit's builtins define them).
D_LOSSES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "bce": lambda real, fake: F.softplus(-real).mean() + F.softplus(fake).mean(),
    "hinge": lambda real, fake: F.relu(1 - real).mean() + F.relu(1 + fake).mean(),
    "wgan": lambda real, fake: fake.mean() - real.mean(),
    "lsgan": lambda real, fake: 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean(),
}
G_LOSSES: dict[str, Callable[[Tensor], Tensor]] = {
    "bce": lambda fake: F.softplus(-fake).mean(),
    "hinge": lambda fake: -fake.mean(),
    "wgan": lambda fake: -fake.mean(),
    "lsgan": lambda fake: 0.5 * ((fake - 1) ** 2).mean(),
}


def _preset(package: str, name: str) -> str:
    module = __import__(package)
    return str(Path(module.__file__).parent / "presets" / name)


#: Each family's row: the run settings (flags) and CPU preset file of its trainer. The presets' own
#: widths and batch sizes (BigGAN's and StyleGAN2's CPU presets, the digits tasks' suggested settings).
FAMILIES: dict[str, tuple[dict[str, Any], Callable[[], str | None]]] = {
    # In float32 and NCHW: the preset's bfloat16 and channels-last change the arithmetic, not the algorithm.
    "biggan": (
        {"arch": "biggan", "amp": "off", "channels_last": False},
        lambda: _preset("gankit_biggan", "cpu-digits16.toml"),
    ),
    "stylegan2": ({"arch": "stylegan2"}, lambda: _preset("gankit_stylegan", "cpu16.toml")),
    "pix2pix": ({"data": "pix2pix-digits"}, lambda: None),
    "cyclegan": ({"data": "cyclegan-digits"}, lambda: None),
    "stargan": ({"data": "stargan-digits", "arch": "stargan"}, lambda: None),
}


def build_family_trainer(family: str, seed: int = 0):
    """gankit's trainer of one family's recipe (the package must be installed and enabled)."""
    from gankit.engine.trainer import Trainer
    from gankit.plugins import registry
    from gankit.resolve import resolve

    flags, preset = FAMILIES[family]
    return Trainer(resolve(registry(), flags | {"seed": seed, "device": "cpu"}, config_file=preset()))


class Feed:
    """The data, shuffled as gankit shuffles it: per stream of fields a generator seeded alike, a fresh
    permutation each epoch, the batch gathered by index; only the fields asked for are gathered."""

    def __init__(self, batches, seed: int):
        base = seed + 0x5EED
        self.batch = batches.batch_size
        self.streams = []
        for i, stream in enumerate(batches.streams):
            generator = torch.Generator().manual_seed((base + 7919 * i) % 2**63)
            self.streams.append({"tensors": stream.tensors, "generator": generator, "perm": None, "position": 0})
        self.where = {name: s for s in self.streams for name in s["tensors"]}

    def next(self, *names: str) -> list[Tensor]:
        indices = {}
        for s in self.streams:
            if not any(n in s["tensors"] for n in names):
                continue
            if s["perm"] is None or s["position"] + self.batch > len(s["perm"]):
                length = len(next(iter(s["tensors"].values())))
                s["perm"], s["position"] = torch.randperm(length, generator=s["generator"]), 0
            indices[id(s)] = s["perm"][s["position"] : s["position"] + self.batch]
            s["position"] += self.batch
        return [self.where[n]["tensors"][n].index_select(0, indices[id(self.where[n])]) for n in names]


class FamilyLoop:
    """What every family's plain loop shares: copied networks, its own Adams, the data feed, the learning
    rate schedule, the EMA of G, and counters of D and G steps for lazy penalties."""

    def __init__(self, trainer):
        cfg = trainer.run.config
        memo: dict[int, Any] = {}
        self.nets: dict[str, nn.Module] = copy.deepcopy(dict(trainer.model.nets), memo)
        # The trainer's optimizers' settings, over the copies of the parameters they step.
        self.optimizers = {}
        for name, optimizer in trainer.optimizers.items():
            group = optimizer.param_groups[0]
            params = [memo[id(p)] for g in optimizer.param_groups for p in g["params"]]
            self.optimizers[name] = torch.optim.Adam(params, lr=group["lr"], betas=group["betas"], fused=True)
        self.base_lrs = {name: opt.param_groups[0]["lr"] for name, opt in self.optimizers.items()}
        self.schedule = (cfg.lr_schedule, cfg.lr_decay_start, trainer.total_steps)
        self.discriminator_optimizers = {
            name for name, nets in trainer.model.scheme.optimizers.items() if any(n.startswith("d") for n in nets)
        }
        # EMA of G: weights and batch norm statistics averaged (BigGAN's start, StyleGAN2's ramp-up), other
        # buffers copied.
        self.ema = []
        for name, ema in trainer.model.ema.items():
            shadow = copy.deepcopy(ema.shadow)
            live = self.nets[name]
            half_life = math.log(0.5) / math.log(ema.decay)
            self.ema.append(
                (
                    list(shadow.parameters()) + [b for n, b in shadow.named_buffers() if _statistic(n)],
                    list(live.parameters()) + [b for n, b in live.named_buffers() if _statistic(n)],
                    [(s, b) for (n, s), b in zip(shadow.named_buffers(), live.buffers()) if not _statistic(n)],
                )
                + (ema.decay, ema.start, ema.rampup, half_life)
            )
        self.feed = Feed(trainer.batches, cfg.seed)
        self.batch, self.z_dim, self.n_critic = trainer.batches.batch_size, cfg.z_dim, cfg.n_critic
        self.d_loss, self.g_loss = D_LOSSES[cfg.loss], G_LOSSES[cfg.loss]
        self.options = trainer.run.component_configs
        self.regs = cfg.regs
        self.scheme = trainer.model.scheme
        self.description = trainer.batches.description
        self.iteration = 0
        self.d_steps = self.g_steps = 0

    def every(self, reg: str) -> int:
        return self.options[reg].every if reg in self.regs else 0

    def optimize(self, name: str, loss: Tensor) -> None:
        optimizer = self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if name in self.discriminator_optimizers:
            self.d_steps += 1
        else:
            self.g_steps += 1

    @staticmethod
    def freeze(*nets: nn.Module, frozen: bool = True) -> None:
        for net in nets:
            for p in net.parameters():
                p.requires_grad_(not frozen)

    def step(self) -> dict[str, Tensor]:
        schedule, decay_start, total = self.schedule
        if schedule != "constant":
            progress = max(0.0, (self.iteration / total - decay_start) / (1.0 - decay_start))
            factor = 1.0 - progress if schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))
            for name, optimizer in self.optimizers.items():
                optimizer.param_groups[0]["lr"] = self.base_lrs[name] * factor
        losses = self.iterate()
        self.iteration += 1
        with torch.no_grad():
            for shadow, live, buffers, decay, start, rampup, half_life in self.ema:
                if self.iteration <= start:
                    decay = 0.0
                elif rampup is not None:
                    decay = 0.5 ** (1.0 / max(min(half_life, (self.iteration - start) * rampup), 1e-8))
                torch._foreach_lerp_(shadow, live, 1.0 - decay)
                for s, b in buffers:
                    s.copy_(b)
        return losses

    def iterate(self) -> dict[str, Tensor]:
        raise NotImplementedError


def _statistic(buffer_name: str) -> bool:
    """A batch norm's running statistic, which the EMA averages like a weight."""
    return buffer_name.endswith(("running_mean", "running_var"))


class PlainBigGAN(FamilyLoop):
    """StudioGAN's d_first order: n_critic D steps on real (x, y) against G(z, y') with uniform fake
    labels, then G's step with BigGAN's orthogonal regularization of G."""

    def iterate(self) -> dict[str, Tensor]:
        from gankit_biggan.ortho import off_diagonal_penalty

        G, D = self.nets["generator"], self.nets["discriminator"]
        label_field = self.description.class_field()
        num_classes = self.description.fields[label_field].num_classes
        for _ in range(self.n_critic):
            real, label = self.feed.next(self.description.main, label_field)
            fake_label = torch.randint(num_classes, (self.batch,))
            with torch.no_grad():
                fake = G(torch.randn(self.batch, self.z_dim), fake_label)
            d_loss = self.d_loss(D(real, label), D(fake, fake_label))
            self.optimize("discriminator", d_loss)
        z, fake_label = torch.randn(self.batch, self.z_dim), torch.randint(num_classes, (self.batch,))
        self.freeze(D)
        g_loss = self.g_loss(D(G(z, fake_label), fake_label))
        self.freeze(D, frozen=False)
        loss = g_loss
        every = self.every("ortho")
        if every and self.options["ortho"].weight and self.g_steps % every == 0:
            loss = loss + self.options["ortho"].weight * off_diagonal_penalty(G) * (every if every > 1 else 1)
        self.optimize("generator", loss)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}


class PlainStyleGAN2(FamilyLoop):
    """stylegan2-ada's loss.py: style mixing on every G forward, lazy R1 on D, lazy path-length penalty on
    G (in W, running mean of the lengths), with the lazily corrected Adams and the EMA's ramp-up."""

    def __init__(self, trainer):
        super().__init__(trainer)
        from gankit_stylegan.networks import noise_size, num_ws

        self.layers = num_ws(self.description.resolution)
        self.noise_size = noise_size(self.description.resolution)
        self.pl_mean = torch.zeros(())

    def latents(self, n: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        z, z2 = torch.randn(n, self.z_dim), torch.randn(n, self.z_dim)
        noise, u = torch.randn(n, self.noise_size), torch.rand(n, 2)
        cutoff = 1 + (u[:, 0] * (self.layers - 1)).long().clamp(max=self.layers - 2)
        cutoff = torch.where(u[:, 1] < self.scheme.config.style_mixing, cutoff, torch.full_like(cutoff, self.layers))
        return z, noise, z2, cutoff

    def iterate(self) -> dict[str, Tensor]:
        G, D = self.nets["generator"], self.nets["discriminator"]
        r1_every, pl_every = self.every("r1"), self.every("pl")
        for _ in range(self.n_critic):
            (real,) = self.feed.next(self.description.main)
            z, noise, z2, cutoff = self.latents(self.batch)
            with torch.no_grad():
                fake = G(z, noise, z2, cutoff)
            d_loss = self.d_loss(D(real), D(fake))
            loss = d_loss
            if r1_every and self.d_steps % r1_every == 0:
                x = real.detach().requires_grad_(True)
                (grad,) = torch.autograd.grad(D(x).float().sum(), x, create_graph=True)
                penalty = 0.5 * self.options["r1"].gamma * grad.flatten(1).pow(2).sum(1).mean()
                loss = loss + (penalty * r1_every if r1_every > 1 else penalty)
            self.optimize("discriminator", loss)
        z, noise, z2, cutoff = self.latents(self.batch)
        self.freeze(D)
        g_loss = self.g_loss(D(G(z, noise, z2, cutoff)))
        self.freeze(D, frozen=False)
        loss = g_loss
        if pl_every and self.g_steps % pl_every == 0:
            pl = self.options["pl"]
            n = max(1, self.batch // pl.batch_shrink)
            images, ws = G(z[:n], torch.randn(n, self.noise_size), None, None, True)
            y = torch.randn(images.shape) / math.sqrt(math.prod(images.shape[2:]))
            (grad,) = torch.autograd.grad((images * y).float().sum(), ws, create_graph=True)
            lengths = grad.float().square().sum(2).mean(1).sqrt()
            self.pl_mean = self.pl_mean.lerp(lengths.mean().detach(), pl.decay)
            penalty = pl.weight * (lengths - self.pl_mean).square().mean()
            loss = loss + (penalty * pl_every if pl_every > 1 else penalty)
        self.optimize("generator", loss)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}


class PlainPix2Pix(FamilyLoop):
    """pix2pix_model.py: G(source) once per batch; D on (target, source) against (G(source), source), its
    loss halved; G on fooling D plus the weighted L1 to the target."""

    def iterate(self) -> dict[str, Tensor]:
        G, D = self.nets["translator"], self.nets["discriminator"]
        for i in range(self.n_critic):
            source, target = self.feed.next("source", "target")
            with torch.set_grad_enabled(i == self.n_critic - 1):
                fake = G(source)
            d_loss = 0.5 * self.d_loss(D(target, source), D(fake.detach(), source))
            self.optimize("discriminator", d_loss)
        self.freeze(D)
        adversarial = self.g_loss(D(fake, source))
        self.freeze(D, frozen=False)
        l1 = F.l1_loss(fake, target)
        self.optimize("generator", self.scheme.gan * adversarial + self.scheme.l1 * l1)
        return {"d_loss": d_loss.detach(), "g_loss": adversarial.detach(), "l1": l1.detach()}


class PlainCycleGAN(FamilyLoop):
    """cycle_gan_model.py's optimize_parameters: both translators on adversarial + cycle + identity losses
    with both discriminators frozen, then both discriminators on real images against pooled fakes."""

    def __init__(self, trainer):
        super().__init__(trainer)
        from gankit_cyclegan.scheme import ImagePool

        self.pools = {name: ImagePool(self.scheme.config.pool_size) for name in ("a", "b")}

    def iterate(self) -> dict[str, Tensor]:
        cfg = self.scheme.config
        G_ab, G_ba, D_a, D_b = (self.nets[n] for n in ("g_ab", "g_ba", "d_a", "d_b"))
        real_a, real_b = self.feed.next("a", "b")
        self.freeze(D_a, D_b)
        fake_b, fake_a = G_ab(real_a), G_ba(real_b)
        adversarial = self.g_loss(D_b(fake_b)) + self.g_loss(D_a(fake_a))
        cycle = cfg.lambda_a * F.l1_loss(G_ba(fake_b), real_a) + cfg.lambda_b * F.l1_loss(G_ab(fake_a), real_b)
        g_loss = cfg.gan_weight * adversarial + cycle
        if cfg.lambda_identity > 0:
            g_loss = g_loss + cfg.lambda_identity * (
                cfg.lambda_b * F.l1_loss(G_ab(real_b), real_b) + cfg.lambda_a * F.l1_loss(G_ba(real_a), real_a)
            )
        self.freeze(D_a, D_b, frozen=False)
        self.optimize("generator", g_loss)
        pooled_b, pooled_a = self.pools["b"].query(fake_b), self.pools["a"].query(fake_a)
        d_loss = self.d_loss(D_a(real_a), D_a(pooled_a)) + self.d_loss(D_b(real_b), D_b(pooled_b))
        self.optimize("discriminator", d_loss)
        return {"d_loss": d_loss.detach(), "g_adversarial": adversarial.detach(), "cycle": cycle.detach()}


class PlainStarGAN(FamilyLoop):
    """solver.py's train(): n_critic D steps (WGAN + GP on interpolates + domain classification of real
    images, targets a shuffle of the batch's own domains), then G (adversarial + classification of the
    fake as its target + L1 reconstruction back to the original domains, + the identity term that the
    digits task suggests: L1 of G at the images' own domains)."""

    def iterate(self) -> dict[str, Tensor]:
        from gankit_stargan.scheme import attribute_field, classification_loss

        G, D = self.nets["generator"], self.nets["discriminator"]
        cfg = self.scheme.config
        single = cfg.classification == "single"
        domains = attribute_field(self.description)
        gp_every = self.every("gp")
        for _ in range(self.n_critic):
            real, original = self.feed.next(self.description.main, domains)
            original = original.to(real.dtype)
            if cfg.flip:
                real = torch.where(torch.rand(self.batch, 1, 1, 1) < 0.5, real.flip(-1), real)
            target = original[torch.argsort(torch.rand(self.batch))]
            with torch.no_grad():
                fake = G(real, target)
            real_scores, real_logits = D(real)
            fake_scores, _ = D(fake)
            d_adversarial = self.d_loss(real_scores, fake_scores)
            d_loss = d_adversarial + cfg.lambda_cls * classification_loss(real_logits, original, single)
            if gp_every and self.d_steps % gp_every == 0:
                gp = self.options["gp"]
                alpha = torch.rand(self.batch, 1, 1, 1)
                mixed = torch.lerp(fake.detach(), real.detach(), alpha).requires_grad_(True)
                (grad,) = torch.autograd.grad(D(mixed)[0].float().sum(), mixed, create_graph=True)
                excess = grad.flatten(1).norm(dim=1) - gp.target
                if gp.one_sided:
                    excess = excess.clamp(min=0)
                penalty = gp.weight * excess.pow(2).mean()
                d_loss = d_loss + (penalty * gp_every if gp_every > 1 else penalty)
            self.optimize("discriminator", d_loss)
        self.freeze(D)
        fake = G(real, target)
        fake_scores, fake_logits = D(fake)
        g_adversarial = self.g_loss(fake_scores)
        reconstruction = (real - G(fake, original)).abs().mean()
        self.freeze(D, frozen=False)
        g_cls = classification_loss(fake_logits, target, single)
        g_loss = g_adversarial + cfg.lambda_rec * reconstruction + cfg.lambda_cls * g_cls
        metrics = {"d_loss": d_adversarial.detach(), "g_loss": g_adversarial.detach(), "rec": reconstruction.detach()}
        if cfg.lambda_id > 0:
            identity = (real - G(real, original)).abs().mean()
            g_loss = g_loss + cfg.lambda_id * identity
            metrics["idt"] = identity.detach()
        self.optimize("generator", g_loss)
        return metrics


PLAIN_FAMILY_LOOPS: dict[str, type[FamilyLoop]] = {
    "biggan": PlainBigGAN,
    "stylegan2": PlainStyleGAN2,
    "pix2pix": PlainPix2Pix,
    "cyclegan": PlainCycleGAN,
    "stargan": PlainStarGAN,
}


def check_equivalence(family: str, steps: int = 2) -> float:
    """Run ``steps`` iterations of gankit and of the plain loop from the same seeds; return the largest
    difference of any weight (and EMA weight) afterwards, after asserting that both logged the same
    losses to 1e-5. A plain loop that computes less, or something else, fails here."""
    trainer = build_family_trainer(family)
    plain = PLAIN_FAMILY_LOOPS[family](trainer)
    for step in range(steps):
        torch.manual_seed(1000 + step)
        random.seed(1000 + step)
        ours = trainer.train_step()
        torch.manual_seed(1000 + step)
        random.seed(1000 + step)
        theirs = plain.step()
        for key, value in theirs.items():
            torch.testing.assert_close(ours[key], value, rtol=1e-5, atol=1e-5, msg=f"{family} {key} step {step}")
    worst = 0.0
    pairs = [(list(trainer.model.nets[n].parameters()), list(plain.nets[n].parameters())) for n in plain.nets]
    for ema, averaged in zip(trainer.model.ema.values(), plain.ema):
        statistics = [b for n, b in ema.shadow.named_buffers() if _statistic(n)]
        pairs.append((list(ema.shadow.parameters()) + statistics, averaged[0]))
    for a, b in pairs:
        for x, y in zip(a, b, strict=True):
            worst = max(worst, (x - y).abs().max().item())
    return worst


def family_rows(args: argparse.Namespace, families: list[str], measure) -> list[list[str]]:
    """One tax row per family: ``measure(trainers, plains, quick)`` (throughput.py's interleaved timing)
    gives (plain ms, gankit ms, ratio)."""
    from gankit import GankitError

    rows = []
    for family in families:
        try:
            difference = check_equivalence(family)
        except GankitError as exc:  # the family's package is not installed, or GANKIT_DISABLE_PLUGINS names it
            if family in getattr(args, "tax_schemes", ()):
                raise SystemExit(f"tax {family}: {exc} (install plugins/ with `make setup`)") from None
            print(f"tax {family}: skipped, {exc}", flush=True)
            continue
        print(f"tax {family}: weights after 2 steps of gankit and the plain loop differ by {difference:.1e}")
        if difference > 1e-4:
            raise SystemExit(f"tax {family}: the plain loop is not gankit's algorithm (weights differ by {difference})")
        trainers = [build_family_trainer(family) for _ in range(2)]
        plains = [PLAIN_FAMILY_LOOPS[family](trainer) for trainer in trainers]
        cfg = trainers[0].run.config
        plain_ms, gankit_ms, ratio = measure(trainers, plains, args.quick)
        regs = ", ".join(cfg.regs) or "none"
        rows.append([family, cfg.arch, cfg.loss, regs, f"{plain_ms:.2f}", f"{gankit_ms:.2f}", f"{ratio:.3f}"])
        print(f"tax {family}/{cfg.arch}/{cfg.loss}/{regs}: {ratio:.3f}", flush=True)
    return rows
