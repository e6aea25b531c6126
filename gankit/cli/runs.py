"""``gankit runs``: the runs in a folder at a glance, from the files each run folder holds.

Nothing here imports torch or trusts a file: every read goes through :mod:`gankit.safe_files` (regular
files only, bounded, symlinks refused), and a run folder that cannot be read becomes a row that says
why, never an error that hides the other rows.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

#: Folder entries looked at, at most: a folder holding millions is listed in part, with a note.
MAX_RUNS = 10_000
#: Widest cell in the table; longer text is cut with "...".
MAX_CELL = {"name": 48, "components": 40, "state": 100, "losses": 40, "eval": 80}
_CHECKPOINT = re.compile(r"step-(\d{1,12})\.safetensors")


def arrows() -> tuple[str, str]:
    """The marks for "higher is better" and "lower is better", in ASCII where stdout cannot show arrows."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "↑↓".encode(encoding)
    except (LookupError, UnicodeEncodeError):
        return "^", "v"
    return "↑", "↓"


@click.command("runs")
@click.argument("folder", default="runs", metavar="[FOLDER]")
@click.option("--json", "as_json", is_flag=True, help="Print the listing as JSON (one object per run).")
def runs_command(folder: str, as_json: bool) -> None:
    """List the runs in FOLDER (default: runs): components, steps, state, last losses, eval results.

    \b
    State: finished (all its steps), running (a gankit process holds the run),
    stopped (ended early: by a signal or a crash; continue it with gankit run --resume),
    empty (nothing written yet), ended (trained by epochs of a data set of unrecorded
    size: finished or stopped), unreadable: <why>.
    FOLDER may also be one run folder.
    """
    rows = list_runs(Path(folder))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(f"No runs in {folder!r}; train one with: gankit run")
        return
    click.echo(render_table(rows))


# ---------------------------------------------------------------- reading run folders


def list_runs(folder: Path) -> list[dict[str, Any]]:
    """A summary of each run folder in ``folder`` (or of ``folder`` itself when it is a run), by name."""
    from gankit.errors import GankitError
    from gankit.safe_files import shown

    try:
        info = os.stat(folder)
    except FileNotFoundError:
        raise GankitError(
            f"no folder {shown(folder)}; train a run first (gankit run writes into runs/), or name the folder "
            "that holds your run folders: gankit runs FOLDER"
        ) from None
    except (OSError, ValueError) as exc:
        raise GankitError(f"cannot list runs in {shown(folder)}: {getattr(exc, 'strerror', None) or exc}") from None
    if not stat.S_ISDIR(info.st_mode):
        raise GankitError(f"{shown(folder)} is not a folder; give the folder that holds run folders (default: runs)")
    if _is_run(folder):
        return [summarize(folder)]
    rows: list[dict[str, Any]] = []
    try:
        with os.scandir(folder) as entries:
            for count, entry in enumerate(entries):
                if count >= MAX_RUNS:
                    rows.append(_unreadable(folder / "...", f"more than {MAX_RUNS:,} entries; the rest are not listed"))
                    break
                if entry.is_symlink():
                    # A run folder is never a link: gankit writes only inside its own folder.
                    rows.append(_unreadable(Path(entry.path), "a symlink, not a run folder"))
                elif entry.is_dir(follow_symlinks=False):
                    rows.append(summarize(Path(entry.path)))
    except OSError as exc:
        raise GankitError(f"cannot list runs in {shown(folder)}: {exc.strerror or exc}") from None
    _share_directions(rows)
    return sorted(rows, key=lambda row: row["name"])


def _share_directions(rows: list[dict[str, Any]]) -> None:
    """Directions are the metric's, not the run's: those that ``gankit eval`` recorded in one run's
    eval.json mark the same numbers of the others (logged during training, where none are recorded)."""
    known: dict[str, bool] = {}
    for row in rows:
        if row.get("eval"):
            known |= row["eval"]["higher_is_better"]
    for row in rows:
        if row.get("eval"):
            values = row["eval"]["values"]
            row["eval"]["higher_is_better"] = {k: known[k] for k in values if k in known}


def _is_run(path: Path) -> bool:
    return any(os.path.lexists(path / name) for name in ("config.json", "checkpoints", "metrics.jsonl"))


def summarize(path: Path) -> dict[str, Any]:
    """What one run folder says about its run; ``state`` is ``unreadable`` (with ``reason``) when it cannot be read."""
    from gankit.errors import GankitError

    try:
        return _summarize(path)
    except GankitError as exc:
        return _unreadable(path, str(exc))
    except OSError as exc:
        return _unreadable(path, exc.strerror or str(exc))


