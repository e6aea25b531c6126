"""``gankit export``: a run's model folder, written beside its destination and renamed into place."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gankit import safe_files
from gankit.errors import GankitError
from gankit.export import graphs
from gankit.export.card import model_card
from gankit.export.folder import (
    CARD_NAME,
    CONFIG_NAME,
    FORMATS,
    GRAPH_FILES,
    MODEL_FORMAT,
    PICTURE_NAME,
    WEIGHTS_NAME,
    _config,
    generation_networks,
)

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
                graphs.write_graph(fmt, model, nets, temp, report)
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
    from gankit.engine.model import data_samples
    from gankit.images import save_samples

    data = data_samples(state.config)
    try:
        values = model.fill_inputs(64, 0, from_data=data)
        samples = model.generate_all(values, 64)
        columns = generation.grid_columns(model.inputs, len(samples))
        target = generation.paired_target(model.inputs)
        save_samples(
            samples,
            model.description,
            path,
            columns=columns,
            inputs=generation.image_input(model.inputs, values),
            targets=data(target, len(samples)) if target else None,
            row_labels=generation.row_names(model.inputs),
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
    mask = safe_files.umask()
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
