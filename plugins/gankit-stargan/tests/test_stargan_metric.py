"""The ``domain-cycle-l1`` metric: its arithmetic on generators of known behaviour, gankit's conformance kit,
and ``gankit eval RUN --split test`` against the round trips computed independently through ``gankit.load``."""

from __future__ import annotations

import json

import pytest
import torch
from gankit import DataRequest, EvalContext, GankitError
from gankit.testing import check_component, run_cli

import gankit_stargan
from gankit_stargan import DigitDomainsConfig, DomainCycleL1Config
from gankit_stargan.data import digit_domains
from gankit_stargan.metric import DomainCycleL1

TINY = ("--set", "stargan.g_conv_dim=4", "--set", "stargan.d_conv_dim=4", "--set", "stargan.g_repeat_num=1")


def held_out():
    return digit_domains(DigitDomainsConfig(split="test"), DataRequest())


def score(translate) -> tuple[dict[str, float], list[tuple[tuple[float, ...], int]]]:
    """The metric on the held-out digits with ``translate(images, target)`` as the generator; and its calls."""
    data, calls = held_out(), []

    def sample(n: int, given: dict) -> torch.Tensor:
        assert len(given["image"]) == n
        calls.append((tuple(given["target"]), n))
        return translate(given["image"], torch.tensor(given["target"]))

    context = EvalContext(data, data.description, lambda n: None, torch.device("cpu"), sample=sample)
    return DomainCycleL1(DomainCycleL1Config()).evaluate(context), calls


def test_every_pair_of_domains_there_and_back():
    tensors = held_out().field_tensors()
    images, own = tensors["x"], tensors["attributes"]
    vectors = {tuple(v) for v in own.tolist()}
    assert len(vectors) == 8  # dimmed x framed x thick
    perfect, calls = score(lambda x, target: x)
    assert perfect == {"mean_l1": 0.0, "worst_pair_l1": 0.0, "pairs": 64}
    # 64 trips of two calls; each group goes to all 8 domains, every image once per target.
    assert len(calls) == 128 and sum(n for _, n in calls[::2]) == 8 * len(images)
    assert {target for target, _ in calls[::2]} == vectors

    # A generator that blackens every image but those sent to the all-zero domain: only the trip from
    # that domain to itself brings the images back; every other trip ends black.
    def stubborn(x, target):
        return x if not target.any() else torch.full_like(x, -1.0)

    values, _ = score(stubborn)
    expected = []
    for source in sorted(vectors):
        group = images[(own == torch.tensor(source)).all(dim=1)]
        back_black = float((group + 1).abs().mean())
        expected += [0.0 if not any(source) and not any(target) else back_black for target in sorted(vectors)]
    assert values["mean_l1"] == pytest.approx(sum(expected) / 64)
    assert values["worst_pair_l1"] == pytest.approx(max(expected))


def test_refuses_what_it_cannot_score_in_one_line():
    data = held_out()
    without_model = EvalContext(data, data.description, lambda n: None, torch.device("cpu"))
    with pytest.raises(GankitError, match=r"^metric 'domain-cycle-l1' needs a StarGAN run .* has x, attributes"):
        DomainCycleL1(DomainCycleL1Config()).evaluate(without_model)


def test_conforms(gankit_plugin):
    """The kit: named finite numbers on stargan-digits, the same twice; in training and `gankit eval`."""
    gankit_plugin(gankit_stargan)
    report = check_component("metric", "domain-cycle-l1", data=("stargan-digits",), run_args=TINY)
    assert not report.skipped


def test_eval_on_the_held_out_split_matches_independent_round_trips(gankit_plugin, tmp_path):
    gankit_plugin(gankit_stargan)
    run_cli("run", "--data", "stargan-digits", "--steps", "2", *TINY, "--device", "cpu", "-q", "--out", tmp_path)
    [run] = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert json.loads((run / "config.json").read_text())["run"]["metrics"] == ["domain-cycle-l1"]  # suggested
    run_cli("eval", run, "--split", "test", "--device", "cpu")
    report = json.loads((run / "eval.json").read_text())
    assert report["split"] == "test"

    import gankit

    model, tensors = gankit.load(str(run)), held_out().field_tensors()
    images, own = tensors["x"], tensors["attributes"]
    per_pair = []
    for source in torch.unique(own, dim=0):
        group = images[(own == source).all(dim=1)]
        for target in torch.unique(own, dim=0):
            there = model.sample(len(group), given={"image": group, "target": target.tolist()}).clamp(-1, 1)
            back = model.sample(len(group), given={"image": there, "target": source.tolist()}).clamp(-1, 1)
            per_pair.append(float((back - group).abs().mean()))
    values = report["metrics"]["domain-cycle-l1"]["values"]
    assert values["mean_l1"] == pytest.approx(sum(per_pair) / len(per_pair), rel=1e-5)
    assert values["worst_pair_l1"] == pytest.approx(max(per_pair), rel=1e-5)
