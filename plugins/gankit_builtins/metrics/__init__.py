"""Bundled metrics that run offline: mode coverage on the toy sets, and classifier-feature metrics
on the digits (a small classifier trained by gankit stands in for Inception)."""

from __future__ import annotations

import attrs

from gankit import hookimpl


@attrs.frozen
class ModeCoverageConfig:
    #: Generated samples scored (VEEGAN and PacGAN use 2,500).
    samples: int = attrs.field(default=2500, validator=attrs.validators.gt(0))
    #: A sample is high quality within this many standard deviations of its nearest mode.
    sigmas: float = attrs.field(default=3.0, validator=attrs.validators.gt(0))


@attrs.frozen
class DigitsMetricsConfig:
    #: Generated samples scored.
    samples: int = attrs.field(default=2000, validator=attrs.validators.gt(1))
    #: Neighbours for the precision/recall manifolds (Kynkäänniemi et al. 2019 use 3).
    k: int = attrs.field(default=3, validator=attrs.validators.gt(0))


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
