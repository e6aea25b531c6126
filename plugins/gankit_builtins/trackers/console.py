"""The console: a tqdm progress bar on a terminal that has a width, plain lines otherwise.

Plain lines (a pipe, a file, ``--set console.progress=false``, or a pseudo-terminal that reports no
size, as ``script -qc CMD /dev/null``, CI runners and some IDE consoles do: tqdm would draw a bar 0
columns wide there, that is nothing at all) carry the step, the losses, the elapsed time, the rate and
the ETA, one per log step, plus the first step's losses at once and a progress line when no line came
for :data:`HEARTBEAT_S` seconds.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from gankit import Tracker, TrackerContext

SHOWN = ("d_loss", "g_loss")

#: Narrower terminals get plain lines: tqdm's bar (counts, times, rate, losses) does not fit.
MIN_BAR_COLUMNS = 20

#: Plain lines: with no line for this long (log steps far apart), a line with the step, times and rate.
HEARTBEAT_S = 30.0


def terminal_columns(stream: Any) -> int | None:
    """The width of the terminal ``stream`` writes to: ``None`` for no terminal, 0 when it has no size."""
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return None
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):  # a terminal-like object without a descriptor
        return 0


class Console(Tracker):
    # On the training thread: tqdm's update is a counter bump, cheaper than a hand-off to a thread every
    # step, and the lines stay in order with what the run itself prints.
    inline = True

    def __init__(
        self,
        config: Any,
        context: TrackerContext,
        stream: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.stream = stream or sys.stderr
        columns = terminal_columns(self.stream)
        self.interactive = bool(config.progress and columns is not None and columns >= MIN_BAR_COLUMNS)
        self.clock = clock
        self.bar: Any = None
        self.total = 0
        self.first_step = 0
        self.started = self.last_line = 0.0

    def start(self, config: dict[str, Any], total_steps: int, first_step: int) -> None:
        self.total = total_steps
        self.first_step = first_step
        self.started = self.last_line = self.clock()
        if self.interactive:
            from tqdm import tqdm

            self.bar = tqdm(total=total_steps, initial=first_step, file=self.stream, unit="step", dynamic_ncols=True)

    def advance(self, step: int) -> None:
        if self.bar is not None:
            self.bar.update(1)
            return
        now = self.clock()
        if now - self.last_line >= HEARTBEAT_S:
            elapsed = now - self.started
            rate = (step - self.first_step) / elapsed if elapsed > 0 else 0.0
            self._line(step, [], elapsed, rate)

    def log_progress(self, step: int, metrics: dict[str, float]) -> None:
        """The first step's losses: at once, before the first log step."""
        self._show(step, metrics, rate=None)

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        self._show(step, metrics, rate=metrics.get("steps_per_s"))

    def _show(self, step: int, metrics: dict[str, float], rate: float | None) -> None:
        shown = {k: metrics[k] for k in SHOWN if k in metrics}
        if self.bar is not None:
            self.bar.set_postfix({k: f"{v:#.4g}" for k, v in shown.items()}, refresh=True)
            return
        self._line(step, [f"{k} {v:#.4g}" for k, v in shown.items()], self.clock() - self.started, rate)

    def _line(self, step: int, losses: list[str], elapsed: float, rate: float | None) -> None:
        parts = [f"step {step}/{self.total}", *losses, f"elapsed {_duration(elapsed)}"]
        if rate is not None:
            parts.append(f"{rate:.1f} steps/s")
            if rate > 0:
                parts.append(f"ETA {_duration((self.total - step) / rate)}")
        print("  ".join(parts), file=self.stream, flush=True)
        self.last_line = self.clock()

    def finish(self, summary: dict[str, Any]) -> dict[str, str]:
        if self.bar is not None:
            self.bar.close()
        return {}


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