def _unreadable(path: Path, reason: str) -> dict[str, Any]:
    return {"name": _name(path), "path": str(path), "state": "unreadable", "reason": reason}


def _name(path: Path) -> str:
    return path.name or path.resolve().name or str(path)  # "gankit runs ." inside a run folder


def _summarize(path: Path) -> dict[str, Any]:
    from gankit.errors import GankitError

    row: dict[str, Any] = {"name": _name(path), "path": str(path)}
    holder = lock_holder(path)
    config = _read_config(path)
    records = read_metrics(path)
    checkpoint_step = _checkpoint_step(path)
    logged = [r for r in records if not any(k.startswith("eval/") for k in r)]
    last_logged = max((r["step"] for r in records), default=None)

    if config is None and checkpoint_step is None and not records:
        row["state"] = "running" if holder else "empty"
        if holder:
            row["pid"] = holder
        return row
    if config is None:
        raise GankitError("no config.json beside its checkpoints or metrics")
    run = config["run"]
    total = _total_steps(config)
    row |= {
        "data": _text(run.get("data")),
        "arch": _text(run.get("arch")),
        "loss": _text(run.get("loss")),
        "regs": [_text(r) for r in run.get("regs", [])] if isinstance(run.get("regs"), list) else [],
        "scheme": _text(run.get("scheme")),
        "total_steps": total,
        "epochs": run.get("epochs") if _is_number(run.get("epochs")) else None,
        "checkpoint_step": checkpoint_step,
        "last_logged_step": last_logged,
    }
    if holder:
        # A running run is ahead of its last checkpoint: its last record is the live position.
        row |= {"state": "running", "pid": holder, "step": max(checkpoint_step or 0, last_logged or 0)}
    else:
        # What survives a stop is the checkpoint: a resume continues from it.
        row["step"] = checkpoint_step or 0
        if total is None:
            row["state"] = "ended"  # trained by epochs of a data set whose size is not recorded
        else:
            row["state"] = "finished" if row["step"] >= total else "stopped"
    row["losses"] = _losses(logged[-1]) if logged else {}
    row["eval"] = _latest_eval(path, records)
    if row["eval"] and row["eval"].get("split") == _data_option(config, run, "split"):
        row["eval"]["split"] = None  # the split the run trained on: nothing to point out
    return row


def _data_option(config: dict[str, Any], run: dict[str, Any], option: str) -> Any:
    """An option of the run's data set as config.json resolved it (``None`` when it has no such option)."""
    components, name = config.get("components"), run.get("data")
    component = components.get(name) if isinstance(components, dict) and isinstance(name, str) else None
    options = component.get("options") if isinstance(component, dict) else None
    return options.get(option) if isinstance(options, dict) else None


def lock_holder(path: Path) -> str | None:
    """The pid of the gankit process holding the run folder (``"unknown"`` when its ``.lock`` names
    none), or ``None`` when no process holds it.

    A run holds advisory ``flock`` locks on its folder and on ``.lock`` (see
    :meth:`gankit.runs.RunFolder.lock`), which the kernel drops when the process ends, however it ends.
    So this asks the kernel, with a shared lock taken and dropped at once, instead of trusting a pid
    that a dead run left in a file.
    """
    from gankit.errors import GankitError
    from gankit.safe_files import MAX_POINTER_BYTES, regular_file_size, shown

    lock = path / ".lock"
    has_file = os.path.lexists(lock)
    if has_file:
        try:
            regular_file_size(lock, ".lock", MAX_POINTER_BYTES, follow=False)
        except GankitError as exc:
            raise GankitError(str(exc).replace(f" {shown(lock)}", "")) from None
    folder_held = _held(path, os.O_DIRECTORY)
    file_held = has_file and _held(lock, 0)
    if not (folder_held or file_held):
        return None
    try:
        pid = _read(lock, ".lock", MAX_POINTER_BYTES).decode("ascii", "replace").strip() if has_file else ""
    except GankitError:
        pid = ""  # deleted (or replaced) since: the folder's lock is what counts
    return pid if pid.isdigit() else "unknown"


