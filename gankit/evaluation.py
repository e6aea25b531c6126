"""Running metrics on a generator: reproducible (seeded noise), with the protocol beside every number."""

from __future__ import annotations

import time
from typing import Any

import torch

from gankit import __version__
from gankit.components import Dataset, EvalContext, Metric
from gankit.engine.model import Model, expect
from gankit.resolve import ResolvedRun


def build_metrics(run: ResolvedRun, names: tuple[str, ...] | None = None, registry: Any = None) -> dict[str, Metric]:
    specs = run.metrics if names is None else tuple(registry.get("metric", n) for n in dict.fromkeys(names))
    built = {}
    for spec in specs:
        config = run.component_configs.get(spec.name) if spec in run.metrics else spec.make_config({})
        built[spec.name] = expect(spec.create(config), Metric, spec)
    return built


def evaluate(model: Model, dataset: Dataset, metrics: dict[str, Metric], seed: int = 0) -> dict[str, Any]:
    """Every metric's numbers, protocol and version, plus the evaluation's own protocol."""

    def generate(n: int, batch: int = 1024) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed)
        chunks = [
            model.generate(torch.randn(min(batch, n - start), model.z_dim, generator=generator))
            for start in range(0, n, batch)
        ]
        return torch.cat(chunks).cpu()

    context = EvalContext(dataset, model.description, generate, model.device, seed)
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
