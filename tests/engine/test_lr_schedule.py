"""Learning-rate schedules: the curve, what the optimizers get, and exact resume mid-decay."""

from __future__ import annotations

import json

import pytest
import torch

from gankit import GankitError
from gankit.engine.lr_schedule import lr_factor
from gankit.engine.trainer import Trainer
from gankit.plugins import registry
from gankit.resolve import resolve

torch.set_num_threads(1)


def test_linear_decay_holds_until_its_start_then_falls_to_near_zero():
    factors = [lr_factor("linear", 0.5, step, 100) for step in range(100)]
    assert factors[:51] == [1.0] * 51
    assert factors[75] == pytest.approx(0.5)
    assert all(a > b for a, b in zip(factors[50:], factors[51:]))
    assert factors[-1] == pytest.approx(0.02)  # the last step still learns a little


def test_cosine_decay_is_half_way_at_the_middle_of_its_span():
    assert lr_factor("cosine", 0.0, 0, 10) == 1.0
    assert lr_factor("cosine", 0.0, 50, 100) == pytest.approx(0.5)
    assert lr_factor("constant", 0.3, 99, 100) == 1.0


def _run(**settings):
    base = {"data": "ring8", "steps": 10, "batch_size": 16, "trackers": (), "lr_g": 1e-3, "lr_d": 2e-3}
    return resolve(registry(), base | settings)


def test_the_optimizers_follow_the_schedule():
    trainer = Trainer(_run(lr_schedule="linear"))
    for _ in range(10):
        trainer.train_step()
    # The rates of the last step: 1 - 9/10 of the base rates.
    assert trainer.optimizers["generator"].param_groups[0]["lr"] == pytest.approx(1e-4)
    assert trainer.optimizers["discriminator"].param_groups[0]["lr"] == pytest.approx(2e-4)


def test_resuming_mid_decay_equals_an_uninterrupted_run():
    run = _run(lr_schedule="cosine", lr_decay_start=0.2)
    full = Trainer(run)
    for _ in range(10):
        full.train_step()
    first = Trainer(run)
    for _ in range(6):
        first.train_step()
    resumed = Trainer(run, resume_state=first.state())
    while resumed.step < 10:
        resumed.train_step()
    for name, net in full.model.nets.items():
        for (key, a), b in zip(net.state_dict().items(), resumed.model.nets[name].state_dict().values()):
            assert a.equal(b), f"{name}.{key}"


def test_an_unknown_schedule_names_the_choices():
    with pytest.raises(GankitError, match=r"lr_schedule.*'step'.*constant, cosine, linear"):
        _run(lr_schedule="step")
    with pytest.raises(GankitError, match=r"lr_decay_start must be a fraction of the run in \[0, 1\), got 1.0"):
        _run(lr_decay_start=1.0)


def test_the_cli_flags_reach_the_run_and_its_log(gankit, tmp_path):
    result = gankit(
        "run", "--data", "ring8", "--steps", "8", "--log-every", "4", "--lr", "0.001",
        "--lr-schedule", "linear", "--lr-decay-start", "0.5", "--name", "decayed", "-q",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run = tmp_path / "runs" / "decayed"
    config = json.loads((run / "config.json").read_text())["run"]
    assert (config["lr_schedule"], config["lr_decay_start"]) == ("linear", 0.5)
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    rates = [r["lr/generator"] for r in logged if "lr/generator" in r]
    assert rates == pytest.approx([1e-3, 0.25e-3])  # steps 4 and 8: before the decay, then 1 - 3/4 of it
