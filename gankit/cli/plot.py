"""``gankit plot``: runs' loss curves and eval metrics from their metrics.jsonl (and eval.json), one
panel per metric, the runs overlaid in one colour each. matplotlib is imported only when it draws."""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path
from typing import Any

import click

#: Output formats, by file suffix (what matplotlib writes without extra packages).
FORMATS = (".png", ".svg", ".pdf")
#: Inches per panel, and the picture's resolution.
PANEL_SIZE = (4.8, 3.2)
DPI = 100
#: Panels a row holds, at most.
COLUMNS = 3
#: Panels in one picture, at most (a metrics.jsonl can name any number of keys).
MAX_PANELS = 24


@click.command("plot")
@click.argument("runs", nargs=-1, required=True, metavar="RUN [RUN...]")
@click.option("-o", "--output", required=True, metavar="FILE.png", help="Picture to write (.png; also .svg or .pdf).")
@click.option(
    "--metric",
    "keys",
    multiple=True,
    metavar="KEY",
    help="Plot only this metric (d_loss, eval/modes/modes, lr/generator, ...); repeatable. "
    "Default: the losses and the eval metrics.",
)
def plot_command(runs: tuple[str, ...], output: str, keys: tuple[str, ...]) -> None:
    """Plot loss curves and eval metrics of one or more runs into one picture, a panel per metric.

    Each run has a colour of its own, named in the legend; a cross marks gankit eval's result (eval.json).

    \b
    Examples:
      gankit plot runs/NAME -o curves.png
      gankit plot runs/A runs/B --metric d_loss --metric eval/modes/modes -o compare.png
    """
    from gankit.errors import GankitError

    out = Path(output)
    if out.suffix.lower() not in FORMATS:
        raise GankitError(f"-o {output!r}: give a file ending in {', '.join(FORMATS)}")
    series = [load_series(Path(run)) for run in runs]
    figure, panels = build_figure(series, list(keys), labels(runs))
    try:
        figure.savefig(out, format=out.suffix.lower().lstrip("."))
    except OSError as exc:
        raise GankitError(f"cannot write {output!r}: {exc.strerror or exc}") from None
    click.echo(f"Wrote {out} ({len(panels)} panel{'s' * (len(panels) != 1)}: {', '.join(panels)})")


def labels(runs: tuple[str, ...]) -> list[str]:
    """Each run's legend entry: its folder name, or the path as given where two runs share a name."""
    names = [Path(run).name or run for run in runs]
    return [name if names.count(name) == 1 else run for name, run in zip(names, runs)]


def load_series(path: Path) -> dict[str, Any]:
    """A run's metrics as ``{"series": {key: (steps, values)}, "higher_is_better": {key: bool}}``;
    a one-line :class:`GankitError` naming the run when it cannot be read or holds no metrics."""
    from gankit.cli.runs import read_eval, read_metrics
    from gankit.errors import GankitError
    from gankit.safe_files import shown

    try:
        info = os.stat(path)
    except (OSError, ValueError) as exc:
        reason = "no such folder" if isinstance(exc, FileNotFoundError) else getattr(exc, "strerror", None) or exc
        raise GankitError(f"RUN {shown(path)}: {reason}; give run folders (like runs/NAME)") from None
    if not stat.S_ISDIR(info.st_mode):
        raise GankitError(f"RUN {shown(path)} is not a folder; give run folders (like runs/NAME)")
    try:
        records = read_metrics(path)
        saved = read_eval(path)
    except GankitError as exc:
        raise GankitError(f"RUN {shown(path)}: {exc}") from None
    series: dict[str, tuple[list[int], list[float]]] = {}
    for record in records:
        for key, value in record.items():
            if key != "step":
                steps, values = series.setdefault(key, ([], []))
                steps.append(record["step"])
                values.append(math.nan if value is None else float(value))
    directions: dict[str, bool] = {}
    # gankit eval's numbers, drawn as a cross at their step in the panel of the same metric logged during
    # training: its own protocol (seed, sample count), so it stands apart from the curve.
    evaluated: dict[str, tuple[int, float]] = {}
    if saved is not None:
        directions = {f"eval/{k}": v for k, v in saved["higher_is_better"].items()}
        if saved["step"] is not None:
            evaluated = {
                f"eval/{k}": (saved["step"], math.nan if v is None else float(v)) for k, v in saved["values"].items()
            }
    if not series and not evaluated:
        raise GankitError(
            f"RUN {shown(path)} has no metrics to plot (no metrics.jsonl records and no eval.json); "
            "give run folders that trained with the jsonl tracker (the default)"
        )
    for steps, values in series.values():
        order = sorted(range(len(steps)), key=steps.__getitem__)
        steps[:] = [steps[i] for i in order]
        values[:] = [values[i] for i in order]
    return {"series": series, "evaluated": evaluated, "higher_is_better": directions}


