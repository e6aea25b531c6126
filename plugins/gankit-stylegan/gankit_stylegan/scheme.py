"""Scheme ``stylegan2``: StyleGAN2's training step and its sampling.

Learned from stylegan2-ada-pytorch's ``training/loss.py`` and ``training/training_loop.py``:

* each generator forward mixes styles: with probability ``style_mixing`` (0.9) the w's from a random
  layer on come from a second latent (loss.py ``run_G``; drawn per sample here, per batch there);
* R1 and the path-length penalty are gankit regularizers (``r1``, ``pl``), lazy through ``every``;
  gankit adds a due penalty to that step's loss instead of taking a separate optimizer step;
* the EMA of G (training_loop.py's ``G_ema``, half-life with ramp-up) is gankit's: ``ema_networks``
  names G, the run settings ``ema``/``ema_rampup`` suggested in :mod:`gankit_stylegan` set it, and
  the engine hands the average to :meth:`StyleGAN2Scheme.generate` as ``nets["generator"]``;
* training_loop.py's lr/betas correction for lazy penalties is gankit's ``lazy_correction``, per
  optimizer, from each network's own interval.
"""

from __future__ import annotations

import torch
from gankit import DataDescription, GankitError, NetworkRequest, Noise, Option, Scheme
from torch import Tensor

from gankit_stylegan.architecture import image_shape


class StyleGAN2Scheme(Scheme):
    optimizers = {"discriminator": ("discriminator",), "generator": ("generator",)}
    #: gankit's EMA (``ema``, ``ema_rampup``): sampling uses the average of G.
    ema_networks = ("generator",)

    def __init__(self, config):
        self.config = config

    # -- declarations ----------------------------------------------------------------------------

    def _resolution(self, data: DataDescription) -> int:
        try:
            return image_shape(data.fields[data.main], f"data {data.name!r}")[1]
        except GankitError as exc:
            raise GankitError(f"scheme 'stylegan2': {exc}") from None

    def networks(self, data: DataDescription, z_dim: int) -> dict[str, NetworkRequest]:
        self._resolution(data)
        return {"generator": NetworkRequest.generator(data, z_dim), "discriminator": NetworkRequest.discriminator(data)}

    def generation_inputs(self, data: DataDescription, z_dim: int):
        from gankit_stylegan.networks import noise_size

        resolution = self._resolution(data)
        return {
            "z": Noise((z_dim,)),
            "noise": Noise((noise_size(resolution),)),
            "truncation": Option(1.0, "psi in W: 1 is the full distribution, 0 the mean image (w_avg)"),
            "noise_mode": Option("random", "per-layer noise: random (seeded, per sample), const or none"),
            "mix": Option(0, "K > 0: a K x K style-mixing grid (give -n K*K); 0: plain samples"),
            "mix_from": Option(-1, "first w layer the grid's column sources give (-1: the later half)"),
        }

    # -- training ----------------------------------------------------------------------------------

    def _latents(self, t, n: int | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """z, per-layer noise, the mixing latent and per-sample cutoffs for one generator forward."""
        from gankit_stylegan.networks import noise_size, num_ws

        resolution = t.data.resolution
        layers = num_ws(resolution)
        z, z2 = t.noise(n), t.noise(n)
        noise = t.normal(noise_size(resolution), n=n)
        u = t.uniform(2, n=n)
        # loss.py: cutoff uniform in [1, num_ws), or num_ws (no mixing) with probability 1 - style_mixing.
        cutoff = 1 + (u[:, 0] * (layers - 1)).long().clamp(max=layers - 2)
        cutoff = torch.where(u[:, 1] < self.config.style_mixing, cutoff, torch.full_like(cutoff, layers))
        return z, noise, z2, cutoff

    def step(self, t) -> dict[str, Tensor]:
        from gankit_stylegan.networks import is_stylegan2

        G, D = t.nets["generator"], t.nets["discriminator"]
        # Another architecture's generator (--arch dcgan) is trained as G(z), without mixing or noise.
        styled = is_stylegan2(G)
        for _ in range(t.n_critic):
            real = t.next_batch().x
            z, noise, z2, cutoff = self._latents(t)
            with torch.no_grad(), t.autocast():
                fake = G(z, noise, z2, cutoff) if styled else G(z)
            with t.autocast():
                d_loss = t.loss.discriminator_loss(D(real), D(fake))
            penalty = t.discriminator_penalty(real, fake, D)
            t.optimize("discriminator", d_loss if penalty is None else d_loss + penalty)

        z, noise, z2, cutoff = self._latents(t)
        with t.frozen(D), t.autocast():
            fake = G(z, noise, z2, cutoff) if styled else G(z)
            real_scores = D(real) if t.loss.needs_real_scores else None
            g_loss = t.generator_loss(D(fake), real_scores)
        penalty = t.generator_penalty(G, {"z": z})
        t.optimize("generator", g_loss if penalty is None else g_loss + penalty)

        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    # -- generating --------------------------------------------------------------------------------

    def generate(self, nets, inputs) -> Tensor:
        from gankit_stylegan.networks import is_stylegan2

        G = nets["generator"]  # the EMA of G when ``ema`` > 0 (the engine's copy)
        if not is_stylegan2(G):
            return G(inputs["z"])
        psi = float(inputs.get("truncation", 1.0))
        mode = str(inputs.get("noise_mode", "random"))
        if mode not in ("random", "const", "none"):
            raise GankitError(f"noise_mode must be random, const or none, got {mode!r}")
        noise = inputs["noise"] if mode == "random" else mode
        k = int(inputs.get("mix", 0))
        if k > 0:
            return self._mixing_grid(G, inputs["z"], noise, psi, k, int(inputs.get("mix_from", -1)))
        return G.images(G.ws(inputs["z"], psi=psi), noise)

    def _mixing_grid(self, G, z: Tensor, noise, psi: float, k: int, mix_from: int) -> Tensor:
        """A k x k grid: row 0 the column sources, column 0 the row sources, cell (r, c) the row
        source's w's before ``mix_from`` and the column source's from it on; (0, 0) the mean image."""
        n = z.shape[0]
        if k < 2 or n != k * k:
            raise GankitError(
                f"the style-mixing grid --set mix={k} needs -n {k * k} samples at once (and --batch-size "
                f"at least {k * k}), got a batch of {n}; mix must be at least 2"
            )
        layers = G.num_ws
        start = layers // 2 if mix_from < 0 else mix_from
        if not 0 <= start <= layers:
            raise GankitError(f"mix_from must be -1 or in [0, {layers}] for this generator, got {mix_from}")
        index = torch.arange(n, device=z.device)
        rows, cols = index // k, index % k
        ws = G.ws(z, psi=psi)  # cell i's own w (only row 0 and column 0 are used)
        row_ws, col_ws = ws[rows * k], ws[cols]
        later = torch.arange(layers, device=z.device) >= start
        mixed = torch.where(later[None, :, None], col_ws, row_ws)
        mixed = torch.where(((rows == 0) | (cols == 0))[:, None, None], ws, mixed)
        mixed[0] = G.mapping.w_avg.to(ws.dtype)
        # Noise of the row source, so that a row differs by styles only.
        noise = noise[rows * k] if isinstance(noise, Tensor) else noise
        return G.images(mixed, noise)
