"""pix2pix's networks: a U-Net translator and a PatchGAN discriminator, sized to the data.

Written after models/networks.py of junyanz/pytorch-CycleGAN-and-pix2pix (UnetGenerator,
UnetSkipConnectionBlock, NLayerDiscriminator, init_weights), as an encoder and a decoder loop
instead of nested blocks.
"""

from __future__ import annotations

import math

import torch
from gankit import Architecture, Field, NetworkRequest, UnsupportedRequest
from torch import nn

#: Smallest image side: a U-Net of 3 levels and a PatchGAN of one stride-2 layer still fit.
MIN_SIZE = 8
#: Largest image side (unet_256 is 8 levels; 10 levels reach 1024 px).
MAX_SIZE = 1024
#: Dropout rate of the decoder's layers next to the bottleneck (nn.Dropout(0.5) in the original).
DROPOUT = 0.5
#: LeakyReLU slope of the encoder and of the PatchGAN (0.2 in the original).
SLOPE = 0.2


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":  # networks.get_norm_layer: InstanceNorm2d without affine parameters
        return nn.InstanceNorm2d(channels, affine=False)
    return nn.Identity()


def init_weights(net: nn.Module, gain: float) -> nn.Module:
    """networks.init_weights with init_type 'normal': conv weights ~ N(0, gain), biases 0, BatchNorm
    scales ~ N(1, gain) and shifts 0."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return net


def unet_levels(height: int, width: int) -> int:
    """Stride-2 levels down to a 1-pixel bottleneck (the shorter side): 8 at 256 px (unet_256), 4 at 16 px."""
    return int(math.log2(min(height, width)))


def unet_widths(levels: int, ngf: int) -> list[int]:
    """Channels after each encoder level: ngf, 2 ngf, 4 ngf, then 8 ngf (UnetGenerator's ngf * min(2^i, 8))."""
    return [ngf * min(2**i, 8) for i in range(levels)]


def dropout_levels(levels: int) -> range:
    """Decoder levels with dropout: in unet_256 the num_downs - 5 = 3 blocks just outside the innermost one
    (the paper's CD512 layers); a shallower U-Net keeps one such block so that it has dropout at all."""
    count = max(1, levels - 5)
    return range(max(1, levels - 1 - count), levels - 1)


class UNet(nn.Module):
    """Encoder of stride-2 4x4 convolutions (LeakyReLU 0.2, norm except at both ends) down to a 1x1
    bottleneck; decoder of stride-2 4x4 transposed convolutions (ReLU, norm, dropout near the bottleneck),
    each taking the encoder's features of its size beside its input; Tanh out."""

    def __init__(self, in_channels: int, out_channels: int, levels: int, ngf: int, norm: str, dropout: bool):
        super().__init__()
        widths = unet_widths(levels, ngf)
        bias = norm != "batch"  # BatchNorm brings its own shift (use_bias in the original)
        last = levels - 1
        self.down = nn.ModuleList()
        for i in range(levels):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(SLOPE)]
            # Without a shift under BatchNorm, even where no norm follows (the outermost and innermost levels),
            # as in UnetSkipConnectionBlock (unet_256 for RGB: 54.414 M parameters, as the original prints).
            layers.append(nn.Conv2d(in_channels if i == 0 else widths[i - 1], widths[i], 4, 2, 1, bias=bias))
            if 0 < i < last:  # neither the outermost nor the innermost (1x1) level is normalized
                layers.append(_norm(norm, widths[i]))
            self.down.append(nn.Sequential(*layers))
        dropped = set(dropout_levels(levels)) if dropout else set()
        self.up = nn.ModuleList()
        for i in reversed(range(levels)):
            inputs = widths[i] if i == last else 2 * widths[i]  # the skip beside the decoder's features
            if i == 0:
                layers = [nn.ReLU(), nn.ConvTranspose2d(inputs, out_channels, 4, 2, 1), nn.Tanh()]
            else:
                layers = [nn.ReLU(), nn.ConvTranspose2d(inputs, widths[i - 1], 4, 2, 1, bias=bias)]
                layers.append(_norm(norm, widths[i - 1]))
                if i in dropped:
                    layers.append(nn.Dropout(DROPOUT))
            self.up.append(nn.Sequential(*layers))

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        skips = []
        h = source
        for down in self.down:
            h = down(h)
            skips.append(h)
        h = self.up[0](h)
        for up, skip in zip(self.up[1:], reversed(skips[:-1]), strict=True):
            h = up(torch.cat([skip, h], 1))
        return h


def patch_layers(height: int, width: int, d_layers: int) -> int:
    """PatchGAN stride-2 layers: ``d_layers``, or log2(side) - 5 between 1 and 3 (3 at 256 px: netD 'basic')."""
    if d_layers:
        return d_layers
    return max(1, min(3, unet_levels(height, width) - 5))


