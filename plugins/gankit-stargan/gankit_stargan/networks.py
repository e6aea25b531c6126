"""StarGAN's networks (yunjey/stargan model.py), shaped to the data: any channel count and resolution.

* G(image, domains): the target domain vector is tiled over the image and concatenated as channels;
  a 7x7 convolution, two stride-2 down-samplings, ``g_repeat_num`` residual blocks, two up-samplings and
  a 7x7 convolution to the image, instance norm and ReLU throughout, tanh at the end.
* D(image) -> (scores, domain logits): ``d_repeat_num`` stride-2 4x4 convolutions with LeakyReLU(0.01)
  and no normalization, then two heads on the last map: PatchGAN scores (a 3x3 convolution, one score
  per position) and the domain classifier (a convolution as large as the map, one logit per domain).

One deliberate difference: model.py declares its instance norms with ``track_running_stats=True`` but
never switches G to eval mode (solver.py's test() translates in training mode), so its running
statistics are never used. Here they are not kept at all, so G normalizes by each image's own
statistics in training and sampling alike (gankit samples in eval mode).
"""

from __future__ import annotations

import torch
from gankit import Architecture, Field, NetworkRequest, UnsupportedRequest
from torch import nn


def _norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=True, track_running_stats=False)


class ResidualBlock(nn.Module):
    """x + (conv3x3, IN, ReLU, conv3x3, IN)(x) (model.py ResidualBlock)."""

    def __init__(self, dim: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False),
            _norm(dim),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False),
            _norm(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.main(x)


class Generator(nn.Module):
    """G(image (N, C, H, W), domains (N, k)) -> image (N, C, H, W) in [-1, 1] (model.py Generator)."""

    def __init__(self, channels: int, domains: int, conv_dim: int = 64, repeat_num: int = 6):
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(channels + domains, conv_dim, 7, 1, 3, bias=False),
            _norm(conv_dim),
            nn.ReLU(inplace=True),
        ]
        dim = conv_dim
        for _ in range(2):  # down-sampling
            layers += [nn.Conv2d(dim, dim * 2, 4, 2, 1, bias=False), _norm(dim * 2), nn.ReLU(inplace=True)]
            dim *= 2
        layers += [ResidualBlock(dim) for _ in range(repeat_num)]  # bottleneck
        for _ in range(2):  # up-sampling
            layers += [nn.ConvTranspose2d(dim, dim // 2, 4, 2, 1, bias=False), _norm(dim // 2), nn.ReLU(inplace=True)]
            dim //= 2
        layers += [nn.Conv2d(dim, channels, 7, 1, 3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, image: torch.Tensor, domains: torch.Tensor) -> torch.Tensor:
        # Tiled over the image and concatenated as channels (model.py Generator.forward).
        maps = domains.to(image.dtype)[:, :, None, None].expand(-1, -1, image.shape[2], image.shape[3])
        return self.main(torch.cat([image, maps], dim=1))


def default_repeat_num(height: int, width: int) -> int:
    """Stride-2 layers that leave a 2x2 map (or the smallest even one): model.py's 6 at 128x128."""
    n = 0
    while height % 2 == 0 and width % 2 == 0 and min(height, width) // 2 >= 2:
        height, width, n = height // 2, width // 2, n + 1
    return n


class Discriminator(nn.Module):
    """D(image) -> (scores (N, h, w), domain logits (N, k)) (model.py Discriminator, PatchGAN)."""

    def __init__(self, shape: tuple[int, int, int], domains: int, conv_dim: int = 64, repeat_num: int | None = None):
        super().__init__()
        channels, height, width = shape
        repeat_num = default_repeat_num(height, width) if repeat_num is None else repeat_num
        layers: list[nn.Module] = [nn.Conv2d(channels, conv_dim, 4, 2, 1), nn.LeakyReLU(0.01)]
        dim = conv_dim
        for _ in range(1, repeat_num):
            layers += [nn.Conv2d(dim, dim * 2, 4, 2, 1), nn.LeakyReLU(0.01)]
            dim *= 2
        for _ in range(repeat_num):
            height, width = height // 2, width // 2
        self.main = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(dim, 1, 3, 1, 1, bias=False)
        self.conv2 = nn.Conv2d(dim, domains, (height, width), bias=False)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.main(image)
        return self.conv1(h).squeeze(1), self.conv2(h).flatten(1)


def _image(field: Field | None) -> bool:
    return field is not None and field.kind == "image" and len(field.shape) == 3


class StarGANArchitecture(Architecture):
    """Builds ``translator(image, attributes) -> image`` and ``discriminator(image) -> scores, attributes``."""

    def __init__(self, config):
        self.config = config

    def build(self, request: NetworkRequest) -> nn.Module:
        cfg = self.config
        inputs, outputs = list(request.inputs.values()), list(request.outputs.values())
        image = inputs[0] if inputs else None
        if (
            request.role == "translator"
            and len(inputs) == 2
            and _image(image)
            and inputs[1].kind == "attributes"
            and len(outputs) == 1
            and outputs[0].kind == "image"
            and outputs[0].shape == image.shape
        ):
            _, height, width = image.shape
            if height % 4 or width % 4:
                raise UnsupportedRequest(
                    f"StarGAN's G halves the image twice, so its sides must be multiples of 4, not {height}x{width} "
                    "(try --resolution 16)"
                )
            return Generator(image.shape[0], inputs[1].shape[0], cfg.g_conv_dim, cfg.g_repeat_num)
        if (
            request.role == "discriminator"
            and len(inputs) == 1
            and _image(image)
            and [f.kind for f in outputs] == ["scores", "attributes"]
        ):
            _, height, width = image.shape
            repeat = cfg.d_repeat_num if cfg.d_repeat_num is not None else default_repeat_num(height, width)
            if repeat < 1 or height >> repeat < 1 or width >> repeat < 1:
                raise UnsupportedRequest(
                    f"a {height}x{width} image is too small for {repeat} stride-2 layers (d_repeat_num)"
                )
            return Discriminator(image.shape, outputs[1].shape[0], cfg.d_conv_dim, repeat)
        raise UnsupportedRequest(
            "it builds translator(image, attributes) -> image and discriminator(image) -> scores, attributes "
            f"(StarGAN; use --scheme stargan), not {request.describe()}"
        )