def _held(path: Path, kind: int) -> bool:
    """Whether another process holds an exclusive ``flock`` on ``path`` (a file system without such
    locks holds none)."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC | kind)
    except OSError:
        return False  # gone since, or not ours to open: nothing says a run holds it
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _read(path: Path, what: str, limit: int) -> bytes:
    """``read_bounded`` without following a link; its one-line reason without the path (the row names the run)."""
    from gankit.errors import GankitError
    from gankit.safe_files import read_bounded, shown

    try:
        return read_bounded(path, what, limit, follow=False)
    except GankitError as exc:
        raise GankitError(str(exc).replace(f" {shown(path)}", "")) from None


def _read_json(path: Path, what: str, limit: int) -> Any:
    from gankit.errors import GankitError

    data = _read(path, what, limit)
    try:
        return json.loads(data, parse_constant=lambda _: None)
    except (ValueError, RecursionError) as exc:
        raise GankitError(f"{what} is not valid JSON ({_text(exc, 80)})") from None


def _read_config(path: Path) -> dict[str, Any] | None:
    from gankit.errors import GankitError
    from gankit.safe_files import MAX_TEXT_BYTES

    if not os.path.lexists(path / "config.json"):
        return None
    config = _read_json(path / "config.json", "config.json", MAX_TEXT_BYTES)
    if not isinstance(config, dict) or not isinstance(config.get("run"), dict):
        raise GankitError("config.json holds no run settings")
    return config


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The whole records of ``path/metrics.jsonl`` (``[]`` when there is none): each a dict with an int
    ``step``, numbers (or ``None`` for a non-finite one) under string keys. Lines that are not whole
    records (a cut-off last line, junk) are skipped, as a resume would drop them."""
    from gankit.safe_files import MAX_TEXT_BYTES

    file = path / "metrics.jsonl"
    if not os.path.lexists(file):
        return []
    records = []
    for line in _read(file, "metrics.jsonl", MAX_TEXT_BYTES).splitlines():
        try:
            record = json.loads(line, parse_constant=lambda _: None)
        except (ValueError, RecursionError):
            continue
        if not isinstance(record, dict) or not _is_step(record.get("step")):
            continue
        values = {_text(k): (v if _is_number(v) else None) for k, v in record.items() if k not in ("step", "time")}
        records.append({"step": record["step"], **values})
    return records


def read_eval(path: Path) -> dict[str, Any] | None:
    """``gankit eval``'s results in ``path/eval.json`` as ``{"step", "values", "higher_is_better"}``
    with ``metric/key`` names; ``None`` when there is no such file."""
    from gankit.errors import GankitError
    from gankit.safe_files import MAX_TEXT_BYTES

    if not os.path.lexists(path / "eval.json"):
        return None
    results = _read_json(path / "eval.json", "eval.json", MAX_TEXT_BYTES)
    if not isinstance(results, dict) or not isinstance(results.get("metrics"), dict):
        raise GankitError("eval.json holds no metric results")
    values: dict[str, float | None] = {}
    directions: dict[str, bool] = {}
    for name, result in results["metrics"].items():
        if not isinstance(result, dict) or not isinstance(result.get("values"), dict):
            continue
        declared = result.get("higher_is_better")
        declared = declared if isinstance(declared, Mapping) else {}
        for key, value in result["values"].items():
            values[f"{name}/{key}"] = value if _is_number(value) else None
            if isinstance(declared.get(key), bool):
                directions[f"{name}/{key}"] = declared[key]
    step, split = results.get("step"), results.get("split")
    return {
        "step": step if _is_step(step) else None,
        "values": values,
        "higher_is_better": directions,
        "split": _text(split) if isinstance(split, str) else None,
    }


