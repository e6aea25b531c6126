"""Exporting a trained run: a self-contained model folder, and deployment graphs (ONNX, ``torch.export``).

A **model folder** holds ``config.json`` (the resolved run config, the data description, the generation
inputs, the value range, the gankit version and the plugins that provide the components),
``model.safetensors`` (the networks the scheme's ``generate`` uses: the EMA copies where the run kept
them, parametrizations such as spectral norm folded into plain weights) and a ``README.md`` model card.
:func:`gankit.load` and ``gankit sample`` take it wherever they take a run folder. Nothing is pickled.

The deployment graphs are the scheme's ``generate`` traced with its tensor inputs (noise, labels,
attribute flags, images) as graph inputs with a dynamic batch axis; options (a truncation psi) are baked
in at their defaults.
"""

from gankit.export.folder import (
    CARD_NAME,
    CONFIG_NAME,
    FORMATS,
    GRAPH_FILES,
    MODEL_FORMAT,
    PICTURE_NAME,
    WEIGHTS_NAME,
    fold_parametrizations,
    generation_networks,
    input_to_dict,
    is_model_folder,
    load_folder,
    read_config,
)
from gankit.export.graphs import example_inputs, generate_module, graph_module, tensor_inputs, write_graph
from gankit.export.writing import export

__all__ = [
    "CARD_NAME",
    "CONFIG_NAME",
    "FORMATS",
    "GRAPH_FILES",
    "MODEL_FORMAT",
    "PICTURE_NAME",
    "WEIGHTS_NAME",
    "example_inputs",
    "export",
    "fold_parametrizations",
    "generate_module",
    "generation_networks",
    "graph_module",
    "input_to_dict",
    "is_model_folder",
    "load_folder",
    "read_config",
    "tensor_inputs",
    "write_graph",
]
