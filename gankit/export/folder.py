"""What a model folder is and holds, and reading one back (:func:`gankit.load` takes it)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import attrs

from gankit.errors import GankitError

#: What ``config.json`` says it is.
MODEL_FORMAT = "gankit-model/1"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
PICTURE_NAME = "samples.png"
#: ``--format`` choices; ``folder`` is always written, the others add a file to it.
FORMATS = ("folder", "onnx", "pt2", "onnx-int8")
GRAPH_FILES = {"onnx": "generator.onnx", "pt2": "generator.pt2", "onnx-int8": "generator.int8.onnx"}
#: ONNX opset of the exported graphs.
OPSET = 18
#: The largest batch the exported graphs are declared for.
MAX_BATCH = 1_000_000


def is_model_folder(target: str | Path) -> bool:
    """Whether ``target`` is a folder that ``gankit export`` wrote (it has config.json and model.safetensors)."""
    path = Path(target)
    try:
        return path.is_dir() and (path / CONFIG_NAME).is_file() and (path / WEIGHTS_NAME).is_file()
    except OSError:
        return False


# --- what a model folder holds -------------------------------------------------------------------------


def input_to_dict(kind: Any) -> dict[str, Any]:
    """A generation input (:mod:`gankit.inputs`) as JSON: ``{"type": "Noise", "shape": [64]}``."""
    values = attrs.asdict(kind)
    for key, value in values.items():
        if isinstance(value, tuple):
            values[key] = list(value)
    return {"type": type(kind).__name__, **values}


def generation_networks(model: Any) -> dict[str, Any]:
    """The networks ``model.generate`` uses (EMA copies where kept, no discriminators), copied, in eval
    mode, on the CPU, with every parametrization (spectral norm) folded into a plain weight."""
    import torch

    used = dict(model.nets) | {name: ema.shadow for name, ema in model.ema.items()}
    nets = {}
    with torch.no_grad():
        for name, net in used.items():
            if model.roles.get(name) == "discriminator":
                continue
            copied = copy.deepcopy(net).eval().cpu()
            fold_parametrizations(copied)
            nets[name] = copied.to(memory_format=torch.contiguous_format)
    return nets


def fold_parametrizations(net: Any) -> None:
    """Replace each parametrized tensor by its current value (in the module's current mode), in ``net`` only."""
    import torch
    from torch.nn.utils import parametrize

    with torch.no_grad():
        for module in list(net.modules()):
            if parametrize.is_parametrized(module):
                # A deep copy shares its parametrized class (which holds the properties) with the original:
                # give it a class of its own, so that removing them leaves the original working.
                cls = module.__class__
                own = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
                module.__class__ = type(cls.__name__, cls.__bases__, own)
                for tensor_name in list(module.parametrizations.keys()):
                    parametrize.remove_parametrizations(module, tensor_name, leave_parametrized=True)


def _plugins(saved: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {name: {"kind": c.get("kind"), "plugin": c.get("plugin")} for name, c in saved["components"].items()}


def _config(model: Any, saved: dict[str, Any], step: int, source: str, nets: dict[str, Any]) -> dict[str, Any]:
    from gankit import __version__

    return {
        "format": MODEL_FORMAT,
        "gankit_version": __version__,
        "run": saved["run"],
        "components": saved["components"],
        "data_description": model.description.to_dict(),
        "inputs": {name: input_to_dict(kind) for name, kind in model.inputs.items()},
        "value_range": [-1.0, 1.0],
        "data_value_range": list(model.description.value_range),
        "networks": sorted(nets),
        "plugins": _plugins(saved),
        "step": step,
        "source": source,
        "ema": bool(model.ema),
    }


# --- reading --------------------------------------------------------------------------------------------


def read_config(folder: Path) -> dict[str, Any]:
    from gankit import safe_files

    path = folder / CONFIG_NAME
    raw = safe_files.read_bounded(path, "model config", safe_files.MAX_TEXT_BYTES)
    try:
        config = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise GankitError(f"{str(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(config, dict) or config.get("format") != MODEL_FORMAT:
        got = config.get("format") if isinstance(config, dict) else None
        raise GankitError(f"{str(path)!r} is not a gankit model config (format {got!r}, expected {MODEL_FORMAT!r})")
    if not all(isinstance(config.get(k), dict) for k in ("run", "components", "data_description")):
        raise GankitError(f"{str(path)!r} is damaged: it needs the sections run, components and data_description")
    from gankit.config import saved_config

    return saved_config(config, f"model config {str(path)!r}")


def load_folder(folder: str | Path, device: Any) -> tuple[Any, Any, Path]:
    """A model folder as :func:`gankit.engine.model.load_model` returns a run: ``(model, state, path)``.

    ``model`` has only the generating networks (EMA weights in ``model.nets``, no separate EMA);
    ``state`` is a :class:`gankit.checkpoint.TrainingState` with the config and step, and no optimizers.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load as load_bytes

    from gankit import checkpoint, safe_files
    from gankit.components import DataDescription
    from gankit.engine.build import build_model
    from gankit.engine.model import _base
    from gankit.plugins import registry
    from gankit.resolve import resolve

    folder = Path(folder)
    config = read_config(folder)
    weights = folder / WEIGHTS_NAME
    raw = safe_files.read_bounded(weights, "model weights", safe_files.MAX_CHECKPOINT_BYTES)
    try:
        tensors = load_bytes(raw)
    except (SafetensorError, ValueError, RuntimeError, OverflowError) as exc:
        raise GankitError(f"{str(weights)!r} is not a valid safetensors file: {why(exc)}") from None
    networks: dict[str, dict[str, Any]] = {}
    for key, value in tensors.items():
        name, _, param = key.partition("/")
        networks.setdefault(name, {})[param] = value
    run = resolve(registry(), base=_base(config))
    try:
        description = DataDescription.from_dict(config["data_description"])
    except (TypeError, ValueError, AttributeError) as exc:
        raise GankitError(f"model folder {str(folder)!r} has a damaged data description: {exc}") from None
    where = f"model folder {str(folder)!r}"
    model = build_model(run, device, description, where)
    keep = {name: net for name, net in model.nets.items() if name in networks}
    for net in keep.values():
        net.eval()
        fold_parametrizations(net)
    model.nets = keep
    model.ema = {}
    model.roles = {name: role for name, role in model.roles.items() if name in keep}
    model.discriminators = ()
    counters = {"step": int(config.get("step", 0)), "d_steps": 0}
    state = checkpoint.TrainingState(
        {k: config[k] for k in ("run", "components", "data_description")}, counters, networks, {}, {}, {}, {}
    )
    model.load_weights(state, where)
    return model, state, folder


def why(exc: BaseException) -> str:
    """An exception in one line of at most 200 characters."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= 200 else text[:197] + "..."