def _latest_eval(path: Path, records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest evaluation: ``gankit eval``'s eval.json or the last ``--eval-every`` record, by step."""
    saved = read_eval(path)
    during = next((r for r in reversed(records) if any(k.startswith("eval/") for k in r)), None)
    if saved is not None:
        saved["source"] = "eval.json"
    if during is not None:
        values = {k.removeprefix("eval/"): v for k, v in during.items() if k.startswith("eval/")}
        # The directions eval.json recorded hold for the same metrics' numbers during training too.
        known = saved["higher_is_better"] if saved else {}
        trained = {
            "step": during["step"],
            "values": values,
            "higher_is_better": {k: known[k] for k in values if k in known},
            "split": None,  # during training, metrics read the run's own data
            "source": "metrics.jsonl",
        }
        if saved is None or (saved["step"] is not None and trained["step"] > saved["step"]):
            return trained
    return saved


def _checkpoint_step(path: Path) -> int | None:
    """The step of the checkpoint a resume would continue from (by file name: no checkpoint is read)."""
    from gankit.errors import GankitError
    from gankit.safe_files import MAX_POINTER_BYTES

    folder = path / "checkpoints"
    pointer = folder / "latest"
    if os.path.lexists(pointer):
        try:
            match = _CHECKPOINT.fullmatch(_read(pointer, "checkpoints/latest", MAX_POINTER_BYTES).decode().strip())
        except (GankitError, UnicodeDecodeError):
            match = None  # a damaged pointer: the newest file is what a resume falls back to
        if match and os.path.lexists(folder / match.group(0)):
            return int(match.group(1))
    if not os.path.isdir(folder) or os.path.islink(folder):
        return None
    steps = []
    with os.scandir(folder) as entries:
        for count, entry in enumerate(entries):
            if count >= MAX_RUNS:
                break
            match = _CHECKPOINT.fullmatch(entry.name)
            if match:
                steps.append(int(match.group(1)))
    return max(steps, default=None)


def _total_steps(config: dict[str, Any]) -> int | None:
    """The run's step count; for a run given in epochs, computed as the trainer does from the data's size."""
    run = config["run"]
    epochs = run.get("epochs")
    if epochs is None:
        return run["steps"] if _is_step(run.get("steps")) and run["steps"] > 0 else None
    described = config.get("data_description")
    size = described.get("size") if isinstance(described, dict) else None
    batch, n_critic = run.get("batch_size"), run.get("n_critic")
    if not (_is_number(epochs) and _is_step(size) and _is_step(batch) and _is_step(n_critic) and batch and n_critic):
        return None
    if not math.isfinite(epochs):
        return None
    return max(1, round(epochs * (size // batch) / n_critic))


def _losses(record: dict[str, Any]) -> dict[str, float | None]:
    """The losses of a training record (keys ending in ``loss``), the discriminator's first."""
    keys = sorted(
        (k for k in record if k != "step" and k.rsplit("/", 1)[-1].endswith("loss")), key=lambda k: (k != "d_loss", k)
    )
    return {k: record[k] for k in keys}


def _is_step(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _text(value: Any, width: int = 200) -> str:
    """Text from a file, safe to print: control characters (a terminal's escape sequences) escaped."""
    text = "" if value is None else str(value)
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[: width * 4])
    return text if len(text) <= width else text[: width - 3] + "..."


# ---------------------------------------------------------------- the table


def number(value: Any) -> str:
    if value is None:
        return "nan"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def components(row: dict[str, Any]) -> str:
    loss = "+".join([row["loss"], *row["regs"]])
    scheme = [] if row["scheme"] in ("unconditional", "") else [row["scheme"]]
    return " ".join([row["data"], row["arch"], loss, *scheme])


def eval_cell(result: dict[str, Any] | None) -> str:
    """The evaluation in one cell: the numbers with a better direction (all of them when none is
    known, as for numbers logged during training before any ``gankit eval``), their step, and the data
    split they come from when it is not the run's own (``gankit eval --split``)."""
    if not result:
        return ""
    up, down = arrows()
    directions = result["higher_is_better"]
    keys = [k for k in result["values"] if k in directions] or list(result["values"])
    parts = [
        f"{k}{'' if k not in directions else ' ' + (up if directions[k] else down)} {number(result['values'][k])}"
        for k in keys
    ]
    step = f"@{result['step']} " if result.get("step") is not None else ""
    split = f"({result['split']} split) " if result.get("split") else ""
    return step + split + "  ".join(parts)


def cells(row: dict[str, Any]) -> dict[str, str]:
    state = row["state"]
    if state == "unreadable":
        return {
            "name": _text(row["name"]),
            "components": "",
            "steps": "",
            "state": f"unreadable: {_text(row['reason'])}",
        }
    if "data" not in row:  # empty, or running before its config.json
        return {"name": _text(row["name"]), "components": "", "steps": "", "state": state}
    total = row["total_steps"]
    if total is None and row["epochs"] is not None:
        total = f"{row['epochs']:g} epochs"
    return {
        "name": _text(row["name"]),
        "components": components(row),
        "steps": f"{row['step']}/{total if total is not None else '?'}",
        "state": state + (f" (pid {_text(row['pid'])})" if state == "running" else ""),
        "losses": " ".join(f"{k} {number(v)}" for k, v in row["losses"].items()),
        "eval": eval_cell(row["eval"]),
    }


def render_table(rows: list[dict[str, Any]]) -> str:
    """A plain text table, one run a line; columns only as wide as their widest cell (within limits)."""
    headers = {
        "name": "RUN",
        "components": "COMPONENTS",
        "steps": "STEPS",
        "state": "STATE",
        "losses": "LOSSES",
        "eval": "EVAL",
    }
    table = [{k: _cut(v, MAX_CELL.get(k, 40)) for k, v in cells(row).items()} for row in rows]
    # A row's last cell needs no padding, so it does not widen its column (an unreadable row's reason).
    last = [max((i for i, k in enumerate(headers) if c.get(k)), default=0) for c in table]
    widths = {
        k: max([len(h), *(len(c.get(k, "")) for c, end in zip(table, last) if i < end)])
        for i, (k, h) in enumerate(headers.items())
    }
    lines = []
    for line in [headers, *table]:
        text = "  ".join(line.get(k, "").ljust(widths[k]) for k in headers)
        lines.append(text.rstrip())
    return "\n".join(lines)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
