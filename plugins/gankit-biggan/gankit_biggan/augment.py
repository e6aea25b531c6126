"""DiffAugment (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training"): the same
kind of random, differentiable transform applied to every image D sees, real and fake, in D's steps and
G's, so that D cannot memorize a small training set and G still gets gradients through the transform.

The transforms follow the paper's reference code (``DiffAugment_pytorch.py``): ``color`` (brightness,
saturation, contrast), ``translation`` (shift by up to 1/8 of the side, zero-filled) and ``cutout`` (a
square of half the side set to 0). Each image draws its own parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

#: The reference code's ratios: translation by up to ``TRANSLATION_RATIO`` of the side, cutout of
#: ``CUTOUT_RATIO`` of it.
TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def _uniform(x: Tensor) -> Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device)


def color(x: Tensor) -> Tensor:
    x = x + (_uniform(x) - 0.5)  # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_uniform(x) * 2) + mean  # saturation (none for one channel)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x) + 0.5) + mean  # contrast


def translation(x: Tensor, ratio: float = TRANSLATION_RATIO) -> Tensor:
    n, _, h, w = x.shape
    sy, sx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sy, sy + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sx, sx + 1, (n, 1, 1), device=x.device)
    rows = (torch.arange(h, device=x.device)[None, :, None] + dy + 1).clamp(0, h + 1)
    cols = (torch.arange(w, device=x.device)[None, None, :] + dx + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])  # out-of-image reads land on the zero border
    index = (rows * (w + 2) + cols).flatten(1)  # (n, h*w) positions in the padded image
    gathered = padded.flatten(2).gather(2, index[:, None, :].expand(-1, x.shape[1], -1))
    return gathered.view_as(x)


def cutout(x: Tensor, ratio: float = CUTOUT_RATIO) -> Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device)[None, :, None] - oy + ch // 2
    cols = torch.arange(w, device=x.device)[None, None, :] - ox + cw // 2
    keep = ~((rows >= 0) & (rows < ch) & (cols >= 0) & (cols < cw))
    return x * keep[:, None].to(x.dtype)


_TRANSFORMS = {"color": color, "translation": translation, "cutout": cutout}


def diff_augment(x: Tensor, policy: tuple[str, ...]) -> Tensor:
    """``x`` through the named transforms (``gankit_biggan.AUGMENTATIONS``), in the reference code's order."""
    for name in sorted(policy, key=list(_TRANSFORMS).index):
        x = _TRANSFORMS[name](x)
    return x
