"""Quality of generated digits, measured in the features of a small classifier that gankit trains on
scikit-learn's digits (train split) and caches. The ``inception`` metric needs Inception weights that
gankit never downloads, so this is the offline stand-in: the same statistics, in a feature space that
knows digits.

Every number is reported for the generated samples and, as the reference floor, for the real held-out
test split scored the same way against the training split.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from torch import nn

from gankit import EvalContext, GankitError, Metric
from gankit.digits import cache_dir
from gankit_builtins.data.digits import MAX_RESOLUTION, resized
from gankit_builtins.metrics.distances import frechet_distance, kernel_inception_distance

CLASSIFIER_VERSION = "1"


def _classifier() -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))


def _splits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from gankit_builtins.data.digits import digits

    class Split:
        def __init__(self, split: str):
            self.split = split

    train, test = digits(Split("train")), digits(Split("test"))
    return train.samples, train.labels, test.samples, test.labels


def to_classifier(x: torch.Tensor) -> torch.Tensor:
    """Images of 8k x 8k pixels as the classifier's 8x8 (averaged over k x k blocks)."""
    factor = x.shape[-1] // 8
    return x if factor == 1 else torch.nn.functional.avg_pool2d(x, factor)


def load_classifier() -> tuple[nn.Sequential, float]:
    """The digits classifier and its held-out accuracy: trained once (deterministically), then cached."""
    from safetensors.torch import load_file, save_file

    path = cache_dir() / f"digits-classifier-v{CLASSIFIER_VERSION}.safetensors"
    x_train, y_train, x_test, y_test = _splits()
    net = _classifier()
    if path.is_file():
        try:
            net.load_state_dict(load_file(path))
        except Exception:  # a damaged cache is retrained, not trusted
            path.unlink(missing_ok=True)
    if not path.is_file():
        generator = torch.Generator().manual_seed(0)
        net = _classifier()
        for p in net.parameters():  # seeded init independent of the global RNG, so runs stay exact
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=generator) * (0.1 if p.dim() > 1 else 0.0))
        optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
        for _ in range(300):  # full-batch: 1,437 images, a second on a CPU
            optimizer.zero_grad()
            nn.functional.cross_entropy(net(x_train), y_train).backward()
            optimizer.step()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp))
        os.replace(tmp, path)
    net.eval()
    with torch.no_grad():
        accuracy = float((net(x_test).argmax(1) == y_test).double().mean())
    return net, accuracy


def features(net: nn.Sequential, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Penultimate-layer features (64-d) and predicted classes."""
    with torch.no_grad():
        hidden = net[:-1](x.float().cpu())
        return hidden.double().numpy(), net[-1](hidden).argmax(1).numpy()


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    """Kynkäänniemi et al. 2019: the share of fake samples inside the real k-NN manifold, and back."""

    from scipy.spatial.distance import cdist

    def radii(x: np.ndarray) -> np.ndarray:
        return np.sort(cdist(x, x), axis=1)[:, k]  # column 0 is the point itself

    def inside(points: np.ndarray, support: np.ndarray, r: np.ndarray) -> float:
        return float((cdist(points, support) <= r[None]).any(axis=1).mean())

    return inside(fake, real, radii(real)), inside(real, fake, radii(fake))


def class_stats(predicted: np.ndarray) -> tuple[int, float]:
    counts = np.bincount(predicted, minlength=10).astype(float)
    p = counts / counts.sum()
    kl = float((p[p > 0] * np.log(p[p > 0] * 10)).sum())
    return int((counts > 0).sum()), kl


class DigitsMetrics(Metric):
    version = "1"
    # The real_* numbers are the reference floor and classifier_accuracy the yardstick's: no direction.
    higher_is_better = {
        "classes": True,
        "class_kl": False,
        "fd": False,
        "kid": False,
        "precision": True,
        "recall": True,
    }

    def __init__(self, config: Any):
        self.config = config
        self.accuracy: float | None = None

    def protocol(self) -> dict[str, Any]:
        return {
            "samples": self.config.samples,
            "k": self.config.k,
            "target": "digits train split (1,437 images; at a larger --resolution, resized as the data is)",
            "scoring": "images of 8k x 8k pixels are averaged over k x k blocks to the classifier's 8x8",
            "reference": "digits test split (360 images), scored like the samples",
            "classifier": f"v{CLASSIFIER_VERSION}, held-out accuracy {self.accuracy}",
        }

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        shape = tuple(context.description.shape)
        size = shape[-1]
        if len(shape) != 3 or shape[0] != 1 or shape[1] != size or size % 8 or size > MAX_RESOLUTION:
            raise GankitError(
                f"metric 'digit-quality' scores square grey digit images of 8, 16, 24, ... {MAX_RESOLUTION} pixels "
                f"(--data digits, any --resolution of that kind); {context.description.name!r} yields {shape}"
            )
        net, self.accuracy = load_classifier()
        x_train, _, x_test, _ = _splits()
        if size != 8:
            # The real splits take the data source's own resize, so they are scored like the samples.
            x_train, x_test = resized(x_train, size), resized(x_test, size)
        target, _ = features(net, to_classifier(x_train))
        results: dict[str, float] = {"classifier_accuracy": self.accuracy}
        for label, images in (("", context.generate(self.config.samples)), ("real_", x_test)):
            feats, predicted = features(net, to_classifier(images.clamp(-1, 1)))
            classes, kl = class_stats(predicted)
            precision, recall = precision_recall(target, feats, self.config.k)
            results |= {
                f"{label}classes": classes,
                f"{label}class_kl": kl,
                f"{label}fd": frechet_distance(feats, target),
                f"{label}kid": kernel_inception_distance(feats, target),
                f"{label}precision": precision,
                f"{label}recall": recall,
            }
        return results
