"""A non-finite loss, or weights broken by a non-finite gradient, stop the run before anything is saved.

``--on-nan stop`` reads the losses back at log, sample and checkpoint steps (never every step, which
would make the host wait for the device), ends the run with exit 2 and one line naming the step, the
optimizer and the loss, and keeps the last good checkpoint; ``--on-nan skip`` drops exactly the bad steps and reports how
many in metrics.jsonl; under AMP the GradScaler's skipping is the handling.

Two sources of trouble: a real divergence (``--loss lsgan --lr 1e8`` overflows in the first
iteration), and non-finite noise injected at a chosen step (this engine's Adam moves every weight by
about ``lr`` per step whatever the gradient, so no learning rate diverges *after* some healthy steps).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch

from tests.reliability.conftest import TINY, assert_one_error_line, check_run_folder, checkpoint_steps, final_weights

DIVERGES = ("--loss", "lsgan", "--lr", "1e8")


def _finite_weights(run: Path) -> bool:
    return all(torch.isfinite(t).all() for k, t in final_weights(run).items() if k.startswith(("net/", "ema/")))


def _poison_noise(monkeypatch, calls: set[int]) -> list[int]:
    """Make the n-th call of StepContext.noise (0-based; two per iteration: D's, then G's) all +inf."""
    from gankit.engine.step import StepContext

    real_noise = StepContext.noise
    counter = [0]

    def noise(self, n=None):
        z = real_noise(self, n)
        index = counter[0]
        counter[0] += 1
        return torch.full_like(z, math.inf) if index in calls else z

    monkeypatch.setattr(StepContext, "noise", noise)
    return counter


def test_divergence_stops_at_once_naming_step_optimizer_and_loss(gankit, tmp_path):
    result = gankit(
        "run", *TINY, *DIVERGES, "--on-nan", "stop", "--steps", "20", "--checkpoint-every", "1", "--name", "boom", "-q"
    )
    assert result.exit_code == 2
    line = assert_one_error_line(result.output)
    # Step 1's gradient overflows while its loss is still finite: the weights check before the first
    # checkpoint catches it.
    assert re.search(r"\bthe (generator|discriminator)'s (loss|weights) became NaN/inf (at|by) step 1\b", line), line
    assert "loss 'lsgan'" in line and "lr_g 100000000.0" in line
    assert "no checkpoint was written yet" in line and "--on-nan skip" in line
    assert checkpoint_steps(tmp_path / "runs" / "boom" / "checkpoints") == []


@pytest.mark.parametrize(("optimizer", "call"), [("discriminator", 8), ("generator", 9)])
def test_nonfinite_step_keeps_the_last_good_checkpoint(gankit, tmp_path, monkeypatch, optimizer, call):
    _poison_noise(monkeypatch, {call})  # call 8/9: iteration 5's D and G step
    result = gankit("run", *TINY, "--on-nan", "stop", "--steps", "20", "--checkpoint-every", "1", "--name", "nan", "-q")
    assert result.exit_code == 2
    line = assert_one_error_line(result.output)
    assert f"the {optimizer}'s loss became NaN/inf at step 5 (loss 'bce'" in line, line
    assert "the last good checkpoint (step 4) is intact" in line
    run = tmp_path / "runs" / "nan"
    assert check_run_folder(run) == 4  # latest names step 4, and every checkpoint loads
    assert checkpoint_steps(run / "checkpoints") == [2, 3, 4]
    assert _finite_weights(run)


def test_stop_names_the_exact_step_though_it_reads_losses_back_only_at_log_steps(gankit, tmp_path, monkeypatch):
    _poison_noise(monkeypatch, {6})  # iteration 4's D step; nothing is logged or saved until step 10
    result = gankit(
        "run",
        *TINY,
        "--on-nan",
        "stop",
        "--steps",
        "20",
        "--log-every",
        "10",
        "--sample-every",
        "10",
        "--checkpoint-every",
        "10",
        "--name",
        "late",
        "-q",
    )
    assert result.exit_code == 2
    line = assert_one_error_line(result.output)
    assert "the discriminator's loss became NaN/inf at step 4 (loss 'bce'" in line, line
    assert "no checkpoint was written yet" in line
    assert checkpoint_steps(tmp_path / "runs" / "late" / "checkpoints") == []


def test_skip_drops_exactly_the_bad_steps_and_reports_them(gankit, tmp_path, monkeypatch):
    poisoned = {4, 13, 20}  # iteration 3's D step, 7's G step, 11's D step
    _poison_noise(monkeypatch, poisoned)
    result = gankit("run", *TINY, "--on-nan", "skip", "--steps", "15", "--log-every", "5", "--name", "skip", "-q")
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "skip"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["skipped_nonfinite_steps"] for r in records] == [1, 2, 3]
    assert check_run_folder(run) == 15 and _finite_weights(run)


def test_skip_survives_a_real_divergence(gankit, tmp_path):
    result = gankit(
        "run", *TINY, *DIVERGES, "--on-nan", "skip", "--steps", "10", "--log-every", "5", "--name", "skipdiv", "-q"
    )
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "skipdiv"
    last = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["step"] == 10 and last["skipped_nonfinite_steps"] > 0
    assert check_run_folder(run) == 10 and _finite_weights(run)


@pytest.mark.parametrize("trouble", ["diverging-lr", "injected-inf"])
def test_amp_on_cpu_scaler_skipping_counts_as_handled(gankit, tmp_path, monkeypatch, trouble):
    """The GradScaler skips steps whose gradients are not finite: the run ends cleanly, no traceback."""
    extra = DIVERGES if trouble == "diverging-lr" else ()
    if trouble == "injected-inf":
        _poison_noise(monkeypatch, {4, 9})
    result = gankit("run", *TINY, *extra, "--amp", "fp16", "--steps", "10", "--log-every", "5", "--name", "amp", "-q")
    assert "Traceback" not in result.output
    if result.exit_code == 2:  # a clean stop is handling too
        assert_one_error_line(result.output)
        return
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "amp"
    assert check_run_folder(run) == 10
    if trouble == "injected-inf":
        assert _finite_weights(run), "the scaler let a non-finite update into the weights"


def test_amp_run_that_went_nan_does_not_finish_as_a_success(gankit, tmp_path):
    result = gankit(
        "run",
        *TINY,
        *DIVERGES,
        "--amp",
        "fp16",
        "--on-nan",
        "stop",
        "--steps",
        "10",
        "--checkpoint-every",
        "1",
        "--name",
        "ampnan",
        "-q",
    )
    run = tmp_path / "runs" / "ampnan"
    if result.exit_code == 0:
        assert _finite_weights(run), "exit 0, but the final checkpoint holds NaN/inf weights"
    assert result.exit_code == 2
    assert "NaN/inf" in assert_one_error_line(result.output)
    if check_run_folder(run) is not None:  # whatever checkpoint it kept is a good one
        assert _finite_weights(run)


def _all_checkpoints_finite(run: Path) -> bool:
    from safetensors.torch import load_file

    return all(
        torch.isfinite(t).all()
        for path in (run / "checkpoints").glob("step-*.safetensors")
        for t in load_file(path).values()
        if t.is_floating_point()
    )


def test_overflowing_gradient_stops_within_one_log_interval(gankit, tmp_path):
    """r1 with gamma 1e38: every loss stays finite, the discriminator's gradient norm is inf from the
    first steps; under --on-nan stop that ends the run at the first log step, and no checkpoint
    holding an inf optimizer state is written."""
    result = gankit(
        "run",
        *TINY,
        "--reg",
        "r1",
        "--set",
        "r1.gamma=1e38",
        "--on-nan",
        "stop",
        "--steps",
        "30",
        "--log-every",
        "5",
        "--checkpoint-every",
        "5",
        "--name",
        "r1",
        "-q",
    )
    assert result.exit_code == 2, result.output
    line = assert_one_error_line(result.output)
    assert re.search(r"the discriminator's (gradients|optimizer state) became NaN/inf by step 5\b", line), line
    run = tmp_path / "runs" / "r1"
    assert _all_checkpoints_finite(run)
    records = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [5]


def test_nonfinite_optimizer_state_stops_and_is_never_checkpointed(gankit, tmp_path, monkeypatch):
    """Adam's exp_avg_sq overflowing to inf (weights stay finite, the update becomes 0): stopped at the
    next log step, before the checkpoint of that step."""
    from gankit.engine.trainer import Trainer

    real_step = Trainer.train_step

    def train_step(self):
        metrics = real_step(self)
        if self.step == 3:
            state = next(iter(self.optimizers["discriminator"].state.values()))
            state["exp_avg_sq"].fill_(math.inf)
        return metrics

    monkeypatch.setattr(Trainer, "train_step", train_step)
    result = gankit(
        "run",
        *TINY,
        "--on-nan",
        "stop",
        "--steps",
        "20",
        "--log-every",
        "4",
        "--checkpoint-every",
        "2",
        "--name",
        "state",
        "-q",
    )
    assert result.exit_code == 2, result.output
    line = assert_one_error_line(result.output)
    assert "the discriminator's optimizer state became NaN/inf by step 4" in line, line
    assert "the last good checkpoint (step 2) is intact" in line, line
    run = tmp_path / "runs" / "state"
    assert check_run_folder(run) == 2 and _all_checkpoints_finite(run)


def test_checkpoint_with_nonfinite_optimizer_state_is_never_written_under_skip(gankit, tmp_path, monkeypatch):
    """--on-nan skip does not look at optimizer state every log step, but a checkpoint is still never
    written with a non-finite tensor in it."""
    from gankit.engine.trainer import Trainer

    real_step = Trainer.train_step

    def train_step(self):
        metrics = real_step(self)
        if self.step == 3:
            next(iter(self.optimizers["generator"].state.values()))["exp_avg_sq"].fill_(math.inf)
        return metrics

    monkeypatch.setattr(Trainer, "train_step", train_step)
    result = gankit(
        "run", *TINY, "--on-nan", "skip", "--steps", "10", "--checkpoint-every", "2", "--name", "skipst", "-q"
    )
    assert result.exit_code == 2, result.output
    assert "the generator's optimizer state became NaN/inf by step 4" in assert_one_error_line(result.output)
    run = tmp_path / "runs" / "skipst"
    assert check_run_folder(run) == 2 and _all_checkpoints_finite(run)
