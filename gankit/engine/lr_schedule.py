"""Learning-rate schedules: a factor on each optimizer's base rate, a function of the iteration alone,
so a resumed run follows the same curve as an uninterrupted one with nothing extra in the checkpoint."""

from __future__ import annotations

import math

#: ``constant`` keeps the base rates; ``linear`` and ``cosine`` decay them towards 0 at the last step,
#: starting at ``lr_decay_start`` (a fraction of the run).
LR_SCHEDULES = ("constant", "linear", "cosine")


def lr_factor(schedule: str, decay_start: float, step: int, total_steps: int) -> float:
    """The base rates' multiplier for iteration ``step`` (0-based) of ``total_steps``."""
    if schedule == "constant":
        return 1.0
    progress = max(0.0, (step / total_steps - decay_start) / (1.0 - decay_start))
    if schedule == "linear":
        return 1.0 - progress
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    raise ValueError(f"unknown lr schedule {schedule!r}; choose from: {', '.join(LR_SCHEDULES)}")
