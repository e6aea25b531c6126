import importlib.util
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


def digit_pairs(config, request=None):
    target, _ = load_digits()
    if config.degrade == "flip":
        source = target.flip(-1)
    else:
        source = target.clone()
        source[..., 4:, :] = -1.0
    image = Field((1, 8, 8), "image", value_range=(0.0, 1.0))
    description = DataDescription.of("digits-pairs", {"source": image, "target": image}, main="target")
    return TensorDataset(description, fields={"source": source, "target": target})


class Translator(nn.Module):
    def __init__(self, channels, width=16):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, channels, 3, padding=1),
            nn.Tanh(),
        )

    def forward(self, source):
        return self.net(source)


class PatchDiscriminator(nn.Module):
    """Scores every patch of the (image, source) pair: (N, 1, H/2, W/2) logits."""

    def __init__(self, channels, width=16):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, width, 3, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, width, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(width, 1, 3, padding=1),
        )

    def forward(self, image, source):
        return self.net(torch.cat([image, source], 1))


class Pix2PixNets(Architecture):
    def __init__(self, config=None):
        pass

    def build(self, request):
        fields = list(request.inputs.values())
        if not fields or any(f.kind != "image" for f in fields):
            raise UnsupportedRequest(f"it takes images only, not {request.describe()}")
        c, h, w = fields[0].shape
        if request.role == "translator" and len(fields) == 1:
            return Translator(c)
        if request.role == "discriminator" and len(fields) == 2:
            scores = request.outputs.get("scores")
            if scores is None or tuple(scores.shape) != (1, h // 2, w // 2):
                raise UnsupportedRequest(f"its patch scores are (1, {h // 2}, {w // 2}), not {request.describe()}")
            return PatchDiscriminator(sum(f.channels for f in fields))
        raise UnsupportedRequest(f"it builds a translator and a pair discriminator, not {request.describe()}")


class Pix2Pix(Scheme):
    optimizers = {"generator": ("translator",), "discriminator": ("discriminator",)}
    ema_networks = ("translator",)

    def __init__(self, config):
        self.l1 = config.l1

    def networks(self, data, z_dim):
        source, target = data.field("source"), data.field("target")
        c, h, w = target.shape
        patches = Field((1, h // 2, w // 2), "scores")
        return {
            "translator": NetworkRequest("translator", data, {"source": source}, {"target": target}),
            # The sample comes first and the condition after it: penalties call D(x, *conditions).
            "discriminator": NetworkRequest(
                "discriminator", data, {"target": target, "source": source}, {"scores": patches}
            ),
        }

    def generation_inputs(self, data, z_dim):
        return {"source": FromData("source")}

    def generate(self, nets, inputs):
        return nets["translator"](inputs["source"])

    def step(self, t):
        T, D = t.nets["translator"], t.nets["discriminator"]
        for _ in range(t.n_critic):
            batch = t.next_batch()
            source, target = batch["source"], batch["target"]
            with torch.no_grad(), t.autocast():
                fake = T(source)
            with t.autocast():
                d_loss = t.loss.discriminator_loss(D(target, source), D(fake, source))
            penalty = t.discriminator_penalty(target, fake, D, conditions=(source,))
            t.optimize("discriminator", d_loss if penalty is None else d_loss + penalty)

        with t.frozen(D), t.autocast():
            fake = T(source)
            real_scores = D(target, source) if t.loss.needs_real_scores else None
            adversarial = t.generator_loss(D(fake, source), real_scores)
            l1 = F.l1_loss(fake, target)
            g_loss = adversarial + self.l1 * l1
        t.optimize("generator", g_loss)
        return {"d_loss": d_loss.detach(), "g_loss": adversarial.detach(), "l1": l1.detach()}
