"""CycleGAN's networks (networks.py of the authors' code, rewritten): a ResNet generator with instance
norm, reflection padding and two stride-2 stages (Johnson et al. 2016), and the PatchGAN discriminator
(Isola et al. 2017) with instance norm. Weights start from N(0, 0.02) (init_weights, init_type 'normal')."""

from __future__ import annotations

import math

import torch
from gankit import Architecture, NetworkRequest, UnsupportedRequest
from torch import nn


def _norm(channels: int) -> nn.Module:
    # get_norm_layer('instance'): no affine parameters, no running statistics (--norm instance).
    return nn.InstanceNorm2d(channels, affine=False, track_running_stats=False)


def default_blocks(resolution: int) -> int:
    """Residual blocks by image side: 9 from 256 px (resnet_9blocks), 6 from 64 px (resnet_6blocks).

    Smaller images get fewer: the blocks work at a quarter of the side, and each block's two 3x3 convs
    widen a cell's view by two cells per side, so ceil((side/4 - 1) / 2) blocks already let every cell
    see the whole bottleneck (2 at 16 px, a 4x4 map; 4 at 32 px). More blocks add no context there, only
    depth to train and time on a CPU.
    """
    if resolution >= 256:
        return 9
    if resolution >= 64:
        return 6
    return max(1, math.ceil((resolution / 4 - 1) / 2))


def default_layers(resolution: int) -> int:
    """Stride-2 layers of the PatchGAN by image side: 3 from 64 px (the 70x70 PatchGAN, netD 'basic').

    After them come two stride-1 4x4 convs, each shrinking the map by one: at 16 px three stride-2
    layers leave 2x2, then 1x1 and then nothing. 2 layers at 32 px (6x6 patches, each seeing 34 px) and 1
    below (6x6 patches of 16 px at 16 px) keep a grid of patch scores.
    """
    if resolution >= 64:
        return 3
    return 2 if resolution >= 32 else 1


class ResnetBlock(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.block = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3),
            _norm(dim),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, 3),
            _norm(dim),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    """c7s1-ngf, d(2ngf), d(4ngf), n_blocks x R(4ngf), u(2ngf), u(ngf), c7s1-out, tanh (the paper's notation).

    Convs before instance norm keep their bias, as the authors' code does (use_bias for InstanceNorm2d)."""

    def __init__(self, in_channels: int, out_channels: int, ngf: int = 64, n_blocks: int = 9):
        super().__init__()
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7), _norm(ngf), nn.ReLU(True)]
        for i in range(2):
            width = ngf * 2**i
            layers += [nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), _norm(2 * width), nn.ReLU(True)]
        layers += [ResnetBlock(4 * ngf) for _ in range(n_blocks)]
        for i in range(2):
            width = ngf * 2 ** (2 - i)
            layers += [
                nn.ConvTranspose2d(width, width // 2, 3, stride=2, padding=1, output_padding=1),
                _norm(width // 2),
                nn.ReLU(True),
            ]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class PatchDiscriminator(nn.Module):
    """NLayerDiscriminator: 4x4 convs, LeakyReLU 0.2, instance norm after all but the first; returns a
    score per patch, ``(N, h, w)``."""

    def __init__(self, in_channels: int, ndf: int = 64, n_layers: int = 3):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers):
            previous, mult = mult, min(2**n, 8)
            layers += [nn.Conv2d(ndf * previous, ndf * mult, 4, stride=2, padding=1), _norm(ndf * mult)]
            layers += [nn.LeakyReLU(0.2, True)]
        previous, mult = mult, min(2**n_layers, 8)
        layers += [nn.Conv2d(ndf * previous, ndf * mult, 4, stride=1, padding=1), _norm(ndf * mult)]
        layers += [nn.LeakyReLU(0.2, True), nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).squeeze(1)


def init_weights(net: nn.Module) -> nn.Module:
    """init_weights(init_type='normal', init_gain=0.02): conv weights N(0, 0.02), biases 0."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return net


def patch_grid(resolution: int, n_layers: int) -> int:
    """Side of the PatchGAN's score map for an image side."""
    side = resolution
    for _ in range(n_layers):
        side = side // 2
    return side - 2


class CycleGANNetworks(Architecture):
    """Builds ``translator`` requests (one image in, one image out) as ResNet generators and
    ``discriminator`` requests (one image in, scores out) as PatchGANs, for square images whose side is a
    multiple of 4 and at least 8."""

    def __init__(self, config):
        self.config = config

    def build(self, request: NetworkRequest) -> nn.Module:
        images = [f for f in request.inputs.values() if f.kind == "image"]
        if len(request.inputs) != 1 or len(images) != 1:
            raise UnsupportedRequest(
                f"it builds networks of one image (translators and PatchGANs; --scheme cyclegan), "
                f"not {request.describe()}"
            )
        image = images[0]
        c, h, w = image.shape
        if h != w or h % 4 or h < 8:
            raise UnsupportedRequest(
                f"it needs square images of a side that is a multiple of 4, at least 8, not {h}x{w}"
            )
        cfg = self.config
        outputs = list(request.outputs.values())
        if request.role == "translator" and len(outputs) == 1 and outputs[0].kind == "image":
            if outputs[0].shape[1:] != image.shape[1:]:
                raise UnsupportedRequest(f"its translators keep the image size, not {request.describe()}")
            blocks = default_blocks(h) if cfg.n_blocks is None else cfg.n_blocks
            return init_weights(ResnetGenerator(c, outputs[0].channels, cfg.ngf, blocks))
        if request.role == "discriminator" and len(outputs) == 1 and outputs[0].kind == "scores":
            layers = default_layers(h) if cfg.n_layers_d is None else cfg.n_layers_d
            if patch_grid(h, layers) < 1:
                raise UnsupportedRequest(f"a PatchGAN of {layers} stride-2 layers has no patches left at {h}x{w}")
            return init_weights(PatchDiscriminator(c, cfg.ndf, layers))
        raise UnsupportedRequest(
            f"it builds translators (image -> image) and discriminators (image -> scores), not {request.describe()}"
        )
