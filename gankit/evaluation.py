"""Running metrics on a generator: reproducible (seeded noise), with the protocol beside every number."""

from __future__ import annotations

import time
from typing import Any

from gankit import __version__
from gankit.components import Dataset, EvalContext, Metric
from gankit.engine.model import Model, expect
from gankit.resolve import ResolvedRun


def build_metrics(run: ResolvedRun) -> dict[str, Metric]:
    """The run's metrics, built with their resolved options."""
    return {spec.name: expect(spec.create(run.config_for(spec)), Metric, spec) for spec in run.metrics}


def evaluate(model: Model, dataset: Dataset, metrics: dict[str, Metric], seed: int = 0) -> dict[str, Any]:
    """Every metric's numbers, protocol and version, plus the evaluation's own protocol."""

    from gankit.limits import check_count

    def draw(n: int, given: dict[str, Any] | None = None) -> Any:
        # A translator's inputs come from the data set: its first n samples of the input field.
        count = check_count(n, "a metric's sample count")
        return model.sample(count, seed, given=given, from_data=lambda field, k: dataset.take(field, k, seed))

    context = EvalContext(dataset, model.description, draw, model.device, seed, sample=draw)
    results: dict[str, Any] = {}
    for name, metric in metrics.items():
        started = time.perf_counter()
        values = metric.evaluate(context)
        results[name] = {
            "values": values,
            "protocol": metric.protocol(),
            "version": metric.version,
            "seconds": round(time.perf_counter() - started, 2),
        }
    return {"seed": seed, "gankit_version": __version__, "ema": bool(model.ema), "metrics": results}


def flatten(results: dict[str, Any]) -> dict[str, float]:
    """``{"modes/modes": 25, ...}`` for trackers."""
    return {
        f"{name}/{key}": float(value)
        for name, result in results["metrics"].items()
        for key, value in result["values"].items()
    }
