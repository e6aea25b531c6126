"""The ``paired-l1`` metric: its arithmetic on known outputs, and ``gankit eval RUN --split test`` end to end,
against the held-out pairs translated independently through ``gankit.load``."""

from __future__ import annotations

import json

import pytest
import torch
from gankit import DataRequest, EvalContext, GankitError
from gankit.testing import run_cli

import gankit_pix2pix
from gankit_pix2pix import DigitsTaskConfig, PairedL1Config
from gankit_pix2pix.data import digits_task
from gankit_pix2pix.metric import PairedL1

SMALL_RUN = ("--batch-size", "8", "--set", "pix2pix.ngf=8", "--set", "pix2pix.ndf=8", "--device", "cpu", "-q")


def held_out():
    return digits_task(DigitsTaskConfig(split="test"), DataRequest())


def context(dataset, generate) -> EvalContext:
    return EvalContext(dataset, dataset.description, generate, torch.device("cpu"))


def test_scores_known_outputs_in_pixel_units():
    data = held_out()
    pairs = data.field_tensors()
    source, target = pairs["source"], pairs["target"]
    metric = PairedL1(PairedL1Config())
    # The targets themselves score 0; the untranslated inputs score the input's own distance.
    perfect = metric.evaluate(context(data, lambda n: target[:n]))
    assert perfect["l1"] == 0.0 and len(target) == 360
    copied = metric.evaluate(context(data, lambda n: source[:n]))
    expected = float((source - target).abs().mean()) / 2  # [-1, 1] -> pixel units [0, 1]
    assert copied["l1"] == pytest.approx(expected) == pytest.approx(copied["input_l1"])
    assert 0.3 < expected < 0.5  # outlines lie off the strokes: a large distance
    # Outputs are clamped to gankit's [-1, 1] first: an output of 5 scores as white (1).
    white = metric.evaluate(context(data, lambda n: torch.full((n, *target.shape[1:]), 5.0)))
    assert white["l1"] == pytest.approx(float((1 - target).abs().mean()) / 2)
    # The first `samples` pairs only: generate() is asked for that many.
    asked = []
    few = PairedL1(PairedL1Config(samples=10)).evaluate(context(data, lambda n: asked.append(n) or target[:n]))
    assert asked == [10] and few["l1"] == 0.0


def test_refuses_unpaired_data_in_one_line():
    from gankit import DataDescription, Field, TensorDataset

    images = DataDescription.of("digits", {"x": Field((1, 8, 8), "image")}, main="x")
    unpaired = TensorDataset(images, torch.zeros(4, 1, 8, 8))
    with pytest.raises(GankitError, match=r"needs paired data with source and target fields .* 'digits' has x$"):
        PairedL1(PairedL1Config()).evaluate(context(unpaired, lambda n: torch.zeros(n, 1, 8, 8)))


def test_eval_on_the_held_out_split_matches_an_independent_translation(gankit_plugin, tmp_path):
    gankit_plugin(gankit_pix2pix)
    run = tmp_path / "p"
    run_cli("run", "--data", "pix2pix-digits", "--steps", "150", *SMALL_RUN, "--out", tmp_path, "--name", "p")
    # pix2pix-digits suggests the metric: `gankit eval` needs no --metric.
    assert json.loads((run / "config.json").read_text())["run"]["metrics"] == ["paired-l1"]
    result = run_cli("eval", run, "--split", "test", "--device", "cpu")
    assert result.output.startswith("pix2pix-digits (test split) at step 150")
    report = json.loads((run / "eval.json").read_text())
    values = report["metrics"]["paired-l1"]["values"]
    assert report["split"] == "test" and report["metrics"]["paired-l1"]["higher_is_better"] == {"l1": False}

    import gankit

    pairs = held_out().field_tensors()
    model = gankit.load(str(run))
    translated = model.sample(len(pairs["source"]), given={"source": pairs["source"]})
    assert values["l1"] == pytest.approx(float((translated - pairs["target"]).abs().mean()) / 2, rel=1e-5)
    # 150 steps of small networks already undo much of the degradation on digits they never saw.
    assert values["l1"] < 0.75 * values["input_l1"]

    # The training split by default: a different set of pairs, so a different number.
    run_cli("eval", run, "--device", "cpu", "-o", tmp_path / "train.json")
    train = json.loads((tmp_path / "train.json").read_text())
    assert train["split"] == "train" and train["metrics"]["paired-l1"]["values"]["l1"] != values["l1"]
