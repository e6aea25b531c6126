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


def load(target: str, device: str = "cpu"):
    """A trained model from a run folder (its latest checkpoint), a checkpoint file, or a model folder
    written by ``gankit export`` (offline, nothing pickled), weights loaded.

    ``model.sample(64, seed=0)`` draws samples in ``[-1, 1]`` (``given={"label": 7}`` fixes an input,
    ``model.inputs`` lists them); ``model.generator`` is the generator module (its EMA when the run
    kept one); ``model.description.to_data_units(x)`` maps samples to the data's own units.
    """
    from gankit.engine.devices import choose_device
    from gankit.engine.model import load_model

    return load_model(target, choose_device(device))[0]

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
    "load",
    "__version__",
]
