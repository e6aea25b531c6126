"""``gankit eval``: score a run's generator with metrics; results and protocol go to ``eval.json``."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("eval")
@click.argument("target", metavar="RUN_OR_CHECKPOINT")
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    metavar="NAME",
    help="Metric to compute (default: the run's, e.g. modes on grid25).",
)
@click.option(
    "-n", "samples", type=click.IntRange(min=2), help="Generated samples per metric (default: each metric's protocol)."
)
@click.option(
    "--set",
    "set_items",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set a metric option (inception.samples=5000, modes.sigmas=2).",
)
@click.option(
    "--inception-weights",
    metavar="PATH",
    help="Inception-v3 weights file for the inception metric (implies --metric inception). "
    "Also: GANKIT_INCEPTION_WEIGHTS.",
)
@click.option(
    "--split",
    metavar="NAME",
    help="Score against this split of the run's data set instead of the one it trained on (--split test: "
    "the held-out part), for data sets with a split option.",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the noise.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Where to write the JSON (default: RUN/eval.json)."
)
def evaluate_command(
    target: str,
    metrics: tuple[str, ...],
    samples: int | None,
    set_items: tuple[str, ...],
    inception_weights: str | None,
    split: str | None,
    seed: int,
    device: str,
    output: str | None,
) -> None:
    """Compute metrics on samples from a run's latest checkpoint (or a given one) and print a table."""
    from gankit import checkpoint
    from gankit.components import DataRequest, Dataset
    from gankit.engine.build import build_model
    from gankit.engine.devices import choose_device
    from gankit.engine.model import expect, with_split
    from gankit.errors import GankitError
    from gankit.evaluation import build_metrics, evaluate
    from gankit.limits import check_count, check_seed
    from gankit.plugins import registry
    from gankit.resolve import resolve

    if samples is not None:
        check_count(samples, "-n")
    check_seed(seed)
    if inception_weights is not None:
        # The flag names the weights of one metric, so it asks for that metric (beside any --metric).
        metrics = (*metrics, "inception") if "inception" not in metrics else metrics
        set_items = (f"inception.weights={inception_weights}", *set_items)
    _metric_options_only(set_items)
    path = checkpoint.find_checkpoint(target)
    state = checkpoint.load(path)
    saved = state.config
    base = dict(saved["run"], options={n: c["options"] for n, c in saved["components"].items()})
    if samples is not None:
        names = metrics or tuple(saved["run"].get("metrics", ()))
        base["options"] = {**base["options"], **{m: {**base["options"].get(m, {}), "samples": samples} for m in names}}
    if split is not None:
        # Only the data the metrics read (a translator's inputs, a reference set) comes from another part.
        base = with_split(base, split)
    run = resolve(registry(), {"metrics": metrics} if metrics else {}, set_items, base=base)
    if not run.metrics:
        listed = ", ".join(registry().names("metric"))
        raise GankitError(f"run {str(path)!r} names no metrics; choose some with --metric ({listed})")
    cfg = run.config
    request = DataRequest(root=cfg.data_root, download=False, resolution=cfg.resolution)
    dataset = expect(run.data.create(run.config_for(run.data), request), Dataset, run.data)
    model = build_model(run, choose_device(device), dataset.description, f"checkpoint {str(path)!r}")
    model.load_weights(state, f"checkpoint {str(path)!r}")
    built = build_metrics(run)
    results = evaluate(model, dataset, built, seed=seed)
    for name, metric in built.items():
        # Saved with the numbers, so that `gankit runs` and `gankit plot` can mark them without the metric.
        results["metrics"][name]["higher_is_better"] = _directions(metric, results["metrics"][name]["values"])
    data_split = getattr(run.config_for(run.data), "split", None)
    results |= {"checkpoint": str(path), "step": state.counters["step"], "data": cfg.data, "split": data_split}

    run_folder = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    out = Path(output) if output else run_folder / "eval.json"
    try:
        # Atomic: a rename replaces a planted symlink instead of writing where it leads.
        checkpoint.write_atomic(out, (json.dumps(results, indent=2, sort_keys=True) + "\n").encode())
    except OSError as exc:
        raise GankitError(f"cannot write {str(out)!r}: {exc.strerror or exc}") from None
    from gankit.cli.runs import arrows

    up, down = arrows()
    on = f"{cfg.data} ({data_split} split)" if data_split is not None else cfg.data
    click.echo(f"{on} at step {results['step']} ({'EMA ' if results['ema'] else ''}generator, seed {seed}):")
    for name, result in results["metrics"].items():
        for key, value in result["values"].items():
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            better = result["higher_is_better"].get(key)
            label = name + "/" + key + ("" if better is None else " " + (up if better else down))
            click.echo(f"  {label:<34} {shown:>10}")
    click.echo(f"  ({up} higher is better, {down} lower is better, no mark: a reference number)")
    click.echo(f"Wrote {out}")


def _directions(metric: object, values: dict) -> dict[str, bool]:
    """The metric's declared directions for the keys it reported; a malformed declaration counts as none."""
    from collections.abc import Mapping

    declared = getattr(metric, "higher_is_better", None)
    if not isinstance(declared, Mapping):
        return {}
    return {key: declared[key] for key in values if isinstance(declared.get(key), bool)}


def _metric_options_only(set_items: tuple[str, ...]) -> None:
    """``--set`` on eval may change metric options only: the networks must stay as they were trained."""
    from gankit.config import parse_set
    from gankit.errors import GankitError
    from gankit.plugins import registry

    run_values, options = parse_set(set_items)
    metric_names = registry().names("metric")
    others = [*run_values, *(prefix for prefix in options if prefix not in metric_names)]
    if others:
        raise GankitError(
            f"gankit eval --set takes metric options (like inception.samples=5000), not {others[0]!r}; "
            f"metrics: {', '.join(metric_names)}"
        )
