"""Exponential moving average of a network's weights, used for sampling (Karras et al.)."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn


class EMA:
    """Keeps ``shadow`` = decay * shadow + (1 - decay) * weights after every update.

    Batch norm's running mean and variance are averaged the same way, as BigGAN-PyTorch's EMA does:
    copied, they would hold the statistics of the current weights, not of the averaged ones the shadow
    computes with. Other buffers (counters, StyleGAN's tracked mean of W) are copied, as StyleGAN2-ADA does.

    Two schedules of the published recipes: ``start`` (BigGAN) copies the weights for the first steps,
    so the average does not carry the random initialization; ``rampup`` (StyleGAN2) limits the average's
    half-life to ``rampup`` times the steps taken, so early weights are forgotten as fast as they change.
    """

    def __init__(self, network: nn.Module, decay: float, start: int = 0, rampup: float | None = None):
        self.decay = decay
        self.start = start
        self.rampup = rampup
        #: The average's half-life in steps at full strength.
        self._half_life = math.log(0.5) / math.log(decay)
        self.shadow = copy.deepcopy(network).eval().requires_grad_(False)
        # Listed once: a network's tensors keep their identity once built (moves and checkpoint loads copy
        # into them), and walking the module tree on every step costs more than the update of a small net.
        self._params = (list(self.shadow.parameters()), list(network.parameters()))
        statistics = {
            id(t) for m in network.modules() if _tracks_statistics(m) for t in (m.running_mean, m.running_var)
        }
        pairs = list(zip(self.shadow.buffers(), network.buffers()))
        averaged = [(s, b) for s, b in pairs if id(b) in statistics]
        self._averaged = ([s for s, _ in averaged], [b for _, b in averaged])
        self._copied = [(s, b) for s, b in pairs if id(b) not in statistics]

    def decay_at(self, step: int) -> float:
        """The decay applied by the update after ``step`` steps (1-based)."""
        if step <= self.start:
            return 0.0
        if self.rampup is None:
            return self.decay
        return 0.5 ** (1.0 / max(min(self._half_life, (step - self.start) * self.rampup), 1e-8))

    @torch.no_grad()
    def update(self, step: int | None = None) -> None:
        decay = self.decay if step is None else self.decay_at(step)
        torch._foreach_lerp_(*self._params, 1.0 - decay)
        if self._averaged[0]:
            torch._foreach_lerp_(*self._averaged, 1.0 - decay)
        for s, b in self._copied:
            s.copy_(b)


def _tracks_statistics(module: nn.Module) -> bool:
    return isinstance(module, nn.modules.batchnorm._NormBase) and module.running_mean is not None
