"""The ``cycle-l1`` metric: its arithmetic on translators of known behaviour, gankit's conformance kit, and
``gankit eval RUN --split test`` against the cycle computed independently through ``gankit.load``."""

from __future__ import annotations

import json

import pytest
import torch
from gankit import DataRequest, EvalContext, GankitError
from gankit.testing import check_component, run_cli

import gankit_cyclegan
from gankit_cyclegan import CycleL1Config, DigitsTaskConfig
from gankit_cyclegan.data import digits_task
from gankit_cyclegan.metric import CycleL1

TINY = ("--set", "cyclegan.ngf=4", "--set", "cyclegan.ndf=4")


def held_out():
    return digits_task(DigitsTaskConfig(split="test"), DataRequest())


def score(translate, samples: int = 10_000) -> tuple[dict[str, float], list[tuple[str, int]]]:
    """cycle-l1 on the held-out digits with ``translate(images, direction)`` as the model; and its calls."""
    data, calls = held_out(), []

    def sample(n: int, given: dict) -> torch.Tensor:
        calls.append((given["direction"], n))
        assert len(given["image"]) == n
        return translate(given["image"], given["direction"])

    context = EvalContext(data, data.description, lambda n: None, torch.device("cpu"), sample=sample)
    return CycleL1(CycleL1Config(samples=samples)).evaluate(context), calls


def test_translators_that_undo_each_other_score_zero_and_others_their_error():
    tensors = held_out().field_tensors()
    a, b = tensors["a"], tensors["b"]
    perfect, calls = score(lambda x, direction: x)
    assert perfect == {"cycle_l1_aba": 0.0, "cycle_l1_bab": 0.0}
    assert calls == [("ab", len(a)), ("ba", len(a)), ("ba", len(b)), ("ab", len(b))]  # there, then back
    # g_ba forgets (all black): a -> b -> a ends black, and so does b -> a -> b, as g_ab darkens black
    # further, clamped to -1.
    forgetful, _ = score(lambda x, direction: x - 0.5 if direction == "ab" else torch.full_like(x, -1.0))
    assert forgetful["cycle_l1_aba"] == pytest.approx(float((a + 1).abs().mean()))
    assert forgetful["cycle_l1_bab"] == pytest.approx(float((b + 1).abs().mean()))
    # g_ab darkens by 0.5 and g_ba brightens it back: a cycle exact but for the clamping at black.
    shifted, _ = score(lambda x, direction: x - 0.5 if direction == "ab" else x + 0.5)
    assert shifted["cycle_l1_aba"] == pytest.approx(float(((a - 0.5).clamp(-1, 1) + 0.5 - a).abs().mean()))
    assert shifted["cycle_l1_aba"] > 0
    few, calls = score(lambda x, direction: x, samples=7)
    assert {n for _, n in calls} == {7}


def test_refuses_a_run_it_cannot_cycle_in_one_line():
    data = held_out()
    without_model = EvalContext(data, data.description, lambda n: None, torch.device("cpu"))
    with pytest.raises(GankitError, match=r"^metric 'cycle-l1' needs a CycleGAN run on unpaired data .* has a, "):
        CycleL1(CycleL1Config()).evaluate(without_model)


def test_conforms(gankit_plugin):
    """The kit: named finite numbers on cyclegan-digits, the same twice; in training and `gankit eval`."""
    gankit_plugin(gankit_cyclegan)
    report = check_component("metric", "cycle-l1", data=("cyclegan-digits",), run_args=TINY)
    assert not report.skipped


def test_eval_on_the_held_out_split_matches_an_independent_cycle(gankit_plugin, tmp_path):
    gankit_plugin(gankit_cyclegan)
    run = tmp_path / "c"
    run_cli("run", "--data", "cyclegan-digits", "--steps", "3", *TINY, "--device", "cpu", "-q", "--out", tmp_path)
    [run] = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert json.loads((run / "config.json").read_text())["run"]["metrics"] == ["cycle-l1"]  # suggested
    run_cli("eval", run, "--split", "test", "--device", "cpu")
    report = json.loads((run / "eval.json").read_text())
    assert report["split"] == "test"

    import gankit

    model, tensors = gankit.load(str(run)), held_out().field_tensors()
    for key, domain, there, back in (("cycle_l1_aba", "a", "ab", "ba"), ("cycle_l1_bab", "b", "ba", "ab")):
        x = tensors[domain]
        translated = model.sample(len(x), given={"image": x, "direction": there}).clamp(-1, 1)
        restored = model.sample(len(x), given={"image": translated, "direction": back}).clamp(-1, 1)
        expected = float((restored - x).abs().mean())
        assert report["metrics"]["cycle-l1"]["values"][key] == pytest.approx(expected, rel=1e-5)
