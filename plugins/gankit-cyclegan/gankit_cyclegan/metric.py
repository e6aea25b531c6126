"""``cycle-l1``: how well each translator undoes the other, the cycle consistency CycleGAN trains for.

The data set's first images of each domain go there and back (a -> b -> a with ``g_ab`` then ``g_ba``,
b -> a -> b the other way round), and the reconstruction's mean absolute difference to the original is
reported in gankit's [-1, 1] units, as the CycleGAN paper's cycle loss measures it. ``gankit eval RUN
--split test`` scores the held-out images."""

from __future__ import annotations

from typing import Any

from gankit import EvalContext, GankitError, Metric

#: Each reported number: its key, the domain its images come from, and the directions there and back.
CYCLES = (("cycle_l1_aba", "a", "ab", "ba"), ("cycle_l1_bab", "b", "ba", "ab"))


class CycleL1(Metric):
    version = "1"
    higher_is_better = {"cycle_l1_aba": False, "cycle_l1_bab": False}

    def __init__(self, config: Any):
        self.config = config

    def protocol(self) -> dict[str, Any]:
        return {
            "samples": f"the data set's first {self.config.samples} images of each domain (all when it has fewer)",
            "cycle": "a -> b -> a through g_ab then g_ba, b -> a -> b through g_ba then g_ab, in eval mode",
            "units": "mean absolute difference to the original in [-1, 1] units",
        }

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        tensors = context.dataset.field_tensors()
        if context.sample is None or tensors is None or not {"a", "b"} <= set(tensors):
            raise GankitError(
                f"metric 'cycle-l1' needs a CycleGAN run on unpaired data with fields a and b (cyclegan-digits, "
                f"cyclegan-folder); {context.description.name!r} has {', '.join(context.description.fields)}"
            )
        values = {}
        for key, domain, there, back in CYCLES:
            original = tensors[domain][: self.config.samples].float()
            translated = context.sample(len(original), {"image": original, "direction": there})
            restored = context.sample(len(original), {"image": translated.clamp(-1, 1), "direction": back})
            values[key] = float((restored.clamp(-1, 1) - original).abs().mean())
        return values
