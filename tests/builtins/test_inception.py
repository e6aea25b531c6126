"""The inception metric: torch-fidelity's real Inception-v3 loaded from a weights file made here (random
init, so nothing is downloaded), its numbers against torch-fidelity's own FID/KID code on the same
features, and every way the weights can be missing or wrong, through `gankit eval`.

Inception runs at 299 px (about 6 GFLOP an image), so every test scores a handful of images.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

torch_fidelity = pytest.importorskip("torch_fidelity")

from gankit_builtins.metrics import InceptionConfig  # noqa: E402
from gankit_builtins.metrics.inception import (  # noqa: E402
    InceptionMetric,
    build_extractor,
    load_extractor,
    weights_path,
)

from gankit import GankitError  # noqa: E402
from gankit.components import DataDescription, EvalContext, TensorDataset  # noqa: E402
from gankit.testing import check_component  # noqa: E402
from tests.conftest import one_error_line  # noqa: E402

TINY_RUN = "--steps 2 --batch-size 8 --z-dim 4 --set arch.g_hidden=16 --set arch.d_hidden=16 -q".split()


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch):
    """torch-fidelity fetches its weights with this function when given no path: it must never be called."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"tried to download {args}")

    monkeypatch.setattr("torch.hub.load_state_dict_from_url", refuse)
    monkeypatch.setattr("torch_fidelity.feature_extractor_inceptionv3.load_state_dict_from_url", refuse)
    monkeypatch.delenv("GANKIT_INCEPTION_WEIGHTS", raising=False)


@pytest.fixture(scope="session")
def weights(tmp_path_factory) -> Path:
    """torch-fidelity's Inception-v3 with random (seeded, He-scaled) weights, saved as a plain state dict."""
    from torch_fidelity import FeatureExtractorInceptionV3

    class Untrained(FeatureExtractorInceptionV3):
        def load_state_dict(self, *args, **kwargs):  # keep the random init its constructor would overwrite
            return None

    with mock.patch("torch.load", return_value=None), torch.random.fork_rng():
        torch.manual_seed(0)
        net = Untrained("untrained", ["2048"], feature_extractor_weights_path="unused")
        for module in net.modules():
            if isinstance(module, torch.nn.Conv2d):  # He init keeps activations from fading over 90 layers
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
    path = tmp_path_factory.mktemp("inception") / "inception.safetensors"
    save_file(net.state_dict(), str(path))
    return path


def _digits(count: int) -> torch.Tensor:
    from gankit.components import DataRequest
    from gankit.plugins import registry

    spec = registry().get("data", "digits")
    return spec.create(spec.make_config({}), DataRequest()).samples[:count]


def _context(real: torch.Tensor, generated: torch.Tensor) -> EvalContext:
    description = DataDescription(name="digits", shape=tuple(real.shape[1:]), modality="image")
    dataset = TensorDataset(description, real)
    return EvalContext(dataset, dataset.description, lambda n: generated[:n], torch.device("cpu"))


def test_fid_and_kid_match_torch_fidelity_on_the_same_features(weights):
    extractor, _ = load_extractor(weights)
    seen: list[torch.Tensor] = []
    hook = extractor.register_forward_hook(lambda module, inputs, out: seen.append(out[0].double()))
    try:
        real = _digits(6)
        config = InceptionConfig(weights=str(weights), samples=6, kid_subsets=1, kid_subset_size=6, batch_size=6)
        metric = InceptionMetric(config)
        same = metric.evaluate(_context(real, real.flip(0)))  # the same images, in another order
        darker = metric.evaluate(_context(real, real * 0.5 - 0.5))
    finally:
        hook.remove()
    # Extracted: the real images, the same again as generated, the darker ones (the real ones are cached).
    assert len(seen) == 3
    real_features, same_features, darker_features = seen

    from torch_fidelity.metric_kid import kid_features_to_metric

    def fid_in_span(generated: np.ndarray, real: np.ndarray) -> float:
        """The textbook FID with scipy's sqrtm, in an orthonormal basis of the span of the centred samples
        (outside it both covariances are 0), where the matrices are 10 x 10 rather than 2048 x 2048."""
        from scipy import linalg

        centred = [x - x.mean(0) for x in (generated, real)]
        basis, _ = np.linalg.qr(np.concatenate(centred).T)
        cov_a, cov_b = (np.cov(x @ basis, rowvar=False) for x in centred)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", linalg.LinAlgWarning)  # singular (rank 5 of 10), but exact enough
            root = linalg.sqrtm(cov_a @ cov_b).real
        return float(((generated.mean(0) - real.mean(0)) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))

    def kid(generated: torch.Tensor) -> float:
        """torch-fidelity's KID on one subset of all 6 images (a permutation, which MMD does not see)."""
        kid = kid_features_to_metric(generated, real_features, kid_subsets=1, kid_subset_size=6, verbose=False)
        return kid["kernel_inception_distance_mean"]

    assert darker["fid"] == pytest.approx(fid_in_span(darker_features.numpy(), real_features.numpy()), rel=1e-6)
    assert darker["kid"] == pytest.approx(kid(darker_features), rel=1e-9)
    assert darker["kid_std"] == 0.0  # one subset
    assert same["kid"] == pytest.approx(kid(same_features), rel=1e-9)
    # A set against itself: FID 0; KID near 0 but not exactly, as its estimator's cross term keeps the
    # diagonal k(x, x) that the within-set terms leave out (negative, and shrinking with the count).
    assert same["fid"] == pytest.approx(0.0, abs=1e-6 * darker["fid"])
    assert darker["fid"] > 1.0 and darker["kid"] > 5 * abs(same["kid"])

    protocol = metric.protocol()
    assert protocol["samples"] == 6 and protocol["weights"] == "inception.safetensors"
    assert len(protocol["weights_sha256"]) == 64 and protocol["torch_fidelity"] == torch_fidelity.__version__
    json.dumps(protocol)


