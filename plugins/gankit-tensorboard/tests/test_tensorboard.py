"""gankit-tensorboard, tested with gankit's testing kit and read back with TensorBoard's own reader."""

from __future__ import annotations

from pathlib import Path

import pytest
from gankit import TrackerContext
from gankit.testing import check_component, check_plugin, create_component, run_cli

import gankit_tensorboard

pytest.importorskip("tensorboard")


def _events(log_dir: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return events


def _steps(events, tag: str) -> list[int]:
    return [e.step for e in events.Scalars(tag)]


def test_plugin_loads_cleanly_without_importing_torch():
    check_plugin(gankit_tensorboard)


def test_tracker_conforms(gankit_plugin):
    gankit_plugin(gankit_tensorboard)
    check_component("tracker", "tensorboard")


def test_a_run_writes_losses_and_sample_images(gankit_plugin, tmp_path):
    gankit_plugin(gankit_tensorboard)
    flags = ["--tracker", "tensorboard", "--data", "ring8", "--log-every", "1", "--sample-every", "3"]
    run_cli("run", *flags, "--steps", "3", "--batch-size", "16", "--out", str(tmp_path), "--name", "tb", "-q")
    log_dir = tmp_path / "tb" / "tensorboard"
    assert list(log_dir.glob("events.out.tfevents.*"))
    events = _events(log_dir)
    for tag in ("d_loss", "g_loss", "grad_norm/discriminator", "lr/generator", "steps_per_s"):
        assert _steps(events, tag) == [1, 2, 3], tag
    assert [e.step for e in events.Images("samples")] == [3]
    assert "config/text_summary" in events.Tags()["tensors"]  # add_text stores a text tensor


def test_resumed_run_continues_the_curves(gankit_plugin, tmp_path):
    gankit_plugin(gankit_tensorboard)
    common = ("--tracker", "tensorboard", "--data", "ring8", "--log-every", "1", "--batch-size", "16", "-q")
    run_cli("run", *common, "--steps", "2", "--out", str(tmp_path), "--name", "tb")
    run_cli("run", "--resume", str(tmp_path / "tb"), "--steps", "4", "-q")
    assert _steps(_events(tmp_path / "tb" / "tensorboard"), "d_loss") == [1, 2, 3, 4]


def test_evaluation_results_and_options(gankit_plugin, tmp_path):
    gankit_plugin(gankit_tensorboard)
    tracker = create_component(
        "tracker", "tensorboard", {"subdir": "tb-events", "images": False}, TrackerContext(tmp_path, "run")
    )
    tracker.start({"run": {}}, total_steps=10, first_step=0)
    tracker.log_evaluation(5, {"fid": 12.5})
    shown = tracker.finish({})
    assert shown["tensorboard"] == str(tmp_path / "tb-events")
    [fid] = _events(tmp_path / "tb-events").Scalars("eval/fid")
    assert (fid.step, fid.value) == (5, 12.5)
