"""Deployment graphs: the scheme's ``generate`` traced to ONNX (and int8) or ``torch.export``, each
checked against the eager networks."""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from pathlib import Path
from typing import Any

from gankit.errors import GankitError
from gankit.export.folder import GRAPH_FILES, MAX_BATCH, OPSET, why

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
            raise GankitError(f"{where}: torch.export failed: {why(exc)}") from None
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
            raise GankitError(f"{where}: the ONNX exporter failed: {why(exc)}") from None
        report["checks"]["onnx"] = check_onnx(onnx_path, model, reference)
        _require_close(report["checks"]["onnx"], where)
    if fmt == "onnx-int8":
        from onnxruntime.quantization import QuantType, quantize_dynamic

        int8 = folder / GRAPH_FILES["onnx-int8"]
        try:
            logging.disable(logging.WARNING)  # its advice to pre-process, printed on every call
            quantize_dynamic(str(onnx_path), str(int8), weight_type=QuantType.QInt8)
        except Exception as exc:
            raise GankitError(f"{where}: onnxruntime could not quantize it: {why(exc)}") from None
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
