"""gankit: a plugin-based toolkit for training generative adversarial networks.

Importing this package does not import torch; the engine imports it when a run starts.
"""

from __future__ import annotations

import pluggy

from gankit.components import (
    Architecture,
    EvalContext,
    GeneratorPenaltyInputs,
    Loss,
    Metric,
    NetworkRequest,
    PenaltyInputs,
    Regularizer,
    Scheme,
    Tracker,
    TrackerContext,
    UnsupportedRequest,
)
from gankit.data import DataDescription, DataRequest, Dataset, Field, TensorDataset
from gankit.errors import GankitDeprecationWarning, GankitError
from gankit.inputs import Attributes, FromData, Label, Noise, Option

__version__ = "0.2.0"

#: Marks a plugin's hook implementations: ``@gankit.hookimpl``.
hookimpl = pluggy.HookimplMarker("gankit")

__all__ = [
    "Architecture",
    "Attributes",
    "Field",
    "FromData",
    "GeneratorPenaltyInputs",
    "Label",
    "NetworkRequest",
    "Noise",
    "Option",
    "UnsupportedRequest",
    "DataDescription",
    "DataRequest",
    "Dataset",
    "EvalContext",
    "Metric",
    "GankitError",
    "GankitDeprecationWarning",
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
