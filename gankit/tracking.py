"""Fan-out of a run's reports to its trackers, each isolated so that none can stall or break training.

A tracker runs on a thread of its own, fed through a bounded queue: a slow service (an upload, a
network that hangs) never makes the training step wait. When a tracker falls so far behind that its
queue is full, its newest records are dropped and counted, with one warning naming it. A tracker
that raises is switched off with one warning. At the end each tracker gets ``finish`` and the run
waits for them, but only up to :data:`FINISH_TIMEOUT` seconds in all.

A tracker whose class sets ``inline = True`` (metrics.jsonl) is called on the training thread
instead, in step with the training: what it writes is on disk before the checkpoint of that step.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any

from gankit.components import Tracker

#: Calls a tracker may have waiting before its newest ones are dropped. A log step brings at most
#: four (metrics, images, evaluation, checkpoint), so this is hundreds of log steps of slack.
QUEUE_SIZE = 1000

#: Seconds ``finish`` waits for all trackers together before the run ends without the slow ones.
FINISH_TIMEOUT = 120.0

_STOP = "_stop"


#: The ``gankit`` CLI shows this logger's warnings as one ``Warning: ...`` line each.
logger = logging.getLogger(__name__)


def _warn(message: str) -> None:
    logger.warning(message)


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [type(exc).__name__])[0]}"


class _Worker:
    """One tracker on its own thread: calls run there, in the order they were submitted."""

    def __init__(self, name: str, tracker: Tracker, group: TrackerGroup, capacity: int):
        self.name = name
        self.tracker = tracker
        self.group = group
        self.queue: queue.Queue[tuple[str, tuple[Any, ...]]] = queue.Queue(capacity)
        #: What ``state()`` said after the last call this thread finished; seeded on the training thread
        #: before the thread starts, so a checkpoint written before the tracker caught up still has it.
        self.state: dict[str, Any] = tracker.state() or {}
        self.shown: dict[str, str] | None = None
        self.busy_in = ""
        self.dropped = 0
        self.abandoned = False
        self.thread = threading.Thread(target=self._loop, name=f"gankit-tracker-{name}", daemon=True)
        self.thread.start()

    def submit(self, method: str, args: tuple[Any, ...]) -> None:
        try:
            self.queue.put_nowait((method, args))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1:
                _warn(
                    f"tracker {self.name!r} falls behind the training (still in {self.busy_in or 'a call'}, "
                    f"{self.queue.maxsize} calls waiting); its newest records are dropped until it catches up, "
                    "training goes on"
                )

    def _loop(self) -> None:
        while True:
            method, args = self.queue.get()
            if method == _STOP or self.abandoned:
                return
            if self.name in self.group.failed:
                if method == "finish":
                    return
                continue  # switched off: what is still queued is dropped
            if method == "finish":
                self._finish(args)
                return
            self.busy_in = method
            try:
                getattr(self.tracker, method)(*args)
                self.state = self.tracker.state() or {}
            except BaseException as exc:  # a tracker must never stop training (SystemExit included)
                self.group.switch_off(self.name, method, exc)
            finally:
                self.busy_in = ""
            if self.abandoned:
                return

    def _finish(self, args: tuple[Any, ...]) -> None:
        self.busy_in = "finish"
        try:
            self.shown = dict(self.tracker.finish(*args) or {})
        except BaseException as exc:
            self.group.switch_off(self.name, "finish", exc)


class TrackerGroup:
    """Calls every tracker, each on its own thread unless it is ``inline``; one that raises is
    switched off with a single warning line, one that falls behind loses records, never the run's time."""

    def __init__(
        self, trackers: dict[str, Tracker], queue_size: int | None = None, finish_timeout: float | None = None
    ):
        self.trackers = dict(trackers)
        self.failed: dict[str, str] = {}
        queue_size = queue_size or QUEUE_SIZE
        self.finish_timeout = FINISH_TIMEOUT if finish_timeout is None else finish_timeout
        self.workers: dict[str, _Worker] = {}
        for name, tracker in self.trackers.items():
            if not getattr(tracker, "inline", False):
                try:
                    self.workers[name] = _Worker(name, tracker, self, queue_size)
                except Exception as exc:  # its state() raised
                    self.switch_off(name, "state", exc)

    def dropped(self) -> dict[str, int]:
        """Calls dropped so far because a tracker's queue was full, by tracker."""
        return {name: worker.dropped for name, worker in self.workers.items() if worker.dropped}

    def switch_off(self, name: str, method: str, exc: BaseException) -> None:
        if name in self.failed:
            return
        self.failed[name] = _reason(exc)
        _warn(f"tracker {name!r} failed in {method} ({self.failed[name]}); training goes on without it")

    def _call(self, method: str, *args: Any) -> None:
        for name, tracker in self.trackers.items():
            if name in self.failed:
                continue
            worker = self.workers.get(name)
            if worker is not None:
                # ``advance`` comes every step: skip the queue for trackers that do nothing with it.
                if method != "advance" or type(tracker).advance is not Tracker.advance:
                    worker.submit(method, args)
                continue
            try:
                getattr(tracker, method)(*args)
            except Exception as exc:  # a tracker must never stop training
                self.switch_off(name, method, exc)

    def start(self, config: dict[str, Any], total_steps: int, first_step: int) -> None:
        self._call("start", config, total_steps, first_step)

    def advance(self, step: int) -> None:
        self._call("advance", step)

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        self._call("log_metrics", step, dict(metrics))  # a copy: the thread reads it later

    def log_progress(self, step: int, metrics: dict[str, float]) -> None:
        self._call("log_progress", step, dict(metrics))

    def log_images(self, step: int, name: str, path: Path) -> None:
        self._call("log_images", step, name, path)

    def log_evaluation(self, step: int, results: dict[str, float]) -> None:
        self._call("log_evaluation", step, dict(results))

    def log_checkpoint(self, step: int, path: Path) -> None:
        self._call("log_checkpoint", step, path)

    def states(self) -> dict[str, dict[str, Any]]:
        """Each working tracker's state, saved with a checkpoint. A threaded tracker's is what it said
        after the last call it finished (or, before any, when it was built): never waited for."""
        states = {}
        for name, tracker in self.trackers.items():
            if name in self.failed:
                continue
            worker = self.workers.get(name)
            if worker is not None:
                state = worker.state
            else:
                try:
                    state = tracker.state()
                except Exception as exc:
                    self.switch_off(name, "state", exc)
                    continue
            if state:
                states[name] = state
        return states

    def finish(self, summary: dict[str, Any]) -> dict[str, str]:
        """Finish every tracker; waits at most ``finish_timeout`` s in all for the threaded ones."""
        deadline = time.monotonic() + self.finish_timeout
        waiting = []
        for name, worker in self.workers.items():
            if name in self.failed:
                continue
            try:
                worker.queue.put_nowait(("finish", (dict(summary),)))
            except queue.Full:
                waiting.append(worker)
        # A full queue: that tracker is behind. The others got theirs first, so they finish meanwhile.
        stuck = set()
        for worker in waiting:
            try:
                worker.queue.put(("finish", (dict(summary),)), timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Full:
                stuck.add(worker.name)
        for name, worker in self.workers.items():
            if name in self.failed:
                try:
                    worker.queue.put_nowait((_STOP, ()))  # its thread drops what is queued, then ends
                except queue.Full:
                    pass  # a daemon thread: it does not keep the process alive
        where: dict[str, str] = {}
        for name, tracker in self.trackers.items():
            worker = self.workers.get(name)
            if worker is None:
                if name not in self.failed:
                    try:
                        where.update(tracker.finish(summary) or {})
                    except Exception as exc:
                        self.switch_off(name, "finish", exc)
                continue
            if name in self.failed:
                continue
            worker.thread.join(max(deadline - time.monotonic(), 0))
            if name in self.failed:
                continue  # it failed while finishing, or before: warned then
            if worker.thread.is_alive() or name in stuck:
                worker.abandoned = True  # its thread ends when its current call returns
                lost = f"; {worker.dropped} calls were dropped" if worker.dropped else ""
                _warn(
                    f"tracker {name!r} did not finish within {self.finish_timeout:g} s (still in "
                    f"{worker.busy_in or 'a call'}{lost}); the run ends without waiting for it"
                )
            else:
                where.update(worker.shown or {})
        return where
