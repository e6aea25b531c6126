"""W&B across a crash-resume, with real wandb offline: each step is logged once, the sync command names
every offline part of the run, and the final summary keeps the sample picture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.builtins.wandb_records import records, run_files, summarize

pytest.importorskip("wandb")

TINY = ("--batch-size", "16", "--set", "arch.g_hidden=32", "--set", "arch.d_hidden=32")


def _summary(path: Path) -> dict:
    """The run's summary as its records leave it (later updates win)."""
    summary: dict = {}
    for record in records(path):
        if record.WhichOneof("record_type") == "summary":
            for item in record.summary.update:
                summary[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    return summary


def test_crash_resume_logs_each_step_once_and_names_every_offline_part(gankit, wandb_offline, tmp_path):
    common = (*TINY, "--log-every", "5", "--checkpoint-every", "10", "--sample-every", "1000", "-q")
    assert gankit("run", "--tracker", "wandb", "--steps", "20", "--name", "r", *common).exit_code == 0
    run = tmp_path / "runs" / "r"
    # As if killed after step 20 was logged (to metrics.jsonl and W&B), before its checkpoint.
    (run / "checkpoints" / "step-000020.safetensors").unlink()
    (run / "checkpoints" / "latest").write_text("step-000010.safetensors\n")
    resumed = gankit("run", "--resume", str(run), "--steps", "30", "-q")
    assert resumed.exit_code == 0, resumed.output
    first, second = run_files(wandb_offline)
    assert summarize(first)["run_id"] == summarize(second)["run_id"]
    logged = [row["_step"] for part in (first, second) for row in summarize(part)["history"] if "d_loss" in row]
    assert logged == [5, 10, 15, 20, 25, 30]  # 15 and 20, trained again after the crash, are not sent twice
    # Steps before this process's part upload only with their own folder: the command names both.
    assert f"wandb sync {first.parent} {second.parent}" in resumed.output, resumed.output


def test_the_final_summary_keeps_the_sample_picture(gankit, wandb_offline):
    result = gankit("run", "--tracker", "wandb", *TINY, "--steps", "4", "--sample-every", "2", "-q")
    assert result.exit_code == 0, result.output
    (run_file,) = run_files(wandb_offline)
    summary = _summary(run_file)
    # The picture logged at step 4 stays the summary's "samples"; the local file is beside it.
    assert not isinstance(summary.get("samples"), str), summary
    assert summary["samples_file"].endswith("step-000004.png")
    assert summary["steps"] == 4
