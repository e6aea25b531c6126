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
        # Listed once: a network's tensors keep their identity once built (moves and checkpoint loads copy
        # into them), and walking the module tree on every step costs more than the update of a small net.
        self._params = (list(self.shadow.parameters()), list(network.parameters()))
        self._buffers = list(zip(self.shadow.buffers(), network.buffers()))

    @torch.no_grad()
    def update(self) -> None:
        torch._foreach_lerp_(*self._params, 1.0 - self.decay)
        for s, b in self._buffers:
            s.copy_(b)
