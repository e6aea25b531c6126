"""gankit: a plugin-based toolkit for training generative adversarial networks.

Importing this package does not import torch; the engine imports it when a run starts.
"""

from __future__ import annotations

import pluggy

from gankit.components import (
    Architecture,
    DataDescription,
    DataRequest,
    Dataset,
    EvalContext,
    Loss,
    Metric,
    PenaltyInputs,
    Regularizer,
    Scheme,
    TensorDataset,
    Tracker,
    TrackerContext,
)
from gankit.errors import GankitError

__version__ = "0.1.0"

#: Marks a plugin's hook implementations: ``@gankit.hookimpl``.
hookimpl = pluggy.HookimplMarker("gankit")

__all__ = [
    "Architecture",
    "DataDescription",
    "DataRequest",
    "Dataset",
    "EvalContext",
    "Metric",
    "GankitError",
    "Loss",
    "PenaltyInputs",
    "Regularizer",
    "Scheme",
    "TensorDataset",
    "Tracker",
    "TrackerContext",
    "hookimpl",
    "__version__",
]
