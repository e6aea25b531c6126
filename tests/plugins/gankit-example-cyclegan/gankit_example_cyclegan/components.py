import importlib.util
import random
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gankit import (
    Architecture,
    DataDescription,
    Field,
    FromData,
    NetworkRequest,
    Scheme,
    TensorDataset,
    UnsupportedRequest,
)


def load_digits():
    """scikit-learn's 1,797 digits as images (N, 1, 8, 8) in [-1, 1] and labels, read from the file
    scikit-learn embeds (without importing scikit-learn, which takes a second)."""
    spec = importlib.util.find_spec("sklearn")
    path = Path(spec.submodule_search_locations[0], "datasets", "data", "digits.csv.gz") if spec else None
    if path is not None and path.is_file():
        table = np.loadtxt(path, delimiter=",", dtype=np.float32)
        images, labels = table[:, :-1], table[:, -1]
    else:
        from sklearn.datasets import load_digits as sklearn_digits

        images, labels = sklearn_digits(return_X_y=True)
    x = torch.as_tensor(images, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0 * 2 - 1
    return x, torch.as_tensor(labels, dtype=torch.long)


def unpaired_digits(config=None, request=None):
    x, labels = load_digits()
    a, b = x[labels < 5], x[labels >= 5].rot90(1, (-2, -1))  # 901 and 896 images: no pairing
    image = Field((1, 8, 8), "image", value_range=(0.0, 1.0))
    description = DataDescription.of("digits-unpaired", {"a": image, "b": image}, main="b", streams=(("a",), ("b",)))
    return TensorDataset(description, fields={"a": a.contiguous(), "b": b.contiguous()})


def translator(channels, width=16):
    return nn.Sequential(
        nn.Conv2d(channels, width, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, width, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, channels, 3, padding=1),
        nn.Tanh(),
    )


def discriminator(shape, width=16):
    c, h, w = shape
    return nn.Sequential(
        nn.Conv2d(c, width, 4, stride=2, padding=1),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(width * (h // 2) * (w // 2), 1),
        nn.Flatten(0),
    )


class CycleNets(Architecture):
    def __init__(self, config=None):
        pass

    def build(self, request):
        fields = list(request.inputs.values())
        if len(fields) != 1 or fields[0].kind != "image":
            raise UnsupportedRequest(f"it builds networks of one image, not {request.describe()}")
        if request.role == "translator":
            return translator(fields[0].channels)
        if request.role == "discriminator" and len(request.outputs) == 1:
            return discriminator(fields[0].shape)
        raise UnsupportedRequest(f"it builds translators and discriminators, not {request.describe()}")


class ImagePool:
    """Shrivastava et al. 2017: D sees a mix of new fakes and fakes from earlier steps. Once full, each
    new fake replaces a random stored one half of the time, and D gets the stored one instead."""

    def __init__(self, size):
        self.size = size
        self.images = None

    def query(self, fakes):
        if self.size == 0:
            return fakes
        if self.images is not None and self.images.device != fakes.device:
            self.images = self.images.to(fakes.device)
        out = []
        for fake in fakes.detach():
            stored = 0 if self.images is None else len(self.images)
            if stored < self.size:
                new = fake[None].clone()
                self.images = new if self.images is None else torch.cat([self.images, new])
                out.append(fake)
            elif random.random() < 0.5:
                i = random.randrange(stored)
                out.append(self.images[i].clone())
                self.images[i] = fake
            else:
                out.append(fake)
        return torch.stack(out)


class CycleGAN(Scheme):
    optimizers = {"generator": ("g_ab", "g_ba"), "discriminator": ("d_a", "d_b")}
    ema_networks = ("g_ab",)

    def __init__(self, config):
        self.cycle = config.cycle
        self.pools = {"a": ImagePool(config.pool), "b": ImagePool(config.pool)}

    def networks(self, data, z_dim):
        a, b = data.field("a"), data.field("b")
        score = {"scores": Field((), "scores")}
        return {
            "g_ab": NetworkRequest("translator", data, {"a": a}, {"b": b}),
            "g_ba": NetworkRequest("translator", data, {"b": b}, {"a": a}),
            "d_a": NetworkRequest("discriminator", data, {"a": a}, score),
            "d_b": NetworkRequest("discriminator", data, {"b": b}, score),
        }

    def generation_inputs(self, data, z_dim):
        return {"a": FromData("a")}

    def generate(self, nets, inputs):
        return nets["g_ab"](inputs["a"])

    def state(self):
        return {f"pool_{name}": pool.images for name, pool in self.pools.items() if pool.images is not None}

    def load_state(self, state):
        for name, pool in self.pools.items():
            pool.images = state.get(f"pool_{name}")

    def step(self, t):
        G_ab, G_ba, D_a, D_b = (t.nets[n] for n in ("g_ab", "g_ba", "d_a", "d_b"))
        batch = t.next_batch()  # one batch from each stream: unrelated a's and b's
        real_a, real_b = batch["a"], batch["b"]

        with t.frozen(D_a), t.frozen(D_b), t.autocast():
            fake_b, fake_a = G_ab(real_a), G_ba(real_b)
            adversarial = self._generator_loss(t, D_b, fake_b, real_b) + self._generator_loss(t, D_a, fake_a, real_a)
            cycle = F.l1_loss(G_ba(fake_b), real_a) + F.l1_loss(G_ab(fake_a), real_b)
            g_loss = adversarial + self.cycle * cycle
        t.optimize("generator", g_loss)

        pooled_a, pooled_b = self.pools["a"].query(fake_a), self.pools["b"].query(fake_b)
        with t.autocast():
            d_loss = t.loss.discriminator_loss(D_a(real_a), D_a(pooled_a)) + t.loss.discriminator_loss(
                D_b(real_b), D_b(pooled_b)
            )
        for real, fake, D in ((real_a, pooled_a, D_a), (real_b, pooled_b, D_b)):
            penalty = t.discriminator_penalty(real, fake, D)
            if penalty is not None:
                d_loss = d_loss + penalty
        t.optimize("discriminator", d_loss)
        return {"d_loss": d_loss.detach(), "g_loss": adversarial.detach(), "cycle": cycle.detach()}

    @staticmethod
    def _generator_loss(t, D, fake, real):
        return t.generator_loss(D(fake), D(real) if t.loss.needs_real_scores else None)
