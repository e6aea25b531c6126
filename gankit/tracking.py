"""Where training reports go: the metrics.jsonl file and the console (a progress bar on a TTY)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO


class Tracker:
    """Receives what a run reports. Every method is optional."""

    def start(self, config: dict[str, Any], total_steps: int, first_step: int) -> None: ...

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None: ...

    def log_samples(self, step: int, path: Path) -> None: ...

    def log_checkpoint(self, step: int, path: Path) -> None: ...

    def advance(self, step: int) -> None:
        """Called after every step, cheaply: no device sync happens here."""

    def finish(self, summary: dict[str, Any]) -> None: ...


class JSONLTracker(Tracker):
    """One JSON object per log step in ``metrics.jsonl``, flushed so a crash loses at most one line."""

    def __init__(self, path: Path):
        self.file = open(path, "a", encoding="utf-8")

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        self.file.write(json.dumps({"step": step, "time": round(time.time(), 3), **metrics}) + "\n")
        self.file.flush()

    def finish(self, summary: dict[str, Any]) -> None:
        self.file.close()


class ConsoleTracker(Tracker):
    """A tqdm progress bar on a terminal; one plain line per log step otherwise (CI, files)."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.bar: Any = None
        self.total = 0

    def start(self, config: dict[str, Any], total_steps: int, first_step: int) -> None:
        self.total = total_steps
        if self.interactive:
            from tqdm import tqdm

            self.bar = tqdm(total=total_steps, initial=first_step, file=self.stream, unit="step", dynamic_ncols=True)

    def advance(self, step: int) -> None:
        if self.bar is not None:
            self.bar.update(1)

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        shown = {k: v for k, v in metrics.items() if k in ("d_loss", "g_loss")}
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in shown.items()}, refresh=False)
            return
        parts = [f"step {step}/{self.total}"] + [f"{k} {v:.4g}" for k, v in shown.items()]
        if "steps_per_s" in metrics:
            parts.append(f"{metrics['steps_per_s']:.1f} steps/s")
        print("  ".join(parts), file=self.stream, flush=True)

    def finish(self, summary: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.close()
