"""SIGINT and SIGTERM: finish the step, write a checkpoint there, say how to resume, exit 128+signal.

Resuming the stopped run to its end gives the uninterrupted run's weights bit for bit.
"""

from __future__ import annotations

import re
import signal

import pytest

from tests.reliability.conftest import (
    REFERENCE_STEPS,
    TINY,
    Process,
    assert_lock_free,
    assert_same_weights,
    check_run_folder,
    temp_files,
)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_checkpoints_the_current_step_and_resume_equals_uninterrupted(tmp_path, reference_run, signum):
    name = signum.name.lower()
    process = Process(
        tmp_path,
        "run",
        *TINY,
        "--steps",
        str(REFERENCE_STEPS),
        "--log-every",
        "10",
        "--sample-every",
        "100000",
        "--name",
        name,
        tag=name,
    )
    process.wait_for(rf"^step [1-9]\d*/{REFERENCE_STEPS}\b")  # training is under way
    process.signal(signum)
    code = process.wait(timeout=120)
    assert code == 128 + signum.value, process.stdout + process.stderr
    assert "Traceback" not in process.stdout + process.stderr

    stopped = re.search(rf"^Stopped by {signum.name} at step (\d+)/{REFERENCE_STEPS}\.$", process.stdout, re.MULTILINE)
    assert stopped, process.stdout
    step = int(stopped.group(1))
    assert 0 < step < REFERENCE_STEPS
    assert f"Continue with: gankit run --resume runs/{name}" in process.stdout

    run = tmp_path / "runs" / name
    assert check_run_folder(run) == step  # a checkpoint at the stopped step, and latest names it
    assert temp_files(run / "checkpoints") == []
    assert_lock_free(run)

    resumed = Process(tmp_path, "run", "--resume", f"runs/{name}", "-q", tag=f"{name}-resume")
    assert f"(resuming at step {step})" in resumed.wait_for(r"^gankit: .*-> \S+$").group(0)
    assert resumed.wait() == 0, resumed.stdout + resumed.stderr
    assert check_run_folder(run) == REFERENCE_STEPS
    assert_same_weights(run, reference_run)
