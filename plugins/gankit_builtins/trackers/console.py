"""The console: a tqdm progress bar on a terminal, one plain line per log step otherwise."""

from __future__ import annotations

import sys
from typing import Any

from gankit import Tracker, TrackerContext

SHOWN = ("d_loss", "g_loss")


class Console(Tracker):
    def __init__(self, config: Any, context: TrackerContext, stream: Any = None):
        self.stream = stream or sys.stderr
        self.interactive = config.progress and getattr(self.stream, "isatty", lambda: False)()
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
        shown = {k: metrics[k] for k in SHOWN if k in metrics}
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:.4g}" for k, v in shown.items()}, refresh=False)
            return
        parts = [f"step {step}/{self.total}"] + [f"{k} {v:.4g}" for k, v in shown.items()]
        if "steps_per_s" in metrics:
            rate = metrics["steps_per_s"]
            parts.append(f"{rate:.1f} steps/s")
            if rate > 0:
                parts.append(f"ETA {_duration((self.total - step) / rate)}")
        print("  ".join(parts), file=self.stream, flush=True)

    def finish(self, summary: dict[str, Any]) -> dict[str, str]:
        if self.bar is not None:
            self.bar.close()
        return {}


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
