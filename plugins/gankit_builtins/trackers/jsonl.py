"""metrics.jsonl: one JSON object per log step, flushed so that a crash loses at most one line."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from gankit import Tracker, TrackerContext


class JSONLines(Tracker):
    def __init__(self, config: None, context: TrackerContext):
        self.path = Path(context.run_folder) / "metrics.jsonl"
        self.file = self.path.open("a", encoding="utf-8")

    def _write(self, record: dict[str, Any]) -> None:
        # NaN and infinity are not JSON; null keeps every line readable by strict parsers (jq).
        record = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        self._write({"step": step, "time": round(time.time(), 3), **metrics})

    def log_evaluation(self, step: int, results: dict[str, float]) -> None:
        self._write({"step": step, "time": round(time.time(), 3), **{f"eval/{k}": v for k, v in results.items()}})

    def finish(self, summary: dict[str, Any]) -> dict[str, str]:
        self.file.close()
        return {"metrics": str(self.path)}
