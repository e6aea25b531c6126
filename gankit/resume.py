"""Continuing a run: find its checkpoint, check that what the user asks now fits what it was."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from gankit import checkpoint
from gankit.config import RESUMABLE_FIELDS, RUN_FIELDS, saved_config
from gankit.errors import GankitError
from gankit.registry import Registry
from gankit.resolve import ResolvedRun, resolve
from gankit.runs import RunFolder
from gankit.safe_files import MAX_TEXT_BYTES, read_bounded, shown


@attrs.frozen
class Resumed:
    run: ResolvedRun
    folder: RunFolder
    #: The checkpoint to continue from; ``None`` for a run that stopped before its first checkpoint,
    #: which restarts from step 0 with its saved configuration.
    state: checkpoint.TrainingState | None
    source: str | None


def prepare_resume(
    registry: Registry,
    target: str,
    explicit: Callable[[tuple[str, ...]], dict[str, Any]],
    set_items: tuple[str, ...] = (),
    config_file: str | None = None,
    lock: bool = True,
) -> Resumed:
    """Resolve the run to continue. ``explicit(saved_trackers)`` gives the flags the user typed."""
    folder_path = Path(target)
    state = source = None
    try:
        is_dir = folder_path.is_dir()
        # lexists: a config.json that is a FIFO or a symlink is refused by _read_config, not skipped.
        has_config = is_dir and os.path.lexists(folder_path / "config.json")
    except OSError as exc:  # a name too long for the file system
        raise GankitError(f"no such run folder or checkpoint: {shown(target)} ({exc.strerror or exc})") from None
    if has_config and not RunFolder(folder_path).has_checkpoint():
        saved = _read_config(folder_path / "config.json")
    else:
        if is_dir and not has_config and not _any_checkpoint(folder_path):
            raise GankitError(
                f"{shown(target)} holds no run to resume (no config.json, no checkpoint: its start was "
                f"interrupted); start it afresh with --name {folder_path.name} --out {shown(folder_path.parent)}"
            )
        path = checkpoint.find_checkpoint(target)
        state, source = checkpoint.load(path), str(path)
        saved = state.config
        folder_path = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    saved_run = saved["run"]
    flags = explicit(tuple(saved_run.get("trackers", RUN_FIELDS["trackers"].default)))
    base = dict(saved_run, options={n: c["options"] for n, c in saved["components"].items()})
    run = resolve(registry, flags, set_items, config_file, base=base)
    _check_resumable(saved_run, run.config.to_dict())
    _check_same_options(saved["components"], run.describe()["components"], _option_defaults(run))
    folder = RunFolder(folder_path)
    return Resumed(run, folder.lock() if lock else folder, state, source)


def _any_checkpoint(folder: Path) -> bool:
    return RunFolder(folder).has_checkpoint() or any(folder.glob("step-*.safetensors"))


def _read_config(path: Path) -> dict[str, Any]:
    raw = read_bounded(path, "run configuration", MAX_TEXT_BYTES, follow=False)
    try:
        saved = json.loads(raw.decode("utf-8"))
        saved["run"]["data"], saved["components"].items()  # noqa: B018 - the sections must be there
        if not isinstance(saved["run"], dict):
            raise TypeError("run must be an object")
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise GankitError(f"cannot resume from {str(path)!r}: not a gankit run configuration ({exc})") from None
    return saved_config(saved, shown(path))


def _check_resumable(saved: dict[str, Any], now: dict[str, Any]) -> None:
    for key in sorted(set(saved) | set(now)):
        if key in RESUMABLE_FIELDS or key == "options":
            continue
        # A setting newer than the saved run trained as before at its default.
        was = saved[key] if key in saved or key not in RUN_FIELDS else RUN_FIELDS[key].default
        if _normalize(was) != _normalize(now.get(key)):
            allowed = ", ".join(sorted(RESUMABLE_FIELDS))
            raise GankitError(
                f"--resume: {key} is {saved.get(key)!r} in the saved run but {now.get(key)!r} was given; "
                f"a resumed run keeps its configuration (only {allowed} may change)"
            )


def _option_defaults(run: ResolvedRun) -> dict[str, dict[str, Any]]:
    """Each component's option defaults, for options newer than a saved run."""
    defaults = {}
    for spec in run.specs():
        cfg = spec.config
        fields = attrs.fields(cfg) if cfg is not None and attrs.has(cfg) else ()
        defaults[spec.name] = {
            f.name: f.default
            for f in fields
            if f.default is not attrs.NOTHING and not isinstance(f.default, attrs.Factory)
        }
    return defaults


def _check_same_options(saved: dict[str, Any], now: dict[str, Any], defaults: dict[str, dict[str, Any]]) -> None:
    for name, component in now.items():
        if component["kind"] in ("tracker", "metric"):  # what watches a run may change on resume
            continue
        before = saved.get(name, {}).get("options", {})
        for key, value in component["options"].items():
            # An option the component gained since the run was saved trains as before at its default.
            was = before[key] if key in before else defaults.get(name, {}).get(key)
            if _normalize(was) != _normalize(value):
                raise GankitError(
                    f"--resume: {name}.{key} is {before.get(key)!r} in the saved run but {value!r} was given; "
                    "a resumed run keeps its component options"
                )


def _normalize(value: Any) -> Any:
    return list(value) if isinstance(value, (tuple, list)) else value
