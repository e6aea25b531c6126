"""``domain-cycle-l1``: how much of an image survives a trip to another domain and back, StarGAN's
reconstruction term (Choi et al. 2018, eq. 4) measured on data the generator is given.

The data set's first images are grouped by their own domain vector; each group goes to every domain
vector the data holds (its own included) and back, ``G(G(x, c), c_x)``, and the mean absolute
difference to ``x`` ([-1, 1] units) is taken per (own domain, target domain) pair. Reported: the mean
over the pairs, each pair counting once, and the worst pair. ``gankit eval RUN --split test`` scores the
held-out images."""

from __future__ import annotations

from typing import Any

import torch
from gankit import EvalContext, GankitError, Metric

from gankit_stargan.scheme import attribute_field


class DomainCycleL1(Metric):
    version = "1"
    # pairs is the number of (own, target) domain pairs scored: no direction.
    higher_is_better = {"mean_l1": False, "worst_pair_l1": False}

    def __init__(self, config: Any):
        self.config = config

    def protocol(self) -> dict[str, Any]:
        return {
            "samples": f"the data set's first {self.config.samples} images (all when it has fewer)",
            "pairs": "every (own domain, target domain) pair of the domain vectors among them, own included",
            "units": "mean absolute difference of G(G(x, target), own) to x in [-1, 1] units",
        }

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        description = context.description
        tensors = context.dataset.field_tensors()
        try:
            domain_field = attribute_field(description)  # the scheme's own rule for the domain field
        except GankitError:
            domain_field = None
        if context.sample is None or tensors is None or domain_field is None:
            raise GankitError(
                f"metric 'domain-cycle-l1' needs a StarGAN run on images with one attributes field "
                f"(stargan-digits, stargan-folder); {description.name!r} has {', '.join(description.fields)}"
            )
        images = tensors[description.main][: self.config.samples].float()
        own = tensors[domain_field][: self.config.samples].float()
        vectors = torch.unique(own, dim=0)
        per_pair = []
        for source in vectors:
            group = images[(own == source).all(dim=1)]
            for target in vectors:
                there = context.sample(len(group), {"image": group, "target": target.tolist()})
                back = context.sample(len(group), {"image": there.clamp(-1, 1), "target": source.tolist()})
                per_pair.append(float((back.clamp(-1, 1) - group).abs().mean()))
        return {"mean_l1": sum(per_pair) / len(per_pair), "worst_pair_l1": max(per_pair), "pairs": len(per_pair)}
