"""metrics.jsonl: one JSON object per log step; every line is whole, and each step is there once.

A record is one ``write`` of the whole line; a write that fails part-way (a full disk, a file-size
limit) is cut back off, so a failure never leaves half a record. A resumed run first drops what the
file holds beyond the checkpoint it continues from (those steps are trained again), and any
trailing partial line.
"""

from __future__ import annotations

import errno
import json
import math
import os
import time
from pathlib import Path
from typing import Any

from gankit import Tracker, TrackerContext


class JSONLines(Tracker):
    # On the training thread: a record is on disk before the checkpoint of its step, which a
    # crash-resume trims the file back to; a background writer could be behind it, and lose records.
    inline = True

    def __init__(self, config: None, context: TrackerContext):
        self.path = Path(context.run_folder) / "metrics.jsonl"
        # O_NOFOLLOW: a metrics.jsonl symlinked elsewhere must not be appended to.
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        self.fd: int | None = os.open(self.path, flags, 0o666)

    def start(self, config: dict[str, Any], total_steps: int, first_step: int) -> None:
        _keep_up_to(self.fd, first_step)

    def _write(self, record: dict[str, Any]) -> None:
        # NaN and infinity are not JSON; null keeps every line readable by strict parsers (jq).
        record = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        line = (json.dumps(record) + "\n").encode()
        end = os.fstat(self.fd).st_size
        try:
            written = os.write(self.fd, line)
            if written != len(line):
                raise OSError(errno.EFBIG, f"only {written} of {len(line)} bytes written")
        except OSError:
            os.ftruncate(self.fd, end)
            raise

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        self._write({"step": step, "time": round(time.time(), 3), **metrics})

    def log_evaluation(self, step: int, results: dict[str, float]) -> None:
        self._write({"step": step, "time": round(time.time(), 3), **{f"eval/{k}": v for k, v in results.items()}})

    def finish(self, summary: dict[str, Any]) -> dict[str, str]:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        return {"metrics": str(self.path)}


def _keep_up_to(fd: int, last_step: int) -> None:
    """Drop records after ``last_step`` and lines that are not whole JSON, in place."""
    offset, cut, kept = 0, None, []
    with open(fd, "rb", closefd=False) as lines:
        lines.seek(0)
        for line in lines:
            keep = line.endswith(b"\n") and _step(line) <= last_step
            if cut is None and not keep:
                cut = offset
            elif cut is not None and keep:
                kept.append(line)
            offset += len(line)
    if cut is not None:
        os.ftruncate(fd, cut)
        if kept:
            os.write(fd, b"".join(kept))


def _step(line: bytes) -> float:
    """A record's step; ``inf`` for a line that is not a record (so it is dropped)."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return math.inf
    step = record.get("step") if isinstance(record, dict) else None
    return step if isinstance(step, int) and not isinstance(step, bool) else math.inf
