"""BigGAN's generator and discriminator (Brock et al. 2019) for small images, after the layout of
PyTorch-StudioGAN's ``big_resnet`` at 32 px, generalised to 8, 16, 28, 32 and 64 px.

Generator: the noise is split into one chunk per block plus one; the first chunk goes through a
linear layer to a ``bottom x bottom`` map, every further chunk is concatenated with the shared class
embedding and sets the gains and biases of that block's two conditional batch norms. Residual up
blocks (BN, ReLU, nearest 2x up, 3x3 conv, BN, ReLU, 3x3 conv; 1x1 conv on the upsampled shortcut),
self-attention at half the data resolution, then BN, ReLU, 3x3 conv to the data's channels and tanh.

Discriminator: residual down blocks (the first one "optimized": conv first, pooled shortcut) down to
8x8 (4x4 for 8 px data), two more blocks at that size, self-attention after the first block,
ReLU, sum over space, a linear score plus the projection ``<embed(y), h>`` (Miyato & Koyama 2018).

Unconditional requests build the same networks without the class: G's batch norms take the noise
chunks alone and D has no projection.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from gankit import Architecture, DataDescription, NetworkRequest, UnsupportedRequest
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from gankit_biggan.augment import diff_augment

#: StudioGAN utils/ops.py: spectral norm with eps 1e-6, batch norm with eps 1e-4 and momentum 0.1.
SN_EPS = 1e-6
BN_EPS = 1e-4
BN_MOMENTUM = 0.1


def halvings(size: int) -> tuple[int, int]:
    """(number of 2x up blocks, bottom size) for images of ``size`` pixels: halve while the size is even
    and the half is at least 4 (32 -> 3 blocks from 4x4 as StudioGAN; 28 -> 2 from 7x7; 16 -> 2; 8 -> 1)."""
    blocks = 0
    while size % 2 == 0 and size // 2 >= 4:
        size //= 2
        blocks += 1
    return blocks, size


def chunk_sizes(z_dim: int, parts: int) -> list[int]:
    """``z_dim`` split into ``parts`` chunks as evenly as possible (StudioGAN needs an exact split; an
    uneven one gives the first chunks one more element)."""
    base, extra = divmod(z_dim, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


class _Layers:
    """Builds layers with BigGAN's initialization and (optionally) spectral norm."""

    def __init__(self, sn: bool, ortho: bool):
        self.sn = sn
        self.ortho = ortho

    def _finish(self, module: nn.Module, sn: bool | None = None) -> nn.Module:
        if self.ortho:
            nn.init.orthogonal_(module.weight)
            if getattr(module, "bias", None) is not None:
                nn.init.zeros_(module.bias)
        if self.sn if sn is None else sn:
            module = _spectral_norm(module, eps=SN_EPS)
        return module

    def conv(self, cin: int, cout: int, kernel: int, bias: bool = True) -> nn.Module:
        return self._finish(nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=bias))

    def linear(self, fin: int, fout: int, bias: bool = True) -> nn.Module:
        return self._finish(nn.Linear(fin, fout, bias=bias))

    def embedding(self, count: int, dim: int, sn: bool | None = None) -> nn.Module:
        return self._finish(nn.Embedding(count, dim), sn)


class ConditionalBatchNorm(nn.Module):
    """Batch norm without its own affine; gain ``1 + W_g a`` and bias ``W_b a`` from the block's input ``a``
    (a noise chunk and the shared class embedding). StudioGAN utils/ops.py ConditionalBatchNorm2d."""

    def __init__(self, affine_dim: int, channels: int, layers: _Layers):
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM, affine=False)
        self.gain = layers.linear(affine_dim, channels, bias=False)
        self.bias = layers.linear(affine_dim, channels, bias=False)

    def forward(self, x: Tensor, a: Tensor) -> Tensor:
        gain = 1 + self.gain(a).view(a.shape[0], -1, 1, 1)
        bias = self.bias(a).view(a.shape[0], -1, 1, 1)
        return self.bn(x) * gain.to(x.dtype) + bias.to(x.dtype)