def test_conforms_to_the_testing_kit(weights):
    # Refuses ring8 (points) and scores digits; two images each keep Inception's CPU time small.
    config = {"weights": str(weights), "samples": 2, "kid_subsets": 2, "batch_size": 2}
    check_component("metric", "inception", config, data=["ring8", "digits"], run=False)


def test_safetensors_weights_load_to_the_same_network(weights, tmp_path):
    from safetensors.torch import load_file

    state = load_file(str(weights))
    loaded, _ = load_extractor(weights)
    for key, tensor in loaded.state_dict().items():
        assert torch.equal(tensor, state[key]), key


def test_the_option_comes_before_the_environment(monkeypatch, tmp_path):
    (tmp_path / "a.pth").write_bytes(b"x")
    (tmp_path / "b.pth").write_bytes(b"x")
    monkeypatch.setenv("GANKIT_INCEPTION_WEIGHTS", str(tmp_path / "b.pth"))
    assert weights_path(str(tmp_path / "a.pth")) == tmp_path / "a.pth"
    assert weights_path(None) == tmp_path / "b.pth"
    monkeypatch.delenv("GANKIT_INCEPTION_WEIGHTS")
    with pytest.raises(GankitError, match="--inception-weights PATH"):
        weights_path(None)


def test_without_torch_fidelity_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch_fidelity", None)  # what an environment without it raises
    with pytest.raises(GankitError, match=r"needs torch-fidelity: pip install 'gankit\[inception\]'"):
        build_extractor({})


# -- through `gankit eval` ------------------------------------------------------------------------------


@pytest.fixture
def digits_run(gankit):
    assert gankit("run", *TINY_RUN, "--name", "d").exit_code == 0
    return "runs/d"


def test_eval_scores_a_run_with_weights_from_the_environment(gankit, digits_run, weights, tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_INCEPTION_WEIGHTS", str(weights))
    result = gankit("eval", digits_run, "--metric", "inception", "-n", "3", "--set", "inception.kid_subsets=2")
    assert result.exit_code == 0, result.output
    assert "inception/fid" in result.output and "inception/kid_std" in result.output
    report = json.loads((tmp_path / digits_run / "eval.json").read_text())["metrics"]["inception"]
    assert set(report["values"]) == {"fid", "kid", "kid_std"}
    assert all(np.isfinite(v) for v in report["values"].values())
    assert report["protocol"]["samples"] == 3 and report["protocol"]["kid_subsets"] == 2
    assert report["protocol"]["kid_subset_size"] == 3  # at most the sample count


def test_eval_without_weights_says_where_to_get_them(gankit, digits_run):
    line = one_error_line(gankit("eval", digits_run, "--metric", "inception"))
    assert "--inception-weights PATH" in line and "GANKIT_INCEPTION_WEIGHTS" in line
    assert "weights-inception-2015-12-05-6726825d.pth" in line


def test_eval_with_a_missing_weights_file(gankit, digits_run):
    # --inception-weights alone asks for the metric.
    line = one_error_line(gankit("eval", digits_run, "--inception-weights", "no/such.pth"))
    assert "'no/such.pth' not found" in line and "weights-inception-2015-12-05-6726825d.pth" in line


def test_eval_with_a_file_that_is_not_weights(gankit, digits_run, tmp_path):
    (tmp_path / "garbage.safetensors").write_bytes(os.urandom(1000))
    line = one_error_line(
        gankit("eval", digits_run, "--metric", "inception", "--set", "inception.weights=garbage.safetensors")
    )
    assert "'garbage.safetensors'" in line and "plain tensors" in line


def test_eval_with_weights_of_another_network(gankit, digits_run, tmp_path):
    save_file(torch.nn.Linear(2, 2).state_dict(), str(tmp_path / "linear.safetensors"))
    line = one_error_line(gankit("eval", digits_run, "--inception-weights", "linear.safetensors"))
    assert "'linear.safetensors' are not Inception-v3's" in line and "Missing key(s)" in line


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_eval_never_runs_code_pickled_in_the_weights(gankit, digits_run, tmp_path):
    torch.save({"fc.weight": _RunsCode()}, tmp_path / "hostile.pth")
    line = one_error_line(gankit("eval", digits_run, "--inception-weights", "hostile.pth"))
    assert "'hostile.pth'" in line and "loads safely" in line
    assert not (tmp_path / "pwned").exists()
    # Renamed, the pickle is refused by the safetensors header.
    (tmp_path / "hostile.pth").rename(tmp_path / "hostile.safetensors")
    line = one_error_line(gankit("eval", digits_run, "--inception-weights", "hostile.safetensors"))
    assert "'hostile.safetensors' is not a .safetensors file of plain tensors" in line
    assert not (tmp_path / "pwned").exists()


def test_eval_refuses_points(gankit, weights):
    assert gankit("run", "--data", "grid25", *TINY_RUN, "--name", "g").exit_code == 0
    line = one_error_line(gankit("eval", "runs/g", "--inception-weights", str(weights)))
    assert "metric 'inception'" in line and "'grid25'" in line and "points" in line


def test_eval_set_takes_metric_options_only(gankit, digits_run):
    line = one_error_line(gankit("eval", digits_run, "--set", "arch.g_hidden=8"))
    assert "'arch'" in line and "inception" in line
