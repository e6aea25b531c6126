"""Two runs writing into one run folder: the second is refused, naming the folder and the holder's pid.

The lock is an ``flock`` on ``.lock``: when the holder is SIGKILLed the kernel drops it, so a resume
starts at once.
"""

from __future__ import annotations

import signal
import time

from tests.reliability.conftest import (
    TINY,
    Process,
    assert_lock_free,
    assert_one_error_line,
    check_run_folder,
    checkpoint_steps,
)

LONG = ("run", *TINY, "--steps", "1000000", "--checkpoint-every", "20", "--log-every", "1000", "-q")


def _wait_for_checkpoint(run, process: Process, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not checkpoint_steps(run / "checkpoints"):
        assert process.popen.poll() is None, process.stderr
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.01)


def test_second_run_in_the_same_folder_is_refused_and_a_killed_holder_leaves_no_stuck_lock(gankit, tmp_path):
    # Two processes started together race for the folder: exactly one wins.
    first = Process(tmp_path, *LONG, "--name", "shared", tag="first")
    second = Process(tmp_path, *LONG, "--name", "shared", tag="second")
    deadline = time.monotonic() + 180
    while first.popen.poll() is None and second.popen.poll() is None:
        assert time.monotonic() < deadline, "neither run was refused"
        time.sleep(0.01)
    loser, winner = (first, second) if first.popen.poll() is not None else (second, first)
    try:
        assert loser.wait() == 2, loser.stderr
        assert winner.popen.poll() is None, winner.stderr
        line = assert_one_error_line(loser.stderr)
        assert "'runs/shared'" in line and f"pid {winner.pid}" in line and "in use by another gankit process" in line
        assert loser.stdout == ""

        run = tmp_path / "runs" / "shared"
        winner.wait_for(r"^gankit: .*-> runs/shared$")
        _wait_for_checkpoint(run, winner)
        # While it trains, an in-process resume or a fresh run with its name is refused the same way...
        intruders = (("run", "--resume", "runs/shared", "-q"), ("run", *TINY, "--steps", "5", "--name", "shared", "-q"))
        for args in intruders:
            result = gankit(*args)
            assert result.exit_code == 2
            refused = assert_one_error_line(result.output)
            assert "'runs/shared'" in refused and f"pid {winner.pid}" in refused
        # ...while reading it is fine: sampling takes no lock, and checkpoints are replaced atomically.
        assert gankit("sample", "runs/shared", "-n", "4", "-o", "live.npy").exit_code == 0
    finally:
        winner.signal(signal.SIGKILL)
        winner.wait()

    assert_lock_free(run)
    step = check_run_folder(run)
    assert step is not None and step > 0
    resumed = gankit("run", "--resume", "runs/shared", "--steps", str(step + 2), "-q")
    assert resumed.exit_code == 0, resumed.output
    assert f"(resuming at step {step})" in resumed.output
    assert check_run_folder(run) == step + 2
