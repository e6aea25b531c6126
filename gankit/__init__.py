"""gankit: a plugin-based toolkit for training generative adversarial networks.

Importing this package does not import torch; the engine imports it when a run starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:  # only for the annotation: importing the engine would import torch
    from gankit.engine.model import Model

__version__ = "0.2.4"

#: Marks a plugin's hook implementations (pluggy's ``HookimplMarker`` for gankit's hooks): ``@gankit.hookimpl``
#: above each ``gankit_register_*`` function of the module that the plugin's entry point names.
hookimpl = pluggy.HookimplMarker("gankit")


def load(target: str, device: str = "cpu") -> Model:
    """Load a trained generator from a run folder, a checkpoint file or a model folder, weights in place.

    Only safetensors and JSON are read (nothing is unpickled) and nothing is downloaded. The
    components the run used must be installed (the plugins that registered them); the data set is not
    needed. The same seed gives the same samples on every call.

    Args:
        target: A run folder (``runs/NAME``: its latest checkpoint), one checkpoint file
            (``runs/NAME/checkpoints/step-000500.safetensors``), or a model folder that
            ``gankit export`` wrote.
        device: Where the networks live: ``"cpu"`` (the default), ``"cuda"``, ``"cuda:N"``, or
            ``"auto"`` (CUDA when present).

    Returns:
        The model. ``model.sample(n, seed=0)`` draws ``n``
        samples in ``[-1, 1]`` on the CPU (``given={"label": 7}`` fixes a generation input;
        ``model.inputs`` lists them); ``model.generator`` is the generator ``torch.nn.Module`` (its
        EMA copy when the run kept one); ``model.description.to_data_units(x)`` maps samples to the
        data's own units (pixels in ``[0, 1]``).

    Raises:
        GankitError: The target is missing, is not a gankit run or model folder, is damaged, or
            needs a component that no installed plugin registers; the message says which.

    Example:
        ```python
        import gankit

        model = gankit.load("runs/digits-mlp-bce-20261126-201604")
        images = model.sample(16, seed=0)  # a (16, 1, 8, 8) float tensor in [-1, 1]
        pixels = model.description.to_data_units(images)  # in [0, 1]
        generator = model.generator  # the torch.nn.Module, e.g. to export or fine-tune

        conditional = gankit.load("runs/cond")  # trained with --scheme conditional
        sevens = conditional.sample(16, seed=0, given={"label": 7})
        ```
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
