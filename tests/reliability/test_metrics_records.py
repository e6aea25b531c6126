"""metrics.jsonl loses no record and repeats none: a failed write leaves no half line, and a resume
drops what the crashed run logged after its checkpoint (those steps are trained, and logged, again)."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest

from tests.reliability.conftest import TINY, metrics_lines_parse


def _tracker(folder: Path):
    from gankit_builtins.trackers.jsonl import JSONLines

    from gankit.components import TrackerContext

    return JSONLines(None, TrackerContext(folder, folder.name))


def _steps(folder: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (folder / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("failure", ["short_write", "enospc"])
def test_a_write_failing_mid_line_leaves_no_half_record(tmp_path, monkeypatch, failure):
    from gankit_builtins.trackers import jsonl

    tracker = _tracker(tmp_path)
    tracker.start({}, 10, 0)
    tracker.log_metrics(1, {"d_loss": 0.5})
    real_write = os.write

    def broken(fd, data):
        written = real_write(fd, data[: len(data) // 2])  # the file-size limit cut it here
        if failure == "enospc":
            raise OSError(errno.ENOSPC, "No space left on device")
        return written

    monkeypatch.setattr(jsonl.os, "write", broken)
    with pytest.raises(OSError):
        tracker.log_metrics(2, {"d_loss": 0.25, "padding": "x" * 10_000})
    monkeypatch.setattr(jsonl.os, "write", real_write)
    tracker.log_metrics(3, {"d_loss": 0.125})
    tracker.finish({})
    assert metrics_lines_parse(tmp_path) == 2
    assert _steps(tmp_path) == [1, 3]


def test_resume_drops_records_after_the_checkpoint_and_a_partial_line(tmp_path):
    tracker = _tracker(tmp_path)
    (tmp_path / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": s, "d_loss": 1.0}) + "\n" for s in (5, 10, 10, 15, 20)) + '{"step": 2'
    )
    tracker.start({}, 20, 10)  # the checkpoint it resumes is step 10; the eval record of 10 stays
    tracker.log_metrics(15, {"d_loss": 0.5})
    tracker.finish({})
    assert _steps(tmp_path) == [5, 10, 10, 15]


def test_each_step_once_after_a_crash_between_logging_and_checkpointing(gankit, tmp_path):
    common = ("--log-every", "5", "--checkpoint-every", "10", "--sample-every", "1000", "-q")
    assert gankit("run", *TINY, "--steps", "20", "--name", "r", *common).exit_code == 0
    run = tmp_path / "runs" / "r"
    # As if killed after step 20 was logged, before its checkpoint, in the middle of another line.
    (run / "checkpoints" / "step-000020.safetensors").unlink()
    (run / "checkpoints" / "latest").write_text("step-000010.safetensors\n")
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 25, "d_lo')
    resumed = gankit("run", "--resume", str(run), "-q")
    assert resumed.exit_code == 0, resumed.output
    assert metrics_lines_parse(run) == 4
    assert _steps(run) == [5, 10, 15, 20]


def test_a_start_killed_before_config_json_leaves_a_reusable_folder(gankit, tmp_path):
    """Killed between creating the folder and writing config.json: --resume says what to do, and a
    fresh run of that name takes the folder."""
    run = tmp_path / "runs" / "x"
    (run / "samples").mkdir(parents=True)
    (run / "checkpoints").mkdir()
    (run / ".lock").write_text("12345\n")
    result = gankit("run", "--resume", str(run), "-q")
    assert result.exit_code == 2
    assert "holds no run to resume" in result.output and "--name x" in result.output, result.output
    started = gankit("run", *TINY, "--steps", "2", "--name", "x", "-q")
    assert started.exit_code == 0, started.output
    assert (run / "config.json").is_file() and (run / "checkpoints" / "step-000002.safetensors").is_file()
