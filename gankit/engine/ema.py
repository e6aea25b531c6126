"""Exponential moving average of a network's weights, used for sampling (Karras et al.)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """Keeps ``shadow`` = decay * shadow + (1 - decay) * weights after every update; buffers are copied."""

    def __init__(self, network: nn.Module, decay: float):
        self.decay = decay
        self.shadow = copy.deepcopy(network).eval().requires_grad_(False)
        self._source = network

    @torch.no_grad()
    def update(self) -> None:
        params = list(self._source.parameters())
        shadow = list(self.shadow.parameters())
        torch._foreach_lerp_(shadow, params, 1.0 - self.decay)
        for s, b in zip(self.shadow.buffers(), self._source.buffers()):
            s.copy_(b)
