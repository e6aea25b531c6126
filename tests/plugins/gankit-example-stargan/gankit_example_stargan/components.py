import importlib.util
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gankit import (
    Architecture,
    Attributes,
    DataDescription,
    Field,
    FromData,
    NetworkRequest,
    Scheme,
    TensorDataset,
    UnsupportedRequest,
)

ATTRIBUTES = ("mirrored", "inverted")


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


def digit_domains(config=None, request=None):
    x, _ = load_digits()
    index = torch.arange(len(x))
    flags = torch.stack([index % 2, index // 2 % 2], 1).float()  # every combination, in turn
    x = torch.where(flags[:, 0, None, None, None] > 0, x.flip(-1), x)
    x = torch.where(flags[:, 1, None, None, None] > 0, -x, x)
    fields = {
        "x": Field((1, 8, 8), "image", value_range=(0.0, 1.0)),
        "attributes": Field((len(ATTRIBUTES),), "attributes"),
    }
    return TensorDataset(DataDescription.of("digits-domains", fields, main="x"), fields={"x": x, "attributes": flags})


class Translator(nn.Module):
    """G(image, domains): the target flags enter as constant feature maps beside the image."""

    def __init__(self, channels, count, width=16):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels + count, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, channels, 3, padding=1),
            nn.Tanh(),
        )

    def forward(self, image, domains):
        maps = domains[:, :, None, None].to(image.dtype).expand(-1, -1, *image.shape[-2:])
        return self.net(torch.cat([image, maps], 1))


class TwoHeaded(nn.Module):
    """D(x) -> (real/fake scores (N,), attribute logits (N, k))."""

    def __init__(self, shape, count, width=16):
        super().__init__()
        c, h, w = shape
        self.trunk = nn.Sequential(nn.Conv2d(c, width, 4, stride=2, padding=1), nn.LeakyReLU(0.2), nn.Flatten())
        features = width * (h // 2) * (w // 2)
        self.scores = nn.Linear(features, 1)
        self.attributes = nn.Linear(features, count)

    def forward(self, x):
        h = self.trunk(x)
        return self.scores(h).squeeze(1), self.attributes(h)


class StarNets(Architecture):
    def __init__(self, config=None):
        pass

    def build(self, request):
        fields = list(request.inputs.values())
        image = fields[0] if fields and fields[0].kind == "image" else None
        if image is not None and request.role == "translator" and [f.kind for f in fields[1:]] == ["attributes"]:
            return Translator(image.channels, fields[1].shape[0])
        outputs = [f.kind for f in request.outputs.values()]
        if (
            image is not None
            and request.role == "discriminator"
            and len(fields) == 1
            and outputs == ["scores", "attributes"]
        ):
            return TwoHeaded(image.shape, list(request.outputs.values())[1].shape[0])
        raise UnsupportedRequest(
            "it builds translator(image, attributes) and discriminator(image) -> scores, attributes; "
            f"not {request.describe()}"
        )


class StarGAN(Scheme):
    optimizers = {"generator": ("generator",), "discriminator": ("discriminator",)}
    ema_networks = ("generator",)

    def __init__(self, config):
        self.config = config

    def networks(self, data, z_dim):
        image, attributes = data.field("x"), data.field("attributes")
        return {
            "generator": NetworkRequest("translator", data, {"image": image, "domains": attributes}, {"x": image}),
            "discriminator": NetworkRequest(
                "discriminator", data, {"x": image}, {"scores": Field((), "scores"), "attributes": attributes}
            ),
        }

    def generation_inputs(self, data, z_dim):
        return {"image": FromData("x"), "domains": Attributes(data.field("attributes").shape[0])}

    def generate(self, nets, inputs):
        return nets["generator"](inputs["image"], inputs["domains"])

    def step(self, t):
        G, D = t.nets["generator"], t.nets["discriminator"]
        cfg = self.config
        for _ in range(t.n_critic):
            batch = t.next_batch()
            real, original = batch.x, batch["attributes"]
            target = (t.uniform(original.shape[1]) < 0.5).to(original.dtype)
            with torch.no_grad(), t.autocast():
                fake = G(real, target)
            with t.autocast():
                real_scores, real_logits = D(real)
                fake_scores, _ = D(fake)
                classification = F.binary_cross_entropy_with_logits(real_logits.float(), original)
                d_loss = t.loss.discriminator_loss(real_scores, fake_scores) + cfg.classification * classification
            penalty = t.discriminator_penalty(real, fake, D)  # penalizes D's first output, its scores
            t.optimize("discriminator", d_loss if penalty is None else d_loss + penalty)

        with t.frozen(D), t.autocast():
            fake = G(real, target)
            fake_scores, fake_logits = D(fake)
            adversarial = t.generator_loss(fake_scores, D(real)[0] if t.loss.needs_real_scores else None)
            g_classification = F.binary_cross_entropy_with_logits(fake_logits.float(), target)
            reconstruction = F.l1_loss(G(fake, original), real)
            g_loss = adversarial + cfg.classification * g_classification + cfg.reconstruction * reconstruction
        t.optimize("generator", g_loss)
        return {
            "d_loss": d_loss.detach(),
            "g_loss": adversarial.detach(),
            "d_cls": classification.detach(),
            "rec": reconstruction.detach(),
        }