def patch_grid(size: int, layers: int) -> int:
    """Patches along a side of ``size`` pixels: ``layers`` stride-2 4x4 convolutions, then two stride-1 4x4
    convolutions that each take one away (30 at 256 px with 3 layers)."""
    for _ in range(layers):
        size = (size + 2 - 4) // 2 + 1
    return size - 2


class PatchGAN(nn.Module):
    """NLayerDiscriminator: the inputs concatenated on channels, ``layers`` stride-2 4x4 convolutions
    (ndf, 2 ndf, ... up to 8 ndf; no norm on the first), one stride-1 4x4 convolution with norm, and a
    stride-1 4x4 convolution to one logit per patch: ``(N, 1, h, w)``."""

    def __init__(self, in_channels: int, ndf: int, layers: int, norm: str):
        super().__init__()
        bias = norm != "batch"
        seq: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(SLOPE)]
        mult = 1
        for n in range(1, layers):
            prev, mult = mult, min(2**n, 8)
            seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, 2, 1, bias=bias), _norm(norm, ndf * mult), nn.LeakyReLU(SLOPE)]
        prev, mult = mult, min(2**layers, 8)
        seq += [nn.Conv2d(ndf * prev, ndf * mult, 4, 1, 1, bias=bias), _norm(norm, ndf * mult), nn.LeakyReLU(SLOPE)]
        seq.append(nn.Conv2d(ndf * mult, 1, 4, 1, 1))
        self.net = nn.Sequential(*seq)

    def forward(self, *images: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat(images, 1))


def _power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


class Pix2PixArchitecture(Architecture):
    """Builds a translator (role "translator": one image in, one image out) and a patch discriminator
    (role "discriminator": one or more images of one size in, per-patch scores out)."""

    def __init__(self, config):
        self.config = config

    def _size(self, request: NetworkRequest, fields: list[Field]) -> tuple[int, int]:
        if not fields or any(f.kind != "image" or len(f.shape) != 3 for f in fields):
            raise UnsupportedRequest(f"it takes images (C, H, W) only, not {request.describe()}")
        sizes = {tuple(f.shape[1:]) for f in fields}
        if len(sizes) > 1:
            raise UnsupportedRequest(f"its images must share one size, not {request.describe()}")
        (height, width) = sizes.pop()
        if not all(_power_of_two(s) and MIN_SIZE <= s <= MAX_SIZE for s in (height, width)):
            raise UnsupportedRequest(
                f"it takes images whose sides are powers of two from {MIN_SIZE} to {MAX_SIZE} px "
                f"(try --resolution 16), not {height}x{width} in {request.describe()}"
            )
        return height, width

    def build(self, request: NetworkRequest) -> nn.Module:
        cfg = self.config
        inputs, outputs = list(request.inputs.values()), list(request.outputs.values())
        if request.role == "translator":
            if len(inputs) != 1 or len(outputs) != 1:
                raise UnsupportedRequest(f"its translator maps one image to one image, not {request.describe()}")
            height, width = self._size(request, inputs + outputs)
            net = UNet(
                inputs[0].channels, outputs[0].channels, unet_levels(height, width), cfg.ngf, cfg.norm, cfg.dropout
            )
            return init_weights(net, cfg.init_gain)
        if request.role == "discriminator":
            height, width = self._size(request, inputs)
            if len(outputs) != 1 or outputs[0].kind != "scores":
                raise UnsupportedRequest(f"its discriminator returns one tensor of scores, not {request.describe()}")
            layers = self._patch_layers(request, outputs[0], height, width)
            net = PatchGAN(sum(f.channels for f in inputs), cfg.ndf, layers, cfg.norm)
            return init_weights(net, cfg.init_gain)
        raise UnsupportedRequest(
            f"it builds a translator (role 'translator') and a patch discriminator, not {request.describe()}"
        )

    def _patch_layers(self, request: NetworkRequest, scores: Field, height: int, width: int) -> int:
        """Layers for the requested scores: ``()`` takes the configured patches; ``(1, h, w)`` asks for a
        patch grid, found among 1 to 6 layers when ``d_layers`` is 0."""
        layers = patch_layers(height, width, self.config.d_layers)
        candidates = [layers] if self.config.d_layers or not scores.shape else range(1, 7)
        for n in candidates:
            grid = (1, patch_grid(height, n), patch_grid(width, n))
            if min(grid[1:]) < 1:
                break
            if not scores.shape or tuple(scores.shape) == grid:
                return n
        raise UnsupportedRequest(
            f"its patch scores on {height}x{width} images are (1, {patch_grid(height, layers)}, "
            f"{patch_grid(width, layers)}) with {layers} layers, not {request.describe()} {tuple(scores.shape)}"
        )
