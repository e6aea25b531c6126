"""Building a run's networks, where sizes come from a user's config or a stranger's checkpoint."""

from __future__ import annotations

from typing import Any

import torch

from gankit.components import DataDescription
from gankit.engine.model import Model
from gankit.errors import GankitError
from gankit.resolve import ResolvedRun


def build_model(run: ResolvedRun, device: torch.device, description: DataDescription, where: str) -> Model:
    """:class:`Model`, or a one-line error when the sizes ``where`` asks for cannot be built.

    Layer widths are validated as positive integers, but nothing bounds their product: a width of
    1e11 passes every check and then fails in the allocator.
    """
    try:
        return Model(run, device, description)
    except (RuntimeError, MemoryError, ValueError, TypeError, OverflowError) as exc:
        raise GankitError(f"{where} asks for networks that cannot be built: {_first_line(exc)}") from None


def _first_line(exc: Any) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= 300 else text[:297] + "..."
