"""Bundled metrics: mode coverage on the toy sets, classifier-feature metrics on the digits (a small
classifier trained by gankit stands in for Inception), and FID/KID in Inception-v3 features from a
local weights file (the ``inception`` extra)."""

from __future__ import annotations

import attrs

from gankit import hookimpl
from gankit.limits import MAX_SAMPLES


@attrs.frozen
class ModeCoverageConfig:
    #: Generated samples scored (VEEGAN and PacGAN use 2,500).
    samples: int = attrs.field(default=2500, validator=[attrs.validators.gt(0), attrs.validators.le(MAX_SAMPLES)])
    #: A sample is high quality within this many standard deviations of its nearest mode.
    sigmas: float = attrs.field(default=3.0, validator=attrs.validators.gt(0))


@attrs.frozen
class DigitsMetricsConfig:
    #: Generated samples scored.
    samples: int = attrs.field(default=2000, validator=[attrs.validators.gt(1), attrs.validators.le(MAX_SAMPLES)])
    #: Neighbours for the precision/recall manifolds (Kynkäänniemi et al. 2019 use 3).
    k: int = attrs.field(default=3, validator=attrs.validators.gt(0))


@attrs.frozen
class InceptionConfig:
    #: Inception-v3 weights file (PyTorch state dict or .safetensors); unset: $GANKIT_INCEPTION_WEIGHTS.
    #: Never downloaded: torch-fidelity's weights-inception-2015-12-05-6726825d.pth is the usual file.
    weights: str | None = None
    #: Real and generated images scored, each (fewer real ones when the data set is smaller: then as
    #: many generated as real). FID is biased by the count: compare numbers of equal counts only.
    samples: int = attrs.field(default=10000, validator=[attrs.validators.gt(1), attrs.validators.le(MAX_SAMPLES)])
    #: KID is averaged over this many random subsets (Binkowski et al. 2018 and torch-fidelity: 100) ...
    kid_subsets: int = attrs.field(default=100, validator=attrs.validators.gt(0))
    #: ... of this many images from each set (at most ``samples``).
    kid_subset_size: int = attrs.field(default=1000, validator=attrs.validators.gt(1))
    #: Images per forward pass of Inception.
    batch_size: int = attrs.field(default=64, validator=attrs.validators.gt(0))


@hookimpl
def gankit_register_metrics(register):
    register(
        "modes",
        "gankit_builtins.metrics.mode_coverage:ModeCoverage",
        config=ModeCoverageConfig,
        summary="modes captured, % high-quality samples and mode KL (VEEGAN/PacGAN protocol; ring8, grid25)",
    )
    register(
        "digit-quality",
        "gankit_builtins.metrics.digits:DigitsMetrics",
        config=DigitsMetricsConfig,
        summary="class coverage and KL, Frechet distance, KID, precision/recall in a digits classifier's features",
    )
    register(
        "inception",
        "gankit_builtins.metrics.inception:InceptionMetric",
        config=InceptionConfig,
        summary="FID and KID in Inception-v3 features (torch-fidelity; weights from a local file; images)",
    )
