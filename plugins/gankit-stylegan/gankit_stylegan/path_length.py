"""Regularizer ``pl``: StyleGAN2's path-length penalty on the generator (loss.py's ``Gpl`` phase).

``weight * E[(|J_w^T y| - a)^2]`` with ``y ~ N(0, I) / sqrt(H W)``: a fixed-size step in w should move
the image by a fixed amount. ``a`` is the running mean of the lengths (decay 0.01), saved in every
checkpoint through :meth:`state`, so a resumed run penalizes exactly as an uninterrupted one.
For a ``stylegan2`` generator the lengths are taken in W (per layer, averaged over layers, as
loss.py); for any other generator, in z (so ``--reg pl`` also works with ``mlp`` or ``dcgan``).
"""

from __future__ import annotations

import math

import torch
from gankit import GeneratorPenaltyInputs, Regularizer
from torch import Tensor


class PathLength(Regularizer):
    targets = ("generator",)

    def __init__(self, config):
        self.config = config
        self.every = config.every
        self.mean = torch.zeros(())

    def generator_penalty(self, inputs: GeneratorPenaltyInputs) -> Tensor:
        from gankit_stylegan.networks import is_stylegan2, unwrap

        G = inputs.generator
        given = dict(inputs.inputs)
        n = max(1, next(iter(given.values())).shape[0] // self.config.batch_shrink)
        given = {k: v[:n] if isinstance(v, Tensor) else v for k, v in given.items()}
        if is_stylegan2(G):  # through the (possibly wrapped) network's own forward
            noise = inputs.normal(n, unwrap(G).noise_size)
            with inputs.autocast():
                images, latent = G(given["z"], noise, None, None, True)
        else:
            latent = given["z"] = given["z"].detach().requires_grad_(True)
            with inputs.autocast():
                images = G(*given.values())
                images = images[0] if isinstance(images, (tuple, list)) else images
        pixels = math.prod(images.shape[2:]) or 1
        y = inputs.normal(*images.shape).to(images.dtype) / math.sqrt(pixels)
        gradient = inputs.input_gradients(images * y, latent).float()
        if gradient.dim() == 3:  # (N, num_ws, w_dim): loss.py's square().sum(2).mean(1).sqrt()
            lengths = gradient.square().sum(2).mean(1).sqrt()
        else:
            lengths = gradient.flatten(1).square().sum(1).sqrt()
        mean = self.mean.to(lengths.device).lerp(lengths.mean().detach(), self.config.decay)
        self.mean = mean
        return self.config.weight * (lengths - mean).square().mean()

    def state(self) -> dict[str, Tensor]:
        return {"mean": self.mean.detach().clone()}

    def load_state(self, state: dict[str, Tensor]) -> None:
        if "mean" in state:
            self.mean = state["mean"].detach().clone().float()