def default_keys(runs: list[dict[str, Any]]) -> list[str]:
    """Losses first (the discriminator's, then the generator's, then others), then eval metrics.

    Of an evaluation whose directions are known (recorded by ``gankit eval``), only the numbers with a
    better direction: the others are references that do not move (the data's mode count).
    """
    present = sorted({key for run in runs for key in [*run["series"], *run["evaluated"]]})
    directions = {k: v for run in runs for k, v in run["higher_is_better"].items()}
    losses = [k for k in present if not k.startswith("eval/") and k.rsplit("/", 1)[-1].endswith("loss")]
    losses.sort(key=lambda k: ({"d_loss": 0, "g_loss": 1}.get(k, 2), k))
    evals = [k for k in present if k.startswith("eval/")]
    with_direction = {k.rsplit("/", 1)[0] for k in evals if k in directions}
    evals = [k for k in evals if k in directions or k.rsplit("/", 1)[0] not in with_direction]
    return losses + evals


def build_figure(runs: list[dict[str, Any]], keys: list[str], names: list[str]) -> tuple[Any, list[str]]:
    """The matplotlib figure, a panel per key, and the keys drawn."""
    from gankit.cli.runs import _text
    from gankit.errors import GankitError, choice_error

    present = sorted({key for run in runs for key in [*run["series"], *run["evaluated"]]})
    for key in keys:
        if key not in present:
            raise choice_error("metric (--metric)", key, present)
    chosen = list(dict.fromkeys(keys))
    if len(chosen) > MAX_PANELS:
        raise GankitError(f"{len(chosen)} --metric keys; one picture holds at most {MAX_PANELS} panels")
    keys = chosen or default_keys(runs)[:MAX_PANELS]
    if not keys:
        raise GankitError(f"no losses or eval metrics to plot; choose with --metric ({', '.join(present)})")
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise GankitError("gankit plot needs matplotlib: pip install matplotlib") from None

    columns = min(COLUMNS, len(keys))
    rows = -(-len(keys) // columns)
    # Room above the panels for the legend: a line of run names per four runs.
    legend_height = 0.3 * -(-len(runs) // 4) + 0.2
    figure = Figure(
        figsize=(PANEL_SIZE[0] * columns, PANEL_SIZE[1] * rows + legend_height), dpi=DPI, layout="constrained"
    )
    axes = figure.subplots(rows, columns, squeeze=False).flatten()
    directions = {k: v for run in runs for k, v in run["higher_is_better"].items()}
    up, down = "↑", "↓"  # drawn in the picture, not printed: no terminal encoding to mind
    handles: dict[int, Any] = {}
    for ax, key in zip(axes, keys):
        mark = "" if key not in directions else f" {up if directions[key] else down}"
        ax.set_title(_plain(_text(key, 60) + mark), fontsize=10)
        ax.set_xlabel("step")
        ax.grid(True, alpha=0.3)
        for index, run in enumerate(runs):
            color = f"C{index % 10}"
            if key in run["series"]:
                steps, values = run["series"][key]
                sparse = len(steps) <= 30
                (line,) = ax.plot(
                    steps, values, color=color, linewidth=1.2, marker="o" if sparse else None, markersize=3
                )
                handles.setdefault(index, line)
            if key in run["evaluated"]:
                step, value = run["evaluated"][key]
                (cross,) = ax.plot([step], [value], color=color, linestyle="none", marker="x", markersize=8)
                handles.setdefault(index, cross)
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    order = sorted(handles)
    figure.legend(
        [handles[i] for i in order],
        [_plain(_text(names[i], 60)) for i in order],
        loc="outside upper center",
        ncols=min(4, len(order)),
        frameon=False,
    )
    return figure, keys


def _plain(text: str) -> str:
    """Text matplotlib shows as it is: a ``$`` would start its math mode."""
    return text.replace("$", r"\$")
