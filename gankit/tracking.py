"""Fan-out of a run's reports to its trackers, each isolated so that none can break training."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from gankit.components import Tracker


class TrackerGroup:
    """Calls every tracker; one that raises is switched off with a single warning line."""

    def __init__(self, trackers: dict[str, Tracker]):
        self.trackers = dict(trackers)
        self.failed: dict[str, str] = {}

    def _call(self, method: str, *args: Any) -> dict[str, Any]:
        results = {}
        for name, tracker in list(self.trackers.items()):
            try:
                results[name] = getattr(tracker, method)(*args)
            except Exception as exc:  # a tracker must never stop training
                del self.trackers[name]
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                self.failed[name] = f"{type(exc).__name__}: {reason}"
                print(
                    f"Warning: tracker {name!r} failed in {method} ({self.failed[name]}); training goes on without it",
                    file=sys.stderr,
                    flush=True,
                )
        return results

    def start(self, config: dict[str, Any], total_steps: int, first_step: int) -> None:
        self._call("start", config, total_steps, first_step)

    def advance(self, step: int) -> None:
        self._call("advance", step)

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        self._call("log_metrics", step, metrics)

    def log_images(self, step: int, name: str, path: Path) -> None:
        self._call("log_images", step, name, path)

    def log_evaluation(self, step: int, results: dict[str, float]) -> None:
        self._call("log_evaluation", step, results)

    def log_checkpoint(self, step: int, path: Path) -> None:
        self._call("log_checkpoint", step, path)

    def states(self) -> dict[str, dict[str, Any]]:
        return {name: state for name, state in self._call("state").items() if state}

    def finish(self, summary: dict[str, Any]) -> dict[str, str]:
        where: dict[str, str] = {}
        for shown in self._call("finish", summary).values():
            where.update(shown or {})
        return where
