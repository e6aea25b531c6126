"""Deleting ``.lock`` while a run trains lets no second process into its folder, and a run that ends
leaves no ``.lock`` behind.

The lock that counts is an ``flock`` on the run folder itself, which cannot be deleted while it holds
the run; ``.lock`` only names the holder's pid (and is put back at the next checkpoint if deleted).
"""

from __future__ import annotations

import fcntl
import os
import signal
import time

import pytest

from gankit.errors import GankitError
from gankit.runs import RunFolder
from tests.reliability.conftest import TINY, Process, assert_one_error_line, check_run_folder, run_to_end

LONG = ("run", *TINY, "--steps", "1000000", "--checkpoint-every", "20", "--log-every", "1000", "-q")


def _wait(condition, process: Process, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.popen.poll() is None, process.stderr
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


def _folder_lock_free(run) -> bool:
    fd = os.open(run, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _lock_pid(run) -> str:
    try:
        return (run / ".lock").read_text().strip()
    except FileNotFoundError:
        return ""


def test_deleting_lock_while_a_run_trains_lets_no_second_run_in(gankit, tmp_path):
    holder = Process(tmp_path, *LONG, "--name", "shared", tag="holder")
    run = tmp_path / "runs" / "shared"
    try:
        _wait(lambda: (run / "checkpoints" / "latest").exists(), holder, "a first checkpoint")
        (run / ".lock").unlink()
        # A resume in a process of its own, and a fresh run of that name in this one, are refused.
        intruder = run_to_end(tmp_path, "run", "--resume", "runs/shared", "-q")
        assert intruder.returncode == 2, intruder.stderr
        assert "'runs/shared' is in use by another gankit process" in assert_one_error_line(intruder.stderr)
        fresh = gankit("run", *TINY, "--steps", "5", "--name", "shared", "-q")
        assert fresh.exit_code == 2 and "is in use by another gankit process" in assert_one_error_line(fresh.output)
        # The holder puts .lock back at its next checkpoint; then the refusal names it again.
        _wait(lambda: _lock_pid(run) == str(holder.pid), holder, ".lock written again")
        resume = gankit("run", "--resume", "runs/shared", "-q")
        assert resume.exit_code == 2 and f"(pid {holder.pid})" in resume.output, resume.output
        assert holder.popen.poll() is None, holder.stderr
    finally:
        holder.signal(signal.SIGKILL)
        holder.wait()
    assert _folder_lock_free(run)
    step = check_run_folder(run)
    resumed = gankit("run", "--resume", "runs/shared", "--steps", str(step + 2), "-q")
    assert resumed.exit_code == 0, resumed.output
    assert check_run_folder(run) == step + 2


def test_a_run_that_ends_leaves_no_lock_file(gankit, tmp_path):
    assert gankit("run", *TINY, "--steps", "4", "--name", "done", "-q").exit_code == 0
    run = tmp_path / "runs" / "done"
    assert not (run / ".lock").exists() and _folder_lock_free(run)
    # A resume of the finished run takes the folder again, and gives it back the same way.
    assert gankit("run", "--resume", "runs/done", "--steps", "6", "-q").exit_code == 0
    assert check_run_folder(run) == 6 and not (run / ".lock").exists()
    # So does a run that ends in an error.
    failed = gankit("run", *TINY, "--lr", "1e8", "--loss", "lsgan", "--on-nan", "stop", "--name", "nan", "-q")
    assert failed.exit_code == 2 and "NaN/inf" in failed.output, failed.output
    assert not (tmp_path / "runs" / "nan" / ".lock").exists()


def test_release_removes_lock_only_while_holding_it_and_the_next_taker_gets_a_fresh_one(tmp_path):
    first = RunFolder(tmp_path / "run").lock()
    with pytest.raises(GankitError, match=r"in use by another gankit process \(pid \d+\)"):
        RunFolder(tmp_path / "run").lock()  # another open file description: refused like a process
    (tmp_path / "run" / ".lock").unlink()  # deleted by hand: the folder's lock still refuses
    with pytest.raises(GankitError, match="in use by another gankit process"):
        RunFolder(tmp_path / "run").lock()
    first.keep_lock_file()  # what each checkpoint does: .lock is back, with our pid
    assert _lock_pid(tmp_path / "run") == str(os.getpid())
    first.release()
    assert not (tmp_path / "run" / ".lock").exists()
    second = RunFolder(tmp_path / "run").lock()
    assert _lock_pid(tmp_path / "run") == str(os.getpid())
    second.release()


def test_a_lock_file_replaced_between_open_and_lock_is_taken_again(tmp_path, monkeypatch):
    """Where folders cannot be locked (NFS), ``.lock`` is the lock, and its holder removes it at the end:
    a process that opened the old file just before must not hold a lock nobody else sees."""
    from gankit import runs

    real_flock = runs._flock
    calls = []

    def flock(fd):
        calls.append(fd)
        if len(calls) == 1:
            return True  # the folder: as on a file system without folder locks
        if len(calls) == 2:  # .lock, just opened: its holder ends and removes it; another run makes it anew
            (tmp_path / "run" / ".lock").unlink()
            (tmp_path / "run" / ".lock").write_text("")
        return real_flock(fd)

    monkeypatch.setattr(runs, "_flock", flock)
    (tmp_path / "run").mkdir()
    folder = RunFolder(tmp_path / "run").lock()
    assert len(calls) == 3  # the folder, the removed .lock, the one there now
    held = os.fstat(folder._lock_handle.fileno())
    assert held.st_ino == os.stat(tmp_path / "run" / ".lock").st_ino
    assert _lock_pid(tmp_path / "run") == str(os.getpid())
    folder.release()
