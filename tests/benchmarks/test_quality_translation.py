"""benchmarks/quality.py's pix2pix, cyclegan and stargan sections (benchmarks/quality_translation.py): the
StarGAN judges on known translations, the plan, and the generated tables."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import FAMILY_DISTRIBUTIONS

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("gankit_stargan")
pytest.importorskip("gankit_pix2pix")
pytest.importorskip("gankit_cyclegan")


def _translation():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import quality_translation

    return quality_translation


class _Model:
    """Stands in for a trained StarGAN: ``translate(images, targets)`` in place of G."""

    def __init__(self, description, translate):
        self.description, self.translate = description, translate

    def generate(self, inputs):
        return self.translate(inputs["image"], inputs["target"])


def test_stargan_judges_pass_true_translations_and_fail_untranslated_or_other_digits(monkeypatch):
    from gankit_stargan import DigitDomainsConfig
    from gankit_stargan.data import apply_attributes, digit_domains, plain_digits

    translation = _translation()
    # The judges are trained from fixed seeds on the same data at each call: train each once here.
    judges = {}
    fit = translation._fit

    def fit_once(net, x, y, loss, epochs):
        key = (net[-1].out_features, len(x), epochs)
        if key not in judges:
            judges[key] = fit(net, x, y, loss, epochs)
        return judges[key]

    monkeypatch.setattr(translation, "_fit", fit_once)
    description = digit_domains(DigitDomainsConfig("test")).description
    plain, _ = plain_digits("test")
    truth = translation.score_stargan(_Model(description, lambda x, t: apply_attributes(plain[: len(x)], t)))
    assert truth["pairs"] == 64  # 8 source domains x 8 target domains, all present in the held-out split
    assert truth["target_domain"] >= 95 and truth["digit_kept"] >= 90
    assert truth["target_domain"] == pytest.approx(truth["judge_domain_real"], abs=0.5)  # per pair vs overall
    unchanged = translation.score_stargan(_Model(description, lambda x, t: x))
    assert unchanged["target_domain"] < 20  # right only where the target is the source (1 pair in 8)
    # The right domains on the wrong digits: each output is the true translation of the next test digit.
    others = translation.score_stargan(
        _Model(description, lambda x, t: apply_attributes(plain[: len(x)].roll(1, 0), t))
    )
    assert others["target_domain"] >= 95 and others["digit_kept"] < 25


def test_plan_and_tables(monkeypatch):
    # The core's tests leave the family packages out; the plan resolves runs of these three.
    others = [
        name for name in FAMILY_DISTRIBUTIONS if name not in ("gankit-pix2pix", "gankit-cyclegan", "gankit-stargan")
    ]
    monkeypatch.setenv("GANKIT_DISABLE_PLUGINS", ",".join(others))
    translation = _translation()
    keys = iter(range(100))
    runs = translation.plan(("pix2pix", "stargan"), 2, 1.0, lambda resolved: f"k{next(keys)}")
    assert [(r["section"], r["combo"], r["seed"]) for r in runs] == [
        ("pix2pix", "pix2pix", 0),
        ("pix2pix", "pix2pix", 1),
        ("pix2pix", "l1-only", 0),
        ("pix2pix", "l1-only", 1),
        ("stargan", "stargan", 0),
        ("stargan", "stargan", 1),
    ]
    assert runs[2]["sets"] == ["pix2pix.gan=0"] and runs[4]["flags"]["arch"] == "stargan"
    values = {
        "pix2pix": {"l1": 0.03, "l1_input": 0.39, "accuracy": 95.0, "accuracy_target": 96.4, "sharpness": 0.97},
        "l1-only": {"l1": 0.04, "l1_input": 0.39, "accuracy": 94.0, "accuracy_target": 96.4, "sharpness": 0.9},
        "stargan": {
            "target_domain": 97.0,
            "digit_kept": 40.0,
            "worst_pair_domain": 80.0,
            "worst_pair_digit": 10.0,
            "judge_domain_real": 99.0,
            "judge_digit_real": 96.0,
        },
    }
    results = {
        r["key"]: {
            **r,
            "error": None,
            "seconds": 100.0,
            "cpu_seconds": 80.0,
            "steps_per_s": 5.0,
            "load": 1.5,
            "values": values[r["combo"]],
        }
        for r in runs
    }
    text = translation.tables(runs, results, ["- Machine: test"])
    assert "pix2pix's L1 below the L1-only U-Net's on 2 of 2 seeds" in text
    assert "| stargan | 1 | 2,000 | 97.0 | 40.0 |" in text and "| no |" in text  # digit kept misses 85 %
    assert "the domain judge on the true translations of the held-out digits: 99.0 ± 0.0 %" in text
