"""Mode coverage on Gaussian mixtures, by the protocol of VEEGAN (Srivastava et al. 2017) and PacGAN
(Lin et al. 2018): a sample is high quality when it lies within ``sigmas`` standard deviations of its
nearest mode; a mode is captured when it is the nearest mode of at least one high-quality sample."""

from __future__ import annotations

import math
from typing import Any

import torch

from gankit import EvalContext, GankitError, Metric


class ModeCoverage(Metric):
    version = "1"
    # modes_total is the data's own count: no direction.
    higher_is_better = {"modes": True, "high_quality_pct": True, "mode_kl": False}

    def __init__(self, config: Any):
        self.config = config

    def protocol(self) -> dict[str, Any]:
        return {"samples": self.config.samples, "high_quality_within_sigmas": self.config.sigmas}

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        modes = getattr(context.dataset, "modes", None)
        std = getattr(context.dataset, "std", None)
        if modes is None or std is None:
            raise GankitError(
                f"metric 'modes' needs a data set with known modes (ring8, grid25); {context.description.name!r} has none"
            )
        samples = context.description.to_data_units(context.generate(self.config.samples)).double().cpu()
        return score_modes(samples, modes.double(), std, self.config.sigmas)


def score_modes(samples: torch.Tensor, modes: torch.Tensor, std: float, sigmas: float) -> dict[str, float]:
    distance, nearest = torch.cdist(samples, modes).min(dim=1)
    good = distance < sigmas * std
    counts = torch.bincount(nearest[good], minlength=len(modes)).double()
    # KL(histogram of high-quality samples over modes || uniform); 0 is a perfect spread.
    if counts.sum() > 0:
        p = counts / counts.sum()
        kl = float((p[p > 0] * (p[p > 0] * len(modes)).log()).sum())
    else:
        kl = math.log(len(modes))  # no high-quality sample: as far from uniform as one mode
    return {
        "modes": int((counts > 0).sum()),
        "modes_total": len(modes),
        "high_quality_pct": 100.0 * float(good.double().mean()),
        "mode_kl": kl,
    }
