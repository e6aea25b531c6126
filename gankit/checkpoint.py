"""Checkpoints: the whole training state in one safetensors file, written atomically, never pickled.

Tensors (networks, EMA, optimizer states, RNG states, the data stream's generator) are stored under
prefixed names; everything else (resolved config, counters, optimizer hyper-parameters, the grad
scaler) is JSON in the file's string metadata. Loading validates the file completely before the
caller applies any of it, so a bad file never half-changes a run.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import torch

from gankit import safe_files
from gankit.config import saved_config
from gankit.errors import GankitError
from gankit.safe_files import read_bounded, shown

FORMAT = "gankit-checkpoint/2"


@attrs.define
class TrainingState:
    """Everything a checkpoint holds, in memory."""

    config: dict[str, Any]
    counters: dict[str, Any]
    networks: dict[str, dict[str, torch.Tensor]]
    ema: dict[str, dict[str, torch.Tensor]]
    optimizers: dict[str, dict[str, Any]]
    scaler: dict[str, Any]
    rng: dict[str, torch.Tensor]
    #: Tracker name -> what it needs to continue on resume (a W&B run id).
    trackers: dict[str, dict[str, Any]] = attrs.Factory(dict)
    #: What the scheme's ``state()`` returned (an image pool).
    scheme: dict[str, torch.Tensor] = attrs.Factory(dict)
    #: Regularizer name -> what its ``state()`` returned (a path-length mean).
    regularizers: dict[str, dict[str, torch.Tensor]] = attrs.Factory(dict)


def _from_format_1(state: TrainingState) -> TrainingState:
    """gankit 0.1 wrote no scheme or regularizer state, no Python ``random`` state (resume keeps the
    process's own), one data stream and no generator-step count; its networks and optimizers are as now."""
    state.counters.setdefault("g_steps", 0)
    state.counters.setdefault("data_streams", [])
    return state


#: Older formats this version reads, each with the migration that brings it to :data:`FORMAT`.
MIGRATIONS = {"gankit-checkpoint/1": _from_format_1}
READABLE = (*MIGRATIONS, FORMAT)


def _flatten_optimizer(name: str, state: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    scalars: dict[str, dict[str, Any]] = {}
    for index, param_state in state["state"].items():
        for key, value in param_state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer/{name}/{index}/{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = value
    return {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(name: str, meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    prefix = f"optimizer/{name}/"
    for key, value in tensors.items():
        if key.startswith(prefix):
            index, _, field = key[len(prefix) :].partition("/")
            state.setdefault(int(index), {})[field] = value
    for index, fields in meta.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(fields)
    groups = [dict(g, betas=tuple(g["betas"])) if "betas" in g else g for g in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def to_bytes(state: TrainingState) -> bytes:
    from safetensors.torch import save

    tensors: dict[str, torch.Tensor] = {}
    for prefix, group in (("net", state.networks), ("ema", state.ema)):
        for net_name, sd in group.items():
            for key, value in sd.items():
                tensors[f"{prefix}/{net_name}/{key}"] = value
    optimizers = {name: _flatten_optimizer(name, sd, tensors) for name, sd in state.optimizers.items()}
    for key, value in state.rng.items():
        tensors[f"rng/{key}"] = value
    for key, value in state.scheme.items():
        tensors[f"scheme/{key}"] = value
    for reg_name, reg_state in state.regularizers.items():
        for key, value in reg_state.items():
            tensors[f"reg/{reg_name}/{key}"] = value
    # safetensors refuses shared or non-contiguous storage; checkpoints own their copies.
    tensors = {k: v.detach().to("cpu", copy=True).contiguous() for k, v in tensors.items()}
    metadata = {
        "format": FORMAT,
        "config": json.dumps(state.config, sort_keys=True),
        "counters": json.dumps(state.counters, sort_keys=True),
        "optimizers": json.dumps(optimizers, sort_keys=True),
        "scaler": json.dumps(state.scaler, sort_keys=True),
        "trackers": json.dumps(state.trackers, sort_keys=True),
    }
    return save(tensors, metadata=metadata)


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside ``path``, fsync, then rename over it: never a half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~safe_files.umask())  # mkstemp makes 0600 files; runs are shared like any output
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def save(state: TrainingState, path: Path) -> None:
    write_atomic(path, to_bytes(state))


def load(path: str | Path) -> TrainingState:
    """Read and validate a checkpoint; any problem is a one-line :class:`GankitError`."""
    from safetensors import SafetensorError
    from safetensors.torch import load as load_bytes

    path = Path(path)
    where = shown(path)
    raw = read_bounded(path, "checkpoint", safe_files.MAX_CHECKPOINT_BYTES)
    if len(raw) < 8:
        raise GankitError(
            f"{where} is not a gankit checkpoint: file is {len(raw)} bytes, too short for a safetensors header"
        )
    header_len = int.from_bytes(raw[:8], "little")
    if header_len > len(raw) - 8:
        raise GankitError(
            f"{where} is not a gankit checkpoint: its header claims {header_len} bytes but the file has {len(raw)}"
        )
    try:
        header = json.loads(raw[8 : 8 + header_len])
        tensors = load_bytes(raw)
    except (SafetensorError, ValueError, UnicodeDecodeError, RuntimeError, OverflowError) as exc:
        reason = (str(exc).splitlines() or ["unreadable"])[0]
        raise GankitError(f"{where} is not a valid safetensors checkpoint: {reason}") from None
    metadata = header.get("__metadata__") or {} if isinstance(header, dict) else {}
    if metadata.get("format") not in READABLE:
        raise GankitError(
            f"{where} is a safetensors file but not a gankit checkpoint "
            f"(format {metadata.get('format')!r}, expected {' or '.join(map(repr, READABLE))})"
        )
    try:
        config = json.loads(metadata["config"])
        counters = json.loads(metadata["counters"])
        optimizer_meta = json.loads(metadata["optimizers"])
        scaler = json.loads(metadata["scaler"])
        trackers = json.loads(metadata.get("trackers", "{}"))
        if not isinstance(trackers, dict):
            raise ValueError("trackers must be an object")
        networks: dict[str, dict[str, torch.Tensor]] = {}
        ema: dict[str, dict[str, torch.Tensor]] = {}
        rng: dict[str, torch.Tensor] = {}
        scheme: dict[str, torch.Tensor] = {}
        regularizers: dict[str, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            prefix, _, rest = key.partition("/")
            if prefix in ("net", "ema"):
                net_name, _, param = rest.partition("/")
                (networks if prefix == "net" else ema).setdefault(net_name, {})[param] = value
            elif prefix == "scheme":
                scheme[rest] = value
            elif prefix == "reg":
                reg_name, _, field = rest.partition("/")
                regularizers.setdefault(reg_name, {})[field] = value
            elif prefix == "rng":
                if value.dtype != torch.uint8:
                    raise ValueError(f"RNG state {rest!r} has dtype {value.dtype}, expected uint8")
                rng[rest] = value
            elif prefix != "optimizer":
                raise ValueError(f"unexpected tensor {key!r}")
        optimizers = {name: _unflatten_optimizer(name, meta, tensors) for name, meta in optimizer_meta.items()}
        _check_counters(counters)
        _check_finite(tensors)
        if not all(isinstance(config.get(k), dict) for k in ("run", "components")):
            raise ValueError("config needs the sections run and components")
        if not isinstance(config.get("data_description", {}), dict):
            raise ValueError("data_description must be an object")
        config = saved_config(config, f"checkpoint {where}")
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        raise GankitError(f"{where} is a damaged gankit checkpoint: {type(exc).__name__}: {exc}") from None
    state = TrainingState(config, counters, networks, ema, optimizers, scaler, rng, trackers, scheme, regularizers)
    migrate = MIGRATIONS.get(metadata["format"])
    return migrate(state) if migrate else state


#: Steps are counted in float64 by trackers and JSON readers: beyond 2**53 they stop being exact.
MAX_STEP = 2**53


def _check_counters(counters: Any) -> None:
    if not isinstance(counters, dict):
        raise TypeError("counters must be an object")
    for key in ("step", "d_steps"):
        if key not in counters and key == "d_steps":
            continue
        value = counters[key]
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_STEP:
            raise ValueError(f"counter {key} is {str(value)[:40]}, expected a whole number from 0 to 2**53-1")


def _check_finite(tensors: dict[str, torch.Tensor]) -> None:
    """Weights, EMA and optimizer state must be finite: training on from NaN/inf only makes more."""
    for key, value in tensors.items():
        if value.is_floating_point() and value.numel() and not bool(torch.isfinite(value).all()):
            raise ValueError(f"tensor {key!r} holds NaN or infinite values")


def by_step(paths: Iterable[Path]) -> list[Path]:
    """Checkpoint files oldest first, by step number (``step-1000000`` after ``step-999999``)."""

    def step(path: Path) -> int:
        digits = path.stem.removeprefix("step-")
        return int(digits) if digits.isdigit() else -1

    return sorted(paths, key=step)


def find_checkpoint(target: str | Path) -> Path:
    """A checkpoint file, or a run folder's latest checkpoint (never a file outside that folder)."""
    target = Path(target)
    try:
        is_dir = target.is_dir()
    except OSError as exc:  # a name too long for the file system, say
        raise GankitError(f"no such run folder or checkpoint: {shown(target)} ({exc.strerror or exc})") from None
    if is_dir:
        folder = target / "checkpoints" if (target / "checkpoints").is_dir() else target
        if folder != target and folder.is_symlink():
            raise GankitError(f"{shown(folder)} is a symlink; a run folder's checkpoints folder must be its own folder")
        pointer = folder / "latest"
        if pointer.is_symlink() or pointer.exists():
            named = _follow_pointer(folder, pointer)
            if named is not None:
                return named
        found = by_step(folder.glob("step-*.safetensors"))
        if not found:
            raise GankitError(f"no checkpoint in {shown(target)}: expected {shown(folder / 'step-*.safetensors')}")
        _check_inside(found[-1])
        return found[-1]
    if not target.exists():
        raise GankitError(f"no such run folder or checkpoint: {shown(target)}")
    return target


#: The only names a ``latest`` pointer may hold: a checkpoint file beside it.
POINTER_NAME = re.compile(r"step-[0-9]{1,15}\.safetensors")


def _follow_pointer(folder: Path, pointer: Path) -> Path | None:
    """The checkpoint ``latest`` names; ``None`` if that file is gone. A pointer may only name a bare
    file name in its own folder: a path could make a resume read, roll back or delete another run."""
    raw = read_bounded(pointer, "checkpoint pointer", safe_files.MAX_POINTER_BYTES, follow=False)
    name = raw.decode("utf-8", errors="replace").strip()
    if not POINTER_NAME.fullmatch(name):
        raise GankitError(
            f"checkpoint pointer {shown(pointer)} names {shown(name, 80)}; it must be a bare file name like "
            "step-000100.safetensors in its own folder (no path, no '..')"
        )
    named = folder / name
    if not (named.is_symlink() or named.exists()):
        return None
    _check_inside(named)
    return named


def _check_inside(path: Path) -> None:
    """A checkpoint a run folder names must be a regular file in it, not a symlink leading elsewhere."""
    safe_files.regular_file_size(path, "checkpoint", safe_files.MAX_CHECKPOINT_BYTES, follow=False)
