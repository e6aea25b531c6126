"""`gankit run --nproc N`: processes that fail alike give one error line, not one per process."""

from __future__ import annotations

import os
import subprocess
import sys

from gankit.engine.distributed import _other_ranks_errors
from gankit.errors import RANK_ERRORS_ENV, leave_rank_error


def test_processes_failing_alike_print_one_line_and_no_torchrun_traceback(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gankit",
            "run",
            "--nproc",
            "2",
            "--data",
            "mnist",
            "--data-root",
            "missing",
            "--steps",
            "2",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert output.count("Error:") == 1 and "'missing' does not exist" in output, output
    assert "Traceback" not in output and "ChildFailedError" not in output, output


def test_other_ranks_add_only_what_rank_zero_did_not_say(tmp_path, monkeypatch):
    monkeypatch.setenv(RANK_ERRORS_ENV, str(tmp_path))
    said = {0: "no data", 1: "no data", 2: "out of memory", 3: "out of memory"}
    hidden = {}
    for rank, message in said.items():
        monkeypatch.setenv("LOCAL_RANK", str(rank))
        hidden[rank] = leave_rank_error(message)
    assert hidden == {0: False, 1: True, 2: True, 3: True}  # rank 0 prints its own line
    assert _other_ranks_errors(tmp_path) == ["Error: rank 2: out of memory"]


def test_outside_a_launch_every_error_is_printed(monkeypatch):
    monkeypatch.delenv(RANK_ERRORS_ENV, raising=False)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert leave_rank_error("anything") is False
