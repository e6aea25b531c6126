"""The run folder's lock, as a process that loses the race for it sees it."""

from __future__ import annotations

import fcntl
import threading

import pytest

from gankit.errors import GankitError
from gankit.runs import RunFolder


def _hold(path):
    path.mkdir(parents=True)
    handle = open(path / ".lock", "a+")  # noqa: SIM115 - held until the test closes it
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return handle


def test_a_loser_by_microseconds_still_names_the_holder(tmp_path):
    # The holder has the lock but has not written its pid yet, as just after its flock().
    holder = _hold(tmp_path / "run")
    writer = threading.Timer(0.2, lambda: (holder.write("4242\n"), holder.flush()))
    writer.start()
    try:
        with pytest.raises(GankitError, match=r"in use by another gankit process \(pid 4242\)"):
            RunFolder(tmp_path / "run").lock()
    finally:
        writer.join()
        holder.close()


def test_the_lock_is_free_again_once_its_holder_lets_go(tmp_path):
    holder = _hold(tmp_path / "run")
    holder.close()
    folder = RunFolder(tmp_path / "run").lock()
    assert (tmp_path / "run" / ".lock").read_text().strip().isdigit()
    assert folder.path == tmp_path / "run"
