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

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import shutil
import tempfile
import warnings
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


# --- writing --------------------------------------------------------------------------------------------


def export(
    target: str, output: str | Path, formats: tuple[str, ...] = ("folder",), force: bool = False
) -> dict[str, Any]:
    """Write the model folder of a run (or checkpoint) to ``output``, with the deployment ``formats``.

    Everything is written to a temporary folder beside ``output`` and renamed into place, so an error
    leaves no half folder. Returns a report: ``{"folder", "files": {name: bytes}, "checks": {...}}``.
    """
    import torch

    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise GankitError(f"unknown export format {unknown[0]!r}; choose from: {', '.join(FORMATS)}")
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise GankitError(f"-o {str(out)!r} is a file; give a folder to write the model into")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise GankitError(f"-o {str(out)!r} is not empty; choose a new folder or pass --force to replace it")

    from gankit.engine.model import load_model

    model, state, path = load_model(target, torch.device("cpu"))
    nets = generation_networks(model)
    step = int(state.counters.get("step", 0))
    config = _config(model, state.config, step, Path(str(path)).name, nets)
    run_folder = _run_folder(target, path)

    out.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    report: dict[str, Any] = {"folder": str(out), "files": {}, "checks": {}}
    try:
        _write_weights(temp / WEIGHTS_NAME, nets, config)
        for fmt in formats:
            if fmt != "folder":
                write_graph(fmt, model, nets, temp, report)
        written = {f for f in formats if f in GRAPH_FILES} | ({"onnx"} if "onnx-int8" in formats else set())
        config["exported"] = {fmt: GRAPH_FILES[fmt] for fmt in FORMATS if fmt in written}
        config["picture"] = PICTURE_NAME if _write_picture(model, state, temp / PICTURE_NAME) else None
        (temp / CONFIG_NAME).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        (temp / CARD_NAME).write_text(model_card(config, run_folder, report, out.name))
        for file in sorted(temp.iterdir()):
            report["files"][file.name] = file.stat().st_size
        _replace(temp, out)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return report


def _write_picture(model: Any, state: Any, path: Path) -> bool:
    """A grid of 64 samples (seed 0) for the model card; a translator whose data cannot be loaded gets none."""
    from gankit.engine import generation
    from gankit.engine.model import load_dataset
    from gankit.images import save_samples

    def data(field: str, count: int) -> Any:
        return load_dataset(state.config).take(field, count)

    try:
        values = model.fill_inputs(64, 0, from_data=data)
        samples = model.generate_all(values, 64)
        columns = generation.grid_columns(model.inputs, len(samples))
        save_samples(
            samples, model.description, path, columns=columns, inputs=generation.image_input(model.inputs, values)
        )
    except (GankitError, OSError):
        return False
    return True


def _run_folder(target: str, checkpoint_path: Any) -> Path | None:
    path = Path(target)
    if path.is_dir():
        return path
    parent = Path(str(checkpoint_path)).parent
    return parent.parent if parent.name == "checkpoints" else None