class GBlock(nn.Module):
    def __init__(self, cin: int, cout: int, affine_dim: int, layers: _Layers):
        super().__init__()
        self.bn1 = ConditionalBatchNorm(affine_dim, cin, layers)
        self.conv1 = layers.conv(cin, cout, 3)
        self.bn2 = ConditionalBatchNorm(affine_dim, cout, layers)
        self.conv2 = layers.conv(cout, cout, 3)
        self.shortcut = layers.conv(cin, cout, 1)

    def forward(self, x: Tensor, a: Tensor) -> Tensor:
        h = F.interpolate(F.relu(self.bn1(x, a)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), a)))
        return h + self.shortcut(F.interpolate(x, scale_factor=2, mode="nearest"))


class SelfAttention(nn.Module):
    """SAGAN's self-attention (Zhang et al. 2019) as in BigGAN: keys and values max-pooled 2x, output
    scaled by a learned gain that starts at 0."""

    def __init__(self, channels: int, layers: _Layers):
        super().__init__()
        self.theta = layers.conv(channels, max(channels // 8, 1), 1, bias=False)
        self.phi = layers.conv(channels, max(channels // 8, 1), 1, bias=False)
        self.g = layers.conv(channels, max(channels // 2, 1), 1, bias=False)
        self.out = layers.conv(max(channels // 2, 1), channels, 1, bias=False)
        self.gain = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        n, _, h, w = x.shape
        theta = self.theta(x).flatten(2)  # (n, c/8, hw)
        phi = F.max_pool2d(self.phi(x), 2).flatten(2)  # (n, c/8, hw/4)
        attention = torch.softmax(theta.transpose(1, 2) @ phi, dim=-1)  # (n, hw, hw/4)
        g = F.max_pool2d(self.g(x), 2).flatten(2)  # (n, c/2, hw/4)
        o = (g @ attention.transpose(1, 2)).view(n, -1, h, w)
        return x + self.gain * self.out(o)


class Generator(nn.Module):
    """``G(z[, y])``: see the module docstring."""

    def __init__(
        self,
        z_dim: int,
        channels: int,
        size: int,
        width: int,
        num_classes: int | None,
        shared_dim: int,
        attention: bool,
        layers: _Layers,
    ):
        super().__init__()
        blocks, bottom = halvings(size)
        self.width, self.bottom = width, bottom
        self.chunks = chunk_sizes(z_dim, blocks + 1)
        self.shared = None
        if num_classes is not None:
            # Not spectrally normalized and not orthogonally regularized, as in BigGAN and StudioGAN.
            self.shared = layers.embedding(num_classes, shared_dim, sn=False)
        extra = shared_dim if num_classes is not None else 0
        self.linear = layers.linear(self.chunks[0], width * bottom * bottom)
        self.blocks = nn.ModuleList(GBlock(width, width, c + extra, layers) for c in self.chunks[1:])
        # After the block whose output has half the data's size (StudioGAN's attn_g_loc [2] at 32 px).
        self.attention_after = blocks - 2 if attention and blocks >= 2 else None
        self.attention = SelfAttention(width, layers) if self.attention_after is not None else None
        self.bn = nn.BatchNorm2d(width, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.to_image = layers.conv(width, channels, 3)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        zs = torch.split(z, self.chunks, 1)
        if self.shared is not None:
            if y is None:
                raise TypeError("this BigGAN generator is class-conditional: call it as G(z, y)")
            shared = self.shared(y).to(z.dtype)
            affines = [torch.cat([shared, chunk], 1) for chunk in zs[1:]]
        else:
            affines = list(zs[1:])
        h = self.linear(zs[0]).view(z.shape[0], self.width, self.bottom, self.bottom)
        for i, block in enumerate(self.blocks):
            h = block(h, affines[i])
            if i == self.attention_after:
                h = self.attention(h)
        return torch.tanh(self.to_image(F.relu(self.bn(h))))


class DBlock(nn.Module):
    def __init__(self, cin: int, cout: int, down: bool, first: bool, layers: _Layers):
        super().__init__()
        self.down, self.first = down, first
        self.conv1 = layers.conv(cin, cout, 3)
        self.conv2 = layers.conv(cout, cout, 3)
        self.shortcut = layers.conv(cin, cout, 1) if (down or cin != cout) else None

    def forward(self, x: Tensor) -> Tensor:
        h = x if self.first else F.relu(x)  # StudioGAN's DiscOptBlock: no activation before the first conv
        h = self.conv2(F.relu(self.conv1(h)))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.first:  # pool, then 1x1 conv
            s = self.shortcut(F.avg_pool2d(s, 2))
        elif self.shortcut is not None:  # 1x1 conv, then pool
            s = self.shortcut(s)
            s = F.avg_pool2d(s, 2) if self.down else s
        return h + s


class Discriminator(nn.Module):
    """``D(x[, y])``: see the module docstring."""

    def __init__(
        self,
        channels: int,
        size: int,
        width: int,
        num_classes: int | None,
        attention: bool,
        layers: _Layers,
        augment: tuple[str, ...] = (),
    ):
        super().__init__()
        self.augment = augment
        g_blocks, _ = halvings(size)
        downs = max(1, g_blocks - 1)  # 32 px: 32 -> 16 -> 8, then two blocks at 8x8 (StudioGAN d_down)
        blocks = [DBlock(channels, width, True, True, layers)]
        blocks += [DBlock(width, width, True, False, layers) for _ in range(downs - 1)]
        blocks += [DBlock(width, width, False, False, layers) for _ in range(2)]
        self.blocks = nn.ModuleList(blocks)
        # After the first block, at half the data's size (StudioGAN's attn_d_loc [1] at 32 px).
        even = (size // 2) % 2 == 0
        self.attention = SelfAttention(width, layers) if attention and even else None
        self.score = layers.linear(width, 1)
        self.embed = layers.embedding(num_classes, width) if num_classes is not None else None

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        # DiffAugment lives in D so that every image it sees in training (real, fake, in D's steps and G's)
        # is transformed alike and gradients reach G through the transform; eval-mode D sees images as they are.
        h = diff_augment(x, self.augment) if self.training and self.augment else x
        for i, block in enumerate(self.blocks):
            h = block(h)
            if i == 0 and self.attention is not None:
                h = self.attention(h)
        h = F.relu(h).sum(dim=(2, 3))
        scores = self.score(h).squeeze(1)
        if self.embed is not None:
            if y is None:
                raise TypeError("this BigGAN discriminator is class-conditional: call it as D(x, y)")
            scores = scores + (self.embed(y).to(h.dtype) * h).sum(1)
        return scores


class BigGAN(Architecture):
    def __init__(self, config):
        self.config = config

    def build(self, request: NetworkRequest) -> nn.Module:
        data, cfg = request.data, self.config
        classes = _class_condition(request)
        channels, size = _image_shape(data, request)
        blocks, _ = halvings(size)
        layers = _Layers(cfg.spectral_norm, cfg.init == "ortho")
        if request.role == "generator":
            z_dim = request.z_dim
            if z_dim is None or z_dim < blocks + 1:
                raise UnsupportedRequest(
                    f"biggan splits the noise into {blocks + 1} chunks at {size} px (one per block and one for the "
                    f"first layer), so it needs --z-dim {blocks + 1} or more, not {z_dim}"
                )
            return Generator(z_dim, channels, size, 4 * cfg.g_channels, classes, cfg.shared_dim, cfg.attention, layers)
        return Discriminator(channels, size, 2 * cfg.d_channels, classes, cfg.attention, layers, cfg.augment)


def _image_shape(data: DataDescription, request: NetworkRequest) -> tuple[int, int]:
    field = data.fields[data.main]
    shape = tuple(field.shape)
    if field.kind != "image" or len(shape) != 3 or shape[1] != shape[2]:
        raise UnsupportedRequest(f"biggan builds networks for square images, not {data.name} of shape {shape}")
    blocks, _ = halvings(shape[1])
    if blocks < 1:
        raise UnsupportedRequest(
            f"biggan needs images of 8, 16, 28, 32, 64 ... px (an even size whose half is 4 or more), not "
            f"{shape[1]} px; try --resolution 16 or 32"
        )
    return shape[0], shape[1]


def _class_condition(request: NetworkRequest) -> int | None:
    """The number of classes of the request's class-label input, ``None`` without one; refuse the rest."""
    data = request.data
    inputs = request.inputs
    conditions = {n: f for n, f in inputs.items() if n not in ("z", data.main)}
    generator = request.role == "generator" and list(inputs)[:1] == ["z"] and data.main not in inputs
    discriminator = request.role == "discriminator" and list(inputs)[:1] == [data.main] and "z" not in inputs
    if (
        not (generator or discriminator)
        or len(conditions) > 1
        or any(f.kind != "class" or not f.num_classes for f in conditions.values())
        or len(request.outputs) != 1
    ):
        raise UnsupportedRequest(
            f"biggan builds G(z[, label]) and D(image[, label]) with at most one class label, not {request.describe()}"
        )
    return int(next(iter(conditions.values())).num_classes) if conditions else None
