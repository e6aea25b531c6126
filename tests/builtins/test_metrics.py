"""Metrics: the arithmetic against independent computations, and `gankit eval` end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from gankit_builtins.metrics.distances import frechet_distance, kernel_inception_distance, kid_subsets
from gankit_builtins.metrics.mode_coverage import score_modes


def test_frechet_distance_of_known_gaussians():
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 1.0, size=(200_000, 3))
    b = rng.normal([1.0, 0.0, 2.0], [2.0, 1.0, 0.5], size=(200_000, 3))
    # Closed form for diagonal covariances: |mu_a - mu_b|^2 + sum (sigma_a - sigma_b)^2.
    expected = (1 + 0 + 4) + ((1 - 2) ** 2 + 0 + (1 - 0.5) ** 2)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=0.02)
    assert frechet_distance(a, a[::-1]) == pytest.approx(0.0, abs=1e-6)


def test_frechet_distance_with_fewer_samples_than_dimensions():
    # Singular covariances (Inception's 2048 features, few images) take the n x m SVD route: it must
    # agree with the textbook formula, scipy's sqrtm of the full covariances' product.
    from scipy import linalg

    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(20, 50)), rng.normal(0.3, 2.0, size=(30, 50))
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b).real
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(a, a[::-1]) == pytest.approx(0.0, abs=1e-9)


def test_kid_subsets_are_what_kid_averages():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(100, 8)), rng.normal(0.2, 1.0, size=(100, 8))
    values = kid_subsets(a, b, subsets=7, size=40, seed=5)
    assert values.shape == (7,) and values.std() > 0
    assert kernel_inception_distance(a, b, subsets=7, size=40, seed=5) == pytest.approx(values.mean(), rel=1e-12)


def test_kid_is_unbiased_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(1)
    same = [kernel_inception_distance(rng.normal(size=(600, 8)), rng.normal(size=(600, 8)), seed=s) for s in range(5)]
    assert abs(np.mean(same)) < 0.05
    shifted = kernel_inception_distance(rng.normal(size=(600, 8)), rng.normal(0.5, 1.0, size=(600, 8)))
    # Independent computation of the same unbiased MMD^2 with k(x, y) = (x.y / d + 1)^3 on full sets.
    x, y = rng.normal(size=(300, 8)), rng.normal(0.5, 1.0, size=(300, 8))
    k = lambda u, v: (u @ v.T / 8 + 1) ** 3  # noqa: E731
    m = 300
    direct = (
        (k(x, x).sum() - np.trace(k(x, x))) / (m * (m - 1))
        + (k(y, y).sum() - np.trace(k(y, y))) / (m * (m - 1))
        - 2 * k(x, y).mean()
    )
    assert kernel_inception_distance(x, y, subsets=1, size=300) == pytest.approx(direct, rel=1e-9)
    assert shifted > 0.1


def test_mode_scores_follow_the_protocol():
    modes = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    samples = torch.tensor([[0.01, 0.0], [2.0, 0.05], [1.0, 1.0], [0.0, 2.1]], dtype=torch.float64)
    scores = score_modes(samples, modes, std=0.05, sigmas=3.0)
    # [1, 1] is far from every mode (not high quality); [0, 2.1] is 2 sigma away (high quality).
    assert scores["modes"] == 3 and scores["modes_total"] == 3
    assert scores["high_quality_pct"] == pytest.approx(75.0)
    assert scores["mode_kl"] == pytest.approx(0.0)


def test_eval_on_grid25_agrees_with_an_independent_scorer(gankit, tmp_path):
    assert (
        gankit(
            "run", "--data", "grid25", "--loss", "wgan", "--reg", "gp", "--steps", "40", "--name", "g", "-q"
        ).exit_code
        == 0
    )
    result = gankit("eval", "runs/g", "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "modes/modes" in result.output and "modes/high_quality_pct" in result.output
    report = json.loads((tmp_path / "runs" / "g" / "eval.json").read_text())
    values = report["metrics"]["modes"]["values"]
    assert report["metrics"]["modes"]["protocol"] == {"samples": 2500, "high_quality_within_sigmas": 3.0}
    assert report["seed"] == 3 and report["step"] == 40

    # The same 2,500 samples through `gankit sample`, scored by plain numpy.
    assert gankit("sample", "runs/g", "-n", "2500", "--seed", "3", "-o", "s.npy").exit_code == 0
    samples = np.load(tmp_path / "s.npy")
    ticks = np.arange(-4.0, 5.0, 2.0)
    centers = np.array([(a, b) for a in ticks for b in ticks])
    distance = np.linalg.norm(samples[:, None] - centers[None], axis=2)
    good = distance.min(1) < 3 * 0.05
    assert values["modes"] == len(set(distance.argmin(1)[good]))
    assert values["high_quality_pct"] == pytest.approx(100 * good.mean())


def test_eval_every_reports_to_the_trackers_and_digit_quality_has_a_reference_floor(gankit, tmp_path):
    result = gankit("run", "--steps", "20", "--eval-every", "10", "--log-every", "10", "--name", "d", "-q")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "runs" / "d" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval/digit-quality/fd" in r]
    assert [r["step"] for r in evals] == [10, 20]
    report = json.loads(gankit("eval", "runs/d", "-o", "e.json").output and (tmp_path / "e.json").read_text())
    values = report["metrics"]["digit-quality"]["values"]
    assert values["classifier_accuracy"] > 0.9
    assert values["real_classes"] == 10 and values["real_class_kl"] < 0.05
    assert values["real_fd"] < values["fd"]


def test_eval_refuses_a_metric_that_cannot_score_the_data(gankit):
    assert gankit("run", "--steps", "2", "--name", "x", "-q").exit_code == 0
    result = gankit("eval", "runs/x", "--metric", "modes")
    assert result.exit_code == 2 and "needs a data set with known modes" in result.output


def test_digit_quality_scores_larger_digits_pooled_to_the_classifiers_8x8(gankit):
    import json as _json

    args = (
        "run",
        "--steps",
        "2",
        "--arch",
        "dcgan",
        "--resolution",
        "16",
        "--batch-size",
        "8",
        "--set",
        "arch.g_channels=4",
        "--set",
        "arch.d_channels=4",
        "--name",
        "r16",
        "-q",
    )
    assert gankit(*args).exit_code == 0
    result = gankit(
        "eval", "runs/r16", "--metric", "digit-quality", "--set", "digit-quality.samples=200", "-o", "e.json"
    )
    assert result.exit_code == 0, result.output
    values = _json.loads(open("e.json").read())["metrics"]["digit-quality"]["values"]
    # The real test split at 16 px, pooled back, is still recognised and close to the train split.
    assert values["real_classes"] == 10 and values["real_fd"] < 5 and values["real_fd"] < values["fd"]


def test_digit_quality_refuses_sizes_it_cannot_pool(gankit):
    assert (
        gankit(
            "run",
            "--steps",
            "2",
            "--resolution",
            "12",
            "--batch-size",
            "8",
            "--set",
            "arch.g_hidden=8",
            "--set",
            "arch.d_hidden=8",
            "--name",
            "r12",
            "-q",
        ).exit_code
        == 0
    )
    result = gankit("eval", "runs/r12", "--metric", "digit-quality")
    assert result.exit_code == 2 and "8, 16, 24" in result.output and "(1, 12, 12)" in result.output
