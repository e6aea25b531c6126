import math

import torch
import torch.nn.functional as F
from torch import nn

from gankit import Architecture, NetworkRequest, Noise, Option, Regularizer, Scheme, UnsupportedRequest


class ModulatedConv(nn.Module):
    """A convolution whose weights each sample's style scales per input channel (then demodulates)."""

    def __init__(self, in_channels, out_channels, w_dim, kernel=3, demodulate=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.style = nn.Linear(w_dim, in_channels)
        nn.init.ones_(self.style.bias)
        self.demodulate = demodulate
        self.scale = 1 / math.sqrt(in_channels * kernel * kernel)

    def forward(self, x, w):
        n, c, h, wd = x.shape
        weight = self.weight[None] * self.style(w)[:, None, :, None, None] * self.scale  # (N, out, in, k, k)
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.square().sum((2, 3, 4), keepdim=True) + 1e-8)
        out = F.conv2d(x.reshape(1, n * c, h, wd), weight.flatten(0, 1), padding=weight.shape[-1] // 2, groups=n)
        return out.reshape(n, -1, h, wd) + self.bias[None, :, None, None]


class PixelNorm(nn.Module):
    def forward(self, z):
        return F.normalize(z, dim=1) * math.sqrt(z.shape[1])


class StyleGenerator(nn.Module):
    def __init__(self, z_dim, shape, w_dim, channels):
        super().__init__()
        #: z -> w.
        self.mapping = nn.Sequential(
            PixelNorm(), nn.Linear(z_dim, w_dim), nn.LeakyReLU(0.2), nn.Linear(w_dim, w_dim), nn.LeakyReLU(0.2)
        )
        self.const = nn.Parameter(torch.randn(1, channels, 4, 4))
        doublings = int(math.log2(shape[-1] // 4))
        self.layers = nn.ModuleList(ModulatedConv(channels, channels, w_dim) for _ in range(1 + doublings))
        self.to_image = ModulatedConv(channels, shape[0], w_dim, kernel=1, demodulate=False)
        #: The average w (for truncation), followed during training.
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def synthesis(self, w):
        x = self.const.expand(len(w), -1, -1, -1)
        for i, layer in enumerate(self.layers):
            if i:
                x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            x = F.leaky_relu(layer(x, w), 0.2)
        return torch.tanh(self.to_image(x, w))

    def forward(self, z):
        w = self.mapping(z)
        if self.training:
            with torch.no_grad():
                self.w_avg.lerp_(w.detach().mean(0).to(self.w_avg.dtype), 0.01)
        return self.synthesis(w)

    def truncated(self, z, psi):
        w = self.mapping(z)
        return self.synthesis(self.w_avg.to(w.dtype).lerp(w, psi))


def discriminator(shape, width=16):
    c, h, w = shape
    return nn.Sequential(
        nn.Conv2d(c, width, 3, padding=1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(width, width, 4, stride=2, padding=1),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(width * (h // 2) * (w // 2), 1),
        nn.Flatten(0),
    )


class Style(Architecture):
    def __init__(self, config):
        self.config = config

    def build(self, request):
        fields = list(request.inputs.values())
        if request.role == "generator" and [f.kind for f in fields] == ["noise"]:
            (out,) = request.outputs.values()
            size = out.shape[-1] if out.kind == "image" else 0
            if size < 4 or size & (size - 1) or out.shape[-2] != size:
                raise UnsupportedRequest(f"it generates square images of 4, 8, 16... pixels, not {request.describe()}")
            return StyleGenerator(fields[0].shape[0], out.shape, self.config.w_dim, self.config.channels)
        if request.role == "discriminator" and [f.kind for f in fields] == ["image"] and len(request.outputs) == 1:
            return discriminator(fields[0].shape)
        raise UnsupportedRequest(f"it builds an unconditional G and D on images, not {request.describe()}")


class StyleGAN(Scheme):
    optimizers = {"discriminator": ("discriminator",), "generator": ("generator",)}
    ema_networks = ("generator",)

    def __init__(self, config=None):
        pass

    def networks(self, data, z_dim):
        return {
            "generator": NetworkRequest.generator(data, z_dim),
            "discriminator": NetworkRequest.discriminator(data),
        }

    def generation_inputs(self, data, z_dim):
        return {
            "z": Noise((z_dim,)),
            "truncation": Option(1.0, "psi: 1 is the full distribution, 0 the average sample"),
        }

    def generate(self, nets, inputs):
        return nets["generator"].truncated(inputs["z"], float(inputs["truncation"]))

    def step(self, t):
        G, D = t.nets["generator"], t.nets["discriminator"]
        for _ in range(t.n_critic):
            real = t.next_batch().x
            with torch.no_grad(), t.autocast():
                fake = G(t.noise())
            with t.autocast():
                d_loss = t.loss.discriminator_loss(D(real), D(fake))
            penalty = t.discriminator_penalty(real, fake, D)
            t.optimize("discriminator", d_loss if penalty is None else d_loss + penalty)

        z = t.noise()
        with t.frozen(D), t.autocast():
            g_loss = t.generator_loss(D(G(z)), D(real) if t.loss.needs_real_scores else None)
        penalty = t.generator_penalty(G, {"z": z})
        t.optimize("generator", g_loss if penalty is None else g_loss + penalty)
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}


class PathLength(Regularizer):
    """weight * E[(|J_w^T y| - a)^2]: the image should change by a steady amount per step in w
    (y ~ N(0, I) / sqrt(H W)); a is the running mean of those lengths, kept across resumes."""

    targets = ("generator",)

    def __init__(self, config):
        self.config = config
        self.every = config.every
        self.mean = torch.zeros(())

    def generator_penalty(self, inputs):
        G, given = inputs.generator, dict(inputs.inputs)
        with inputs.autocast():
            if hasattr(G, "mapping") and hasattr(G, "synthesis"):  # StyleGAN: lengths in w space
                latent = G.mapping(given["z"])
                images = G.synthesis(latent)
            else:  # any other generator: lengths in z space, the inputs in the order the scheme gave them
                latent = given["z"] = given["z"].detach().requires_grad_(True)
                images = G(*given.values())
        y = inputs.normal(*images.shape) / math.sqrt(math.prod(images.shape[2:]) or 1)
        gradient = inputs.input_gradients(images * y, latent)
        lengths = gradient.float().flatten(1).square().sum(1).sqrt()
        self.mean = self.mean.to(lengths.device).lerp(lengths.mean().detach(), self.config.decay)
        return self.config.weight * (lengths - self.mean).square().mean()

    def state(self):
        return {"mean": self.mean}

    def load_state(self, state):
        if "mean" in state:
            self.mean = state["mean"]
