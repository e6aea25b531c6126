"""StyleGAN2's networks, written for gankit from the paper and stylegan2-ada-pytorch's
``training/networks.py`` (learned from, not copied).

Differences from networks.py, all for a small pure-PyTorch model:

* modulated convolutions are always the **non-fused** form (scale the activations by the styles,
  convolve with the shared weight, scale by the demodulation coefficients): no grouped convolution
  whose groups are the batch, so the generator traces and exports with a dynamic batch size;
* resampling is bilinear, which for a factor of 2 is the separable [1, 3, 3, 1] filter networks.py
  uses (``upfirdn2d``); D downsamples by 2x2 averaging before its strided-resolution convolution;
* the generator's output goes through tanh: gankit's contract is samples in [-1, 1] (networks.py
  leaves images unbounded and clamps them when saving);
* D is the ``orig`` architecture that cifar selects (no residual connections), conditioning is not
  supported (gankit's ``conditional`` scheme is refused).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit_stylegan import resolutions

#: Gain of the leaky ReLU so that activations keep unit variance (networks.py ``def_gain``).
LRELU_GAIN = math.sqrt(2)


def unwrap(network: nn.Module) -> nn.Module:
    """The network inside a DistributedDataParallel (``.module``) or torch.compile (``._orig_mod``) wrapper."""
    while True:
        inner = getattr(network, "module", None) or getattr(network, "_orig_mod", None)
        if not isinstance(inner, nn.Module):
            return network
        network = inner


def is_stylegan2(network: nn.Module) -> bool:
    return isinstance(unwrap(network), Generator)


def channels(resolution: int, base: int, maximum: int) -> int:
    """Feature maps at ``resolution``: networks.py's ``min(channel_base // res, channel_max)``."""
    return max(1, min(base // resolution, maximum))


def num_ws(resolution: int) -> int:
    """How many w vectors synthesis takes: one per convolution, plus the last toRGB's."""
    return 1 + 2 * (len(resolutions(resolution)) - 1) + 1


def layer_resolutions(resolution: int) -> list[int]:
    """The resolution of each noisy synthesis layer, in order (one at 4x4, two per later block)."""
    return [4] + [r for r in resolutions(resolution)[1:] for _ in range(2)]


def noise_size(resolution: int) -> int:
    """Numbers of per-layer noise per sample: one (H, W) map per synthesis layer, flattened."""
    return sum(r * r for r in layer_resolutions(resolution))


def normalize_2nd_moment(x: Tensor, eps: float = 1e-8) -> Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def upsample(x: Tensor) -> Tensor:
    # Bilinear x2 (align_corners=False) weighs neighbours 1/4, 3/4: networks.py's [1, 3, 3, 1] filter.
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


class FullyConnected(nn.Module):
    """Equalized learning rate: weights stored N(0, 1) / lr_multiplier, scaled at run time."""

    def __init__(self, in_features: int, out_features: int, *, lr_multiplier=1.0, bias_init=0.0, activation=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full((out_features,), float(bias_init)))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return F.leaky_relu(x, 0.2) * LRELU_GAIN if self.activation else x


class Conv(nn.Module):
    """Equalized-learning-rate convolution (D's layers), optional leaky ReLU, optional 2x downsampling first."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, *, activation=True, down=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.gain = 1 / math.sqrt(in_channels * kernel * kernel)
        self.activation, self.down, self.padding = activation, down, kernel // 2

    def forward(self, x: Tensor) -> Tensor:
        if self.down:
            x = F.avg_pool2d(x, 2)
        x = F.conv2d(x, self.weight * self.gain, self.bias, padding=self.padding)
        return F.leaky_relu(x, 0.2) * LRELU_GAIN if self.activation else x


def modulated_conv2d(x: Tensor, weight: Tensor, styles: Tensor, demodulate: bool = True) -> Tensor:
    """The non-fused modulated convolution: ``conv(x * s, W) * d`` with ``d = 1 / |W * s|`` per sample
    and output channel; equal to convolving with per-sample weights ``W * s * d`` (the fused form)."""
    x = x * styles[:, :, None, None]
    x = F.conv2d(x, weight, padding=weight.shape[-1] // 2)
    if demodulate:
        # sum over (in, kh, kw) of (W[o, i] * s[i])^2 = sum_i s[i]^2 * |W[o, i]|^2: no per-sample weights.
        dcoefs = (styles.square() @ weight.square().sum((2, 3)).t() + 1e-8).rsqrt()
        x = x * dcoefs[:, :, None, None]
    return x


class SynthesisLayer(nn.Module):
    """Modulated 3x3 convolution, per-pixel noise with a learned strength, bias, leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool = False):
        super().__init__()
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.noise_strength = nn.Parameter(torch.zeros(()))
        #: The fixed noise of ``noise_mode="const"`` (networks.py ``noise_const``).
        self.register_buffer("noise_const", torch.randn(resolution, resolution))
        self.resolution, self.up = resolution, up

    def forward(self, x: Tensor, w: Tensor, noise: Tensor | None) -> Tensor:
        if self.up:
            x = upsample(x)
        x = modulated_conv2d(x, self.weight, self.affine(w))
        if noise is not None:
            x = x + noise * self.noise_strength
        return F.leaky_relu(x + self.bias[None, :, None, None], 0.2) * LRELU_GAIN


class ToRGB(nn.Module):
    """Modulated 1x1 convolution to image channels, not demodulated."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int):
        super().__init__()
        self.affine = FullyConnected(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        x = modulated_conv2d(x, self.weight, self.affine(w) * self.weight_gain, demodulate=False)
        return x + self.bias[None, :, None, None]


class MappingNetwork(nn.Module):
    """z -> w: 2nd-moment normalization, then ``layers`` fully connected layers at a low learning rate;
    tracks the mean w for truncation while training."""

    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_multiplier: float, w_avg_beta: float):
        super().__init__()
        sizes = [z_dim] + [w_dim] * layers
        self.layers = nn.Sequential(
            *(
                FullyConnected(a, b, lr_multiplier=lr_multiplier, activation=True)
                for a, b in zip(sizes[:-1], sizes[1:], strict=True)
            )
        )
        self.w_avg_beta = w_avg_beta
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: Tensor, update_w_avg: bool = True) -> Tensor:
        w = self.layers(normalize_2nd_moment(z))
        if update_w_avg and self.training:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().mean(0).to(self.w_avg.dtype).lerp(self.w_avg, self.w_avg_beta))
        return w


class SynthesisNetwork(nn.Module):
    """Skip generator: a learned 4x4 constant, two modulated convolutions per resolution (the first
    upsampling), and a toRGB per resolution whose images are upsampled and summed."""

    def __init__(self, w_dim: int, image_channels: int, resolution: int, channel_base: int, channel_max: int):
        super().__init__()
        res = resolutions(resolution)
        ch = {r: channels(r, channel_base, channel_max) for r in res}
        self.const = nn.Parameter(torch.randn(ch[4], 4, 4))
        self.convs = nn.ModuleList()
        self.torgbs = nn.ModuleList()
        for r in res:
            if r > 4:
                self.convs.append(SynthesisLayer(ch[r // 2], ch[r], w_dim, r, up=True))
            self.convs.append(SynthesisLayer(ch[r], ch[r], w_dim, r))
            self.torgbs.append(ToRGB(ch[r], image_channels, w_dim))
        self.num_ws = num_ws(resolution)
        self.noise_sizes = [r * r for r in layer_resolutions(resolution)]

    def forward(self, ws: Tensor, noise: Tensor | str | None = "random") -> Tensor:
        """``ws`` (N, num_ws, w_dim) to images; ``noise`` is a flat (N, noise_size) tensor, or
        ``"random"`` (fresh Gaussian noise), ``"const"`` (the stored maps) or ``None``/``"none"``."""
        n = ws.shape[0]
        if isinstance(noise, Tensor):
            maps = noise.split(self.noise_sizes, dim=1)
        x = self.const[None].expand(n, -1, -1, -1)
        img = None
        layer = 0
        torgbs = iter(self.torgbs)
        for i, conv in enumerate(self.convs):
            if isinstance(noise, Tensor):
                r = conv.resolution
                layer_noise = maps[i].reshape(n, 1, r, r)
            elif noise == "random":
                layer_noise = torch.randn(n, 1, conv.resolution, conv.resolution, device=x.device, dtype=x.dtype)
            elif noise == "const":
                layer_noise = conv.noise_const[None, None]
            else:
                layer_noise = None
            x = conv(x, ws[:, layer], layer_noise)
            layer += 1
            last_of_block = i + 1 == len(self.convs) or self.convs[i + 1].up
            if last_of_block:
                # toRGB uses the w of the next block's first convolution (networks.py's w_idx).
                y = next(torgbs)(x, ws[:, layer])
                img = y if img is None else upsample(img) + y
        return img


class Generator(nn.Module):
    """``G(z)`` -> images in [-1, 1]; ``mapping`` and ``synthesis`` are reachable for path lengths,
    truncation and style mixing. Extra arguments are for the stylegan2 scheme: per-layer ``noise``,
    a second latent ``z2`` that replaces the w's from per-sample index ``cutoff`` on (style mixing),
    and ``return_ws`` (the path-length penalty differentiates by them)."""

    def __init__(self, z_dim: int, image_shape: tuple[int, int, int], config):
        super().__init__()
        channels_, resolution, _ = image_shape
        self.z_dim, self.resolution = z_dim, resolution
        self.mapping = MappingNetwork(
            z_dim, config.w_dim, config.mapping_layers, config.mapping_lr_multiplier, config.w_avg_beta
        )
        self.synthesis = SynthesisNetwork(config.w_dim, channels_, resolution, config.channel_base, config.channel_max)
        self.num_ws = self.synthesis.num_ws
        self.noise_size = noise_size(resolution)

    def ws(self, z: Tensor, z2: Tensor | None = None, cutoff: Tensor | None = None, psi: float = 1.0) -> Tensor:
        """(N, num_ws, w_dim): w broadcast to every layer, mixed from ``z2`` at ``cutoff`` on, truncated."""
        w = self.mapping(z)
        ws = w[:, None].expand(-1, self.num_ws, -1)
        if z2 is not None:
            w2 = self.mapping(z2, update_w_avg=False)  # loss.py: skip_w_avg_update=True for the mixing z
            later = torch.arange(self.num_ws, device=ws.device)[None] >= cutoff[:, None]
            ws = torch.where(later[:, :, None], w2[:, None], ws)
        if psi != 1:
            ws = self.mapping.w_avg.to(ws.dtype).lerp(ws, psi)
        return ws

    def images(self, ws: Tensor, noise: Tensor | str | None = "random") -> Tensor:
        return torch.tanh(self.synthesis(ws, noise))

    def forward(
        self,
        z: Tensor,
        noise: Tensor | None = None,
        z2: Tensor | None = None,
        cutoff: Tensor | None = None,
        return_ws: bool = False,
    ):
        ws = self.ws(z, z2, cutoff)
        images = self.images(ws, "random" if noise is None else noise)
        return (images, ws) if return_ws else images


class MinibatchStd(nn.Module):
    """Appends the standard deviation over groups of samples (networks.py MinibatchStdLayer). The group
    is the largest divisor of the batch up to ``group_size``, so odd batches work too."""

    def __init__(self, group_size: int, num_channels: int = 1):
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        g = math.gcd(n, self.group_size)
        f = self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)
        y = (y - y.mean(0)).square().mean(0).add(1e-8).sqrt()  # stddev over each group
        y = y.mean(dim=(2, 3, 4)).reshape(-1, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], 1)


class Discriminator(nn.Module):
    """fromRGB, two 3x3 convolutions per resolution (the second at half resolution) down to 4x4, then
    minibatch stddev, a 3x3 convolution and two fully connected layers: scores (N,)."""

    def __init__(self, image_shape: tuple[int, int, int], config):
        super().__init__()
        image_channels, resolution, _ = image_shape
        res = resolutions(resolution)[::-1]
        ch = {r: channels(r, config.channel_base, config.channel_max) for r in res}
        self.from_rgb = Conv(image_channels, ch[resolution], 1)
        blocks = []
        for r in res[:-1]:
            blocks += [Conv(ch[r], ch[r], 3), Conv(ch[r], ch[r // 2], 3, down=True)]
        self.blocks = nn.Sequential(*blocks)
        c4 = ch[4]
        self.mbstd = MinibatchStd(config.mbstd_group, config.mbstd_channels)
        if c4 % config.mbstd_channels:
            raise ValueError(f"mbstd_channels {config.mbstd_channels} must divide D's 4x4 feature maps {c4}")
        self.conv = Conv(c4 + config.mbstd_channels, c4, 3)
        self.fc = FullyConnected(c4 * 16, c4, activation=True)
        self.out = FullyConnected(c4, 1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.blocks(self.from_rgb(x))
        x = self.conv(self.mbstd(x))
        return self.out(self.fc(x.flatten(1))).flatten(0)