def _write_weights(path: Path, nets: dict[str, Any], config: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    tensors = {
        f"{name}/{key}": value.detach().contiguous().clone()
        for name, net in nets.items()
        for key, value in net.state_dict().items()
    }
    save_file(tensors, str(path), metadata={"format": MODEL_FORMAT, "networks": json.dumps(sorted(nets))})


def _replace(temp: Path, out: Path) -> None:
    """Move the finished folder into place (replacing an old one only now that the new one is whole)."""
    mask = _umask()
    for file in temp.iterdir():
        os.chmod(file, 0o666 & ~mask)
    os.chmod(temp, 0o777 & ~mask)
    if out.exists():
        old = out.with_name(f".{out.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
        temp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        temp.rename(out)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# --- deployment graphs ----------------------------------------------------------------------------------


def tensor_inputs(model: Any) -> list[str]:
    """The generation inputs that become graph inputs (everything but options)."""
    from gankit.inputs import Option

    return [name for name, kind in model.inputs.items() if not isinstance(kind, Option)]


def example_inputs(model: Any, count: int, seed: int = 0) -> dict[str, Any]:
    """Filled generation inputs for ``count`` samples (images from data are seeded noise in [-1, 1])."""
    import torch

    from gankit.inputs import FromData

    def images(field: str, n: int) -> torch.Tensor:
        shape = model.description.field(field).shape
        return torch.rand((n, *shape), generator=torch.Generator().manual_seed(seed + 1)) * 2 - 1

    has_images = any(isinstance(kind, FromData) for kind in model.inputs.values())
    values = model.fill_inputs(count, seed, from_data=images if has_images else None)
    # Noise is drawn in blocks and sliced: clone, so a tensor holds only its own samples.
    return {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in values.items()}


def graph_module(model: Any, nets: dict[str, Any]) -> Any:
    """The module that is exported: what the scheme's ``generation_graph(nets, options)`` returns when
    it declares one, else :func:`generate_module`."""
    from torch import nn

    from gankit.inputs import Option

    declare = getattr(model.scheme, "generation_graph", None)
    if not callable(declare):
        return generate_module(model, nets)
    options = {name: kind.default for name, kind in model.inputs.items() if isinstance(kind, Option)}
    module = declare(dict(nets), options)
    if not isinstance(module, nn.Module):
        raise GankitError(
            f"scheme {type(model.scheme).__name__}.generation_graph returned a {type(module).__name__}, "
            "not a torch.nn.Module taking the tensor generation inputs"
        )
    return _Positional(module).eval()


def _positional_class() -> Any:
    from torch import nn

    class Positional(nn.Module):
        """Takes the tensor inputs as ``*tensors`` (one dynamic-shape entry for them all), as the default does."""

        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *tensors: Any) -> Any:
            return self.inner(*tensors).float()

    return Positional


def _Positional(inner: Any) -> Any:  # noqa: N802 (a class, built when torch is imported)
    return _positional_class()(inner)


def generate_module(model: Any, nets: dict[str, Any]) -> Any:
    """``scheme.generate`` as a module whose positional inputs are the tensor generation inputs."""
    import torch
    from torch import nn

    from gankit.inputs import Option

    names = tensor_inputs(model)
    options = {name: kind.default for name, kind in model.inputs.items() if isinstance(kind, Option)}
    scheme = model.scheme

    class Generate(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.nets = nn.ModuleDict(nets)

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            inputs = dict(zip(names, tensors)) | options
            return scheme.generate(dict(self.nets.items()), inputs).float()

    return Generate().eval()


def _why(exc: BaseException) -> str:
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= 200 else text[:197] + "..."


def write_graph(fmt: str, model: Any, nets: dict[str, Any], folder: Path, report: dict[str, Any]) -> None:
    """Write the ``fmt`` graph into ``folder`` and check it against the eager networks; a model that
    cannot be exported raises a one-line :class:`GankitError` saying why."""
    import torch

    names = tensor_inputs(model)
    if not names:
        raise GankitError(f"cannot export --format {fmt}: the scheme's generation takes no tensor inputs")
    module = graph_module(model, nets)
    reference = generate_module(model, nets)  # the checks compare with the scheme's own generate
    example = example_inputs(model, 2)
    args = tuple(example[name] for name in names)
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    shapes = (tuple({0: batch} for _ in names),)  # one entry: forward(*tensors)
    where = f"cannot export {model_name(model)} as --format {fmt}"
    if fmt == "pt2":
        try:
            with torch.no_grad():
                program = torch.export.export(module, args, dynamic_shapes=shapes, strict=False)
            program._example_inputs = None  # else saved with torch.save (a pickle); the graph needs none
            torch.export.save(program, str(folder / GRAPH_FILES[fmt]))
        except GankitError:
            raise
        except Exception as exc:  # torch.export raises many kinds of errors for untraceable code
            raise GankitError(f"{where}: torch.export failed: {_why(exc)}") from None
        report["checks"]["pt2"] = check_pt2(folder / GRAPH_FILES[fmt], model, reference)
        _require_close(report["checks"]["pt2"], where)
        return
    _need_onnx(fmt)
    onnx_path = folder / GRAPH_FILES["onnx"]
    if not onnx_path.exists():
        try:
            with (
                torch.no_grad(),
                open(os.devnull, "w") as quiet,
                contextlib.redirect_stdout(quiet),
                warnings.catch_warnings(),
            ):
                warnings.simplefilter("ignore")  # the exporter's notes on axis names and opsets
                torch.onnx.export(
                    module,
                    args,
                    str(onnx_path),
                    input_names=names,
                    output_names=["samples"],
                    dynamic_shapes=shapes,
                    opset_version=OPSET,
                    dynamo=True,
                    external_data=False,
                    verbose=False,
                )
        except GankitError:
            raise
        except Exception as exc:
            raise GankitError(f"{where}: the ONNX exporter failed: {_why(exc)}") from None
        report["checks"]["onnx"] = check_onnx(onnx_path, model, reference)
        _require_close(report["checks"]["onnx"], where)
    if fmt == "onnx-int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        int8 = folder / GRAPH_FILES["onnx-int8"]
        try:
            logging.disable(logging.WARNING)  # its advice to pre-process, printed on every call
            quantize_dynamic(str(onnx_path), str(int8), weight_type=QuantType.QInt8)
        except Exception as exc:
            raise GankitError(f"{where}: onnxruntime could not quantize it: {_why(exc)}") from None
        finally:
            logging.disable(logging.NOTSET)
        check = check_onnx(int8, model, reference)
        check["size_ratio"] = int8.stat().st_size / onnx_path.stat().st_size
        report["checks"]["onnx-int8"] = check


#: The largest max abs difference a float32 graph may have to the eager generator.
TOLERANCE = 1e-4


def _require_close(check: dict[str, Any], where: str) -> None:
    worst = max(check["max_abs_diff"].items(), key=lambda item: item[1])
    if not worst[1] <= TOLERANCE:  # NaN fails too
        raise GankitError(
            f"{where}: the exported graph differs from the scheme's generate by {worst[1]:.3g} at batch size "
            f"{worst[0]} (at most {TOLERANCE:g} is accepted)"
        )


def model_name(model: Any) -> str:
    return f"{type(model.scheme).__name__} model"


def _need_onnx(fmt: str) -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise GankitError(
            f"--format {fmt} needs the optional packages onnx, onnxscript and onnxruntime ({exc.name} is missing): "
            "pip install 'gankit[export]'"
        ) from None


#: Batch sizes every exported graph is checked at, from one export.
CHECK_BATCHES = (1, 7, 64)


def _eager(module: Any, args: tuple) -> Any:
    import torch

    with torch.no_grad():
        return module(*args)


def check_onnx(path: Path, model: Any, module: Any) -> dict[str, Any]:
    """Max abs difference between onnxruntime and the eager generator at :data:`CHECK_BATCHES`."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = tensor_inputs(model)
    diffs = {}
    for count in CHECK_BATCHES:
        values = example_inputs(model, count, seed=count)
        args = tuple(values[n] for n in names)
        expected = _eager(module, args)
        (got,) = session.run(None, {n: a.numpy() for n, a in zip(names, args)})
        diffs[str(count)] = float(abs(got - expected.numpy()).max())
    return {"max_abs_diff": diffs}


def check_pt2(path: Path, model: Any, module: Any) -> dict[str, Any]:
    """Max abs difference between the saved ``.pt2`` program (loaded back) and the eager generator."""
    import torch

    program = torch.export.load(str(path)).module()
    names = tensor_inputs(model)
    diffs = {}
    for count in CHECK_BATCHES:
        values = example_inputs(model, count, seed=count)
        args = tuple(values[n] for n in names)
        with torch.no_grad():
            got = program(*args)
        diffs[str(count)] = float((got - _eager(module, args)).abs().max())
    return {"max_abs_diff": diffs}


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
        raise GankitError(f"{str(weights)!r} is not a valid safetensors file: {_why(exc)}") from None
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


# --- the model card ---------------------------------------------------------------------------------------


def model_card(config: dict[str, Any], run_folder: Path | None, report: dict[str, Any], name: str) -> str:
    run = config["run"]
    lines = [
        f"# gankit model: {run.get('scheme')} {run.get('arch')} on {config['data_description'].get('name')}",
        "",
        f"Exported by gankit {config['gankit_version']} from `{config['source']}` (step {config['step']}).",
        "",
        "## How it was trained",
        "",
        f"- steps: {config['step']}, batch size {run.get('batch_size')}, z_dim {run.get('z_dim')}, seed {run.get('seed')}",
        f"- optimizer {run.get('optimizer')} (lr_g {run.get('lr_g')}, lr_d {run.get('lr_d')}, betas {run.get('betas')}), "
        f"n_critic {run.get('n_critic')}, EMA {run.get('ema')}",
        "",
        "| component | kind | plugin | options |",
        "|---|---|---|---|",
    ]
    for comp, c in sorted(config["components"].items()):
        options = ", ".join(f"{k}={v}" for k, v in sorted((c.get("options") or {}).items())) or "-"
        lines.append(f"| {comp} | {c.get('kind')} | {c.get('plugin')} | {options} |")
    if config.get("picture"):
        lines += ["", "## Samples", "", f"![64 samples, seed 0]({config['picture']})"]
    lines += ["", "## Generation inputs", ""]
    for input_name, spec in config["inputs"].items():
        fields = ", ".join(f"{k}={v}" for k, v in spec.items() if k != "type")
        lines.append(f"- `{input_name}`: {spec['type']} ({fields})")
    lines += [
        "",
        f"Samples are in [-1, 1]; the data's own units are {config['data_value_range']} "
        "(`model.description.to_data_units(x)`).",
        "",
        "## Evaluation",
        "",
    ]
    evaluation = None
    if run_folder is not None and (run_folder / "eval.json").is_file():
        with contextlib.suppress(OSError, ValueError):
            evaluation = json.loads((run_folder / "eval.json").read_text())
    if evaluation is None:
        lines.append("No `gankit eval` results were found in the run folder.")
    else:
        lines += [
            "From the run's eval.json:",
            "",
            "```json",
            json.dumps(evaluation, indent=2, sort_keys=True)[:4000],
            "```",
        ]
    lines += ["", "## Files", ""]
    lines.append(f"- `{CONFIG_NAME}`: the run config, data description, generation inputs and plugins")
    lines.append(
        f"- `{WEIGHTS_NAME}`: networks {', '.join(config['networks'])} (EMA weights where kept, spectral norm folded)"
    )
    for fmt, file in config.get("exported", {}).items():
        check = report["checks"].get(fmt, {})
        lines.append(f"- `{file}`: {fmt}, dynamic batch axis; max abs difference to eager {check.get('max_abs_diff')}")
    lines += [
        "",
        "## How to load it",
        "",
        "```python",
        "import gankit",
        "",
        f'model = gankit.load("{name}")',
        "samples = model.sample(64, seed=0)  # in [-1, 1]",
        "```",
        "",
        f"or `gankit sample {name} -n 64 -o samples.png`. The graphs take the tensor generation inputs "
        f"({', '.join(n for n, s in config['inputs'].items() if s['type'] != 'Option')}) with any batch size; "
        "options are baked in at their defaults.",
        "",
    ]
    return "\n".join(lines)
