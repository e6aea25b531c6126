"""A full disk or an unwritable folder while saving: one ``Error:`` line, exit 2, the last checkpoint kept.

Three ways to fill the disk: ``os.fsync`` raising ENOSPC on the second checkpoint (in-process), the
same on the ``latest`` pointer, and a real 150 KiB tmpfs that a second checkpoint does not fit
(``unshare --mount``: the mount exists only inside that process's namespace). An unwritable folder
is ``chmod 0o500``; as root that stops nothing, so the process then runs without the capabilities
that let root ignore permissions (``setpriv --bounding-set=-dac_override,...``).
"""

from __future__ import annotations

import errno
import gc
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.conftest import (
    ENV,
    TINY,
    assert_lock_free,
    assert_one_error_line,
    check_run_folder,
    checkpoint_steps,
    run_to_end,
    temp_files,
)

ENOSPC = OSError(errno.ENOSPC, "No space left on device")


def _fail_fsync(monkeypatch, matches, from_call: int) -> list[str]:
    """Make ``os.fsync`` raise ENOSPC for files whose name ``matches``, from the ``from_call``-th on."""
    real_fsync = os.fsync
    seen: list[str] = []

    def fsync(fd: int) -> None:
        name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        if name.endswith(".tmp") and matches(name):
            seen.append(name)
            if len(seen) >= from_call:
                raise OSError(ENOSPC.errno, ENOSPC.strerror)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return seen


def _assert_kept_step_3(run: Path) -> None:
    assert check_run_folder(run) == 3  # every checkpoint loads, latest names step 3
    assert temp_files(run / "checkpoints") == []
    assert temp_files(run) == []


def test_enospc_on_the_second_checkpoint_keeps_the_first(gankit, tmp_path, monkeypatch):
    seen = _fail_fsync(monkeypatch, lambda name: name.startswith(".step-"), from_call=2)
    result = gankit("run", *TINY, "--steps", "9", "--checkpoint-every", "3", "--name", "d", "-q")
    assert result.exit_code == 2
    line = assert_one_error_line(result.output)
    assert "step 6" in line and "No space left on device" in line and "runs/d/checkpoints" in line
    assert len(seen) == 2
    run = tmp_path / "runs" / "d"
    _assert_kept_step_3(run)
    assert checkpoint_steps(run / "checkpoints") == [3]

    monkeypatch.undo()  # space again: the run continues from the kept checkpoint
    monkeypatch.chdir(tmp_path)
    del result  # in-process, the failed run's lock is held by its traceback's frames until they go
    gc.collect()
    resumed = gankit("run", "--resume", "runs/d", "-q")
    assert resumed.exit_code == 0, resumed.output
    assert "(resuming at step 3)" in resumed.output
    assert check_run_folder(run) == 9


def test_enospc_on_the_latest_pointer_keeps_it_on_the_previous_checkpoint(gankit, tmp_path, monkeypatch):
    _fail_fsync(monkeypatch, lambda name: name.startswith(".latest."), from_call=2)
    result = gankit("run", *TINY, "--steps", "9", "--checkpoint-every", "3", "--name", "p", "-q")
    assert result.exit_code == 2
    line = assert_one_error_line(result.output)
    assert "step 6" in line and "No space left on device" in line
    run = tmp_path / "runs" / "p"
    _assert_kept_step_3(run)  # step 6's data file may be complete, but latest stays on step 3


def _can_mount_tmpfs(where: Path) -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "--mount", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs '{where}'"],
        capture_output=True,
        timeout=30,
    )
    return probe.returncode == 0


def test_a_real_full_tmpfs(tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _can_mount_tmpfs(disk):
        pytest.skip("needs unshare --mount and tmpfs (root or user namespaces)")
    report = tmp_path / "report"
    report.mkdir()
    # One checkpoint of this run is 89 KiB: the first fits in 150 KiB, the second does not.
    gankit = " ".join(
        [
            sys.executable,
            "-m",
            "gankit",
            "run",
            *TINY,
            "--steps",
            "9",
            "--checkpoint-every",
            "3",
            "--sample-every",
            "100000",
            "--name",
            "d",
            "-q",
        ]
    )
    script = (
        f"mount -t tmpfs -o size=150k tmpfs '{disk}' && cd '{disk}' && "
        f"{gankit} > '{report}/stdout' 2> '{report}/stderr'; echo $? > '{report}/rc'; cp -a . '{report}/disk'"
    )
    subprocess.run(["unshare", "--mount", "sh", "-c", script], env=ENV, timeout=300, check=True)
    assert (report / "rc").read_text().strip() == "2", (report / "stderr").read_text()
    stderr = (report / "stderr").read_text()
    line = assert_one_error_line(stderr)
    assert "No space left on device" in line and "step 6" in line
    assert (report / "stdout").read_text() == ""
    _assert_kept_step_3(report / "disk" / "runs" / "d")


def _unprivileged() -> tuple[str, ...]:
    """A command prefix under which chmod 0o500 really stops writes."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv"):
        prefix = ("setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner")
        if subprocess.run([*prefix, "true"], capture_output=True, timeout=30).returncode == 0:
            return prefix
    pytest.skip("running as root without setpriv: chmod does not stop root from writing")


@pytest.fixture
def stopped_run(gankit, tmp_path) -> Path:
    result = gankit("run", *TINY, "--steps", "3", "--checkpoint-every", "3", "--name", "u", "-q")
    assert result.exit_code == 0, result.output
    return tmp_path / "runs" / "u"


def test_unwritable_checkpoints_folder(stopped_run, tmp_path):
    prefix = _unprivileged()
    checkpoints = stopped_run / "checkpoints"
    checkpoints.chmod(0o500)
    try:
        done = run_to_end(tmp_path, "run", "--resume", "runs/u", "--steps", "6", "-q", prefix=prefix)
    finally:
        checkpoints.chmod(0o755)
    assert done.returncode == 2, done.stderr
    line = assert_one_error_line(done.stderr)
    assert "Permission denied" in line and "runs/u/checkpoints" in line and "step 6" in line
    _assert_kept_step_3(stopped_run)
    assert_lock_free(stopped_run)


def test_unwritable_run_folder(stopped_run, tmp_path):
    prefix = _unprivileged()
    stopped_run.chmod(0o500)
    try:
        done = run_to_end(tmp_path, "run", "--resume", "runs/u", "--steps", "6", "-q", prefix=prefix)
    finally:
        stopped_run.chmod(0o755)
    _assert_kept_step_3(stopped_run)
    assert done.returncode == 2, done.stderr
    line = assert_one_error_line(done.stderr)
    assert "Permission denied" in line and "runs/u" in line


def test_enospc_while_writing_config_json(stopped_run, gankit, tmp_path, monkeypatch):
    _fail_fsync(monkeypatch, lambda name: name.startswith(".config.json."), from_call=1)
    monkeypatch.chdir(tmp_path)
    try:
        result = gankit("run", "--resume", "runs/u", "--steps", "6", "-q")
    finally:
        _assert_kept_step_3(stopped_run)
    assert result.exit_code == 2
    assert "No space left on device" in assert_one_error_line(result.output)
