"""Every read of a file a user names is bounded, and every count is capped: one line, never a hang.

Devices that never end (/dev/zero), FIFOs that block until a writer comes, files over the size
limit, over-long paths, and counts like ``-n 10**12`` or ``--seed 2**64`` each end in one ``Error:``
line at once. The FIFO cases run in a subprocess with a timeout, so a regression fails instead of
hanging the suite.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import one_error_line
from tests.reliability.conftest import assert_one_error_line, run_to_end
from tests.reliability.test_confinement import tiny_run  # noqa: F401 - the shared tiny run

HUGE = str(10**12)


@pytest.fixture
def run_copy(tmp_path, tiny_run) -> Path:  # noqa: F811
    copy = tmp_path / "run"
    shutil.copytree(tiny_run, copy)
    (copy / ".lock").unlink(missing_ok=True)
    return copy


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/dev/null"])
@pytest.mark.parametrize("command", ["sample", "resume"])
def test_checkpoint_symlinked_to_a_device_is_refused(gankit, tmp_path, device, command):
    link = tmp_path / "model.safetensors"
    link.symlink_to(device)
    if command == "sample":
        result = gankit("sample", str(link), "-n", "4", "-o", "x.npy")
    else:
        result = gankit("run", "--resume", str(link), "-q")
    line = one_error_line(result)
    assert "character device" in line and "only a regular file is read" in line, line


def test_checkpoint_over_the_size_limit_is_refused_before_reading(gankit, tmp_path, run_copy, monkeypatch):
    from gankit import safe_files

    monkeypatch.setattr(safe_files, "MAX_CHECKPOINT_BYTES", 1000)
    line = one_error_line(gankit("sample", str(run_copy), "-n", "4", "-o", "x.npy"))
    assert "more than the limit of 1,000 bytes" in line, line


@pytest.mark.parametrize("where", ["checkpoint", "config_toml", "run_config_json"])
def test_a_fifo_never_blocks(tmp_path, run_copy, where):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    if where == "checkpoint":
        args = ("sample", str(fifo), "-n", "4", "-o", "x.npy")
    elif where == "config_toml":
        args = ("run", "--config", str(fifo), "--steps", "1", "-q")
    else:  # a run stopped before its first checkpoint resumes from config.json
        shutil.rmtree(run_copy / "checkpoints")
        (run_copy / "config.json").unlink()
        os.mkfifo(run_copy / "config.json")
        args = ("run", "--resume", str(run_copy), "-q")
    done = run_to_end(tmp_path, *args, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "a FIFO" in assert_one_error_line(done.stderr)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("sample", "RUN", "-n", HUGE, "-o", "x.npy"), "at most 1,000,000"),
        (("eval", "RUN", "-n", HUGE), "at most 1,000,000"),
        (("eval", "RUN", "--set", f"digit-quality.samples={HUGE}"), "1000000"),
        (("sample", "RUN", "--seed", str(2**64), "-o", "x.npy"), "2**63-1"),
        (("eval", "RUN", "--seed", str(2**64)), "2**63-1"),
        (("run", "--steps", "1", "--seed", str(2**64), "-q"), str(2**63 - 1)),
    ],
    ids=["sample-n", "eval-n", "eval-metric-samples", "sample-seed", "eval-seed", "run-seed"],
)
def test_counts_are_capped_with_one_line_naming_the_limit(gankit, run_copy, args, named):
    args = tuple(str(run_copy) if a == "RUN" else a for a in args)
    line = one_error_line(gankit(*args))
    assert named in line, line


@pytest.mark.parametrize("output", ["below.png", "below.npy"])
def test_sample_output_below_a_file_is_one_line(gankit, tmp_path, run_copy, output):
    (tmp_path / "FILE").write_text("a file, not a folder")
    line = one_error_line(gankit("sample", str(run_copy), "-n", "4", "-o", str(tmp_path / "FILE" / output)))
    assert "cannot write samples" in line, line


def test_sample_into_dev_full_is_one_line(gankit, run_copy, tmp_path):
    """/dev/full itself has no .npy suffix: a symlink named .npy leads there, as a user's could."""
    link = tmp_path / "full.npy"
    link.symlink_to("/dev/full")
    line = one_error_line(gankit("sample", str(run_copy), "-n", "4", "-o", str(link)))
    assert "No space left on device" in line, line


@pytest.mark.parametrize("command", ["sample", "eval", "resume"])
def test_over_long_path_is_one_line(gankit, command):
    long = "x" * 5000
    if command == "sample":
        result = gankit("sample", long, "-o", "x.npy")
    elif command == "eval":
        result = gankit("eval", long)
    else:
        result = gankit("run", "--resume", long, "-q")
    line = one_error_line(result)
    assert len(line) < 600, line
