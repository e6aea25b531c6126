"""A tracker that blocks (a hung upload, a service that never answers) never stalls training.

Each tracker works on a thread of its own, fed through a bounded queue: the run finishes while the
tracker is still stuck in its first call, with one warning naming it, and trains exactly as without it.
No timing is asserted: the blocked tracker waits on an event that the test sets only at the end.
"""

from __future__ import annotations

import json
import logging
import threading

import pytest

import gankit
from gankit import tracking
from tests.reliability.conftest import TINY, assert_same_weights

#: Long enough that a run waiting for the tracker would still be waiting when it is checked.
BLOCKED_FOR = 600


class Blocked(gankit.Tracker):
    """Blocks in its first ``log_metrics`` until released; counts what it got."""

    instances: list[Blocked] = []

    def __init__(self, config=None, context=None):
        self.release = threading.Event()
        self.entered = threading.Event()
        self.calls: list[tuple[str, int]] = []
        self.returned = 0
        self.finished = False
        Blocked.instances.append(self)

    def log_metrics(self, step, metrics):
        self.calls.append(("log_metrics", step))
        if not self.entered.is_set():
            self.entered.set()
            self.release.wait(BLOCKED_FOR)
        self.returned += 1

    def log_images(self, step, name, path):
        self.calls.append(("log_images", step))

    def state(self):
        return {"calls": len(self.calls)}

    def finish(self, summary):
        self.finished = True
        return {"blocked": "done"}


class BlockedPlugin:
    @gankit.hookimpl
    def gankit_register_trackers(self, register):
        register("blocked", Blocked, summary="blocks in its first log_metrics")


@pytest.fixture
def blocked(gankit_plugin, monkeypatch):
    gankit_plugin(BlockedPlugin(), name="slowtest")
    monkeypatch.setattr(tracking, "QUEUE_SIZE", 4)  # full after a few log steps
    monkeypatch.setattr(tracking, "FINISH_TIMEOUT", 0.5)  # the run's end waits this long for it
    Blocked.instances.clear()
    yield Blocked.instances
    for tracker in Blocked.instances:
        tracker.release.set()  # let its thread end


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "gankit.tracking"]


def _losses(run) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in ("time", "steps_per_s")} for row in rows]


COMMON = (*TINY, "--steps", "30", "--log-every", "1", "--checkpoint-every", "10", "--sample-every", "10", "-q")


def test_a_blocked_tracker_neither_stalls_nor_changes_training(gankit, tmp_path, blocked, caplog):
    caplog.set_level(logging.WARNING, logger="gankit.tracking")
    result = gankit("run", *COMMON, "--tracker", "blocked", "--name", "slow")
    assert result.exit_code == 0, result.output
    (tracker,) = blocked
    # The run ended while the tracker was still inside its first call.
    assert tracker.entered.is_set() and not tracker.release.is_set()
    assert tracker.returned == 0 and not tracker.finished
    slow = tmp_path / "runs" / "slow"
    assert (slow / "checkpoints" / "step-000030.safetensors").is_file()
    # One warning when its queue filled (naming it and the call it is stuck in), one when the end gave up.
    behind = [w for w in _warnings(caplog) if "falls behind" in w]
    assert len(behind) == 1 and "'blocked'" in behind[0] and "log_metrics" in behind[0], _warnings(caplog)
    ended = [w for w in _warnings(caplog) if "did not finish" in w]
    assert len(ended) == 1 and "'blocked'" in ended[0] and "calls were dropped" in ended[0]
    # metrics.jsonl (on the training thread) holds every step, and training is bit-identical without it.
    assert gankit("run", *COMMON, "--name", "plain").exit_code == 0
    plain = tmp_path / "runs" / "plain"
    assert [row["step"] for row in _losses(slow)] == list(range(1, 31))
    assert _losses(slow) == _losses(plain)
    assert_same_weights(slow, plain)


def test_group_calls_return_while_the_tracker_is_blocked(blocked, caplog):
    caplog.set_level(logging.WARNING, logger="gankit.tracking")
    slow = Blocked()
    group = tracking.TrackerGroup({"slow": slow}, queue_size=3, finish_timeout=0.2)
    group.start({}, 100, 0)
    group.log_metrics(1, {"d_loss": 1.0})
    assert slow.entered.wait(BLOCKED_FOR)  # its thread is inside the first call now
    for step in range(2, 12):
        group.log_metrics(step, {"d_loss": 1.0})
        group.log_images(step, "samples", "x.png")
    # 3 calls fit in its queue; the other 17 were dropped and counted, with one warning.
    assert group.dropped() == {"slow": 17}
    assert len([w for w in _warnings(caplog) if "falls behind" in w]) == 1
    assert group.states() == {"slow": {"calls": 0}}  # from before the call it is stuck in; never waited for
    assert group.finish({"steps": 11}) == {}
    assert not slow.finished and slow.returned == 0
    slow.release.set()


def test_a_tracker_that_catches_up_gets_everything_in_order_and_its_state_saved(blocked):
    slow = Blocked()
    group = tracking.TrackerGroup({"slow": slow}, queue_size=100, finish_timeout=600)
    group.start({}, 10, 0)
    for step in range(1, 11):
        group.log_metrics(step, {"d_loss": 1.0})
    assert slow.entered.wait(BLOCKED_FOR)
    slow.release.set()
    assert group.finish({"steps": 10}) == {"blocked": "done"}
    assert slow.calls == [("log_metrics", s) for s in range(1, 11)] and slow.finished
    assert group.states() == {"slow": {"calls": 10}}
    assert group.dropped() == {}
