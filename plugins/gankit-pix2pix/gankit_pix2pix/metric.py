"""``paired-l1``: how far a translator's outputs lie from the data's targets, the number pix2pix's L1 term
trains and its paper reports beside the FCN scores. ``gankit eval RUN --split test`` scores the held-out
pairs; the inputs' own distance to their targets is the reference a translation has to beat."""

from __future__ import annotations

from typing import Any

from gankit import EvalContext, GankitError, Metric


class PairedL1(Metric):
    version = "1"
    # input_l1 (the untranslated input's distance) is the data's own number: no direction.
    higher_is_better = {"l1": False}

    def __init__(self, config: Any):
        self.config = config

    def protocol(self) -> dict[str, Any]:
        return {
            "samples": f"the data set's first {self.config.samples} pairs (all of them when it has fewer)",
            "inputs": "each pair's source, translated in eval mode",
            "units": "mean absolute difference in pixel units [0, 1], over every pixel and channel",
        }

    def evaluate(self, context: EvalContext) -> dict[str, float]:
        tensors = context.dataset.field_tensors()
        fields = context.description.fields
        if tensors is None or not {"source", "target"} <= set(fields):
            raise GankitError(
                f"metric 'paired-l1' needs paired data with source and target fields (pix2pix-digits, "
                f"pix2pix-folder); {context.description.name!r} has {', '.join(fields)}"
            )
        count = min(self.config.samples, len(tensors["target"]))
        target = tensors["target"][:count].float()
        # generate() translates the data set's first `count` sources: row i is the translation of pair i.
        output = context.generate(count).float().clamp(-1, 1)
        values = {"l1": _l1(output, target)}
        if fields["source"].shape == fields["target"].shape:
            values["input_l1"] = _l1(tensors["source"][:count].float(), target)
        return values


def _l1(images: Any, target: Any) -> float:
    """Mean |images - target| in [0, 1] pixel units, for tensors in gankit's [-1, 1]."""
    return float((images - target).abs().mean()) / 2
