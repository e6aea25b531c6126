"""Trackers: the console, metrics.jsonl, and real Weights & Biases in offline mode."""

from __future__ import annotations

import json

import pytest

from tests.builtins.wandb_records import run_files, summarize

pytest.importorskip("wandb")


def test_wandb_offline_records_config_losses_and_images(gankit, wandb_offline):
    result = gankit(
        "run",
        "--tracker",
        "wandb",
        "--steps",
        "20",
        "--log-every",
        "5",
        "--sample-every",
        "10",
        "--wandb-tags",
        "smoke,ci",
        "--name",
        "tracked",
    )
    assert result.exit_code == 0, result.output
    (run_file,) = run_files(wandb_offline)
    run = summarize(run_file)
    assert run["config"]["run"]["loss"] == "bce" and run["config"]["components"]["mlp"]["kind"] == "architecture"
    losses = [row for row in run["history"] if "d_loss" in row]
    assert [row["_step"] for row in losses] == [5, 10, 15, 20]
    assert all("g_loss" in row and "grad_norm/discriminator" in row and "lr/generator" in row for row in losses)
    images = sorted(run_file.parent.glob("files/media/images/samples_*.png"))
    assert [p.name.split("_")[1] for p in images] == ["10", "20"]
    # The summary says where the offline run is and how to upload it.
    assert f"wandb sync {run_file.parent}" in result.output


def test_resumed_run_continues_the_same_wandb_run(gankit, wandb_offline):
    assert gankit("run", "--tracker", "wandb", "--steps", "6", "--log-every", "3", "--name", "r").exit_code == 0
    resumed = gankit("run", "--resume", "runs/r", "--steps", "12")
    assert resumed.exit_code == 0, resumed.output
    first, second = run_files(wandb_offline)
    ids = {summarize(first)["run_id"], summarize(second)["run_id"]}
    assert len(ids) == 1, ids
    steps = [row["_step"] for row in summarize(second)["history"] if "d_loss" in row]
    assert steps == [9, 12]


def test_wandb_init_failure_is_one_warning_and_training_completes(gankit, wandb_offline, monkeypatch, tmp_path):
    import wandb

    def broken_init(*args, **kwargs):
        raise RuntimeError("simulated: cannot reach W&B\nsecond line of detail")

    monkeypatch.setattr(wandb, "init", broken_init)
    result = gankit("run", "--tracker", "wandb", "--steps", "10", "--log-every", "5", "--name", "nowandb")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "wandb" in line and line.startswith("Warning")]
    assert len(warnings) == 1 and "simulated: cannot reach W&B" in warnings[0], result.output
    assert (tmp_path / "runs" / "nowandb" / "checkpoints" / "step-000010.safetensors").is_file()
    assert len((tmp_path / "runs" / "nowandb" / "metrics.jsonl").read_text().splitlines()) == 2


def test_online_failure_falls_back_to_offline_with_one_warning(gankit, wandb_offline, monkeypatch):
    import wandb

    real_init = wandb.init

    def online_fails(*args, mode=None, **kwargs):
        if mode != "offline":
            raise TimeoutError("simulated: init timed out")
        return real_init(*args, mode=mode, **kwargs)

    monkeypatch.delenv("WANDB_MODE")
    monkeypatch.setattr(wandb, "init", online_fails)
    result = gankit("run", "--tracker", "wandb", "--set", "wandb.mode=online", "--steps", "4", "--log-every", "2")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("Warning")]
    assert len(warnings) == 1 and "wandb sync" in warnings[0] and "simulated: init timed out" in warnings[0]
    assert len(run_files(wandb_offline)) == 1


def test_jsonl_and_plain_console_lines(gankit, tmp_path):
    result = gankit("run", "--steps", "10", "--log-every", "5", "--name", "plain")
    assert result.exit_code == 0
    lines = [line for line in result.output.splitlines() if line.startswith("step ")]
    # The first step's losses at once, then a line per log step with the elapsed time, rate and ETA.
    assert [line.split()[1] for line in lines] == ["1/10", "5/10", "10/10"]
    assert "d_loss" in lines[0] and "elapsed" in lines[0] and "ETA" not in lines[0]
    assert all(w in lines[1] for w in ("d_loss", "g_loss", "elapsed", "steps/s", "ETA"))
    rows = [json.loads(line) for line in (tmp_path / "runs" / "plain" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [5, 10]
    assert {"d_loss", "g_loss", "steps_per_s", "grad_norm/generator", "lr/discriminator"} <= rows[0].keys()
    quiet = gankit("run", "--steps", "10", "--log-every", "5", "--name", "quiet", "-q")
    assert not [line for line in quiet.output.splitlines() if line.startswith("step ")]


def test_a_tracker_that_raises_is_switched_off_with_one_warning(caplog):
    from gankit import Tracker
    from gankit.tracking import TrackerGroup

    class Flaky(Tracker):
        calls = 0

        def log_metrics(self, step, metrics):
            raise ConnectionError("service down")

    class Counting(Tracker):
        def __init__(self):
            self.steps = []

        def log_metrics(self, step, metrics):
            self.steps.append(step)

    counting = Counting()
    group = TrackerGroup({"flaky": Flaky(), "counting": counting})
    for step in range(3):
        group.log_metrics(step, {"d_loss": 1.0})
    group.finish({})  # each tracker works on a thread of its own: wait for them
    assert counting.steps == [0, 1, 2]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "'flaky'" in warnings[0] and "service down" in warnings[0]
